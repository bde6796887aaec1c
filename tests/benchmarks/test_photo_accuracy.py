"""The photo-accuracy benchmark runs end to end against a real server (no accuracy is asserted here)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.helpers import run_module


def test_small_run_posts_native_and_photo_images_and_reports_the_ratio(tmp_path: Path) -> None:
    out = tmp_path / "photo_accuracy.json"
    finished = run_module(
        "benchmarks.photo_accuracy", "--count", "24", "--seed", "5", "--out", str(out), timeout=180
    )
    report = json.loads(out.read_text())
    assert report["count"] == 24 and report["split"] == "test"
    assert report["preprocess_used"] == {"native:raw": 24, "photo:photo": 24}
    assert 0 <= report["native_accuracy"] <= 1 and 0 <= report["photo_accuracy"] <= 1
    assert report["ratio"] == round(report["photo_accuracy"] / report["native_accuracy"], 4)
    assert (
        sum(row["count"] for kind, row in report["photo_accuracy_by"].items() if kind.startswith("format"))
        == 24
    )
    assert "ratio photo / native" in finished.stdout
    assert "PASS" in finished.stdout or "FAIL" in finished.stdout
