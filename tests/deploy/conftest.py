"""Fixtures of the deployment tests: podman with the local base images, the image built once, figures."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from app.config import REPO_ROOT
from tests.deploy.podman import (
    INSTALL_HINT,
    TEST_IMAGE,
    build_image,
    ensure_base_images,
    image_size_bytes,
    missing_tools,
)
from tests.helpers import image_bytes
from training.data import FashionMNIST

ARTIFACTS = REPO_ROOT / "test-artifacts"
FIGURES_FILE = ARTIFACTS / "deployment-figures.json"


@pytest.fixture(scope="session")
def figures() -> Iterator[dict[str, object]]:
    """Measured figures, printed and written to test-artifacts/deployment-figures.json at the end."""
    measured: dict[str, object] = {}
    yield measured
    if measured:
        ARTIFACTS.mkdir(exist_ok=True)
        FIGURES_FILE.write_text(json.dumps(measured, indent=2) + "\n")
        where = FIGURES_FILE.relative_to(REPO_ROOT)
        print(f"\n\ndeployment figures ({where}):\n{json.dumps(measured, indent=2)}")


@pytest.fixture(scope="session")
def podman_ready() -> None:
    """podman and runc installed, the local base images present: missing tools fail the tests, never skip."""
    missing = missing_tools()
    if missing:
        pytest.fail(f"{', '.join(missing)} not installed: {INSTALL_HINT}", pytrace=False)
    ensure_base_images()


@pytest.fixture(scope="session")
def api_image(podman_ready: None, figures: dict[str, object]) -> str:
    """The repository's Dockerfile, built once per session on the local Debian base image."""
    ARTIFACTS.mkdir(exist_ok=True)
    seconds = build_image(TEST_IMAGE, ARTIFACTS / "podman-build.log")
    size = image_size_bytes(TEST_IMAGE)
    figures["image"] = {"tag": TEST_IMAGE, "size_mb": round(size / 1e6, 1), "build_s": round(seconds, 1)}
    print(f"\nbuilt {TEST_IMAGE}: {size / 1e6:.1f} MB in {seconds:.1f} s (cached layers reused)")
    return TEST_IMAGE


@pytest.fixture(scope="session")
def test_pngs(dataset: FashionMNIST) -> list[tuple[bytes, int]]:
    """The first 50 test-set images as PNG files, with their labels."""
    return [(image_bytes(dataset.x_test[i]), int(dataset.y_test[i])) for i in range(50)]
