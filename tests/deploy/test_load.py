"""The failover tests' own judge, without containers: a load run against a simulated balancer whose
replica fails part-way, or only after the load is over (which must not count as surviving a failure)."""

from __future__ import annotations

import threading
import time

import httpx

from tests.deploy.load import LoadRun, overlap_problems, run_load

TOTAL = 300
THREADS = 3


def simulated_failover(action_after: int, retry: bool = True, fail_one: bool = False) -> LoadRun:
    """A load run through a pretend nginx: once the action has "killed" replica b, the next request
    is resent from b to a (a retry in X-Upstream), and all later ones go to a."""
    killed = threading.Event()
    retried = threading.Event()
    lock = threading.Lock()

    def send(_: httpx.Client, index: int) -> httpx.Response:
        time.sleep(0.002)  # a request takes a few milliseconds
        upstream = "127.0.0.1:2" if index % 2 else "127.0.0.1:1"
        if killed.is_set():
            upstream = "127.0.0.1:1"
            with lock:
                if retry and not retried.is_set():
                    retried.set()
                    upstream = "127.0.0.1:2, 127.0.0.1:1"
            if fail_one and index == TOTAL - 1:
                return httpx.Response(502, text="bad gateway", headers={"x-upstream": upstream})
        return httpx.Response(200, headers={"x-upstream": upstream})

    def kill() -> None:
        time.sleep(0.05)  # `podman kill` takes a moment
        killed.set()

    return run_load(send, total=TOTAL, concurrency=THREADS, action=kill, action_after=action_after)


def test_a_failure_in_the_middle_of_the_load_overlaps_it() -> None:
    run = simulated_failover(action_after=TOTAL // 3)
    assert run.action_finished_at is not None and len(run.retried) == 1
    assert overlap_problems(run, run.action_finished_at, minimum=20, retries=1) == []


def test_a_failure_after_the_load_is_over_proves_nothing() -> None:
    run = simulated_failover(action_after=TOTAL)  # the kill comes with the last answer
    assert run.failures == []  # "0 failed requests", and yet nothing was tested
    problems = overlap_problems(run, run.action_finished_at, minimum=20, retries=1)
    assert problems[0] == "0 requests were sent after the failure began; at least 20 must be"
    assert "nginx resent 0 requests" in problems[-1]


def test_no_retry_means_nginx_never_met_the_failed_replica() -> None:
    run = simulated_failover(action_after=TOTAL // 3, retry=False)
    problems = overlap_problems(run, run.action_finished_at, minimum=20, retries=1)
    assert problems == ["nginx resent 0 requests to another replica; at least 1 expected"]


def test_a_failed_request_after_the_failure_is_reported() -> None:
    run = simulated_failover(action_after=TOTAL // 3, fail_one=True)
    assert overlap_problems(run, run.action_finished_at, minimum=20, retries=1) == [
        "1 requests sent after the failure began failed"
    ]


def test_a_failure_that_never_happened_is_reported() -> None:
    run = run_load(lambda _, i: httpx.Response(200), total=10, concurrency=2)
    assert overlap_problems(run, None, minimum=1) == ["the failure never happened"]
