"""Running a benchmark as CI does, and reading its verdicts."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from app.config import REPO_ROOT


def run_benchmark(module: str, *args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    """`python -m MODULE ARGS` from the repository root, whatever its exit status."""
    command = [sys.executable, "-m", module, *args]
    return subprocess.run(
        command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=timeout, check=False
    )


def read_report(out: Path, finished: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    """The results file a run wrote; fails with the run's output when there is none."""
    assert out.exists(), f"exit {finished.returncode}, no {out.name}:\n{finished.stdout}\n{finished.stderr}"
    report: dict[str, Any] = json.loads(out.read_text())
    return report


def run_and_read(
    module: str, tmp_path: Path, *args: str, timeout: float
) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    """Run the benchmark with `--out` in `tmp_path`; its exit and the results file it wrote."""
    out = tmp_path / f"{module.rpartition('.')[2]}.json"
    finished = run_benchmark(module, *args, "--out", str(out), timeout=timeout)
    return finished, read_report(out, finished)


def goals_where(report: dict[str, Any], passed: bool | None) -> set[str]:
    """The keys of the goals whose verdict is `passed` (None: not judged in this run)."""
    return {goal["key"] for goal in report["goals"] if goal["pass"] is passed}
