"""TensorFlow Serving's REST API (v1): predict bodies in, predictions and status out; no HTTP here.

`instances` (row format) is a list with one entry per image, `inputs` (columnar) one value holding
all images. An image is a float tensor [28, 28, 1] (or [28, 28]) in [0, 1], or an encoded image as
`{"b64": "<base64 of the file>"}`, prepared exactly like an upload to /predict. Either may be named
by its input, as TF Serving allows: `{"image": [[...]]}`, `{"image_bytes": {"b64": "..."}}`.
Each prediction is an object of named outputs: probabilities, class_id, label, is_garment,
garment_score (null without a detector) and reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from app.model import Classifier
from app.schemas import Prediction
from app.tensors import InvalidTensor, base64_file, json_object, model_input

SIGNATURE = "serving_default"
FLOAT_INPUT = "image"
BYTES_INPUT = "image_bytes"
OUTPUTS = ("probabilities", "class_id", "label", "is_garment", "garment_score", "reason")


@dataclass
class PredictRequest:
    """Either a ready tensor or encoded images, and which format the answer takes."""

    columnar: bool
    tensor: np.ndarray | None = None
    images: list[bytes] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.tensor) if self.tensor is not None else len(self.images)


def version_status(versions: list[int]) -> dict[str, object]:
    """GET /v1/models/<name>[/versions/<v>]: every listed version is loaded and AVAILABLE."""
    return {
        "model_version_status": [
            {"version": str(v), "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}}
            for v in sorted(versions, reverse=True)
        ]
    }


def tensor_info(name: str, dtype: str, dims: list[int]) -> dict[str, object]:
    return {
        "dtype": dtype,
        "tensor_shape": {"dim": [{"size": str(d), "name": ""} for d in dims], "unknown_rank": False},
        "name": name,
    }


def metadata(classifier: Classifier) -> dict[str, object]:
    """GET …/metadata: the model spec and its one signature, shaped like TF Serving's answer."""
    classes = len(classifier.labels)
    outputs = {
        "probabilities": tensor_info("probabilities", "DT_FLOAT", [-1, classes]),
        "class_id": tensor_info("class_id", "DT_INT64", [-1]),
        "label": tensor_info("label", "DT_STRING", [-1]),
        "is_garment": tensor_info("is_garment", "DT_BOOL", [-1]),
        "garment_score": tensor_info("garment_score", "DT_FLOAT", [-1]),
        "reason": tensor_info("reason", "DT_STRING", [-1]),
    }
    signature = {
        "inputs": {
            FLOAT_INPUT: tensor_info(FLOAT_INPUT, "DT_FLOAT", [-1, 28, 28, 1]),
            BYTES_INPUT: tensor_info(BYTES_INPUT, "DT_STRING", [-1]),
        },
        "outputs": outputs,
        "method_name": "tensorflow/serving/predict",
    }
    return {
        "model_spec": {"name": classifier.name, "signature_name": "", "version": str(classifier.version)},
        "metadata": {"signature_def": {"signature_def": {SIGNATURE: signature}, "labels": classifier.labels}},
    }


def parse_predict(body: bytes) -> PredictRequest:
    """A :predict body -> the images to classify."""
    request = json_object(body, "predict request")
    signature = request.get("signature_name", SIGNATURE)
    if signature not in (SIGNATURE, ""):
        raise InvalidTensor(f"serving signature name {signature!r} not found; the model has {SIGNATURE!r}")
    if ("instances" in request) == ("inputs" in request):
        raise InvalidTensor('send exactly one of "instances" (row format) or "inputs" (columnar format)')
    if "instances" in request:
        instances = request["instances"]
        if not isinstance(instances, list) or not instances:
            raise InvalidTensor('"instances" must be a non-empty list, one entry per image')
        return from_values([unnamed(instance) for instance in instances], columnar=False)
    values = unnamed(request["inputs"])
    if isinstance(values, dict):  # one b64 image as the whole input
        values = [values]
    if not isinstance(values, list) or not values:
        raise InvalidTensor('"inputs" must hold a list of images (a tensor [N, 28, 28, 1] or b64 objects)')
    return from_values(values, columnar=True)


def unnamed(value: object) -> object:
    """The value of a named input ({"image": x} or {"image_bytes": x}); anything else as it is."""
    if isinstance(value, dict) and "b64" not in value:
        if len(value) != 1 or next(iter(value)) not in (FLOAT_INPUT, BYTES_INPUT):
            raise InvalidTensor(
                f"unknown input names {sorted(value)}; the model takes {FLOAT_INPUT!r} or {BYTES_INPUT!r}"
            )
        return next(iter(value.values()))
    return value


def from_values(values: list[object], columnar: bool) -> PredictRequest:
    """One entry per image: all b64 objects, or all float tensors."""
    b64 = [isinstance(v, dict) for v in values]
    if all(b64):
        return PredictRequest(columnar, images=[decode_b64(v, i) for i, v in enumerate(values)])  # type: ignore[arg-type]
    if any(b64):
        raise InvalidTensor('send all images as float tensors or all as {"b64": ...}, not a mix')
    return PredictRequest(columnar, tensor=model_input(values))


def decode_b64(value: dict[str, object], index: int) -> bytes:
    if len(value) != 1 or "b64" not in value:
        raise InvalidTensor(f'image {index}: a binary value is {{"b64": "<base64>"}}, nothing else')
    return base64_file(value["b64"], index)


def prediction_outputs(prediction: Prediction) -> dict[str, object]:
    return {
        "probabilities": prediction.probabilities,
        "class_id": prediction.class_id,
        "label": prediction.label,
        "is_garment": prediction.is_garment,
        "garment_score": prediction.garment_score,
        "reason": prediction.reason,
    }


def predict_response(request: PredictRequest, predictions: list[Prediction]) -> dict[str, object]:
    """{"predictions": [...]} for row-format requests, {"outputs": {...}} for columnar ones."""
    rows = [prediction_outputs(p) for p in predictions]
    if not request.columnar:
        return {"predictions": rows}
    return {"outputs": {name: [row[name] for row in rows] for name in OUTPUTS}}
