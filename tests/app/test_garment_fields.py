"""is_garment, garment_score and reason in every prediction, from a real open-set version (the small
model in tests/fixtures/open-set) and from the shipped versions, which have no garment detector."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.main import create_app
from app.model import load_classifier
from app.preprocessing import prepare_batch
from tests.app.test_observability import metric
from tests.helpers import image_bytes, link_detectorless_versions

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "open-set"
THRESHOLD = json.loads((FIXTURE / "1" / "metadata.json").read_text())["open_set"]["threshold"]


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    root = tmp_path_factory.mktemp("repository")
    link_detectorless_versions(root)
    (root / "open-set").symlink_to(FIXTURE)
    with TestClient(create_app(Settings(model_repository=root, model_poll_seconds=0))) as test_client:
        yield test_client


def upload(pixels: np.ndarray) -> dict:
    return {"file": ("x.png", image_bytes(pixels), "image/png")}


def infer(client: TestClient, model: str, batch: np.ndarray) -> dict[str, list]:
    body = {
        "inputs": [
            {"name": "image", "datatype": "FP32", "shape": list(batch.shape), "data": batch.ravel().tolist()}
        ]
    }
    response = client.post(f"/v2/models/{model}/infer", content=json.dumps(body))
    assert response.status_code == 200, response.text
    return {o["name"]: o["data"] for o in response.json()["outputs"]}


def test_versions_without_a_detector_always_say_garment(client: TestClient, dataset) -> None:
    answer = client.post("/predict", files=upload(dataset.x_test[0])).json()
    assert (answer["is_garment"], answer["garment_score"], answer["reason"]) == (True, None, None)
    batch = client.post(
        "/predict/batch", files=[("files", upload(p)["file"]) for p in dataset.x_test[:3]]
    ).json()
    assert [r["prediction"]["is_garment"] for r in batch["results"]] == [True] * 3
    noise = np.random.default_rng(0).random((2, 28, 28, 1), dtype=np.float32)
    outputs = infer(client, "fashion-mnist", noise)
    assert outputs["is_garment"] == [True, True] and outputs["reason"] == ["", ""]
    assert "garment_score" not in outputs
    row = client.post("/v1/models/fashion-mnist:predict", json={"instances": noise.tolist()}).json()
    assert row["predictions"][0]["garment_score"] is None and row["predictions"][0]["is_garment"] is True


def test_open_set_fields_follow_the_last_output_column_and_the_threshold(client: TestClient, dataset) -> None:
    pixels = dataset.x_test[:24]
    outputs = load_classifier(FIXTURE / "1").predict(prepare_batch(pixels))  # the same model, run directly
    for image, row in zip(pixels, outputs, strict=True):
        answer = client.post("/models/open-set/predict", files=upload(image)).json()
        assert answer["preprocess"] == "raw"
        assert answer["garment_score"] == pytest.approx(1.0 - row[-1], abs=1e-5)
        assert answer["probabilities"] == pytest.approx(list(row[:-1] / row[:-1].sum()), abs=1e-5)
        assert answer["is_garment"] == (answer["garment_score"] >= THRESHOLD)
        assert answer["reason"] == (None if answer["is_garment"] else "not_garment")
    kept = [client.post("/models/open-set/predict", files=upload(i)).json()["is_garment"] for i in pixels]
    assert np.mean(kept) >= 0.75  # a linear model: most test garments pass its threshold


def test_tensors_that_are_no_garment_are_flagged_on_every_front_door(client: TestClient) -> None:
    rng = np.random.default_rng(1)
    noise = rng.random((4, 28, 28, 1), dtype=np.float32)
    outputs = infer(client, "open-set", noise)
    assert outputs["is_garment"] == [False] * 4 and outputs["reason"] == ["not_garment"] * 4
    assert all(score < THRESHOLD for score in outputs["garment_score"])
    v1 = client.post("/v1/models/open-set:predict", json={"instances": noise.tolist()}).json()["predictions"]
    assert [p["reason"] for p in v1] == ["not_garment"] * 4
    assert [p["garment_score"] for p in v1] == pytest.approx(outputs["garment_score"], abs=1e-6)


def test_an_empty_frame_is_no_object_whatever_the_version(client: TestClient) -> None:
    blank = np.full((120, 90, 3), 255, np.uint8)
    before = client.get("/metrics").text
    plain = client.post("/predict", files=upload(blank)).json()
    assert (plain["is_garment"], plain["garment_score"], plain["reason"]) == (False, None, "no_object")
    detector = client.post("/models/open-set/predict", files=upload(blank)).json()
    assert (detector["is_garment"], detector["garment_score"], detector["reason"]) == (
        False,
        0.0,
        "no_object",
    )
    assert len(detector["probabilities"]) == 10 and detector["label"]  # still answered, never hidden
    after = client.get("/metrics").text
    for model, version in (("fashion-mnist", "2"), ("open-set", "1")):
        labels = {"model": model, "version": version, "reason": "no_object"}
        assert (
            metric(after, "classifier_abstentions_total", **labels)
            - metric(before, "classifier_abstentions_total", **labels)
            == 1
        )


def test_model_info_shows_each_versions_threshold(client: TestClient) -> None:
    info = client.get("/model-info").json()
    assert (info["name"], info["garment_threshold"]) == ("fashion-mnist", None)
    versions = {m["name"]: m["versions"] for m in info["models"]}
    assert versions["open-set"][0]["open_set"]["threshold"] == THRESHOLD
    assert versions["open-set"][0]["open_set"]["method"] == "background_class"
    assert [v["open_set"] for v in versions["fashion-mnist"]] == [None, None]
