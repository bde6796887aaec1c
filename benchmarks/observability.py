"""Per-request cost of the observability middleware (request id, metrics, JSON log line).

    .venv/bin/python -m benchmarks.observability          # ~1 minute; writes results/observability.json
    .venv/bin/python -m benchmarks.observability --quick  # seconds

The middleware wraps a minimal ASGI app that answers like a routed FastAPI endpoint (the matched
route in the scope, a read body, a prediction on `request.state`), called directly in a loop with
no server or network in between, so the difference between the wrapped and the bare app is the
middleware's own cost. Log lines go to /dev/null through the real JSON handler (a write system call
each, as to a container's log pipe). Single-process mode runs here; multiprocess mode (values in
mmap'ed files) runs in a child process with PROMETHEUS_MULTIPROC_DIR set, since prometheus_client
reads it at import. Bare and wrapped runs alternate and the best of several rounds is kept.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).with_name("results") / "observability.json"
HEADERS = [
    (b"host", b"127.0.0.1:8000"),
    (b"user-agent", b"benchmark"),
    (b"accept", b"*/*"),
    (b"content-type", b"multipart/form-data; boundary=x"),
    (b"content-length", b"600"),
]


def make_inner_app(outcome: Any) -> Any:
    """An ASGI app shaped like a routed endpoint: reads the body, answers 200 JSON."""
    from starlette.routing import Route

    route = Route("/predict", endpoint=lambda request: None, methods=["POST"])
    body = b'{"class_id": 9}'
    start = {
        "type": "http.response.start",
        "status": 200,
        "headers": [(b"content-type", b"application/json")],
    }
    end = {"type": "http.response.body", "body": body}

    async def inner(scope: dict, receive: Any, send: Any) -> None:
        scope["route"] = route
        await receive()
        if outcome is not None:
            scope["state"]["outcomes"] = [outcome]
        await send(start)
        await send(end)

    return inner


async def time_requests(app: Any, count: int, method: str, with_id: bool) -> float:
    """Seconds per request for `count` calls of `app`."""
    message = {"type": "http.request", "body": bytes(600), "more_body": False}
    headers = [*HEADERS, (b"x-request-id", b"bench-123")] if with_id else HEADERS

    async def receive() -> dict:
        return message

    async def send(_: dict) -> None:
        return None

    started = time.perf_counter()
    for _ in range(count):
        scope: dict[str, Any] = {"type": "http", "method": method, "path": "/predict", "root_path": ""}
        scope |= {"headers": headers, "state": {}}
        await app(scope, receive, send)
    return (time.perf_counter() - started) / count


def measure(count: int, rounds: int) -> dict[str, float]:
    """Overhead in microseconds per request, by case, in this process's metrics mode."""
    from app.logs import configure_logging
    from app.observability import RequestObservability
    from app.schemas import ModelRef, Prediction

    prediction = Prediction(
        class_id=9,
        label="Ankle boot",
        confidence=0.98,
        probabilities=[0.0] * 9 + [1.0],
        preprocess="raw",
        model=ModelRef(name="fashion-mnist", version=1),
    )
    logger = configure_logging("INFO")
    sink = open(os.devnull, "w")  # noqa: SIM115 - lives as long as the process
    for handler in logger.handlers:
        handler.setStream(sink)  # type: ignore[attr-defined]

    cases = {
        "predict_logged": ("INFO", prediction, "POST", True),
        "health_logged": ("INFO", None, "GET", False),
        "predict_not_logged": ("WARNING", prediction, "POST", True),
    }
    results: dict[str, float] = {}
    for case, (level, outcome, method, with_id) in cases.items():
        logger.setLevel(level)
        bare = make_inner_app(outcome)
        wrapped = RequestObservability(make_inner_app(outcome))
        best_bare = best_wrapped = float("inf")
        for _ in range(rounds):
            best_bare = min(best_bare, asyncio.run(time_requests(bare, count, method, with_id)))
            best_wrapped = min(best_wrapped, asyncio.run(time_requests(wrapped, count, method, with_id)))
        results[case] = round((best_wrapped - best_bare) * 1e6, 2)
    logging.getLogger("app").setLevel("INFO")
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer requests and rounds")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    count, rounds = (2000, 3) if args.quick else (20000, 7)
    if args.child:  # multiprocess mode, in a process started with PROMETHEUS_MULTIPROC_DIR set
        print(json.dumps(measure(count, rounds)))
        return

    single = measure(count, rounds)
    with tempfile.TemporaryDirectory() as directory:
        child = subprocess.run(
            [
                sys.executable,
                "-m",
                "benchmarks.observability",
                "--child",
                *(["--quick"] if args.quick else []),
            ],
            env={**os.environ, "PROMETHEUS_MULTIPROC_DIR": directory},
            capture_output=True,
            text=True,
            check=True,
        )
    multi = json.loads(child.stdout.strip().splitlines()[-1])
    results = {
        "unit": "microseconds of middleware overhead per request (wrapped minus bare app)",
        "requests_per_round": count,
        "rounds": rounds,
        "single_process": single,
        "multiprocess": multi,
    }
    for mode in ("single_process", "multiprocess"):
        for case, micros in results[mode].items():  # type: ignore[attr-defined]
            print(f"{mode:15s} {case:20s} {micros:7.1f} us")
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=1) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
