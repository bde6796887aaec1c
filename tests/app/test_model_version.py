"""The model-version contract: a version that does not fit the schema, or whose model is not the one
exported, is refused at load with a message that says which file and why."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from ai_edge_litert.interpreter import Interpreter

from app.model import load_classifier
from app.model_version import METADATA_FILE, TFLITE_FILE, ModelLoadError, read_metadata, sha256_file
from app.preprocessing import prepare_batch

OPEN_SET = Path(__file__).resolve().parent.parent / "fixtures" / "open-set" / "1"


def copy_fixture(tmp_path: Path) -> Path:
    target = tmp_path / "open-set" / "1"
    shutil.copytree(OPEN_SET, target)
    return target


def edit_metadata(directory: Path, **changes: object) -> None:
    path = directory / METADATA_FILE
    metadata = json.loads(path.read_text())
    for key, value in changes.items():
        if value is None:
            metadata.pop(key, None)
        else:
            metadata[key] = value
    path.write_text(json.dumps(metadata))


def test_shipped_versions_fit_the_contract_and_reproduce_their_references() -> None:
    for directory in sorted((Path(__file__).resolve().parents[2] / "models" / "fashion-mnist").iterdir()):
        if directory.name.isdigit():
            classifier = load_classifier(directory)
            assert len(classifier.metadata.references.images) == 16
            has_detector = json.loads((directory / "metadata.json").read_text()).get("open_set") is not None
            assert (classifier.metadata.open_set is not None) == has_detector
            assert classifier.metadata.output_width == 10 + has_detector


def test_a_model_altered_with_a_matching_sha256_is_refused(tmp_path: Path) -> None:
    target = copy_fixture(tmp_path)
    data = bytearray((target / TFLITE_FILE).read_bytes())
    kernel = largest_constant(target / TFLITE_FILE)
    start = data.find(kernel.tobytes())
    assert start > 0
    altered = kernel.copy()
    altered.flat[::7] *= 1.5  # some weights scaled: still a valid model, just not the one exported
    data[start : start + altered.nbytes] = altered.tobytes()
    (target / TFLITE_FILE).write_bytes(bytes(data))
    metadata = json.loads((target / METADATA_FILE).read_text())
    edit_metadata(target, artifacts={**metadata["artifacts"], TFLITE_FILE: sha256_file(target / TFLITE_FILE)})
    with pytest.raises(ModelLoadError, match="does not reproduce its reference outputs"):
        load_classifier(target)


def largest_constant(path: Path) -> np.ndarray:
    """The model's biggest weight tensor, read through LiteRT."""
    interpreter = Interpreter(model_path=str(path))
    interpreter.allocate_tensors()
    sizes = {d["index"]: int(np.prod(d["shape"])) for d in interpreter.get_tensor_details()}
    for index in sorted(sizes, key=sizes.get, reverse=True):
        try:
            return interpreter.get_tensor(index).copy()
        except ValueError:  # not a constant (activations have no data before invoke)
            continue
    raise AssertionError("no constant tensor")


def test_a_version_without_reference_inputs_is_refused(tmp_path: Path) -> None:
    target = copy_fixture(tmp_path)
    edit_metadata(target, references=None)
    with pytest.raises(
        ModelLoadError, match=r"metadata.json does not fit the model-version schema: references"
    ):
        load_classifier(target)


def test_metadata_that_names_another_version_or_no_model_hash_is_refused(tmp_path: Path) -> None:
    target = copy_fixture(tmp_path)
    edit_metadata(target, version=5)
    with pytest.raises(ModelLoadError, match="says version 5, but the directory is 1"):
        read_metadata(target)
    edit_metadata(target, version=1, artifacts={"model.keras": "0" * 64})
    with pytest.raises(ModelLoadError, match="artifacts: Value error, lists no sha256 for model.tflite"):
        read_metadata(target)


def test_half_written_metadata_is_not_json(tmp_path: Path) -> None:
    target = copy_fixture(tmp_path)
    text = (target / METADATA_FILE).read_text()
    (target / METADATA_FILE).write_text(text[: len(text) // 2])
    with pytest.raises(ModelLoadError, match="is not valid JSON"):
        load_classifier(target)


def test_open_set_scores_are_the_last_column_and_the_renormalised_rest(dataset) -> None:
    classifier = load_classifier(OPEN_SET)
    outputs = classifier.predict(prepare_batch(dataset.x_test[:8]))
    assert outputs.shape == (8, 11)
    scores = classifier.scores(outputs)
    np.testing.assert_allclose(scores.garment_score, 1.0 - outputs[:, -1], atol=1e-6)
    np.testing.assert_allclose(scores.probabilities.sum(axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(
        scores.probabilities, outputs[:, :-1] / outputs[:, :-1].sum(axis=1, keepdims=True), atol=1e-6
    )
    assert classifier.predict_pixels(dataset.x_test[:8]).shape == (8, 10)
