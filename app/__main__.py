"""`python3 -m app`: serve the API with uvicorn, configured from the environment (the container's command).

The one run command: PORT (8000), HOST (0.0.0.0) and WORKERS (the cores this process may use) are
read here; the server's limits and timeouts (app/server.py: header size and count, header, body,
keep-alive and graceful-shutdown timeouts) and everything else are read by app/config.py. Every
line it writes is JSON, uvicorn's own included; a failed start is one line and exit status 3.

With several workers, each is its own process, so Prometheus metrics need a shared
directory: PROMETHEUS_MULTIPROC_DIR if set (emptied here, before any worker starts), else a fresh one
under the temporary directory.
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
from pathlib import Path

from uvicorn.server import Server
from uvicorn.supervisors import Multiprocess

from app.config import get_settings
from app.logs import JsonStderr, log_uncaught
from app.server import uvicorn_config

# app.metrics's variable, not imported from there: prometheus_client must first be imported after it is set.
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
STARTUP_FAILURE = 3  # uvicorn's exit status when the app cannot start (a missing or corrupt model)


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


def main() -> int:
    """Serve on HOST:PORT with WORKERS processes; the exit status, once SIGTERM has drained them."""
    stderr = JsonStderr()  # native libraries' lines (LiteRT's) become JSON too
    sys.excepthook = log_uncaught
    logging.captureWarnings(True)
    try:
        return serve(int(os.environ.get("WORKERS") or default_workers()))
    finally:
        stderr.close()


def serve(workers: int) -> int:
    """Run uvicorn with the service's configuration (app.server); 3 when the app failed to start."""
    prepare_metrics_dir(workers)
    host, port = os.environ.get("HOST", "0.0.0.0"), int(os.environ.get("PORT", "8000"))
    config = uvicorn_config(get_settings(), host, port, workers)
    if workers == 1:
        server = Server(config)
        server.run()
        return 0 if server.started else STARTUP_FAILURE
    supervisor = Multiprocess(config, sockets=[config.bind_socket()])
    supervisor.run()
    failed = any(process.exitcode == STARTUP_FAILURE for process in supervisor.processes)
    return STARTUP_FAILURE if failed else 0


if __name__ == "__main__":
    sys.exit(main())
