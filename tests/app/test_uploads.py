"""Hostile and odd uploads through the API: a JSON 4xx for every client mistake, never a 5xx."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from app.config import Settings
from app.main import create_app
from tests import odd_files
from tests.helpers import image_bytes
from training.data import FashionMNIST
from training.shop_photos import photo_rng, shop_photo


def upload(
    client: TestClient, name: str, data: bytes, media_type: str = "application/octet-stream", **params: str
):
    return client.post("/predict", params=params, files={"file": (name, data, media_type)})


def assert_json_error(response, status: int) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert isinstance(response.json()["detail"], str | list) and response.json()["detail"]


@pytest.mark.parametrize("name", odd_files.UNUSUAL)
def test_unusual_but_valid_images_are_200(client: TestClient, name: str) -> None:
    response = upload(client, name, odd_files.UNUSUAL[name]())
    assert response.status_code == 200, response.text
    assert response.json()["preprocess"] in ("raw", "photo")


@pytest.mark.parametrize("name", odd_files.NOT_IMAGES)
def test_non_images_are_400(client: TestClient, name: str) -> None:
    assert_json_error(upload(client, name, odd_files.NOT_IMAGES[name](), "image/png"), 400)


@pytest.mark.parametrize("name", odd_files.BROKEN)
def test_truncated_and_corrupt_images_are_400(client: TestClient, name: str) -> None:
    assert_json_error(upload(client, name, odd_files.BROKEN[name]()), 400)


def test_empty_file_is_400(client: TestClient) -> None:
    assert_json_error(upload(client, "empty.png", b"", "image/png"), 400)


@pytest.mark.parametrize("name", odd_files.BOMBS)
def test_decompression_bombs_are_413(client: TestClient, name: str) -> None:
    response = upload(client, name, odd_files.BOMBS[name]())
    assert_json_error(response, 413)
    assert "limit is" in response.json()["detail"]


def test_png_sent_as_text_is_still_an_image(client: TestClient) -> None:
    response = upload(client, "notes.txt", odd_files.webp(), "text/plain")
    assert response.status_code == 200
    response = upload(client, "boot.png", odd_files.cmyk_jpeg(), "image/png")  # a JPEG named .png
    assert response.status_code == 200


def test_text_sent_as_png_is_400(client: TestClient) -> None:
    assert_json_error(upload(client, "boot.png", b"GIF89a but really just text", "image/png"), 400)


def test_wrong_field_name_is_422(client: TestClient) -> None:
    response = client.post("/predict", files={"image": ("x.png", odd_files.bmp(), "image/bmp")})
    assert_json_error(response, 422)


def test_empty_body_is_422(client: TestClient) -> None:
    assert_json_error(client.post("/predict"), 422)
    assert_json_error(
        client.post("/predict", headers={"content-type": "multipart/form-data; boundary=x"}), 422
    )


def test_json_body_is_422(client: TestClient) -> None:
    assert_json_error(client.post("/predict", json={"file": base64.b64encode(odd_files.bmp()).decode()}), 422)


def test_form_without_a_file_is_422(client: TestClient) -> None:
    assert_json_error(client.post("/predict", data={"file": "boot.png"}), 422)
    assert_json_error(client.post("/predict", data={"note": "no file here"}), 422)


def test_unknown_preprocess_is_422(client: TestClient) -> None:
    assert_json_error(upload(client, "x.bmp", odd_files.bmp(), preprocess="magic"), 422)


def test_response_says_which_preparation_was_used(client: TestClient, dataset) -> None:
    native = image_bytes(dataset.x_test[0])
    photo = shop_photo(dataset.x_test[0], photo_rng(0, 0))
    assert upload(client, "a.png", native).json()["preprocess"] == "raw"
    assert upload(client, photo.filename, photo.data).json()["preprocess"] == "photo"
    assert upload(client, "a.png", native, preprocess="photo").json()["preprocess"] == "photo"
    assert upload(client, photo.filename, photo.data, preprocess="raw").json()["preprocess"] == "raw"


def test_return_input_shows_the_converted_photo(client: TestClient, dataset) -> None:
    photo = shop_photo(dataset.x_test[7], photo_rng(0, 7))
    body = upload(client, photo.filename, photo.data, return_input="true").json()
    seen = np.asarray(Image.open(io.BytesIO(base64.b64decode(body["input_png"]))))
    assert seen.shape == (28, 28) and np.abs(seen.astype(int) - dataset.x_test[7]).mean() < 15


def test_batch_gives_each_bad_file_its_own_status(client: TestClient) -> None:
    files = [
        ("files", ("ok.webp", odd_files.webp(), "image/webp")),
        ("files", ("bomb.gif", odd_files.gif_bomb(), "image/gif")),
        ("files", ("page.html", odd_files.HTML, "text/html")),
        ("files", ("cmyk.jpg", odd_files.cmyk_jpeg(), "image/jpeg")),
    ]
    response = client.post("/predict/batch", files=files)
    assert response.status_code == 200
    assert [r["status_code"] for r in response.json()["results"]] == [200, 413, 400, 200]


def test_server_is_healthy_after_hostile_uploads(client: TestClient) -> None:
    for group in (odd_files.NOT_IMAGES, odd_files.BROKEN, odd_files.BOMBS):
        for name, make in group.items():
            assert upload(client, name, make()).status_code < 500
    assert client.get("/health").json()["status"] == "ok"
    assert upload(client, "ok.bmp", odd_files.bmp()).status_code == 200


def test_batch_limit_applies_under_a_root_path() -> None:
    """Behind a prefix (uvicorn --root-path) /predict/batch keeps its own, larger body limit."""
    app = create_app(Settings(max_upload_bytes=1000))
    with TestClient(app, root_path="/api") as prefixed:
        response = prefixed.post("/api/predict/batch", files=[("files", ("a.bin", b"\0" * 5000))])
        assert response.status_code == 200 and response.json()["results"][0]["status_code"] == 400
        assert prefixed.post("/api/predict", files={"file": ("a.bin", b"\0" * 5000)}).status_code == 413


# ---- the second door: the image as the whole body -------------------------------------------------


def test_raw_body_answers_as_the_multipart_upload(client: TestClient, dataset: FashionMNIST) -> None:
    sample = dataset.x_test[0]
    png = image_bytes(sample)
    multipart = upload(client, "boot.png", png, "image/png").json()
    for path in ("/predict", "/models/fashion-mnist/predict"):
        raw = client.post(path, content=png, headers={"Content-Type": "image/png"})
        assert raw.status_code == 200, raw.text
        assert raw.json() == multipart
    jpeg = image_bytes(np.stack([255 - sample] * 3, axis=-1), "JPEG", quality=95)
    raw = client.post("/predict", content=jpeg, headers={"Content-Type": "image/jpeg; charset=binary"})
    assert raw.status_code == 200 and raw.json()["preprocess"] == "photo"


def test_raw_body_keeps_every_check(client: TestClient) -> None:
    assert_json_error(
        client.post("/predict", content=b"not a png", headers={"Content-Type": "image/png"}), 400
    )
    assert_json_error(client.post("/predict", content=b"", headers={"Content-Type": "image/png"}), 400)
    bomb = next(iter(odd_files.BOMBS.values()))()
    assert_json_error(client.post("/predict", content=bomb, headers={"Content-Type": "image/png"}), 413)
    # a body that is not declared an image is not taken for one: the form's field is missing
    png = odd_files.webp()
    assert_json_error(client.post("/predict", content=png, headers={"Content-Type": "text/plain"}), 422)
    assert_json_error(client.post("/predict", content=png), 422)


def test_raw_body_has_the_body_limit() -> None:
    with TestClient(create_app(Settings(max_upload_bytes=1000))) as small:
        response = small.post("/predict", content=b"\0" * 5000, headers={"Content-Type": "image/png"})
        assert_json_error(response, 413)
