"""One server in a subprocess on a localhost port: start it, wait until it is ready, stop it.

Shared by the serving benchmarks (the service, its baselines, the peer frameworks) and the tests
that need a real HTTP server; the service never imports it.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
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


def http_status(port: int, path: str = "/health", timeout_s: float = 2) -> int | None:
    """The status of GET `path` on the port, or None when nothing answers."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout_s)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        return response.status
    except (OSError, http.client.HTTPException):
        return None
    finally:
        connection.close()


def health_status(port: int, timeout_s: float = 2) -> int | None:
    """The status of GET /health on the port, or None when nothing answers."""
    return http_status(port, "/health", timeout_s)


@contextlib.contextmanager
def running_process(
    command: Sequence[str],
    port: int,
    log: Path,
    env: Mapping[str, str],
    ready_path: str = "/health",
    timeout_s: float = 120,
    poll_s: float = 0.2,
    stop_timeout_s: float = 20,
    cwd: Path = REPO_ROOT,
) -> Iterator[subprocess.Popen[bytes]]:
    """Run `command`, a server that will listen on 127.0.0.1:`port`; yield once GET `ready_path` is 200.

    stdout and stderr go to `log`. The process leads a session of its own, so servers that start
    workers (gunicorn, MLServer, Ray) leave nothing behind. Raises RuntimeError, with the log's
    tail, when the process exits or is not ready within `timeout_s` of the start. Afterwards the
    process gets SIGTERM, and what is left of its session SIGKILL once it has exited or after
    `stop_timeout_s`.
    """
    started = time.perf_counter()
    with log.open("wb") as output:
        process = subprocess.Popen(
            list(command),
            cwd=cwd,
            env=dict(env),
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    name = " ".join(Path(part).name for part in command[:4])
    try:
        while http_status(port, ready_path) != 200:
            if process.poll() is not None:
                raise RuntimeError(
                    f"{name} exited with {process.returncode}:\n{log.read_text()[-LOG_TAIL_CHARS:]}"
                )
            if time.perf_counter() - started > timeout_s:
                raise RuntimeError(
                    f"{name} did not answer {ready_path} 200 within {timeout_s} s:\n"
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
        for member in session_members(process.pid):  # workers the server started and did not stop
            with contextlib.suppress(ProcessLookupError):
                os.kill(member, signal.SIGKILL)


def session_members(session_id: int) -> list[int]:
    """The processes of a session (Ray's workers lead process groups of their own, not sessions)."""
    members = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                if int((entry / "stat").read_text().rpartition(")")[2].split()[3]) == session_id:
                    members.append(int(entry.name))
    return members


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
    """Serve `target` ("module:app") with uvicorn on 127.0.0.1:`port`; yield once /health is 200."""
    command = [sys.executable, "-m", "uvicorn", target, "--host", "127.0.0.1", "--port", str(port)]
    with running_process(
        [*command, "--no-access-log", *extra_args],
        port,
        log,
        env,
        timeout_s=timeout_s,
        poll_s=poll_s,
        stop_timeout_s=stop_timeout_s,
    ) as process:
        yield process
