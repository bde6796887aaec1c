"""The open-world benchmark as CI runs it: the default model says which uploads are garments (issue 14's
goals on proxy sets, through the real /predict), and a failed goal is exit status 1."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.benchmarks.runs import goals_where, run_and_read

MODULE = "benchmarks.open_world"


@pytest.mark.slow
def test_check_run_passes_every_open_world_goal(tmp_path: Path) -> None:
    finished, report = run_and_read(MODULE, tmp_path, "--check", timeout=900)
    assert report["count"] == 200 and report["errors"] == 0
    assert goals_where(report, False) == set() and finished.returncode == 0, report["goals"]
    reasons = report["sets"]["empty"]["reasons"]
    assert all(key.endswith(": no_object") for key in reasons), reasons


def test_an_impossible_goal_makes_the_benchmark_exit_1(tmp_path: Path) -> None:
    finished, report = run_and_read(MODULE, tmp_path, "--count", "4", "--goal", "auroc=1.5", timeout=300)
    assert finished.returncode == 1 and "auroc" in goals_where(report, False)
