"""The Open Inference Protocol (KServe v2) over REST: request bytes in, response bytes out; no HTTP here.

Inputs (exactly one per request):
- `image`, FP32, shape [N, 28, 28, 1], already scaled to [0, 1]; JSON `data` flat or nested;
- `image_bytes`, BYTES, shape [N]: encoded images (PNG, JPEG, ...), prepared exactly like an upload to
  /predict (request parameter `preprocess`: auto, raw or photo). In JSON each element is the base64 of
  the file (a JSON string cannot hold raw bytes); in binary, the bytes themselves.

Outputs: `probabilities` FP32 [N, labels], `label` BYTES [N], `is_garment` BOOL [N], `reason` BYTES
[N] ("" when none) and, for a version with a garment detector, `garment_score` FP32 [N].

Extensions: binary tensor data (a JSON header of `Inference-Header-Content-Length` bytes followed by
the tensors' raw bytes, in requests and responses: an output is binary when its `binary_data`
parameter says so, else when the request's `binary_data_output` does) and classification
(`"parameters": {"classification": k}` on `probabilities` gives BYTES [N, k] "score:index:label").
"""

from __future__ import annotations

import json
import math
import struct
from dataclasses import dataclass, field

import numpy as np

from app.model import Classifier
from app.schemas import Prediction
from app.tensors import InvalidTensor, base64_file, json_object, model_input

HEADER_LENGTH = "inference-header-content-length"
FP32_INPUT = "image"
BYTES_INPUT = "image_bytes"
EXTENSIONS = ["binary_tensor_data", "classification"]
PLATFORM = "litert_tflite"
PREPARATIONS = ("auto", "raw", "photo")


@dataclass
class RequestedOutput:
    name: str
    binary: bool | None = None  # None: as the request's binary_data_output says
    classification: int = 0


@dataclass
class InferenceRequest:
    """A parsed infer request: either a ready tensor or encoded images."""

    id: str | None
    tensor: np.ndarray | None = None
    images: list[bytes] = field(default_factory=list)
    outputs: list[RequestedOutput] = field(default_factory=list)
    binary_output: bool = False
    preprocess: str = "auto"

    @property
    def count(self) -> int:
        return len(self.tensor) if self.tensor is not None else len(self.images)


def input_metadata() -> list[dict[str, object]]:
    return [
        {"name": FP32_INPUT, "datatype": "FP32", "shape": [-1, 28, 28, 1]},
        {"name": BYTES_INPUT, "datatype": "BYTES", "shape": [-1]},
    ]


def output_metadata(classifier: Classifier) -> list[dict[str, object]]:
    outputs: list[dict[str, object]] = [
        {"name": "probabilities", "datatype": "FP32", "shape": [-1, len(classifier.labels)]},
        {"name": "label", "datatype": "BYTES", "shape": [-1]},
        {"name": "is_garment", "datatype": "BOOL", "shape": [-1]},
    ]
    if classifier.threshold is not None:
        outputs.append({"name": "garment_score", "datatype": "FP32", "shape": [-1]})
    outputs.append({"name": "reason", "datatype": "BYTES", "shape": [-1]})
    return outputs


def model_metadata(name: str, versions: list[int], classifier: Classifier) -> dict[str, object]:
    """The model metadata response: the versions listed, the inputs and outputs of `classifier`."""
    return {
        "name": name,
        "versions": [str(v) for v in versions],
        "platform": PLATFORM,
        "inputs": input_metadata(),
        "outputs": output_metadata(classifier),
    }


# ---- requests -------------------------------------------------------------------------------------


def split_body(body: bytes, header_length: str | None) -> tuple[dict[str, object], memoryview]:
    """The JSON header (as an object) and the binary tensor data after it."""
    if header_length is None:
        json_part, binary = body, b""
    else:
        if not (header_length.strip().isascii() and header_length.strip().isdigit()) or int(
            header_length
        ) > len(body):
            raise InvalidTensor(
                f"Inference-Header-Content-Length is {header_length!r}; the body has {len(body)} bytes"
            )
        json_part, binary = body[: int(header_length)], body[int(header_length) :]
    return json_object(json_part, "inference request"), memoryview(binary)


def parse_request(body: bytes, header_length: str | None) -> InferenceRequest:
    """An infer request body (JSON, or JSON + binary tensors) -> what to classify and what to answer."""
    header, binary = split_body(body, header_length)
    inputs = header.get("inputs")
    if not isinstance(inputs, list) or len(inputs) != 1 or not isinstance(inputs[0], dict):
        raise InvalidTensor(f"send exactly one input: {FP32_INPUT!r} (FP32) or {BYTES_INPUT!r} (BYTES)")
    parameters = header.get("parameters") or {}
    if not isinstance(parameters, dict):
        raise InvalidTensor("request parameters must be a JSON object")
    request_id = header.get("id")
    request = InferenceRequest(
        id=str(request_id) if request_id is not None else None,
        binary_output=parameters.get("binary_data_output") is True,
        preprocess=str(parameters.get("preprocess", "auto")),
        outputs=requested_outputs(header.get("outputs")),
    )
    if request.preprocess not in PREPARATIONS:
        raise InvalidTensor(f"preprocess {request.preprocess!r}; choose one of {', '.join(PREPARATIONS)}")
    tensor = inputs[0]
    name, datatype, shape = tensor.get("name"), tensor.get("datatype"), tensor.get("shape")
    if not isinstance(shape, list) or not all(isinstance(s, int) and s >= 0 for s in shape):
        raise InvalidTensor(f"input {name!r}: shape must be a list of non-negative integers, not {shape!r}")
    size = (tensor.get("parameters") or {}).get("binary_data_size")
    raw: bytes | None = None
    if size is not None:
        if not isinstance(size, int) or size < 0 or size > len(binary):
            raise InvalidTensor(
                f"input {name!r}: binary_data_size {size!r}; {len(binary)} binary bytes follow"
            )
        raw, binary = bytes(binary[:size]), binary[size:]
    elif "data" not in tensor:
        raise InvalidTensor(f"input {name!r} has neither data nor binary_data_size")
    if len(binary):
        raise InvalidTensor(f"{len(binary)} bytes of binary data belong to no input")
    if name == FP32_INPUT and datatype == "FP32":
        data = np.frombuffer(raw, "<f4") if raw is not None else tensor["data"]
        if raw is not None and len(raw) % 4:
            raise InvalidTensor(f"input {name!r}: {len(raw)} bytes is not a whole number of FP32 values")
        request.tensor = model_input(data, shape)
    elif name == BYTES_INPUT and datatype == "BYTES":
        images = decode_bytes(raw) if raw is not None else decode_base64(tensor["data"])
        if len(images) != math.prod(shape):
            raise InvalidTensor(
                f"input {name!r}: shape {shape} holds {math.prod(shape)} elements, got {len(images)}"
            )
        request.images = images
    else:
        raise InvalidTensor(
            f"input {name!r} of type {datatype!r}: the model takes {FP32_INPUT!r} (FP32 [N, 28, 28, 1]) "
            f"or {BYTES_INPUT!r} (BYTES [N], encoded images)"
        )
    return request


def requested_outputs(outputs: object) -> list[RequestedOutput]:
    if outputs is None:
        return []
    if not isinstance(outputs, list) or not all(isinstance(o, dict) and "name" in o for o in outputs):
        raise InvalidTensor('outputs must be a list of {"name": ..., "parameters": {...}} objects')
    requested = []
    for output in outputs:
        parameters = output.get("parameters") or {}
        binary = parameters.get("binary_data")
        classification = parameters.get("classification", 0)
        if not isinstance(classification, int) or isinstance(classification, bool) or classification < 0:
            raise InvalidTensor(
                f"output {output['name']!r}: classification must be a count, not {classification!r}"
            )
        requested.append(
            RequestedOutput(str(output["name"]), binary if isinstance(binary, bool) else None, classification)
        )
    return requested


def decode_bytes(raw: bytes) -> list[bytes]:
    """The binary BYTES encoding: each element is a 4-byte little-endian length, then that many bytes."""
    elements, offset = [], 0
    while offset < len(raw):
        if offset + 4 > len(raw):
            raise InvalidTensor("BYTES binary data ends inside an element's length prefix")
        (length,) = struct.unpack_from("<I", raw, offset)
        offset += 4
        if offset + length > len(raw):
            raise InvalidTensor(f"BYTES element of {length} bytes runs past the end of the binary data")
        elements.append(raw[offset : offset + length])
        offset += length
    return elements


def decode_base64(data: object) -> list[bytes]:
    """JSON BYTES data (flat or nested strings), each the base64 of an encoded image."""
    flat: list[object] = []
    pending = [data]
    while pending:
        item = pending.pop()
        if isinstance(item, list):
            pending.extend(reversed(item))
        else:
            flat.append(item)
    return [base64_file(item, index) for index, item in enumerate(flat)]


# ---- responses ------------------------------------------------------------------------------------


def encode_bytes(values: list[bytes]) -> bytes:
    return b"".join(struct.pack("<I", len(v)) + v for v in values)


def output_tensor(
    name: str, classification: int, classifier: Classifier, predictions: list[Prediction]
) -> tuple[str, list[int], np.ndarray | list[bytes]]:
    """(datatype, shape, values) of one output; values flat, row-major."""
    count = len(predictions)
    if classification:
        if name != "probabilities":
            raise InvalidTensor(f"classification applies to 'probabilities', not {name!r}")
        k = min(classification, len(classifier.labels))
        rows = []
        for p in predictions:
            best = np.argsort(-np.asarray(p.probabilities), kind="stable")[:k]
            rows += [f"{p.probabilities[i]:f}:{i}:{classifier.labels[i]}".encode() for i in best]
        return "BYTES", [count, k], rows
    if name == "probabilities":
        return (
            "FP32",
            [count, len(classifier.labels)],
            np.asarray([p.probabilities for p in predictions], "<f4"),
        )
    if name == "label":
        return "BYTES", [count], [p.label.encode() for p in predictions]
    if name == "is_garment":
        return "BOOL", [count], np.asarray([p.is_garment for p in predictions], np.bool_)
    if name == "garment_score" and classifier.threshold is not None:
        return "FP32", [count], np.asarray([p.garment_score for p in predictions], "<f4")
    if name == "reason":
        return "BYTES", [count], [(p.reason or "").encode() for p in predictions]
    names = ", ".join(str(o["name"]) for o in output_metadata(classifier))
    raise InvalidTensor(
        f"model {classifier.name!r} version {classifier.version} has no output {name!r}; it has {names}"
    )


def encode_response(
    classifier: Classifier, request: InferenceRequest, predictions: list[Prediction]
) -> tuple[bytes, int | None]:
    """The response body, and the JSON header's length when binary tensors follow it (else None)."""
    wanted = request.outputs or [RequestedOutput(str(o["name"])) for o in output_metadata(classifier)]
    outputs: list[dict[str, object]] = []
    chunks: list[bytes] = []
    for output in wanted:
        datatype, shape, values = output_tensor(output.name, output.classification, classifier, predictions)
        tensor: dict[str, object] = {"name": output.name, "datatype": datatype, "shape": shape}
        binary = request.binary_output if output.binary is None else output.binary
        if binary:
            raw = encode_bytes(values) if isinstance(values, list) else values.tobytes()
            tensor["parameters"] = {"binary_data_size": len(raw)}
            chunks.append(raw)
        elif isinstance(values, list):
            tensor["data"] = [v.decode() for v in values]
        else:
            tensor["data"] = values.tolist()
        outputs.append(tensor)
    response: dict[str, object] = {"model_name": classifier.name, "model_version": str(classifier.version)}
    if request.id is not None:
        response["id"] = request.id
    response["outputs"] = outputs
    header = json.dumps(response, separators=(",", ":")).encode()
    if not chunks:
        return header, None
    return header + b"".join(chunks), len(header)
