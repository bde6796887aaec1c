"""Record the deployment figures the README quotes (image size, run to healthy, failover) in a committed file.

    .venv/bin/python scripts/deployment_figures.py   # -> benchmarks/results/deployment/<UTC time>.json

Runs the container tests (`pytest -m container tests/deploy`: podman, see docs/deployment.md), which
write their measurements to the ignored test-artifacts/deployment-figures.json, and copies them, with
the date and the command, to a new dated results file: the tests themselves never write a tracked file.
Exits with pytest's status; nothing is recorded when a test failed.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
FIGURES = REPO_ROOT / "test-artifacts" / "deployment-figures.json"
RESULTS = REPO_ROOT / "benchmarks" / "results" / "deployment"
COMMAND = [sys.executable, "-m", "pytest", "-m", "container", "tests/deploy", "-p", "no:cacheprovider"]


def main() -> int:
    started = time.gmtime()
    FIGURES.unlink(missing_ok=True)
    status = subprocess.run(COMMAND, cwd=REPO_ROOT, check=False).returncode
    if status != 0 or not FIGURES.exists():
        print(f"the container tests exited {status}: nothing recorded", file=sys.stderr)
        return status or 1
    record = {
        "command": "python scripts/deployment_figures.py (pytest -m container tests/deploy)",
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", started),
        **json.loads(FIGURES.read_text()),
    }
    out = RESULTS / time.strftime("%Y-%m-%dT%H-%M-%SZ.json", started)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(record, indent=1) + "\n")
    print(f"wrote {out.relative_to(REPO_ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
