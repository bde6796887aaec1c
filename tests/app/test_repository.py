"""The model repository: versions found at start, new ones picked up by a poll once complete, corrupt
ones refused once (and again only when their files change), removed ones dropped."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.main import create_app
from app.metrics import REFUSALS
from app.model_version import METADATA_FILE, TFLITE_FILE, ModelLoadError
from app.preprocessing import prepare_batch
from app.repository import ModelRepository, ModelUnavailable, UnknownModel

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "open-set" / "1"


def add_version(root: Path, version: int, name: str = "open-set") -> Path:
    """A copy of the small open-set version as `name`/`version` (metadata rewritten to match)."""
    target = root / name / str(version)
    shutil.copytree(FIXTURE, target)
    metadata = json.loads((target / METADATA_FILE).read_text())
    (target / METADATA_FILE).write_text(json.dumps({**metadata, "name": name, "version": version}))
    return target


def corrupt(directory: Path) -> None:
    data = bytearray((directory / TFLITE_FILE).read_bytes())
    data[len(data) // 2] ^= 0xFF
    (directory / TFLITE_FILE).write_bytes(bytes(data))


def refusals(name: str, version: int) -> float:
    return REFUSALS.labels(name, str(version))._value.get()


def test_all_models_load_at_start_and_unnamed_means_default_and_highest(tmp_path: Path) -> None:
    add_version(tmp_path, 1)
    add_version(tmp_path, 3)
    add_version(tmp_path, 1, name="other")
    repository = ModelRepository(tmp_path, "open-set")
    repository.start()
    assert repository.get().version == 3
    assert repository.get("open-set", 1).version == 1
    assert repository.get("other").name == "other"
    with pytest.raises(UnknownModel, match="model 'nope' is not served"):
        repository.get("nope")
    with pytest.raises(UnknownModel, match="has no loaded version 2; loaded: \\[1, 3\\]"):
        repository.get("open-set", 2)


def test_start_fails_when_the_default_model_has_no_good_version(tmp_path: Path) -> None:
    corrupt(add_version(tmp_path, 1))
    add_version(tmp_path, 1, name="other")
    refused = "default model 'open-set': no version could be loaded: .*corrupt"
    with pytest.raises(ModelLoadError, match=refused):
        ModelRepository(tmp_path, "open-set").start()
    with pytest.raises(ModelLoadError, match="no model versions found"):
        ModelRepository(tmp_path, "absent").start()


def test_a_bad_version_beside_a_good_one_is_refused_at_start_and_listed(tmp_path: Path) -> None:
    add_version(tmp_path, 1)
    corrupt(add_version(tmp_path, 2))
    repository = ModelRepository(tmp_path, "open-set")
    repository.start()
    assert repository.get().version == 1
    [refusal] = repository.refusals()
    assert (refusal.name, refusal.version) == ("open-set", 2) and "is corrupt: sha256" in refusal.error


def test_a_new_version_is_served_after_one_poll_and_becomes_the_default(tmp_path: Path) -> None:
    add_version(tmp_path, 1)
    repository = ModelRepository(tmp_path, "open-set")
    repository.start()
    add_version(tmp_path, 2)
    repository.poll()
    assert repository.get().version == 2
    assert sorted(repository.models()["open-set"]) == [1, 2]


def test_a_half_written_version_waits_and_is_served_once_complete(tmp_path: Path) -> None:
    add_version(tmp_path, 1)
    repository = ModelRepository(tmp_path, "open-set")
    repository.start()
    # As `cp -r` may leave it: metadata.json complete, model.tflite still being written.
    target = tmp_path / "open-set" / "2"
    target.mkdir()
    metadata = json.loads((FIXTURE / METADATA_FILE).read_text())
    (target / METADATA_FILE).write_text(json.dumps({**metadata, "version": 2}))
    model = (FIXTURE / TFLITE_FILE).read_bytes()
    (target / TFLITE_FILE).write_bytes(model[: len(model) // 3])
    repository.poll()
    assert repository.get().version == 1 and not repository.refusals()
    (target / TFLITE_FILE).write_bytes(model[: 2 * len(model) // 3])  # still growing: not refused
    repository.poll()
    assert repository.get().version == 1 and not repository.refusals()
    (target / TFLITE_FILE).write_bytes(model)
    repository.poll()
    assert repository.get().version == 2


def test_a_corrupt_version_is_refused_once_settled_and_retried_only_when_its_files_change(
    tmp_path: Path,
) -> None:
    add_version(tmp_path, 1)
    repository = ModelRepository(tmp_path, "open-set")
    repository.start()
    target = add_version(tmp_path, 2)
    corrupt(target)
    before = refusals("open-set", 2)
    repository.poll()  # first sight: it may still be being written
    assert not repository.refusals()
    repository.poll()  # unchanged since: refused
    repository.poll()
    repository.poll()
    assert [r.version for r in repository.refusals()] == [2]
    assert refusals("open-set", 2) - before == 1  # counted once, not at every poll
    assert repository.get().version == 1
    corrupt(target)  # flipped back: the files changed, so it is tried again
    repository.poll()
    assert repository.get().version == 2 and not repository.refusals()


def test_a_removed_version_stops_being_served_but_requests_holding_it_finish(tmp_path: Path, dataset) -> None:
    add_version(tmp_path, 1)
    add_version(tmp_path, 2)
    repository = ModelRepository(tmp_path, "open-set")
    repository.start()
    in_flight = repository.get()
    shutil.rmtree(tmp_path / "open-set" / "2")
    repository.poll()
    assert repository.get().version == 1
    with pytest.raises(UnknownModel):
        repository.get("open-set", 2)
    assert in_flight.predict(prepare_batch(dataset.x_test[:2])).shape == (2, 11)
    shutil.rmtree(tmp_path / "open-set" / "1")
    repository.poll()
    with pytest.raises(ModelUnavailable, match="no version of model 'open-set' is loaded"):
        repository.get()


def test_model_version_pins_the_default_model(tmp_path: Path) -> None:
    add_version(tmp_path, 1)
    add_version(tmp_path, 2)
    repository = ModelRepository(tmp_path, "open-set", pins={"open-set": 1})
    repository.start()
    add_version(tmp_path, 3)
    repository.poll()
    assert sorted(repository.models()["open-set"]) == [1]


def test_settings_model_dir_still_serves_that_one_model(tmp_path: Path) -> None:
    add_version(tmp_path, 1)
    add_version(tmp_path, 1, name="other")
    settings = Settings(model_dir=tmp_path / "other", model_poll_seconds=0)
    with TestClient(create_app(settings)) as client:
        info = client.get("/model-info").json()
        assert (info["name"], [m["name"] for m in info["models"]]) == ("other", ["other"])


def test_settings_model_repository_serves_every_model_by_name(tmp_path: Path, dataset) -> None:
    add_version(tmp_path, 1)
    add_version(tmp_path, 2, name="other")
    settings = Settings(model_repository=tmp_path, default_model="other", model_poll_seconds=0)
    png = {"file": ("x.png", _png(dataset.x_test[0]), "image/png")}
    with TestClient(create_app(settings)) as client:
        assert client.post("/predict", files=png).json()["model"] == {"name": "other", "version": 2}
        named = client.post("/models/open-set/predict", files=png).json()["model"]
        assert named == {"name": "open-set", "version": 1}
        assert client.post(
            "/models/open-set/versions/1/predict/batch", files=[("files", png["file"])]
        ).json()["model"] == {"name": "open-set", "version": 1}
        missing = client.post("/models/open-set/versions/9/predict", files=png)
        assert missing.status_code == 404 and "no loaded version 9" in missing.json()["detail"]


def _png(pixels: np.ndarray) -> bytes:
    from tests.helpers import image_bytes

    return image_bytes(pixels)
