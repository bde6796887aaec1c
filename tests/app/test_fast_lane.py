"""The fast lane answers as the FastAPI routes do, and leaves them all it does not fully understand."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Iterator
from typing import Any

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient

import app.fast_lane as fast_lane
from app.config import Settings
from app.deps import get_app_settings
from app.fast_lane import form_file, match, predict_options
from app.imaging import encode_png
from app.main import create_app
from app.oip import BYTES_INPUT, FP32_INPUT, HEADER_LENGTH, encode_bytes
from app.preprocessing import prepare_batch
from benchmarks.uploads import multipart, shop_photo_jpeg, v2_binary_request
from tests import odd_files
from training.data import FashionMNIST

# ---- what the lane takes --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "template", "name", "version"),
    [
        ("/predict", "/predict", None, None),
        ("/models/mnist/predict", "/models/{name}/predict", "mnist", None),
        (
            "/models/fashion-mnist/versions/04/predict",
            "/models/{name}/versions/{version}/predict",
            "fashion-mnist",
            4,
        ),
        ("/v2/models/fashion-mnist/infer", "/v2/models/{name}/infer", "fashion-mnist", None),
        ("/v2/models/mnist/versions/1/infer", "/v2/models/{name}/versions/{version}/infer", "mnist", 1),
    ],
)
def test_hot_routes_are_matched_with_their_templates(
    path: str, template: str, name: str | None, version: int | None
) -> None:
    target = match(path)
    assert target is not None
    assert (target.route.path_format, target.name, target.version) == (template, name, version)


@pytest.mark.parametrize(
    "path",
    [
        "/predict/batch",
        "/predict/",
        "/models//predict",
        "/models/mnist/versions/one/predict",
        "/models/mnist/versions/-1/predict",
        "/models/mnist/versions/1/predict/batch",
        "/models/a/b/predict",
        "/v2/models/mnist/versions/1/infer/extra",
        "/v2/models//infer",
        "/v2/models/mnist/versions/²/infer",
        "/v1/models/mnist:predict",
        "/health",
    ],
)
def test_other_paths_are_not_matched(path: str) -> None:
    assert match(path) is None


@pytest.mark.parametrize(
    ("query", "options"),
    [
        (b"", ("auto", False)),
        (b"preprocess=photo", ("photo", False)),
        (b"return_input=true&preprocess=raw", ("raw", True)),
        (b"return_input=0", ("auto", False)),
        (b"preprocess=sharpen", None),  # FastAPI's 422
        (b"return_input=maybe", None),
        (b"preprocess=raw&preprocess=photo", None),
        (b"version=3", None),  # the named route reads ?version=
        (b"trace=1", None),
    ],
)
def test_query_strings(query: bytes, options: tuple[str, bool] | None) -> None:
    assert predict_options(query) == options


def httpx_form(files: dict[str, Any], data: dict[str, str] | None = None) -> tuple[bytes, bytes]:
    """A multipart body and Content-Type exactly as httpx (the TestClient's library) writes them."""
    request = httpx.Request("POST", "http://test/predict", files=files, data=data)
    return request.read(), request.headers["content-type"].encode()


def test_one_file_forms_of_real_clients_are_read() -> None:
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4 + b"\r\n--not-the-boundary\r\n"
    body, content_type = httpx_form({"file": ("boot.png", png, "image/png")})
    assert form_file(body, content_type) == png
    body, content_type_text = multipart("file", [("boot.png", png, "image/png")])  # the benchmark's (wrk's)
    assert form_file(body, content_type_text.encode()) == png
    quoted = content_type_text.replace("boundary=", 'boundary="') + '"'
    assert form_file(body, quoted.encode()) == png


@pytest.mark.parametrize(
    "form",
    [
        {"files": {"file": ("a.png", b"png", "image/png"), "other": ("b.png", b"png", "image/png")}},
        {"files": {"file": ("a.png", b"png", "image/png")}, "data": {"note": "x"}},
        {"files": {"image": ("a.png", b"png", "image/png")}},
        {"files": {"file": (None, b"png")}},  # no filename: a text field to FastAPI
    ],
)
def test_other_forms_are_left_to_fastapi(form: dict[str, Any]) -> None:
    body, content_type = httpx_form(**form)
    assert form_file(body, content_type) is None


def test_unusual_part_headers_and_broken_forms_are_left_to_fastapi() -> None:
    body, content_type = httpx_form({"file": ("a.png", b"png", "image/png")})
    head_end = body.index(b"\r\n\r\n")
    with_encoding = body[:head_end] + b"\r\nContent-Transfer-Encoding: base64" + body[head_end:]
    assert form_file(with_encoding, content_type) is None
    assert form_file(body[:-10], content_type) is None  # no closing delimiter
    assert form_file(body + b"epilogue", content_type) is None
    assert form_file(body, b"multipart/form-data") is None  # no boundary
    assert form_file(body, b"multipart/mixed; boundary=x") is None


# ---- the same answers as FastAPI -------------------------------------------------------------


@pytest.fixture(scope="module")
def through_fastapi() -> Iterator[TestClient]:
    """The same app with a dependency overridden (by itself): every request takes the FastAPI routes."""
    service = create_app(Settings())
    service.dependency_overrides[get_app_settings] = get_app_settings
    with TestClient(service) as test_client:
        yield test_client


@pytest.fixture
def lane_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The lane's own classifications, counted (the real functions still do the work)."""
    calls: list[str] = []
    real_classify, real_inference = fast_lane.classify, fast_lane.run_inference

    async def classify(*args: Any, **kwargs: Any) -> Any:
        calls.append("predict")
        return await real_classify(*args, **kwargs)

    async def run_inference(*args: Any, **kwargs: Any) -> Any:
        calls.append("infer")
        return await real_inference(*args, **kwargs)

    monkeypatch.setattr(fast_lane, "classify", classify)
    monkeypatch.setattr(fast_lane, "run_inference", run_inference)
    return calls


def answers(client: TestClient, path: str, **request: Any) -> tuple[int, str, Any, str | None]:
    response = client.post(path, **request)
    body = response.json() if "json" in response.headers["content-type"] else response.content
    return response.status_code, response.headers["content-type"], body, response.headers.get(HEADER_LENGTH)


def test_uploads_get_fastapis_answers(
    client: TestClient, through_fastapi: TestClient, dataset: FashionMNIST, lane_calls: list[str]
) -> None:
    images = dataset.x_test[:12]
    requests: list[tuple[str, dict[str, Any]]] = []
    for i, image in enumerate(images[:8]):
        requests.append(("/predict", {"files": {"file": (f"{i}.png", encode_png(image), "image/png")}}))
    requests += [
        ("/predict", {"files": {"file": ("shop.jpg", shop_photo_jpeg(images[8]), "image/jpeg")}}),
        ("/predict", {"content": encode_png(images[9]), "headers": {"content-type": "image/png"}}),
        (
            "/predict",
            {
                "files": {"file": ("a.png", encode_png(images[10]), "image/png")},
                "params": {"return_input": "true"},
            },
        ),
        (
            "/predict",
            {
                "files": {"file": ("a.png", encode_png(images[11]), "image/png")},
                "params": {"preprocess": "photo"},
            },
        ),
        ("/models/mnist/predict", {"files": {"file": ("a.png", encode_png(images[0]), "image/png")}}),
        (
            "/models/fashion-mnist/versions/2/predict",
            {"files": {"file": ("a.png", encode_png(images[1]), "image/png")}},
        ),
        (
            "/predict",
            {"files": {"file": ("blank.png", encode_png(np.zeros((28, 28), np.uint8)), "image/png")}},
        ),
    ]
    for path, request in requests:
        assert answers(client, path, **request) == answers(through_fastapi, path, **request), (path, request)
    assert lane_calls == ["predict"] * len(requests)


def test_client_mistakes_get_fastapis_answers(
    client: TestClient, through_fastapi: TestClient, lane_calls: list[str]
) -> None:
    mistakes = [
        ("/predict", {"files": {"file": ("empty.png", b"", "image/png")}}),
        ("/predict", {"content": b"not an image", "headers": {"content-type": "image/png"}}),
        *[
            ("/predict", {"files": {"file": (name, make(), "image/png")}})
            for name, make in odd_files.BROKEN.items()
        ],
        *[
            ("/predict", {"files": {"file": (name, make(), "image/png")}})
            for name, make in odd_files.BOMBS.items()
        ],
        ("/v2/models/fashion-mnist/infer", {"content": b"{not json"}),
        ("/v2/models/fashion-mnist/infer", {"json": {"inputs": []}}),
    ]
    for path, request in mistakes:
        status, *rest = answers(client, path, **request)
        assert 400 <= status < 500
        assert (status, *rest) == answers(through_fastapi, path, **request), (path, request)
    assert len(lane_calls) == len(mistakes)


def test_requests_the_lane_leaves_get_fastapis_answers(
    client: TestClient, through_fastapi: TestClient, dataset: FashionMNIST, lane_calls: list[str]
) -> None:
    png = encode_png(dataset.x_test[0])
    left = [
        ("/predict", {"files": {"file": ("a.png", png, "image/png")}, "data": {"note": "extra field"}}),
        ("/predict", {"files": {"file": ("a.png", png, "image/png")}, "params": {"preprocess": "sharpen"}}),
        ("/predict", {"content": png, "headers": {"content-type": "text/plain"}}),
        ("/predict", {"data": {"file": "not a file"}}),
        ("/models/no-such-model/predict", {"files": {"file": ("a.png", png, "image/png")}}),
        ("/models/fashion-mnist/versions/999/predict", {"files": {"file": ("a.png", png, "image/png")}}),
        ("/models/fashion-mnist/versions/two/predict", {"files": {"file": ("a.png", png, "image/png")}}),
        (
            "/models/fashion-mnist/predict",
            {"files": {"file": ("a.png", png, "image/png")}, "params": {"version": "2"}},
        ),
        ("/v2/models/no-such-model/infer", {"json": {}}),
    ]
    for path, request in left:
        assert answers(client, path, **request) == answers(through_fastapi, path, **request), (path, request)
    assert lane_calls == []
    path, request = left[0]
    status, _, body, _ = answers(client, path, **request)
    assert status == 200 and body["preprocess"] == "raw"


def test_v2_requests_get_fastapis_answers(
    client: TestClient, through_fastapi: TestClient, dataset: FashionMNIST, lane_calls: list[str]
) -> None:
    images = dataset.x_test[:3]
    tensor = prepare_batch(images).astype("<f4")
    binary_fp32, fp32_length = v2_binary_request(FP32_INPUT, "FP32", [3, 28, 28, 1], tensor.tobytes())
    pngs = [encode_png(image) for image in images]
    binary_png, png_length = v2_binary_request(BYTES_INPUT, "BYTES", [3], encode_bytes(pngs))
    json_fp32 = {
        "inputs": [
            {
                "name": FP32_INPUT,
                "datatype": "FP32",
                "shape": [1, 28, 28, 1],
                "data": tensor[0].ravel().tolist(),
            }
        ],
        "outputs": [{"name": "probabilities", "parameters": {"classification": 2}}],
    }
    requests = [
        ("/v2/models/fashion-mnist/infer", {"json": json_fp32}),
        ("/v2/models/fashion-mnist/versions/2/infer", {"json": json_fp32}),
        ("/v2/models/fashion-mnist/infer", {"content": binary_fp32, "headers": {HEADER_LENGTH: fp32_length}}),
        ("/v2/models/fashion-mnist/infer", {"content": binary_png, "headers": {HEADER_LENGTH: png_length}}),
    ]
    for path, request in requests:
        assert answers(client, path, **request) == answers(through_fastapi, path, **request), path
    assert lane_calls == ["infer"] * len(requests)


def test_lane_requests_are_counted_under_their_route_templates(
    client: TestClient, dataset: FashionMNIST
) -> None:
    png = encode_png(dataset.x_test[0])

    def count(route: str, status: str) -> float:
        text = client.get("/metrics").text
        needle = f'http_requests_total{{method="POST",route="{route}",status="{status}"}}'
        return next((float(line.split()[-1]) for line in text.splitlines() if line.startswith(needle)), 0.0)

    before = {
        route: count(route, "200") for route in ("/predict", "/models/{name}/versions/{version}/predict")
    }
    bad_before = count("/predict", "400")
    client.post("/predict", files={"file": ("a.png", png, "image/png")})
    client.post("/models/fashion-mnist/versions/2/predict", files={"file": ("a.png", png, "image/png")})
    client.post("/predict", files={"file": ("a.png", b"broken", "image/png")})
    assert count("/predict", "200") == before["/predict"] + 1
    assert (
        count("/models/{name}/versions/{version}/predict", "200")
        == before["/models/{name}/versions/{version}/predict"] + 1
    )
    assert count("/predict", "400") == bad_before + 1


def test_a_body_over_the_limit_is_413_in_the_lane(dataset: FashionMNIST) -> None:
    png = encode_png(dataset.x_test[0])
    with TestClient(create_app(Settings(max_upload_bytes=100, max_batch_upload_bytes=1000))) as small:
        response = small.post("/predict", content=png, headers={"content-type": "image/png"})
        assert response.status_code == 413
        assert "the limit is 100 bytes" in response.json()["detail"]
        response = small.post("/v2/models/fashion-mnist/infer", content=json.dumps({"inputs": [1] * 100_000}))
        assert response.status_code == 413 and "error" in response.json()


def test_the_gil_switch_interval_is_the_setting_while_the_app_runs() -> None:
    before = sys.getswitchinterval()
    with TestClient(create_app(Settings(gil_switch_interval=0.001))):
        assert sys.getswitchinterval() == pytest.approx(0.001)
    assert sys.getswitchinterval() == before


def test_odd_header_and_form_cases_get_fastapis_answers(
    client: TestClient, through_fastapi: TestClient, dataset: FashionMNIST
) -> None:
    png = encode_png(dataset.x_test[0])
    form, form_type = httpx_form({"file": ("a.png", png, "image/png")})
    boundary = form_type.decode().partition("boundary=")[2]
    no_file_chosen, no_file_type = httpx_form({"file": ("", b"", "application/octet-stream")})
    requests = [
        # duplicate headers: the first value counts, as in Starlette
        (
            "/predict",
            {
                "content": png,
                "headers": [("content-type", "image/png"), ("content-type", form_type.decode())],
            },
        ),
        (
            "/predict",
            {
                "content": form,
                "headers": [("content-type", form_type.decode()), ("content-type", "image/png")],
            },
        ),
        ("/predict", {"content": no_file_chosen, "headers": {"content-type": no_file_type.decode()}}),
        (
            "/predict",
            {"content": form, "headers": {"content-type": f'multipart/form-data; boundary={boundary}"'}},
        ),
        (
            "/predict",
            {"content": form, "headers": {"content-type": f'multipart/form-data; boundary="{boundary}'}},
        ),
        (
            "/predict",
            {"content": form, "headers": {"content-type": f'multipart/form-data; boundary="{boundary}"'}},
        ),
        ("/v2/models/fashion-mnist/versions/" + "9" * 5000 + "/infer", {"json": {}}),
        (
            "/models/fashion-mnist/versions/" + "9" * 5000 + "/predict",
            {"files": {"file": ("a.png", png, "image/png")}},
        ),
    ]
    for path, request in requests:
        status, *rest = answers(client, path, **request)
        assert status < 500, (path[:60], request.get("headers"))
        assert (status, *rest) == answers(through_fastapi, path, **request), (
            path[:60],
            request.get("headers"),
        )


def test_a_client_that_leaves_mid_form_meets_fastapis_parser(
    client: TestClient, through_fastapi: TestClient, dataset: FashionMNIST
) -> None:
    body, content_type = httpx_form({"file": ("a.png", encode_png(dataset.x_test[0]), "image/png")})

    async def outcome(service: Any) -> tuple[str, int | None]:
        messages = [
            {"type": "http.request", "body": body[:100], "more_body": True},
            {"type": "http.disconnect"},
        ]
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return messages.pop(0) if messages else {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": "/predict",
            "raw_path": b"/predict",
            "root_path": "",
            "query_string": b"",
            "headers": [(b"content-type", content_type), (b"content-length", str(len(body)).encode())],
            "client": ("127.0.0.1", 1),
            "server": ("testserver", 80),
            "state": {},
        }
        try:
            await service(scope, receive, send)
        except Exception as error:  # what the server would log and answer 500 to
            return type(error).__name__, None
        starts = [m["status"] for m in sent if m["type"] == "http.response.start"]
        return "answered", starts[0] if starts else None

    assert asyncio.run(outcome(client.app)) == asyncio.run(outcome(through_fastapi.app))


def test_every_lane_route_is_a_fastapi_route(client: TestClient) -> None:
    """The lane's templates label metrics and log lines: each must be the path of a real POST route."""
    paths = client.app.openapi()["paths"]
    lane = ("PREDICT", "NAMED_PREDICT", "VERSION_PREDICT", "INFER", "VERSION_INFER")
    for route in (getattr(fast_lane, name) for name in lane):
        assert "post" in paths[route.path_format], route
