"""The photo-accuracy benchmark runs end to end against a real server (no accuracy is asserted here)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from app.config import REPO_ROOT


def test_small_run_posts_native_and_photo_images_and_reports_the_ratio(tmp_path: Path) -> None:
    out = tmp_path / "photo_accuracy.json"
    finished = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.photo_accuracy",
            "--count",
            "24",
            "--seed",
            "5",
            "--out",
            str(out),
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert finished.returncode == 0, finished.stdout + finished.stderr
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
