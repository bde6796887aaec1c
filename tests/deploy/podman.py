"""Running podman from the tests, always with the project's containers.conf (runc, explicit ulimits)."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import httpx

from app.config import REPO_ROOT

CONTAINERS_CONF = REPO_ROOT / "deploy" / "podman" / "containers.conf"
MAKE_BASE_IMAGES = REPO_ROOT / "deploy" / "podman" / "make-base-images.sh"
BASE_IMAGE = "localhost/debian-python:bookworm"
NGINX_IMAGE = "localhost/debian-nginx:bookworm"
TEST_IMAGE = "localhost/fashion-mnist-service:test"
INSTALL_HINT = "run .ci/install-containers.sh (apt-get install podman runc debootstrap, then the base images)"


class PodmanError(RuntimeError):
    """A podman command exited non-zero."""


def podman_env(**extra: str) -> dict[str, str]:
    """The environment every podman and podman-compose call of the tests runs in."""
    return {**os.environ, "CONTAINERS_CONF": str(CONTAINERS_CONF), **extra}


def missing_tools() -> list[str]:
    """The container tools that are not installed."""
    return [tool for tool in ("podman", "runc") if shutil.which(tool) is None]


def podman(*args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run `podman ARGS`; raise PodmanError with its stderr when it fails and `check` is set."""
    result = subprocess.run(
        ["podman", *args], env=podman_env(), capture_output=True, text=True, timeout=timeout, check=False
    )
    if check and result.returncode != 0:
        raise PodmanError(f"podman {' '.join(args)} exited {result.returncode}:\n{result.stderr[-3000:]}")
    return result


def ensure_base_images() -> None:
    """Build the local Debian base images unless they exist (the script is idempotent)."""
    result = subprocess.run(
        [str(MAKE_BASE_IMAGES)], env=podman_env(), capture_output=True, text=True, timeout=900, check=False
    )
    if result.returncode != 0:
        raise PodmanError(f"{MAKE_BASE_IMAGES} failed:\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}")


def build_image(tag: str, log: Path) -> float:
    """Build the repository's Dockerfile on the local base image, as CI does; return the seconds taken."""
    command = ["podman", "build", "--format", "docker", "--network=host"]
    command += ["-v", "/etc/ssl/certs:/etc/ssl/certs:ro", "--build-arg", f"BASE_IMAGE={BASE_IMAGE}"]
    command += ["-t", tag, str(REPO_ROOT)]
    started = time.monotonic()
    with log.open("w") as output:
        result = subprocess.run(
            command, env=podman_env(), stdout=output, stderr=subprocess.STDOUT, timeout=900, check=False
        )
    if result.returncode != 0:
        raise PodmanError(f"podman build exited {result.returncode}:\n{log.read_text()[-4000:]}")
    return time.monotonic() - started


def image_size_bytes(image: str) -> int:
    """The image's size as podman reports it (all layers, uncompressed)."""
    return int(podman("image", "inspect", "--format", "{{.Size}}", image).stdout.strip())


def remove_containers(*names: str) -> None:
    """Remove containers, running or not, without waiting for them to stop; missing ones are fine."""
    if names:
        podman("rm", "--force", "--time", "0", *names, check=False)


def container_state(name: str) -> dict[str, str]:
    """Status, exit code and health of a container, as strings."""
    fields = "{{.State.Status}}|{{.State.ExitCode}}|{{.State.Health.Status}}|{{.HostConfig.ReadonlyRootfs}}"
    values = podman("inspect", "--format", fields, name).stdout.strip().split("|")
    status, exit_code, health, read_only = values
    return {"status": status, "exit_code": exit_code, "health": health, "read_only": read_only}


def logs(container: str) -> list[str]:
    """The container's output so far, stdout then stderr (the service logs to stderr)."""
    result = podman("logs", container, check=False)
    return (result.stdout + result.stderr).splitlines()


def wait_for_log(container: str, text: str, timeout: float = 30) -> None:
    """Wait until a line of the container's output contains `text`."""
    deadline = time.monotonic() + timeout
    while not any(text in line for line in logs(container)):
        if time.monotonic() > deadline:
            raise AssertionError(f"{container} did not log {text!r} within {timeout} s")
        time.sleep(0.1)


def wait_until_healthy(url: str, container: str, timeout: float = 90) -> float:
    """Poll GET url/health until 200; return the monotonic time it first answered. Fails with the logs."""
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=2) as client:
        while True:
            try:
                if client.get(f"{url}/health").status_code == 200:
                    return time.monotonic()
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or container_state(container)["status"] == "exited":
                output = "\n".join(logs(container))[-3000:]
                state = container_state(container)
                message = f"{container} not healthy at {url} within {timeout} s ({state})"
                raise AssertionError(f"{message}:\n{output}")
            time.sleep(0.05)
