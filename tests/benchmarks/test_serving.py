"""The serving benchmark as CI runs it: `--check` judges the goals that hold on any machine, and the
exit status says whether they passed (0), one failed (1) or the benchmark could not run (2)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.benchmarks.runs import goals_where, run_and_read

STABLE_GOALS = {"ideal_png", "ideal_jpeg", "tutorial_png", "rss", "batch", "errors"}


@pytest.mark.slow
def test_check_run_passes_the_goals_that_hold_on_any_machine(tmp_path: Path) -> None:
    finished, report = run_and_read("benchmarks.serving", tmp_path, "--check", timeout=900)
    assert goals_where(report, False) == set() and finished.returncode == 0, report["goals"]
    assert goals_where(report, True) >= STABLE_GOALS


def test_smoke_run_measures_service_and_ceiling_and_writes_results(tmp_path: Path) -> None:
    finished, report = run_and_read("benchmarks.serving", tmp_path, "--smoke", timeout=300)
    assert finished.returncode == 0, finished.stdout + finished.stderr
    assert set(report["servers"]) == {"service", "ceiling"}
    service = report["servers"]["service"]
    assert set(service["runs"]) == {"png", "png_body", "jpeg", "batch", "v2_fp32", "v2_png"}
    assert set(report["servers"]["ceiling"]["runs"]) == {"png", "png_raw", "jpeg", "v2_fp32", "v2_png"}
    for server in report["servers"].values():
        assert server["peak_rss_mb"] > 0 and server["start_median_s"] > 0
        for run in server["runs"].values():
            assert run["requests"] > 0 and run["errors"] == 0
    assert report["litert"]["batch_1"]["seconds_per_image"] > 0
    assert goals_where(report, True) == {"rss", "errors"}


def test_a_failed_goal_makes_the_benchmark_exit_1(tmp_path: Path) -> None:
    # A worker in 1 MB: a goal no run can meet.
    finished, report = run_and_read("benchmarks.serving", tmp_path, "--smoke", "--goal", "rss=1", timeout=300)
    assert finished.returncode == 1 and goals_where(report, False) == {"rss"}


@pytest.mark.slow
def test_ab_loads_each_variant_and_reports_its_settings(tmp_path: Path) -> None:
    finished, report = run_and_read(
        "benchmarks.ab",
        tmp_path,
        "GIL_SWITCH_INTERVAL=0.005",
        "GIL_SWITCH_INTERVAL=0.00002,LOG_LEVEL=WARNING",
        "--rounds",
        "1",
        "--duration",
        "1",
        timeout=120,
    )
    assert finished.returncode == 0, finished.stdout + finished.stderr
    variants = report["variants"]
    assert [v["settings"] for v in variants] == [
        {"GIL_SWITCH_INTERVAL": "0.005"},
        {"GIL_SWITCH_INTERVAL": "0.00002", "LOG_LEVEL": "WARNING"},
    ]
    assert all(v["requests_per_s"] > 0 and v["errors"] == 0 and len(v["runs"]) == 1 for v in variants)
    assert variants[0]["vs_first"] == 1.0
