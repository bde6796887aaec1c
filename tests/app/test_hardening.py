"""Issue 17 on a real server (`python -m app`, the container's command) over real sockets.

No single request may stall the service: padded and bomb uploads, huge or endless headers, slow and
idle connections, SIGTERM during a trickling upload; and every line the server writes is JSON.
Timings carry a wide margin: they must hold on a 2-core machine that is busy with something else.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import pytest

from app.config import REPO_ROOT
from benchmarks.uvicorn_process import free_port, health_status
from tests import hostile_files, odd_files
from tests.helpers import image_bytes


@dataclass
class Server:
    url: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    def lines(self) -> list[str]:
        return [line for line in self.log.read_text().splitlines() if line.strip()]


@contextlib.contextmanager
def serving(env: dict[str, str] | None = None, timeout: float = 120) -> Iterator[Server]:
    """`python -m app` with one worker on a free localhost port; yields once /health is 200."""
    port = free_port()
    handle, name = tempfile.mkstemp(prefix="app-", suffix=".log")
    os.close(handle)
    log = Path(name)
    environment = {**os.environ, "HOST": "127.0.0.1", "PORT": str(port), "WORKERS": "1", **(env or {})}
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "app"],
            cwd=REPO_ROOT,
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        started = time.monotonic()
        while health_status(port) != 200:
            if process.poll() is not None or time.monotonic() - started > timeout:
                raise AssertionError(f"server did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)
        yield Server(f"http://127.0.0.1:{port}", port, process, log)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=40)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    with serving() as running:
        yield running


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def timed_health(url: str) -> float:
    started = time.perf_counter()
    assert httpx.get(f"{url}/health", timeout=10).status_code == 200
    return time.perf_counter() - started


def while_running(work: Callable[[], object], probe: Callable[[], float]) -> tuple[object, list[float]]:
    """Run `work` on a thread and `probe` over and over until it is done; (its result, the probe times)."""
    with ThreadPoolExecutor(1) as pool:
        future = pool.submit(work)
        times: list[float] = []
        while not future.done() or not times:
            times.append(probe())
            time.sleep(0.05)
        return future.result(), times


def post(url: str, name: str, data: bytes, route: str = "/predict") -> httpx.Response:
    return httpx.post(f"{url}{route}", files={"file": (name, data)}, timeout=60)


# ---- nothing slow on the event loop --------------------------------------------------------


@pytest.mark.parametrize(
    "make",
    [hostile_files.padded_jpeg, hostile_files.padded_png, hostile_files.commented_gif],
    ids=["jpeg-markers", "png-chunks", "gif-comments"],
)
def test_health_answers_while_a_padded_28x28_upload_is_processed(
    server: Server, make: Callable[[], bytes]
) -> None:
    data = make()  # 9.5 MB, declaring 28x28
    response, health_times = while_running(
        lambda: post(server.url, "padded", data), lambda: timed_health(server.url)
    )
    assert isinstance(response, httpx.Response) and response.status_code == 413, response
    assert "the limit is 4096" in response.json()["detail"]
    assert max(health_times) < 1.0, health_times


def test_health_answers_while_a_batch_of_padded_uploads_is_processed(server: Server) -> None:
    files = [
        ("files", ("a.jpg", hostile_files.padded_jpeg(4_000_000))),
        ("files", ("b.png", hostile_files.padded_png(4_000_000))),
    ]

    def batch() -> httpx.Response:
        return httpx.post(f"{server.url}/predict/batch", files=files, timeout=60)

    response, health_times = while_running(batch, lambda: timed_health(server.url))
    assert isinstance(response, httpx.Response) and response.status_code == 200
    assert [r["status_code"] for r in response.json()["results"]] == [413, 413]
    assert max(health_times) < 1.0, health_times


def test_scan_bomb_and_huge_batch_are_answered_quickly_while_photos_keep_answering(server: Server) -> None:
    bomb = hostile_files.scan_bomb(6_000, 4_000, scans=10_000)  # 24 MP, 10,000 scans
    big = hostile_files.png_16_bit_blank()  # 24 MP 16-bit, 8 of them
    photo = hostile_files.photo_jpeg(400)

    def timed_photo() -> float:
        started = time.perf_counter()
        assert post(server.url, "photo.jpg", photo).status_code == 200
        return time.perf_counter() - started

    def hostile() -> list[tuple[int, float]]:
        answers = []
        for send in (
            lambda: post(server.url, "bomb.jpg", bomb),
            lambda: httpx.post(
                f"{server.url}/predict/batch",
                files=[("files", (f"{i}.png", big)) for i in range(8)],
                timeout=60,
            ),
        ):
            started = time.perf_counter()
            answers.append((send().status_code, time.perf_counter() - started))
        return answers

    answers, photo_times = while_running(hostile, timed_photo)
    assert [status for status, _ in answers] == [413, 413]  # type: ignore[attr-defined]
    assert max(seconds for _, seconds in answers) < 2.0, answers  # type: ignore[attr-defined]
    assert max(photo_times) < 2.0, photo_times


# ---- headers ----------------------------------------------------------------------------------


def exchange(port: int, payload: bytes, read_timeout: float = 10) -> bytes:
    """Send the bytes on a new connection and read until the server closes it (or the timeout)."""
    with socket.create_connection(("127.0.0.1", port), timeout=read_timeout) as connection:
        with contextlib.suppress(OSError):
            connection.sendall(payload)
        answer = b""
        with contextlib.suppress(OSError):
            while chunk := connection.recv(65536):
                answer += chunk
        return answer


def test_huge_headers_are_431_without_memory_growth(server: Server) -> None:
    one_megabyte = b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 1_000_000 + b"\r\n\r\n"
    many = (
        b"GET /health HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-%d: 1\r\n" % i for i in range(80_000)) + b"\r\n"
    )
    just_over = b"GET /health HTTP/1.1\r\nHost: x\r\n" + b"X: 1\r\n" * 100 + b"\r\n"
    for payload in (one_megabyte, many, just_over):  # warm-up
        exchange(server.port, payload)
    before = rss_kb(server.process.pid)
    for _ in range(5):
        for payload, detail in (
            (one_megabyte, b"request headers are over 32768 bytes; the limit is 32768"),
            (many, b"header fields; the limit is 100"),
            (just_over, b"request has over 100 header fields; the limit is 100"),
        ):
            answer = exchange(server.port, payload)
            assert answer.startswith(b"HTTP/1.1 431 "), answer[:200]
            assert detail in answer
    grown_mb = (rss_kb(server.process.pid) - before) / 1024
    assert grown_mb < 5, f"RSS grew {grown_mb:.1f} MB"
    normal = b"GET /health HTTP/1.1\r\nHost: x\r\n" + b"X: 1\r\n" * 90 + b"Connection: close\r\n\r\n"
    assert exchange(server.port, normal).startswith(b"HTTP/1.1 200 ")


# ---- slow and idle connections -------------------------------------------------------------


def seconds_until_closed(
    port: int, first: bytes, trickle: bytes = b"", every: float = 1.0, limit: float = 40
) -> float:
    """Open a connection, send `first`, then one byte of `trickle` every `every` s; seconds until closed."""
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port)) as connection:
        connection.settimeout(every)
        if first:
            connection.sendall(first)
        position = 0
        while time.monotonic() - started < limit:
            try:
                if not connection.recv(65536):
                    return time.monotonic() - started
            except TimeoutError:
                pass
            except OSError:
                return time.monotonic() - started
            if position < len(trickle):
                try:
                    connection.sendall(trickle[position : position + 1])
                except OSError:
                    return time.monotonic() - started
                position += 1
    return time.monotonic() - started


def test_slow_and_idle_connections_are_closed_within_30_s(server: Server) -> None:
    upload_head = (
        b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\n"
        b"Content-Length: 100000\r\n\r\n--b\r\n"
    )
    cases = {
        "idle (no byte sent)": lambda: seconds_until_closed(server.port, b""),
        "slowloris (a header byte a second)": lambda: seconds_until_closed(
            server.port, b"GET /health HTTP/1.1\r\n", trickle=b"X-a: " + b"b" * 100
        ),
        "idle keep-alive": lambda: seconds_until_closed(
            server.port, b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n"
        ),
        "stalled body": lambda: seconds_until_closed(server.port, upload_head),
    }
    with ThreadPoolExecutor(len(cases)) as pool:
        futures = {name: pool.submit(case) for name, case in cases.items()}
        closed_after = {name: future.result() for name, future in futures.items()}
    assert all(seconds < 30 for seconds in closed_after.values()), closed_after
    assert timed_health(server.url) < 1.0


def test_many_idle_connections_are_dropped_and_health_still_answers(server: Server) -> None:
    connections = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(300)]
    try:
        assert timed_health(server.url) < 1.0
        time.sleep(12)  # past HEADER_TIMEOUT (10 s)
        closed = 0
        for connection in connections:
            connection.settimeout(0.5)
            with contextlib.suppress(OSError):
                closed += connection.recv(1) == b""
        assert closed == len(connections)
    finally:
        for connection in connections:
            connection.close()


# ---- shutdown ---------------------------------------------------------------------------------


def test_sigterm_with_a_trickling_upload_answers_complete_requests_and_exits_within_30_s() -> None:
    photos = [("files", (f"{i}.jpg", hostile_files.photo_jpeg(1000, seed=i))) for i in range(8)]
    with serving() as running:
        trickle = threading.Thread(
            target=seconds_until_closed,
            args=(running.port, b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n"),
            kwargs={"trickle": b"x" * 100_000, "every": 0.5, "limit": 60},
            daemon=True,
        )
        trickle.start()
        request = httpx.Request("POST", f"{running.url}/predict/batch", files=photos)
        head = b"POST /predict/batch HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        head += b"".join(f"{k}: {v}\r\n".encode() for k, v in request.headers.items() if k.lower() != "host")
        with socket.create_connection(("127.0.0.1", running.port), timeout=60) as connection:
            connection.sendall(head + b"\r\n" + request.read())  # complete: now in flight
            time.sleep(0.2)
            started = time.monotonic()
            running.process.send_signal(signal.SIGTERM)
            answer = b""
            while chunk := connection.recv(65536):
                answer += chunk
        assert answer.startswith(b"HTTP/1.1 200 "), answer[:300]
        assert len(json.loads(answer.partition(b"\r\n\r\n")[2])["results"]) == 8
        running.process.wait(timeout=40)
        exited_after = time.monotonic() - started
        assert exited_after < 30, exited_after
        assert running.process.returncode in (0, -signal.SIGTERM)  # uvicorn re-raises the signal it handled
        for line in running.lines():
            json.loads(line)


# ---- logs -------------------------------------------------------------------------------------


def test_every_line_the_server_writes_is_json(server: Server) -> None:
    exchange(server.port, b"NOT HTTP AT ALL\r\n\r\n")  # uvicorn's own "Invalid HTTP request" line
    post(server.url, "x.png", image_bytes(np.zeros((28, 28), np.uint8)))
    time.sleep(0.5)
    lines = server.lines()
    records = [json.loads(line) for line in lines]  # each line parses, or this fails
    messages = {record["message"] for record in records}
    assert "Invalid HTTP request received." in messages
    assert any(record["logger"] == "stderr" for record in records)  # LiteRT's native line, wrapped


def test_a_failed_start_is_one_json_line_and_a_non_zero_exit(tmp_path: Path) -> None:
    broken = tmp_path / "fashion-mnist"
    (broken / "1").mkdir(parents=True)
    (broken / "1" / "metadata.json").write_text("{not json")
    environment = {**os.environ, "HOST": "127.0.0.1", "PORT": str(free_port()), "WORKERS": "1"}
    environment |= {"MODEL_DIR": str(broken)}
    finished = subprocess.run(
        [sys.executable, "-m", "app"],
        cwd=REPO_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert finished.returncode != 0
    records = [json.loads(line) for line in (finished.stdout + finished.stderr).splitlines() if line.strip()]
    failures = [record for record in records if record["message"].startswith("startup failed: ")]
    assert len(failures) == 1 and records[-1] is failures[0], records
    assert "metadata.json is not valid JSON" in failures[0]["message"]
    assert not any("Traceback" in json.dumps(record) for record in records)


# ---- soak -------------------------------------------------------------------------------------


@pytest.mark.slow
def test_soak_32_connections_with_hostile_requests_mixed_in() -> None:
    """45 s, 32 connections: valid requests keep succeeding fast while a quarter of the traffic is hostile."""
    valid_png = image_bytes(odd_files.garment())
    photo = hostile_files.photo_jpeg(300)
    hostile_payloads = [
        hostile_files.padded_jpeg(300_000),
        hostile_files.padded_png(300_000),
        hostile_files.scan_bomb(800, 600, scans=2_000),
        odd_files.png_bomb(),
        b"not an image",
    ]
    deadline_s = 45.0
    latencies: list[float] = []
    failures: list[str] = []
    lock = threading.Lock()

    def client(index: int) -> None:
        rng = np.random.default_rng(index)
        with httpx.Client(base_url=running.url, timeout=30) as http:
            while time.monotonic() < stop_at:
                kind = rng.integers(8)
                if kind < 2:
                    hostile = hostile_payloads[rng.integers(len(hostile_payloads))]
                    with contextlib.suppress(httpx.HTTPError):
                        http.post("/predict", files={"file": ("h", hostile)})
                    continue
                if kind == 2 and index % 4 == 0:
                    with contextlib.suppress(OSError):  # a slowloris that gives up after 2 s
                        seconds_until_closed(
                            running.port, b"GET /health HTTP/1.1\r\n", b"X: 1", every=0.5, limit=2
                        )
                    continue
                started = time.perf_counter()
                try:
                    if kind == 3:
                        response = http.get("/health")
                    elif kind == 4:
                        response = http.post("/predict", files={"file": ("p.jpg", photo)})
                    else:
                        response = http.post("/predict", files={"file": ("v.png", valid_png)})
                    ok = response.status_code == 200
                except httpx.HTTPError as error:
                    ok, response = False, None
                    with lock:
                        failures.append(repr(error))
                elapsed = time.perf_counter() - started
                with lock:
                    latencies.append(elapsed)
                    if not ok and response is not None:
                        failures.append(f"{response.status_code} {response.text[:100]}")
                time.sleep(0.2)  # 32 clients at ~5 requests/s each: a busy service, not a saturated one

    with serving() as running:
        for _ in range(20):  # warm-up
            post(running.url, "v.png", valid_png)
            post(running.url, "p.jpg", photo)
        before = rss_kb(running.process.pid)
        stop_at = time.monotonic() + deadline_s
        threads = [threading.Thread(target=client, args=(i,)) for i in range(32)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        after = rss_kb(running.process.pid)
    assert not failures, failures[:10]
    p99 = float(np.percentile(latencies, 99))
    assert p99 < 1.0, f"p99 {p99:.3f} s over {len(latencies)} valid requests"
    assert after < 1.1 * before, f"RSS {before / 1024:.0f} -> {after / 1024:.0f} MB"
