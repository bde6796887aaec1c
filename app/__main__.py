"""`python3 -m app`: serve the API with uvicorn, configured from the environment (the container's command).

PORT (8000), HOST (0.0.0.0), WORKERS (the cores this process may use) and GRACEFUL_SHUTDOWN_TIMEOUT
(20 s: how long SIGTERM waits for in-flight requests) are read here; everything else is read by
app/config.py. With several workers, each is its own process, so Prometheus metrics need a shared
directory: PROMETHEUS_MULTIPROC_DIR if set (emptied here, before any worker starts), else a fresh one
under the temporary directory.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import uvicorn

# app.metrics's variable, not imported from there: prometheus_client must first be imported after it is set.
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def default_workers() -> int:
    """The cores this process may run on (a CPU set or affinity mask counts, unlike os.cpu_count())."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def prepare_metrics_dir(workers: int) -> None:
    """Give several workers one empty metrics directory; prometheus_client reads it on import."""
    configured = os.environ.get(MULTIPROC_ENV)
    if configured:
        for stale in Path(configured).glob("*.db"):  # counts of an earlier run would be added in
            stale.unlink()
    elif workers > 1:
        os.environ[MULTIPROC_ENV] = tempfile.mkdtemp(prefix="prometheus-")


def main() -> None:
    """Start uvicorn on HOST:PORT with WORKERS processes; return once SIGTERM has drained them."""
    workers = int(os.environ.get("WORKERS") or default_workers())
    prepare_metrics_dir(workers)
    uvicorn.run(
        "app.main:app",
        host=os.environ.get("HOST", "0.0.0.0"),
        port=int(os.environ.get("PORT", "8000")),
        workers=workers,
        timeout_graceful_shutdown=int(os.environ.get("GRACEFUL_SHUTDOWN_TIMEOUT", "20")),
        access_log=False,  # the app writes one JSON line per request (app.observability)
        server_header=False,
    )


if __name__ == "__main__":
    main()
