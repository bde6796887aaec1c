"""docker-compose.yml under podman-compose on loopback: nginx spreads the load and hides failing replicas."""

from __future__ import annotations

import json
import subprocess
import time
from collections import Counter
from collections.abc import Iterator

import httpx
import pytest

from tests.deploy.load import LoadRun, SlowUpload, overlap_problems, run_load
from tests.deploy.podman import container_state, logs, podman, wait_for_log
from tests.deploy.stack import Replica, Stack, loopback_stack

pytestmark = pytest.mark.container

LOAD_REQUESTS = 600
LOAD_THREADS = 6
# "0 failed requests" says something only if the replica failed while the load was flowing: at least this
# many requests must be sent after the kill, or after SIGTERM reached the stopped replica (about 400 of the
# 600 are still to come when the failure is started; a request takes a few milliseconds).
SENT_AFTER_FAILURE = 50


@pytest.fixture(scope="module")
def stack(api_image: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with loopback_stack(api_image, tmp_path_factory.mktemp("compose")) as running:
        yield running


@pytest.fixture
def all_replicas_up(stack: Stack) -> Stack:
    """Every replica running and healthy, whatever an earlier test left stopped."""
    for replica in stack.replicas.values():
        if container_state(replica.container)["status"] != "running":
            stack.start(replica)
    return stack


def predict_sender(stack: Stack, pngs: list[tuple[bytes, int]]):
    def send(client: httpx.Client, index: int) -> httpx.Response:
        png, _ = pngs[index % len(pngs)]
        return client.post(f"{stack.url}/predict", files={"file": ("x.png", png, "image/png")})

    return send


def rejoin(stack: Stack, replica: Replica, png: bytes, timeout: float = 30) -> float:
    """Start the replica again; once healthy, send requests through nginx until it answers one.

    Returns the seconds from healthy to that first answer (nginx retries a failed server after its
    fail_timeout).
    """
    stack.start(replica)
    started = time.monotonic()
    with httpx.Client(timeout=30) as client:
        while time.monotonic() - started < timeout:
            response = client.post(f"{stack.url}/predict", files={"file": ("x.png", png, "image/png")})
            assert response.status_code == 200
            if response.headers["x-upstream"].split(",")[-1].strip() == replica.address:
                return time.monotonic() - started
            time.sleep(0.02)
    raise AssertionError(f"{replica.service} got no request within {timeout} s of being healthy again")


def requests_answered_while_draining(replica: Replica) -> int:
    """Requests the replica answered after SIGTERM: its JSON request lines after uvicorn's "Shutting down"."""
    lines = logs(replica.container)
    start = next(i for i, line in enumerate(lines) if "Shutting down" in line)
    answered = [line for line in lines[start:] if line.startswith("{")]
    return sum(1 for line in answered if json.loads(line).get("message") == "request")


def describe(run: LoadRun, stack: Stack) -> dict[str, object]:
    """The load run's figures, with replicas named by service instead of address."""
    summary = run.summary()
    for key, since_trigger in (("answered_by", False), ("answered_after_the_failure_began", True)):
        counts = {stack.replica_at(a).service: n for a, n in run.answered_by(since_trigger).items()}
        summary[key] = dict(sorted(counts.items()))
    return summary


def test_compose_health_checks_pass(stack: Stack) -> None:
    # podman runs health checks from systemd timers, which these machines lack: run each one once.
    containers = [replica.container for replica in stack.replicas.values()] + [f"{stack.project}_nginx_1"]
    for container in containers:
        assert podman("healthcheck", "run", container, check=False).returncode == 0, container


def test_balancer_spreads_requests_over_all_replicas(
    all_replicas_up: Stack, test_pngs: list[tuple[bytes, int]], figures: dict[str, object]
) -> None:
    stack = all_replicas_up
    run = run_load(predict_sender(stack, test_pngs), total=90, concurrency=3)
    counts = Counter({stack.replica_at(a).service: n for a, n in run.answered_by().items()})
    figures["compose_spread"] = dict(sorted(counts.items()))
    print(f"\n90 requests through nginx, by replica: {dict(sorted(counts.items()))}")
    assert not run.failures
    assert set(counts) == set(stack.replicas)
    assert min(counts.values()) >= 15


def test_killed_replica_mid_load_fails_no_request_and_rejoins(
    all_replicas_up: Stack, test_pngs: list[tuple[bytes, int]], figures: dict[str, object]
) -> None:
    stack = all_replicas_up
    victim = stack.replicas["api-2"]
    run = run_load(
        predict_sender(stack, test_pngs),
        total=LOAD_REQUESTS,
        concurrency=LOAD_THREADS,
        action=lambda: podman("kill", victim.container),
        action_after=LOAD_REQUESTS // 3,
    )
    result = describe(run, stack)
    assert container_state(victim.container)["status"] == "exited"
    killed_at = run.action_finished_at  # `podman kill` has returned: the replica is gone
    result["sent_after_the_kill"] = len(run.started_after(killed_at)) if killed_at else 0
    result["rejoined_seconds_after_healthy"] = round(rejoin(stack, victim, test_pngs[0][0]), 2)
    figures["compose_kill"] = result
    print(f"\n`podman kill {victim.service}` mid-load ({LOAD_REQUESTS} requests):\n{result}")
    assert run.failures == []
    # nginx met the dead replica (a retry) while the load was still flowing: the "0 failed" is not vacuous.
    assert overlap_problems(run, killed_at, SENT_AFTER_FAILURE, retries=1) == []


def test_stopped_replica_finishes_in_flight_requests_and_rejoins(
    all_replicas_up: Stack, test_pngs: list[tuple[bytes, int]], figures: dict[str, object]
) -> None:
    stack = all_replicas_up
    victim = stack.replicas["api-3"]
    # Requests through nginx last milliseconds; these, sent to the replica itself and held open, are
    # sure to be in flight when SIGTERM arrives, and must be answered while it drains.
    uploads = [SlowUpload(victim.url, png) for png, _ in test_pngs[:3]]
    direct_statuses: list[int] = []
    sigterm_seen_at: list[float] = []

    def stop_with_uploads_in_flight() -> None:
        stop = subprocess.Popen(
            ["podman", "stop", "--time", "30", victim.container],
            env=stack.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_log(victim.container, "Shutting down")  # SIGTERM has arrived: uvicorn is draining
        sigterm_seen_at.append(time.monotonic())
        direct_statuses.extend(upload.finish() for upload in uploads)
        stop.wait(timeout=60)

    run = run_load(
        predict_sender(stack, test_pngs),
        total=LOAD_REQUESTS,
        concurrency=LOAD_THREADS,
        action=stop_with_uploads_in_flight,
        action_after=LOAD_REQUESTS // 3,
    )
    result = describe(run, stack)
    state = container_state(victim.container)
    result["direct_uploads_in_flight_at_sigterm"] = direct_statuses
    result["replica_answered_after_sigterm"] = requests_answered_while_draining(victim)
    result["replica_exit_code"] = int(state["exit_code"])
    result["sent_after_sigterm"] = len(run.started_after(sigterm_seen_at[0])) if sigterm_seen_at else 0
    result["rejoined_seconds_after_healthy"] = round(rejoin(stack, victim, test_pngs[0][0]), 2)
    figures["compose_stop"] = result
    print(f"\n`podman stop {victim.service}` mid-load ({LOAD_REQUESTS} requests):\n{result}")
    assert run.failures == []
    assert direct_statuses == [200, 200, 200]
    assert result["replica_answered_after_sigterm"] >= len(direct_statuses)
    assert state["exit_code"] == "0", "SIGTERM drained the replica; it was not killed"
    # The load was still flowing through nginx once the replica was draining (a graceful stop need not
    # make nginx retry anything, so no retry is required here).
    assert overlap_problems(run, sigterm_seen_at[0] if sigterm_seen_at else None, SENT_AFTER_FAILURE) == []
