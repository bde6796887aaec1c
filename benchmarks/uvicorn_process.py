"""One uvicorn server in a subprocess on a localhost port: start it, wait for /health 200, stop it.

Shared by the serving benchmarks and the tests that need a real HTTP server; the service never
imports it.
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from app.config import REPO_ROOT

LOG_TAIL_CHARS = 3000


def free_port() -> int:
    """A TCP port on localhost that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def health_status(port: int, timeout_s: float = 2) -> int | None:
    """The status of GET /health on the port, or None when nothing answers."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout_s)
    try:
        connection.request("GET", "/health")
        return connection.getresponse().status
    except (OSError, http.client.HTTPException):
        return None
    finally:
        connection.close()


@contextlib.contextmanager
def running_uvicorn(
    target: str,
    port: int,
    log: Path,
    env: Mapping[str, str],
    extra_args: Sequence[str] = (),
    timeout_s: float = 120,
    poll_s: float = 0.2,
    stop_timeout_s: float = 20,
) -> Iterator[subprocess.Popen[bytes]]:
    """Serve `target` ("module:app") with uvicorn on 127.0.0.1:`port`; yield once /health is 200.

    stdout and stderr go to `log`. Raises RuntimeError, with the log's tail, when the process
    exits or /health is not 200 within `timeout_s` of the start. Afterwards the process gets
    SIGTERM, and SIGKILL if it has not exited within `stop_timeout_s`.
    """
    command = [sys.executable, "-m", "uvicorn", target, "--host", "127.0.0.1", "--port", str(port)]
    started = time.perf_counter()
    with log.open("wb") as output:
        process = subprocess.Popen(
            [*command, "--no-access-log", *extra_args],
            cwd=REPO_ROOT,
            env=dict(env),
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        while health_status(port) != 200:
            if process.poll() is not None:
                raise RuntimeError(
                    f"uvicorn {target} exited with {process.returncode}:\n{log.read_text()[-LOG_TAIL_CHARS:]}"
                )
            if time.perf_counter() - started > timeout_s:
                raise RuntimeError(
                    f"uvicorn {target} did not answer /health 200 within {timeout_s} s:\n"
                    f"{log.read_text()[-LOG_TAIL_CHARS:]}"
                )
            time.sleep(poll_s)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=stop_timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
