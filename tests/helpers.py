"""Small helpers for tests: encoding arrays as image files, serving the app over real HTTP."""

from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import numpy as np
from PIL import Image

from app.config import REPO_ROOT


def image_bytes(pixels: np.ndarray, format: str = "PNG", **options: object) -> bytes:
    """Encode a uint8 array (H, W) or (H, W, C) in the given Pillow format."""
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format=format, **options)
    return buffer.getvalue()


def free_port() -> int:
    """A TCP port on localhost that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def running_server(
    *uvicorn_args: str, env: dict[str, str] | None = None, log: Path | None = None, timeout: float = 120
) -> Iterator[str]:
    """Serve the real app with uvicorn in a subprocess (a real HTTP server); yield its base URL.

    stdout and stderr go to `log` (a temporary file if None). Fails, with the log's tail, when
    the server exits or /health is not 200 within `timeout` seconds.
    """
    port = free_port()
    if log is None:
        handle, name = tempfile.mkstemp(prefix="uvicorn-", suffix=".log")
        os.close(handle)
        log = Path(name)
    command = [sys.executable, "-m", "uvicorn", "app.main:app", "--host", "127.0.0.1", "--port", str(port)]
    with log.open("wb") as output:
        process = subprocess.Popen(
            [*command, "--no-access-log", *uvicorn_args],
            cwd=REPO_ROOT,
            env={**os.environ, **(env or {})},
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise AssertionError(f"uvicorn exited with {process.returncode}:\n{log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"uvicorn not healthy after {timeout} s:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
