"""The photo-accuracy benchmark as CI runs it: `--check` judges both goals (they hold on any machine)
and the exit status says whether they passed (0), one failed (1) or the benchmark could not run (2)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from app.config import REPO_ROOT


def run_photo_accuracy(*args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    """`python -m benchmarks.photo_accuracy ARGS` from the repository root, whatever its exit status."""
    command = [sys.executable, "-m", "benchmarks.photo_accuracy", *args]
    return subprocess.run(
        command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=timeout, check=False
    )


def failed_goals(report: dict[str, Any]) -> list[str]:
    return [goal["key"] for goal in report["goals"] if goal["pass"] is False]


@pytest.mark.slow
def test_check_run_passes_both_goals(tmp_path: Path) -> None:
    out = tmp_path / "photo_accuracy.json"
    finished = run_photo_accuracy("--check", "--out", str(out), timeout=900)
    assert out.exists(), finished.stdout + finished.stderr
    report = json.loads(out.read_text())
    assert report["count"] == 1000 and report["ratio"] >= 0.97, report["ratio"]
    assert finished.returncode == 0 and failed_goals(report) == [], failed_goals(report)
    assert {goal["key"] for goal in report["goals"] if goal["pass"] is True} == {"ratio", "errors"}


def test_small_run_posts_native_and_photo_images_and_exits_by_its_verdicts(tmp_path: Path) -> None:
    out = tmp_path / "photo_accuracy.json"
    finished = run_photo_accuracy("--count", "24", "--seed", "5", "--out", str(out), timeout=300)
    report = json.loads(out.read_text())
    assert report["count"] == 24 and report["split"] == "test"
    assert report["preprocess_used"] == {"native:raw": 24, "photo:photo": 24}
    assert 0 <= report["native_accuracy"] <= 1 and 0 <= report["photo_accuracy"] <= 1
    assert report["ratio"] == round(report["photo_accuracy"] / report["native_accuracy"], 4)
    formats = [row["count"] for kind, row in report["photo_accuracy_by"].items() if kind.startswith("format")]
    assert sum(formats) == 24
    assert "ratio photo / native" in finished.stdout
    # 24 images are too few to judge the ratio; whatever the verdicts, the exit status follows them.
    assert finished.returncode == (1 if failed_goals(report) else 0), finished.stderr


def test_a_failed_goal_makes_the_benchmark_exit_1(tmp_path: Path) -> None:
    out = tmp_path / "photo_accuracy.json"
    finished = run_photo_accuracy("--count", "8", "--goal", "ratio=2", "--out", str(out), timeout=300)
    assert finished.returncode == 1, finished.stdout + finished.stderr
    assert failed_goals(json.loads(out.read_text())) == ["ratio"]
