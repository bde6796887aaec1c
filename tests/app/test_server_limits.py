"""Limits on a real HTTP server (uvicorn in a subprocess): oversize bodies as they stream, bombs, memory."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from PIL import Image

from tests import odd_files
from tests.helpers import running_server

LIMIT = 1_000_000  # MAX_UPLOAD_BYTES for this server: small, so the tests stream little
PART_HEAD = (
    b'--b\r\nContent-Disposition: form-data; name="file"; filename="x.png"\r\nContent-Type: image/png\r\n\r\n'
)


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with running_server(env={"MAX_UPLOAD_BYTES": str(LIMIT), "LOG_LEVEL": "WARNING"}) as url:
        yield url


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


def server_pid(url: str) -> int:
    """The uvicorn process listening on the URL's port (the one running_server started)."""
    wanted = ["--port", str(port_of(url))]
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().decode().split("\0")
        except OSError:
            continue
        if "uvicorn" in argv and any(argv[i : i + 2] == wanted for i in range(len(argv))):
            return int(entry.name)
    raise AssertionError(f"no uvicorn process serves {url}")


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def assert_healthy(url: str) -> None:
    assert httpx.get(f"{url}/health", timeout=10).json()["status"] == "ok"
    answer = httpx.post(f"{url}/predict", files={"file": ("ok.bmp", odd_files.bmp())}, timeout=10)
    assert answer.status_code == 200


def test_declared_oversize_body_is_refused_before_it_is_sent(server: str) -> None:
    """Content-Length over the limit: 413 comes back although not one byte of the body was sent."""
    with socket.create_connection(("127.0.0.1", port_of(server)), timeout=10) as connection:
        connection.sendall(
            b"POST /predict HTTP/1.1\r\nHost: test\r\nContent-Type: multipart/form-data; boundary=b\r\n"
            + f"Content-Length: {50 * LIMIT}\r\n\r\n".encode()
        )
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413")
    assert b"application/json" in head and f"the limit is {LIMIT} bytes".encode() in body
    assert_healthy(server)


def test_chunked_body_is_cut_off_at_the_limit(server: str) -> None:
    """No Content-Length (chunked transfer): the server counts while it streams and answers 413."""
    sent = 0

    def body() -> Iterator[bytes]:
        nonlocal sent
        yield PART_HEAD
        for _ in range(3 * LIMIT // 65536):
            sent += 65536
            yield b"\0" * 65536

    with httpx.Client(timeout=10) as client:
        request = client.build_request(
            "POST",
            f"{server}/predict",
            content=body(),
            headers={"content-type": "multipart/form-data; boundary=b"},
        )
        assert "content-length" not in request.headers and request.headers["transfer-encoding"] == "chunked"
        response = client.send(request)
    assert response.status_code == 413
    assert response.json()["detail"] == f"request body is over {LIMIT} bytes; the limit is {LIMIT} bytes"
    assert_healthy(server)


def test_body_just_under_the_limit_is_read(server: str) -> None:
    """The limit counts the body, not more: a non-image just under it is a 400, not a 413."""
    files = {"file": ("x.bin", b"\0" * (LIMIT - 1000))}
    assert httpx.post(f"{server}/predict", files=files, timeout=10).status_code == 400


def test_bombs_are_413_and_memory_returns_to_baseline(server: str) -> None:
    pid = server_pid(server)
    for _ in range(3):  # warm up: first requests allocate the interpreter's and decoder's buffers
        assert_healthy(server)
    before = rss_kb(pid)
    for _ in range(3):
        for name, make in odd_files.BOMBS.items():
            response = httpx.post(f"{server}/predict", files={"file": (name, make())}, timeout=10)
            assert response.status_code == 413, response.text
    assert_healthy(server)
    grown_mb = (rss_kb(pid) - before) / 1024
    assert grown_mb < 10, f"RSS grew {grown_mb:.1f} MB over {before / 1024:.0f} MB after bombs"


def test_memory_of_a_large_image_is_given_back(server: str) -> None:
    """Real 23.5-megapixel RGB PNGs (under the 24 Mpx limit) are decoded; their ~70 MB do not stay."""
    pid = server_pid(server)
    big = odd_files.save(Image.new("RGB", (5_600, 4_200), (250, 250, 250)), "PNG")
    assert len(big) < LIMIT
    assert_healthy(server)
    before = rss_kb(pid)
    for _ in range(3):
        response = httpx.post(f"{server}/predict", files={"file": ("big.png", big)}, timeout=60)
        assert response.status_code == 200 and response.json()["preprocess"] == "photo"
    assert_healthy(server)
    grown_mb = (rss_kb(pid) - before) / 1024
    assert grown_mb < 20, f"RSS stayed {grown_mb:.1f} MB above {before / 1024:.0f} MB after 23.5-Mpx images"
