"""The image, built from the Dockerfile and run as in production: read-only, non-root, healthy, accurate."""

from __future__ import annotations

import io
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import numpy as np
import pytest
from PIL import Image

from app.config import REPO_ROOT
from app.model import load_classifier, resolve_version_dir
from benchmarks.uvicorn_process import free_port
from tests.deploy.load import SlowUpload
from tests.deploy.podman import (
    container_state,
    podman,
    podman_env,
    remove_containers,
    wait_for_log,
    wait_until_healthy,
)

pytestmark = pytest.mark.container


@dataclass(frozen=True)
class Running:
    name: str
    url: str
    seconds_to_healthy: float


def run_container(image: str, *env: str) -> Running:
    """`podman run` the image read-only on a loopback port; return once /health answers 200."""
    name = f"fmtest-api-{uuid.uuid4().hex[:8]}"
    port = free_port()
    settings = ["HOST=127.0.0.1", f"PORT={port}", *env]
    started = time.monotonic()
    try:
        env_args = [arg for setting in settings for arg in ("--env", setting)]
        podman("run", "--detach", "--name", name, "--read-only", "--network=host", *env_args, image)
        healthy = wait_until_healthy(f"http://127.0.0.1:{port}", name)
    except BaseException:
        remove_containers(name)
        raise
    return Running(name, f"http://127.0.0.1:{port}", healthy - started)


@pytest.fixture(scope="module")
def container(api_image: str, figures: dict[str, object]) -> Iterator[Running]:
    """The image with its defaults (WORKERS = the cores), removed however the tests end."""
    running = run_container(api_image)
    figures["container"] = {"run_to_healthy_seconds": round(running.seconds_to_healthy, 2)}
    print(f"\n{running.name}: from `podman run` to healthy in {running.seconds_to_healthy:.2f} s")
    try:
        yield running
    finally:
        remove_containers(running.name)


def post_file(url: str, data: bytes, name: str = "x.png", content_type: str = "image/png") -> httpx.Response:
    return httpx.post(f"{url}/predict", files={"file": (name, data, content_type)}, timeout=30)


def test_container_classifies_test_set_pngs(
    container: Running, test_pngs: list[tuple[bytes, int]], figures: dict[str, object]
) -> None:
    """The container answers each test-set PNG exactly as the checkout's default version does."""
    responses = [post_file(container.url, png) for png, _ in test_pngs]
    assert [r.status_code for r in responses] == [200] * len(test_pngs)
    shipped = load_classifier(resolve_version_dir(REPO_ROOT / "models" / "fashion-mnist"))
    assert {r.json()["model"]["version"] for r in responses} == {shipped.version}
    pixels = np.stack([np.asarray(Image.open(io.BytesIO(png))) for png, _ in test_pngs])
    expected = shipped.predict_pixels(pixels).argmax(axis=1).tolist()
    assert [r.json()["class_id"] for r in responses] == expected
    hits = sum(r.json()["class_id"] == label for r, (_, label) in zip(responses, test_pngs, strict=True))
    accuracy = hits / len(test_pngs)
    figures.setdefault("container", {})["accuracy_on_50_test_pngs"] = accuracy  # type: ignore[union-attr]
    print(f"\naccuracy of the container on {len(test_pngs)} test-set PNGs: {accuracy:.2f}")
    assert accuracy >= 0.85  # the first 50 test images; the full test set's figure is in the metadata


def test_container_rejects_a_non_image_with_400(container: Running) -> None:
    response = post_file(container.url, b"not an image at all", "notes.txt", "text/plain")
    assert response.status_code == 400
    assert "detail" in response.json()


def test_container_rejects_a_body_over_the_limit_with_413(container: Running) -> None:
    response = post_file(container.url, b"\0" * (10 * 1024 * 1024 + 1))
    assert response.status_code == 413


def test_container_runs_as_non_root_on_a_read_only_root(container: Running) -> None:
    processes = podman("top", container.name, "user", "args").stdout.splitlines()[1:]
    users = {line.split()[0] for line in processes}
    assert processes and "root" not in users and "0" not in users, processes
    assert container_state(container.name)["read_only"] == "true"
    write = podman("exec", container.name, "python3", "-c", "open('/srv/probe', 'w')", check=False)
    assert write.returncode != 0 and "Read-only file system" in write.stderr


def test_image_has_no_tensorflow_or_keras(container: Running) -> None:
    for module in ("tensorflow", "keras"):
        result = podman("exec", container.name, "python3", "-c", f"import {module}", check=False)
        assert result.returncode != 0
        assert f"No module named '{module}'" in result.stderr


def test_image_healthcheck_reports_healthy(container: Running) -> None:
    # --format docker keeps HEALTHCHECK in the image; run it once (no systemd timer runs it here).
    assert podman("healthcheck", "run", container.name, check=False).returncode == 0
    assert container_state(container.name)["health"] == "healthy"


def test_sigterm_finishes_in_flight_requests_then_exits(
    api_image: str, test_pngs: list[tuple[bytes, int]], figures: dict[str, object]
) -> None:
    running = run_container(api_image, "GRACEFUL_SHUTDOWN_TIMEOUT=20")
    try:
        uploads = [SlowUpload(running.url, png) for png, _ in test_pngs[:4]]
        time.sleep(0.5)  # the server has read the headers: four requests are in flight
        stop = subprocess.Popen(
            ["podman", "stop", "--time", "30", running.name],
            env=podman_env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        stop_started = time.monotonic()
        wait_for_log(running.name, "Shutting down")  # SIGTERM has arrived: uvicorn is draining
        time.sleep(0.5)
        assert stop.poll() is None, "the container exited with requests in flight"
        statuses = [upload.finish() for upload in uploads]
        stop.wait(timeout=60)
        stop_seconds = time.monotonic() - stop_started
        state = container_state(running.name)
    finally:
        remove_containers(running.name)
    figures["sigterm_in_flight"] = {
        "uploads_in_flight": len(uploads),
        "completed_with_200": statuses.count(200),
        "stop_seconds": round(stop_seconds, 2),
        "exit_code": int(state["exit_code"]),
    }
    print(
        f"\nSIGTERM with {len(uploads)} uploads in flight: statuses {statuses}; "
        f"exit code {state['exit_code']} {stop_seconds:.1f} s after `podman stop`"
    )
    assert statuses == [200] * len(uploads)
    assert state["status"] == "exited" and state["exit_code"] == "0"
    assert stop_seconds < 25, "drained by SIGTERM, not killed at the end of the stop timeout"
