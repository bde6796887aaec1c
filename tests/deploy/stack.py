"""The compose stack on loopback: docker-compose.yml + deploy/podman/compose.loopback.yml, podman-compose."""

from __future__ import annotations

import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from app.config import REPO_ROOT
from benchmarks.uvicorn_process import free_port
from tests.deploy.podman import PodmanError, podman, podman_env, remove_containers, wait_until_healthy

COMPOSE_FILES = (REPO_ROOT / "docker-compose.yml", REPO_ROOT / "deploy" / "podman" / "compose.loopback.yml")
NGINX_CONF = REPO_ROOT / "deploy" / "nginx" / "nginx.conf"
REPLICAS = ("api-1", "api-2", "api-3")


def render_nginx_conf(text: str, listen_port: int, replica_ports: dict[str, int]) -> str:
    """deploy/nginx/nginx.conf with nginx and every upstream server moved to its own 127.0.0.1 port."""
    text, listens = re.subn(r"^(\s*)listen 8080;", rf"\g<1>listen 127.0.0.1:{listen_port};", text, flags=re.M)
    assert listens == 1, "nginx.conf should have exactly one `listen 8080;`"
    for service, port in replica_ports.items():
        text, servers = re.subn(rf"\bserver {re.escape(service)}:8000\b", f"server 127.0.0.1:{port}", text)
        assert servers == 1, f"nginx.conf should have exactly one `server {service}:8000`"
    return text


def distinct_free_ports(count: int) -> list[int]:
    """`count` different loopback ports that nothing listens on right now."""
    ports: set[int] = set()
    while len(ports) < count:
        ports.add(free_port())
    return sorted(ports)


@dataclass(frozen=True)
class Replica:
    service: str
    container: str
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def address(self) -> str:
        """As nginx writes it in $upstream_addr."""
        return f"127.0.0.1:{self.port}"


@dataclass(frozen=True)
class Stack:
    project: str
    url: str
    replicas: dict[str, Replica]
    env: dict[str, str]

    def compose(
        self, *args: str, timeout: float = 180, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """Run `podman-compose -p PROJECT -f ... ARGS` in the repository root."""
        files = [arg for path in COMPOSE_FILES for arg in ("-f", str(path))]
        command = [sys.executable, "-m", "podman_compose", "-p", self.project, *files, *args]
        result = subprocess.run(
            command, cwd=REPO_ROOT, env=self.env, capture_output=True, text=True, timeout=timeout, check=False
        )
        if check and result.returncode != 0:
            command_line = f"podman-compose {' '.join(args)}"
            raise PodmanError(f"{command_line} exited {result.returncode}:\n{result.stderr[-3000:]}")
        return result

    def replica_at(self, address: str) -> Replica:
        return next(replica for replica in self.replicas.values() if replica.address == address)

    def containers(self) -> list[str]:
        """Every container of this project, running or not."""
        label = f"label=io.podman.compose.project={self.project}"
        return podman("ps", "--all", "--format", "{{.Names}}", "--filter", label).stdout.split()

    def start(self, replica: Replica) -> None:
        """Start a stopped replica again and wait until it is healthy."""
        podman("start", replica.container)
        wait_until_healthy(replica.url, replica.container)


@contextmanager
def loopback_stack(image: str, workdir: Path) -> Iterator[Stack]:
    """Bring up three replicas of `image` and nginx on loopback ports; always take every container down."""
    project = f"fmtest{uuid.uuid4().hex[:8]}"
    lb_port, *replica_ports = distinct_free_ports(1 + len(REPLICAS))
    ports = dict(zip(REPLICAS, replica_ports, strict=True))
    conf = workdir / "nginx.conf"
    conf.write_text(render_nginx_conf(NGINX_CONF.read_text(), lb_port, ports))
    env = podman_env(
        API_IMAGE=image,
        API_1_PORT=str(ports["api-1"]),
        API_2_PORT=str(ports["api-2"]),
        API_3_PORT=str(ports["api-3"]),
        LB_PORT=str(lb_port),
        NGINX_CONF=str(conf),
        WORKERS="1",
        LOG_LEVEL="INFO",
    )
    env.pop("MODEL_VERSION", None)  # the compose file passes it through: serve the highest version
    replicas = {service: Replica(service, f"{project}_{service}_1", port) for service, port in ports.items()}
    stack = Stack(project, f"http://127.0.0.1:{lb_port}", replicas, env)
    try:
        stack.compose("up", "-d", "--no-build")
        for replica in replicas.values():
            wait_until_healthy(replica.url, replica.container)
        wait_until_healthy(stack.url, f"{project}_nginx_1")
        yield stack
    finally:
        stack.compose("down", "--timeout", "0", timeout=120, check=False)
        remove_containers(*stack.containers())  # whatever `down` left behind
