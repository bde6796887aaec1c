"""The serving benchmark runs end to end (behaviour only: no speed is asserted here)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from app.config import REPO_ROOT


def test_smoke_run_measures_service_and_ceiling_and_writes_results(tmp_path: Path) -> None:
    out = tmp_path / "serving.json"
    finished = subprocess.run(
        [sys.executable, "-m", "benchmarks.serving", "--smoke", "--out", str(out)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert finished.returncode == 0, finished.stdout + finished.stderr
    report = json.loads(out.read_text())
    assert set(report["servers"]) == {"service", "ceiling"}
    service = report["servers"]["service"]
    assert set(service["runs"]) == {"png", "jpeg", "batch"}
    for server in report["servers"].values():
        assert server["peak_rss_mb"] > 0 and server["start_median_s"] > 0
        for run in server["runs"].values():
            assert run["requests"] > 0 and run["errors"] == 0
    assert report["litert"]["batch_1"]["seconds_per_image"] > 0
    assert {g["goal"] for g in report["goals"]} >= {"zero errors (non-2xx + socket errors)"}
    assert "PASS" in finished.stdout or "FAIL" in finished.stdout
