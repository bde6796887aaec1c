"""The serving benchmark runs end to end (behaviour only: no speed is asserted here)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.helpers import run_module


def test_smoke_run_measures_service_and_ceiling_and_writes_results(tmp_path: Path) -> None:
    out = tmp_path / "serving.json"
    finished = run_module("benchmarks.serving", "--smoke", "--out", str(out), timeout=120)
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
