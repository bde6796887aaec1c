"""A bounded load run: a fixed number of requests from a few threads, with something done part-way."""

from __future__ import annotations

import http.client
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import httpx

Send = Callable[[httpx.Client, int], httpx.Response]


@dataclass(frozen=True)
class Outcome:
    """One request as the client saw it."""

    index: int
    started: float
    finished: float
    status: int | None  # None: no response at all
    upstreams: tuple[str, ...]  # nginx's X-Upstream: every replica tried, in order
    error: str | None

    @property
    def ok(self) -> bool:
        return self.status == 200 and self.error is None


@dataclass(frozen=True)
class LoadRun:
    outcomes: list[Outcome]
    seconds: float
    triggered_at: float | None  # when the action started (monotonic), if there was one
    action_finished_at: float | None = None  # when it returned

    @property
    def failures(self) -> list[Outcome]:
        return [outcome for outcome in self.outcomes if not outcome.ok]

    @property
    def retried(self) -> list[Outcome]:
        """Requests that nginx sent to more than one replica."""
        return [outcome for outcome in self.outcomes if len(outcome.upstreams) > 1]

    def started_after(self, moment: float) -> list[Outcome]:
        """Requests sent at or after `moment` (monotonic)."""
        return [outcome for outcome in self.outcomes if outcome.started >= moment]

    def answered_by(self, since_trigger: bool = False) -> Counter[str]:
        """Requests per replica that answered them (the last one nginx tried)."""
        since = self.triggered_at if since_trigger and self.triggered_at is not None else float("-inf")
        return Counter(o.upstreams[-1] for o in self.outcomes if o.upstreams and o.started >= since)

    def summary(self) -> dict[str, object]:
        return {
            "requests": len(self.outcomes),
            "failed": len(self.failures),
            "retried_on_another_replica": len(self.retried),
            "seconds": round(self.seconds, 2),
            "requests_per_second": round(len(self.outcomes) / self.seconds, 1),
            "answered_by": dict(sorted(self.answered_by().items())),
        }


def run_load(
    send: Send,
    total: int,
    concurrency: int,
    action: Callable[[], object] | None = None,
    action_after: int = 0,
) -> LoadRun:
    """Send `total` requests from `concurrency` threads (one keep-alive client each); record every outcome.

    `action` runs once, in its own thread, as soon as `action_after` requests have completed, so the
    load keeps flowing while it runs (a replica killed in the middle of a load run).
    """
    outcomes: list[Outcome] = []
    lock = threading.Lock()
    next_index = 0
    triggered_at: float | None = None
    action_thread: threading.Thread | None = None
    action_errors: list[BaseException] = []
    action_finished_at: float | None = None

    def run_action() -> None:
        nonlocal action_finished_at
        assert action is not None
        try:
            action()
        except BaseException as error:  # re-raised in the caller's thread below
            action_errors.append(error)
        finally:
            action_finished_at = time.monotonic()

    def completed(outcome: Outcome) -> None:
        nonlocal triggered_at, action_thread
        with lock:
            outcomes.append(outcome)
            if action is not None and action_thread is None and len(outcomes) >= action_after:
                triggered_at = time.monotonic()
                action_thread = threading.Thread(target=run_action)
                action_thread.start()

    def worker() -> None:
        nonlocal next_index
        with httpx.Client(timeout=60) as client:
            while True:
                with lock:
                    index, next_index = next_index, next_index + 1
                if index >= total:
                    return
                started = time.monotonic()
                try:
                    response = send(client, index)
                except httpx.HTTPError as error:
                    failure = f"{type(error).__name__}: {error}"
                    completed(Outcome(index, started, time.monotonic(), None, (), failure))
                    continue
                upstream = response.headers.get("x-upstream", "")
                upstreams = tuple(address.strip() for address in upstream.split(",") if address.strip())
                error = None if response.status_code == 200 else response.text[:200]
                completed(Outcome(index, started, time.monotonic(), response.status_code, upstreams, error))

    started = time.monotonic()
    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.monotonic() - started
    if action_thread is not None:
        action_thread.join()
    if action_errors:
        raise action_errors[0]
    return LoadRun(sorted(outcomes, key=lambda o: o.index), seconds, triggered_at, action_finished_at)


def overlap_problems(run: LoadRun, failure_began: float | None, minimum: int, retries: int = 0) -> list[str]:
    """Why a failover run proves nothing: the failure did not happen while requests were still flowing.

    `failure_began` is when the replica was down or draining (monotonic); at least `minimum` requests
    must have been sent after it, every one answered, and at least `retries` of them resent by nginx
    to another replica (it met the failed one). Empty when the run overlapped the failure.
    """
    if failure_began is None:
        return ["the failure never happened"]
    after = run.started_after(failure_began)
    found = []
    if len(after) < minimum:
        found.append(f"{len(after)} requests were sent after the failure began; at least {minimum} must be")
    if any(not outcome.ok for outcome in after):
        found.append(f"{sum(not o.ok for o in after)} requests sent after the failure began failed")
    if len(run.retried) < retries:
        found.append(
            f"nginx resent {len(run.retried)} requests to another replica; at least {retries} expected"
        )
    return found


class SlowUpload:
    """A POST /predict whose body is sent in two halves: in between, the server has a request in flight."""

    def __init__(self, url: str, png: bytes) -> None:
        boundary = uuid.uuid4().hex
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="x.png"\r\n'
            "Content-Type: image/png\r\n\r\n"
        )
        body = head.encode() + png + f"\r\n--{boundary}--\r\n".encode()
        host, port = url.removeprefix("http://").rsplit(":", 1)
        self.connection = http.client.HTTPConnection(host, int(port), timeout=60)
        self.connection.putrequest("POST", "/predict")
        self.connection.putheader("Content-Type", f"multipart/form-data; boundary={boundary}")
        self.connection.putheader("Content-Length", str(len(body)))
        self.connection.endheaders()
        half = len(body) // 2
        self.connection.send(body[:half])
        self.rest = body[half:]

    def finish(self) -> int:
        """Send the rest of the body; return the response's status."""
        try:
            self.connection.send(self.rest)
            response = self.connection.getresponse()
            response.read()
            return response.status
        finally:
            self.connection.close()
