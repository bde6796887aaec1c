"""Fast checks of the deployment files, no containers: linters, schemas, and the numbers they must share."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from kubernetes_validate import validate

from app.config import REPO_ROOT, Settings
from tests.deploy.stack import NGINX_CONF, REPLICAS, render_nginx_conf

BIN = Path(sys.executable).parent
K8S = REPO_ROOT / "deploy" / "k8s"
MANIFESTS = ("deployment.yaml", "service.yaml", "hpa.yaml", "pdb.yaml")
MiB = 1024 * 1024


def run_tool(name: str, *args: str) -> subprocess.CompletedProcess[str]:
    command = [str(BIN / name), *args]
    return subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, check=False)


def load_manifest(name: str) -> dict:
    return yaml.safe_load((K8S / name).read_text())


def test_dockerfile_passes_hadolint() -> None:
    result = run_tool("hadolint", "Dockerfile")
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_file_follows_the_compose_specification() -> None:
    result = run_tool("check-jsonschema", "--builtin-schema", "vendor.compose-spec", "docker-compose.yml")
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("kubernetes", ["1.29.0", "1.37.0"])
@pytest.mark.parametrize("manifest", MANIFESTS)
def test_kubernetes_manifest_matches_the_schema(manifest: str, kubernetes: str) -> None:
    validate(load_manifest(manifest), kubernetes, strict=True)  # strict: an unknown field is an error


def test_kustomization_lists_every_manifest() -> None:
    kustomization = load_manifest("kustomization.yaml")
    assert kustomization["kind"] == "Kustomization"
    assert sorted(kustomization["resources"]) == sorted(MANIFESTS)
    assert sorted(path.name for path in K8S.glob("*.yaml")) == sorted([*MANIFESTS, "kustomization.yaml"])


def test_deployment_is_probed_limited_non_root_read_only_and_pinned() -> None:
    pod = load_manifest("deployment.yaml")["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"]["path"] == "/health", probe
    assert set(container["resources"]) == {"requests", "limits"}
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    env = {item["name"]: item["value"] for item in container["env"]}
    assert env["MODEL_VERSION"].isdigit()
    # The pod's user is the image's, and SIGTERM's drain fits in the grace period after preStop.
    dockerfile = (REPO_ROOT / "Dockerfile").read_text()
    assert f"USER {pod['securityContext']['runAsUser']}:" in dockerfile
    pre_stop = int(container["lifecycle"]["preStop"]["exec"]["command"][-1])
    assert pre_stop + int(env["GRACEFUL_SHUTDOWN_TIMEOUT"]) < pod["terminationGracePeriodSeconds"]


def test_autoscaler_and_disruption_budget_target_the_deployment() -> None:
    deployment = load_manifest("deployment.yaml")
    hpa, pdb = load_manifest("hpa.yaml"), load_manifest("pdb.yaml")
    assert hpa["spec"]["scaleTargetRef"]["name"] == deployment["metadata"]["name"]
    assert hpa["spec"]["metrics"][0]["resource"]["name"] == "cpu"
    assert pdb["spec"]["selector"] == deployment["spec"]["selector"]
    assert load_manifest("service.yaml")["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]


def test_balancer_body_limits_match_the_app() -> None:
    conf = NGINX_CONF.read_text()
    settings = Settings()
    server_limit, batch_limit = (int(m) * MiB for m in re.findall(r"client_max_body_size (\d+)m;", conf))
    assert server_limit == settings.max_upload_bytes
    assert batch_limit == settings.max_batch_upload_bytes
    assert re.search(r"location = /predict/batch \{\s*client_max_body_size \d+m;", conf)


def test_balancer_retries_on_another_replica_and_names_the_one_that_answered() -> None:
    conf = NGINX_CONF.read_text()
    assert "proxy_next_upstream error timeout http_502 http_503 non_idempotent;" in conf
    assert "add_header X-Upstream $upstream_addr always;" in conf


def test_balancer_and_compose_file_name_the_same_replicas() -> None:
    services = yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())["services"]
    assert sorted(set(services) - {"nginx"}) == list(REPLICAS)
    assert re.findall(r"server (api-\d+):8000", NGINX_CONF.read_text()) == list(REPLICAS)


def test_nginx_conf_renders_for_loopback_ports() -> None:
    ports = {service: 20001 + i for i, service in enumerate(REPLICAS)}
    rendered = render_nginx_conf(NGINX_CONF.read_text(), 20000, ports)
    assert "listen 127.0.0.1:20000;" in rendered
    assert re.findall(r"server (127\.0\.0\.1:\d+)", rendered) == [f"127.0.0.1:{p}" for p in ports.values()]
    assert "api-1" not in rendered


# The container tests run nginx from the local Debian image (deploy/podman/make-base-images.sh:
# bookworm's nginx-light), docker-compose.yml ships the official nginx image: two builds of nginx.
DEBIAN_NGINX = {"bookworm": (1, 22, 1)}


class ComposeLoader(yaml.SafeLoader):
    """YAML of compose files, whose `!reset` tag (an override clears a value) reads as None."""


ComposeLoader.add_constructor("!reset", lambda loader, node: None)


def version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


def test_both_stacks_run_the_same_nginx_conf_on_an_nginx_it_supports() -> None:
    conf = NGINX_CONF.read_text()
    needed = re.search(r"Works with nginx >= ([\d.]+)", conf)
    assert needed, "nginx.conf should say which nginx it needs"
    minimum = version_tuple(needed[1])
    compose = yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())["services"]["nginx"]
    loopback_file = REPO_ROOT / "deploy" / "podman" / "compose.loopback.yml"
    loopback = yaml.load(loopback_file.read_text(), Loader=ComposeLoader)["services"]["nginx"]
    shipped = re.fullmatch(r"nginx:(\d+\.\d+(?:\.\d+)?)", compose["image"])
    tested = re.fullmatch(r"localhost/debian-nginx:(\w+)", loopback["image"])
    assert shipped and tested, (compose["image"], loopback["image"])
    assert version_tuple(shipped[1]) >= minimum and DEBIAN_NGINX[tested[1]] >= minimum
    # Same command line (the override inherits it) and the same file, mounted at the same place ...
    assert "entrypoint" not in loopback and "command" not in loopback
    assert compose["volumes"] == ["./deploy/nginx/nginx.conf:/etc/nginx/nginx.conf:ro"]
    assert loopback["volumes"] == [
        "${NGINX_CONF:?nginx.conf rendered for the loopback ports}:/etc/nginx/nginx.conf:ro"
    ]
    # ... rendered with only the listen address and the upstream servers' addresses changed.
    rendered = render_nginx_conf(conf, 20000, {service: 20001 + i for i, service in enumerate(REPLICAS)})
    changed = [(a, b) for a, b in zip(conf.splitlines(), rendered.splitlines(), strict=True) if a != b]
    assert len(changed) == 1 + len(REPLICAS)
    assert all(re.match(r"\s*(listen|server) ", a) for a, _ in changed), changed
