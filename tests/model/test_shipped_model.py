"""Every shipped version of fashion-mnist, pinned: evaluated independently on all 10,000 test images
through LiteRT, it scores what its metadata records, the README publishes that figure (docs/figures.md
ties it to the metadata), and v1, which the README says can be pinned, is served for real.

The versions are read from models/fashion-mnist/ when the tests are collected: a new version is
checked without editing this file, and fails until its figures are published.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import numpy as np
import pytest

from app.config import REPO_ROOT
from app.model import list_versions, load_classifier
from tests.docs.figures import README, problems, registry
from tests.helpers import image_bytes, running_server
from training.data import FashionMNIST
from training.evaluate import classification_metrics

MODEL_ROOT = REPO_ROOT / "models" / "fashion-mnist"
VERSIONS = list_versions(MODEL_ROOT)
# Issue #2's bar, for the version served by default. Issue #3 aims at 0.95 (README: not reached).
ACCURACY_BAR = 0.93
ECE_BAR = 0.02
# A recount may differ from the export's by one borderline image (another CPU's float rounding in
# LiteRT); anything more is a different model or a metadata that does not tell the truth.
ONE_IMAGE = 1 / 10_000
ECE_TOLERANCE = 2e-4
SERVED_IMAGES = 32


def metadata(version: int) -> dict[str, Any]:
    return json.loads((MODEL_ROOT / str(version) / "metadata.json").read_text())


def source_of(version: int) -> str:
    return str((MODEL_ROOT / str(version) / "metadata.json").relative_to(REPO_ROOT))


def test_there_are_shipped_versions() -> None:
    assert VERSIONS and VERSIONS[0] == 1, VERSIONS


@pytest.mark.slow
@pytest.mark.parametrize("version", VERSIONS)
def test_version_scores_what_its_metadata_records(version: int, dataset: FashionMNIST) -> None:
    classifier = load_classifier(MODEL_ROOT / str(version))
    measured = classification_metrics(classifier.predict_pixels(dataset.x_test), dataset.y_test)
    recorded = metadata(version)["metrics"]["test"]
    assert recorded["count"] == measured["count"] == 10_000
    assert abs(measured["accuracy"] - recorded["accuracy"]) <= ONE_IMAGE + 1e-12, (measured, recorded)
    assert abs(measured["ece"] - recorded["ece"]) <= ECE_TOLERANCE, (measured["ece"], recorded["ece"])


@pytest.mark.parametrize("version", VERSIONS)
def test_readme_publishes_the_versions_accuracy(version: int) -> None:
    """The README's figure for the version (registered in docs/figures.md) is its metadata's."""
    metrics = ["metrics.test.accuracy"] + (["metrics.test.ece"] if version == VERSIONS[-1] else [])
    readme = README.read_text(encoding="utf-8")
    for field in metrics:
        rows = [f for f in registry() if f.source == source_of(version) and f.field == field]
        assert rows, f"no README figure for {field} of version {version}: add it (docs/figures.md)"
        for row in rows:
            assert problems(row, readme) == [], str(row)


def test_highest_version_meets_the_quality_bar() -> None:
    recorded = metadata(VERSIONS[-1])["metrics"]["test"]
    assert recorded["accuracy"] >= ACCURACY_BAR and recorded["ece"] <= ECE_BAR, recorded


@pytest.fixture(scope="module")
def version_1_server(tmp_path_factory: pytest.TempPathFactory) -> Any:
    log = tmp_path_factory.mktemp("v1") / "uvicorn.log"
    with running_server(env={"MODEL_VERSION": "1"}, log=log) as url:
        yield url


def test_version_1_is_served_for_real(version_1_server: str, dataset: FashionMNIST) -> None:
    """MODEL_VERSION=1 serves the shipped v1 itself (flip averaging and all), not some other version."""
    images = dataset.x_test[:SERVED_IMAGES]
    expected = load_classifier(MODEL_ROOT / "1").predict_pixels(images)
    with httpx.Client(base_url=version_1_server, timeout=60) as client:
        health = client.get("/health").json()
        assert health["model"]["version"] == 1, health
        info = client.get("/model-info").json()
        assert (
            info["version"] == 1
            and info["metrics"]["test"]["accuracy"] == metadata(1)["metrics"]["test"]["accuracy"]
        )
        served = []
        for pixels in images:
            answer = client.post("/predict", files={"file": ("x.png", image_bytes(pixels), "image/png")})
            assert answer.status_code == 200 and answer.json()["model"]["version"] == 1, answer.text
            served.append(answer.json()["probabilities"])
    np.testing.assert_allclose(np.array(served), expected, atol=1e-5)
    assert (np.argmax(served, axis=1) == expected.argmax(axis=1)).all()


def test_versions_are_different_models() -> None:
    """A version directory that is a copy of another (the old loading tests did that) is not shipped."""
    digests = {v: metadata(v)["artifacts"]["model.tflite"] for v in VERSIONS}
    assert len(set(digests.values())) == len(VERSIONS), digests
