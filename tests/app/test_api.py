"""The HTTP API with the shipped model: schemas, status codes, errors."""

from __future__ import annotations

import json

import numpy as np
from fastapi.testclient import TestClient

from app.preprocessing import LABELS
from tests.helpers import image_bytes


def post_png(client: TestClient, pixels: np.ndarray, **params: str):
    return client.post("/predict", params=params, files={"file": ("x.png", image_bytes(pixels), "image/png")})


def test_predict_returns_the_documented_shape(client: TestClient, dataset) -> None:
    response = post_png(client, dataset.x_test[0])
    assert response.status_code == 200
    body = response.json()
    assert set(body) >= {"class_id", "label", "confidence", "probabilities", "model", "preprocess"}
    assert len(body["probabilities"]) == 10 and abs(sum(body["probabilities"]) - 1) < 1e-4
    assert body["label"] == LABELS[body["class_id"]]
    assert body["confidence"] == max(body["probabilities"])
    assert body["model"]["name"] == "fashion-mnist" and isinstance(body["model"]["version"], int)
    assert body["class_id"] == dataset.y_test[0] == 9  # an ankle boot


def test_shipped_model_is_right_on_most_test_images(client: TestClient, dataset) -> None:
    hits = sum(
        post_png(client, dataset.x_test[i]).json()["class_id"] == dataset.y_test[i] for i in range(200)
    )
    assert hits >= 180


def test_return_input_gives_the_28x28_png(client: TestClient, dataset) -> None:
    import base64
    import io

    from PIL import Image

    body = post_png(client, dataset.x_test[3], return_input="true").json()
    seen = np.asarray(Image.open(io.BytesIO(base64.b64decode(body["input_png"]))))
    assert np.array_equal(seen, dataset.x_test[3])


def test_health_and_model_info(client: TestClient) -> None:
    health = client.get("/health")
    assert health.status_code == 200 and health.json()["status"] == "ok"
    info = client.get("/model-info").json()
    assert info["labels"] == list(LABELS)
    assert info["input"]["shape"] == [None, 28, 28, 1]
    assert info["metrics"]["test"]["accuracy"] > 0.9
    assert "LiteRT" in info["runtime"] and info["created"]


def test_openapi_documents_the_real_schemas(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    predict = schema["paths"]["/predict"]["post"]["responses"]
    assert predict["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/Prediction")
    assert {"400", "413", "422"} <= set(predict)
    assert "Prediction" in schema["components"]["schemas"]


def test_missing_file_field_is_422(client: TestClient) -> None:
    response = client.post("/predict", files={"image": ("x.png", b"abc", "image/png")})
    assert response.status_code == 422 and "detail" in response.json()


def test_json_body_is_422(client: TestClient) -> None:
    assert (
        client.post(
            "/predict", content=json.dumps({"file": "x"}), headers={"content-type": "application/json"}
        ).status_code
        == 422
    )


def test_not_an_image_is_400(client: TestClient) -> None:
    response = client.post("/predict", files={"file": ("a.png", b"hello, world", "image/png")})
    assert response.status_code == 400 and "not a supported image" in response.json()["detail"]


def test_truncated_png_is_400(client: TestClient, dataset) -> None:
    data = image_bytes(dataset.x_test[0])
    response = client.post("/predict", files={"file": ("a.png", data[: len(data) // 2], "image/png")})
    assert response.status_code == 400


def test_body_over_limit_is_413(client: TestClient) -> None:
    limit = client.app.state.settings.max_upload_bytes
    response = client.post("/predict", files={"file": ("big.png", b"\0" * (limit + 1), "image/png")})
    assert response.status_code == 413 and str(limit) in response.json()["detail"]


def test_batch_keeps_order_and_isolates_bad_files(client: TestClient, dataset) -> None:
    files = [("files", (f"{i}.png", image_bytes(dataset.x_test[i]), "image/png")) for i in range(5)]
    files.insert(2, ("files", ("bad.txt", b"not an image", "text/plain")))
    response = client.post("/predict/batch", files=files)
    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["index"] for r in results] == list(range(6))
    assert results[2]["prediction"] is None and results[2]["status_code"] == 400 and results[2]["error"]
    good = [r for r in results if r["prediction"]]
    singles = [post_png(client, dataset.x_test[i]).json()["probabilities"] for i in range(5)]
    assert [r["filename"] for r in good] == [f"{i}.png" for i in range(5)]
    assert np.allclose([r["prediction"]["probabilities"] for r in good], singles, atol=1e-5)


def test_batch_over_file_limit_is_413(client: TestClient, dataset) -> None:
    limit = client.app.state.settings.max_batch_files
    png = image_bytes(dataset.x_test[0])
    response = client.post("/predict/batch", files=[("files", ("x.png", png, "image/png"))] * (limit + 1))
    assert response.status_code == 413
