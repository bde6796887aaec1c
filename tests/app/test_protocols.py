"""The three front doors on a real server, driven by the real clients: tritonclient[http] and the kserve
SDK (Open Inference Protocol v2), and TensorFlow Serving bodies shaped as its documentation shows them.
Every door agrees with /predict, because each is a thin adapter over the same prediction path."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
import tritonclient.http as triton
from kserve import InferenceRESTClient, InferInput, InferRequest, RESTConfig
from tritonclient.utils import InferenceServerException

from app.preprocessing import LABELS
from tests.helpers import image_bytes, link_detectorless_versions, running_server

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "open-set"
COUNT = 200  # test images compared with /predict
CHUNK = 50  # images per inference request (MAX_BATCH_FILES is 64)


@pytest.fixture(scope="module")
def repository(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shipped fashion-mnist versions and the small open-set fixture, as two models."""
    root = tmp_path_factory.mktemp("repository")
    link_detectorless_versions(root)
    (root / "open-set").symlink_to(FIXTURE)
    return root


@pytest.fixture(scope="module")
def server(repository: Path) -> Iterator[str]:
    env = {"MODEL_REPOSITORY": str(repository), "MODEL_POLL_SECONDS": "0", "LOG_LEVEL": "WARNING"}
    with running_server("--no-access-log", env=env) as url:
        yield url


@pytest.fixture(scope="module")
def images(dataset) -> np.ndarray:
    return dataset.x_test[:COUNT]


@pytest.fixture(scope="module")
def native(server: str, images: np.ndarray) -> list[int]:
    """What /predict answers for each image (class ids), uploaded as PNG files."""
    with httpx.Client(base_url=server, timeout=60) as client:
        answers = [
            client.post("/predict", files={"file": ("x.png", image_bytes(i), "image/png")}) for i in images
        ]
    assert {a.status_code for a in answers} == {200}
    return [a.json()["class_id"] for a in answers]


def tensors(images: np.ndarray) -> np.ndarray:
    return (images.astype(np.float32) / 255.0)[..., np.newaxis]


def triton_client(server: str) -> triton.InferenceServerClient:
    return triton.InferenceServerClient(
        server.removeprefix("http://"), connection_timeout=60, network_timeout=60
    )


@pytest.mark.parametrize("binary", [True, False], ids=["binary", "json"])
def test_triton_client_fp32_agrees_with_predict(
    server: str, images: np.ndarray, native: list[int], binary: bool
):
    client = triton_client(server)
    assert client.is_server_live() and client.is_server_ready() and client.is_model_ready("fashion-mnist")
    got: list[int] = []
    for start in range(0, len(images), CHUNK):
        batch = tensors(images[start : start + CHUNK])
        image = triton.InferInput("image", list(batch.shape), "FP32")
        image.set_data_from_numpy(batch, binary_data=binary)
        outputs = [
            triton.InferRequestedOutput(name, binary_data=binary) for name in ("probabilities", "is_garment")
        ]
        result = client.infer("fashion-mnist", [image], outputs=outputs)
        probabilities = result.as_numpy("probabilities")
        assert probabilities.shape == (len(batch), 10) and probabilities.dtype == np.float32
        assert result.as_numpy("is_garment").all()  # v2 has no garment detector
        got += probabilities.argmax(axis=1).tolist()
    assert got == native
    assert result.get_response()["model_version"] == "2"


@pytest.mark.parametrize("binary", [True, False], ids=["binary", "json"])
def test_triton_client_bytes_agrees_with_predict(
    server: str, images: np.ndarray, native: list[int], binary: bool
):
    client = triton_client(server)
    got: list[str] = []
    for start in range(0, len(images), CHUNK):
        files = [image_bytes(i) for i in images[start : start + CHUNK]]
        # JSON cannot carry raw bytes: there each element is the file's base64.
        elements = files if binary else [base64.b64encode(f) for f in files]
        image = triton.InferInput("image_bytes", [len(files)], "BYTES")
        image.set_data_from_numpy(np.array(elements, dtype=np.object_), binary_data=binary)
        result = client.infer("fashion-mnist", [image])  # no outputs named: all of them, in binary
        got += [label.decode() for label in result.as_numpy("label")]
    assert got == [LABELS[c] for c in native]


def test_classification_extension_returns_scores_indices_and_labels(server: str, images: np.ndarray, native):
    client = triton_client(server)
    image = triton.InferInput("image", [8, 28, 28, 1], "FP32")
    image.set_data_from_numpy(tensors(images[:8]))
    for binary in (True, False):
        output = triton.InferRequestedOutput("probabilities", binary_data=binary, class_count=3)
        classes = client.infer("fashion-mnist", [image], outputs=[output]).as_numpy("probabilities")
        assert classes.shape == (8, 3)
        for row, expected in zip(classes, native[:8], strict=True):
            entries = [(entry.decode() if isinstance(entry, bytes) else entry).split(":") for entry in row]
            scores = [float(score) for score, _, _ in entries]
            assert scores == sorted(scores, reverse=True)
            assert int(entries[0][1]) == expected and entries[0][2] == LABELS[expected]
            assert all(label == LABELS[int(index)] for _, index, label in entries)


def test_triton_client_model_metadata_and_versions(server: str) -> None:
    client = triton_client(server)
    metadata = client.get_model_metadata("fashion-mnist")
    assert metadata["versions"] == ["1", "2"]
    assert [i["name"] for i in metadata["inputs"]] == ["image", "image_bytes"]
    assert "garment_score" not in [o["name"] for o in metadata["outputs"]]
    open_set = client.get_model_metadata("open-set", "1")
    assert "garment_score" in [o["name"] for o in open_set["outputs"]]
    assert client.get_server_metadata()["extensions"] == ["binary_tensor_data", "classification"]
    image = triton.InferInput("image", [1, 28, 28, 1], "FP32")
    image.set_data_from_numpy(np.zeros((1, 28, 28, 1), np.float32))
    assert client.infer("fashion-mnist", [image], model_version="1").get_response()["model_version"] == "1"
    with pytest.raises(InferenceServerException, match="no loaded version 7"):
        client.infer("fashion-mnist", [image], model_version="7")
    with pytest.raises(InferenceServerException, match="model 'nope' is not served"):
        client.infer("nope", [image])


def test_kserve_sdk_rest_client(server: str, images: np.ndarray, native: list[int]) -> None:
    async def run() -> tuple[list[int], list[str], bool, bool]:
        client = InferenceRESTClient(RESTConfig(protocol="v2", timeout=60))
        try:
            live = await client.is_server_live(server)
            ready = await client.is_model_ready(server, "fashion-mnist")
            fp32 = InferInput("image", [CHUNK, 28, 28, 1], "FP32")
            fp32.set_data_from_numpy(tensors(images[:CHUNK]), binary_data=True)
            response = await client.infer(
                server, InferRequest("fashion-mnist", [fp32]), model_name="fashion-mnist"
            )
            ids = response.outputs[0].as_numpy().argmax(axis=1).tolist()
            files = [base64.b64encode(image_bytes(i)).decode() for i in images[:CHUNK]]
            body = {"inputs": [{"name": "image_bytes", "datatype": "BYTES", "shape": [CHUNK], "data": files}]}
            answer = await client.infer(server, body, model_name="fashion-mnist")
            labels = next(o for o in answer.outputs if o.name == "label").data
            return ids, labels, live, ready
        finally:
            await client.close()

    ids, labels, live, ready = asyncio.run(run())
    assert live and ready
    assert ids == native[:CHUNK]
    assert labels == [LABELS[c] for c in native[:CHUNK]]


def test_tf_serving_bodies_as_documented(server: str, images: np.ndarray, native: list[int]) -> None:
    pixels = tensors(images[:3]).tolist()
    b64 = [{"b64": base64.b64encode(image_bytes(i)).decode()} for i in images[:3]]
    with httpx.Client(base_url=server, timeout=60) as client:
        status = client.get("/v1/models/fashion-mnist").json()
        assert status == {
            "model_version_status": [
                {"version": v, "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}}
                for v in ("2", "1")
            ]
        }
        assert (
            client.get("/v1/models/fashion-mnist/versions/1").json()["model_version_status"][0]["version"]
            == "1"
        )
        metadata = client.get("/v1/models/fashion-mnist/metadata").json()
        assert metadata["model_spec"] == {"name": "fashion-mnist", "signature_name": "", "version": "2"}
        signature = metadata["metadata"]["signature_def"]["signature_def"]["serving_default"]
        assert signature["inputs"]["image"]["dtype"] == "DT_FLOAT"
        assert signature["method_name"] == "tensorflow/serving/predict"
        bodies = [
            {"instances": pixels},  # row format, one tensor per image
            {"signature_name": "serving_default", "instances": [{"image": p} for p in pixels]},  # named input
            {"instances": b64},  # binary values, as {"b64": ...}
            {"instances": [{"image_bytes": v} for v in b64]},
            {"inputs": pixels},  # columnar format
            {"inputs": {"image_bytes": b64}},
        ]
        for body in bodies:
            response = client.post("/v1/models/fashion-mnist:predict", json=body)
            assert response.status_code == 200, (body.keys(), response.text)
            answer = response.json()
            ids = (
                [p["class_id"] for p in answer["predictions"]]
                if "predictions" in answer
                else answer["outputs"]["class_id"]
            )
            assert ids == native[:3]
        row = client.post("/v1/models/fashion-mnist/versions/1:predict", json={"instances": b64[:1]}).json()
        assert set(row["predictions"][0]) == {
            "probabilities",
            "class_id",
            "label",
            "is_garment",
            "garment_score",
            "reason",
        }
        assert (row["predictions"][0]["is_garment"], row["predictions"][0]["garment_score"]) == (True, None)
        for body, status in [
            ({"instances": [[0.5, 0.5]]}, 400),
            ({"instances": b64, "inputs": b64}, 400),
            ({"signature_name": "other", "instances": b64}, 400),
            ({"instances": [{"b64": "not base64!"}]}, 400),
            ({"instances": [{"b64": base64.b64encode(b"not an image").decode()}]}, 400),
        ]:
            response = client.post("/v1/models/fashion-mnist:predict", json=body)
            assert response.status_code == status and set(response.json()) == {"error"}, response.text
        missing = client.post("/v1/models/nope:predict", json={"instances": pixels})
        assert missing.status_code == 404 and "not served" in missing.json()["error"]


def infer(
    client: httpx.Client, body: object, path: str = "/v2/models/fashion-mnist/infer", **kwargs
) -> httpx.Response:
    return client.post(path, content=json.dumps(body).encode(), **kwargs)


def test_v2_errors_are_error_objects_and_never_5xx(server: str, images: np.ndarray) -> None:
    fp32 = {
        "name": "image",
        "datatype": "FP32",
        "shape": [1, 28, 28, 1],
        "data": tensors(images[:1]).ravel().tolist(),
    }
    cases = [
        (b"{not json", 400, "not valid JSON"),
        ({"inputs": []}, 400, "exactly one input"),
        ({"inputs": [{**fp32, "shape": [1, 28, 28]}]}, 400, "the model takes [N, 28, 28, 1]"),
        ({"inputs": [{**fp32, "data": [2.0] * 784}]}, 400, "in [0, 1]"),
        ({"inputs": [{**fp32, "name": "pixels"}]}, 400, "input 'pixels' of type 'FP32'"),
        ({"inputs": [fp32], "outputs": [{"name": "logits"}]}, 400, "has no output 'logits'"),
        (
            {
                "inputs": [
                    {"name": "image_bytes", "datatype": "BYTES", "shape": [1], "data": ["bm90IGFuIGltYWdl"]}
                ]
            },
            400,
            "image 0:",
        ),
        ({"inputs": [{**fp32, "shape": [65, 28, 28, 1], "data": [0.0] * 784 * 65}]}, 413, "the limit is 64"),
    ]
    with httpx.Client(base_url=server, timeout=60) as client:
        for body, status, message in cases:
            response = client.post(
                "/v2/models/fashion-mnist/infer",
                content=body if isinstance(body, bytes) else json.dumps(body),
            )
            assert response.status_code == status, (
                body if isinstance(body, bytes) else str(body)[:200],
                response.text,
            )
            assert message in response.json()["error"]
        assert client.post("/v2/models/nope/infer", content=json.dumps({"inputs": [fp32]})).status_code == 404
        assert client.get("/v2/models/fashion-mnist/versions/x").status_code == 404
        too_big = client.post("/v2/models/fashion-mnist/infer", content=b"x" * (64 * 1024 * 1024 + 1))
        assert too_big.status_code == 413 and "the limit is" in too_big.json()["error"]
        # No Content-Type at all (the Triton client sends none) and a JSON one both work.
        plain = httpx.Request(
            "POST", f"{server}/v2/models/fashion-mnist/infer", content=json.dumps({"inputs": [fp32]})
        )
        plain.headers.pop("content-type", None)
        assert "content-type" not in plain.headers and client.send(plain).status_code == 200
        assert client.get("/v2/health/ready").json() == {"ready": True}
        assert client.get("/v2/health/live").json() == {"live": True}


def test_native_routes_by_model_name(server: str, images: np.ndarray, native: list[int]) -> None:
    files = {"file": ("x.png", image_bytes(images[0]), "image/png")}
    with httpx.Client(base_url=server, timeout=60) as client:
        answer = client.post("/models/fashion-mnist/versions/1/predict", files=files).json()
        assert answer["model"] == {"name": "fashion-mnist", "version": 1}
        open_set = client.post("/models/open-set/predict", files=files).json()
        assert (
            open_set["model"] == {"name": "open-set", "version": 1} and open_set["garment_score"] is not None
        )
        assert client.post("/models/nope/predict", files=files).status_code == 404
        info = client.get("/model-info").json()
        assert [m["name"] for m in info["models"]] == ["fashion-mnist", "open-set"]
        assert info["models"][1]["versions"][0]["open_set"]["threshold"] > 0
