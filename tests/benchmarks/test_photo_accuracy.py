"""The photo-accuracy benchmark as CI runs it: `--check` judges both goals (they hold on any machine)
and the exit status says whether they passed (0), one failed (1) or the benchmark could not run (2)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.benchmarks.runs import goals_where, run_and_read

MODULE = "benchmarks.photo_accuracy"


@pytest.mark.slow
def test_check_run_passes_both_goals(tmp_path: Path) -> None:
    finished, report = run_and_read(MODULE, tmp_path, "--check", timeout=900)
    assert report["count"] == 1000 and report["ratio"] >= 0.97, report["ratio"]
    assert goals_where(report, False) == set() and finished.returncode == 0, report["goals"]
    assert goals_where(report, True) == {"ratio", "errors"}


def test_small_run_posts_native_and_photo_images_and_exits_by_its_verdicts(tmp_path: Path) -> None:
    finished, report = run_and_read(MODULE, tmp_path, "--count", "24", "--seed", "5", timeout=300)
    assert report["count"] == 24 and report["split"] == "test"
    assert report["preprocess_used"] == {"native:raw": 24, "photo:photo": 24}
    assert 0 <= report["native_accuracy"] <= 1 and 0 <= report["photo_accuracy"] <= 1
    assert report["ratio"] == round(report["photo_accuracy"] / report["native_accuracy"], 4)
    formats = [row["count"] for kind, row in report["photo_accuracy_by"].items() if kind.startswith("format")]
    assert sum(formats) == 24
    assert "ratio photo / native" in finished.stdout
    # 24 images are too few to judge the ratio; whatever the verdicts, the exit status follows them.
    assert finished.returncode == (1 if goals_where(report, False) else 0), finished.stderr


def test_a_failed_goal_makes_the_benchmark_exit_1(tmp_path: Path) -> None:
    finished, report = run_and_read(MODULE, tmp_path, "--count", "8", "--goal", "ratio=2", timeout=300)
    assert finished.returncode == 1 and goals_where(report, False) == {"ratio"}
