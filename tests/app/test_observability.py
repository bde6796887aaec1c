"""Metrics, request ids and JSON request logs: the real app in-process, and real uvicorn servers."""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from prometheus_client.mmap_dict import MmapedDict
from prometheus_client.parser import text_string_to_metric_families

from app.config import Settings
from app.logs import configure_logging
from app.main import create_app
from tests.helpers import image_bytes, running_server


def metric(text: str, name: str, /, **labels: str) -> float:
    """Sum of the samples called `name` whose labels include `labels` (0 when there are none)."""
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items())
    )


def upload(pixels, name: str = "x.png") -> dict:
    return {"file": (name, image_bytes(pixels), "image/png")}


def test_metrics_count_requests_by_route_template_status_and_class(client: TestClient, dataset) -> None:
    before = client.get("/metrics").text
    answers = [client.post("/predict", files=upload(dataset.x_test[i])).json() for i in range(3)]
    assert client.post("/predict", files={"file": ("x.png", b"not an image", "image/png")}).status_code == 400
    assert client.get("/model-report/confusion_matrix.png").status_code == 200
    assert client.get("/model-report/no-such-figure.png").status_code == 404
    assert client.get("/no/such/page/12345").status_code == 404
    response = client.get("/metrics")
    after = response.text

    assert response.headers["content-type"].startswith("text/plain")

    def delta(name: str, /, **labels: str) -> float:
        return metric(after, name, **labels) - metric(before, name, **labels)

    assert delta("http_requests_total", route="/predict", method="POST", status="200") == 3
    assert delta("http_requests_total", route="/predict", method="POST", status="400") == 1
    assert delta("http_request_duration_seconds_count", route="/predict", status="200") == 3
    assert delta("http_requests_total", route="/model-report/{name}", status="200") == 1
    assert delta("http_requests_total", route="/model-report/{name}", status="404") == 1
    assert delta("http_requests_total", route="<unmatched>", status="404") == 1
    assert "no-such" not in after and "confusion_matrix" not in after  # templates, never raw URLs
    assert delta("http_request_body_bytes_count", route="/predict") == 4
    assert delta("http_request_body_bytes_sum", route="/predict") > sum(
        len(image_bytes(dataset.x_test[i])) for i in range(3)
    )
    for label in {a["label"] for a in answers}:
        assert delta("classifier_predictions_total", label=label) == sum(a["label"] == label for a in answers)
    assert delta("classifier_preprocess_total", mode="raw") == 3
    assert delta("classifier_errors_total", route="/predict", kind="bad_request") == 1
    assert delta("classifier_errors_total", route="/model-report/{name}", kind="not_found") == 1
    served = str(answers[0]["model"]["version"])
    assert metric(after, "classifier_model_info", name="fashion-mnist", version=served) == 1


def test_batch_counts_each_file_and_each_refused_file(client: TestClient, dataset) -> None:
    before = client.get("/metrics").text
    files = [
        ("files", ("a.png", image_bytes(dataset.x_test[0]), "image/png")),
        ("files", ("b.txt", b"hello", "text/plain")),
        ("files", ("c.png", image_bytes(dataset.x_test[1]), "image/png")),
    ]
    results = client.post("/predict/batch", files=files).json()["results"]
    after = client.get("/metrics").text
    total = metric(after, "classifier_predictions_total") - metric(before, "classifier_predictions_total")
    assert total == sum(r["prediction"] is not None for r in results) == 2
    assert (
        metric(after, "classifier_errors_total", route="/predict/batch", kind="bad_request")
        - metric(before, "classifier_errors_total", route="/predict/batch", kind="bad_request")
        == 1
    )


def test_body_limit_rejection_is_counted_under_its_route() -> None:
    with TestClient(create_app(Settings(max_upload_bytes=1000))) as small:
        before = small.get("/metrics").text
        response = small.post("/predict", files={"file": ("x.png", bytes(5000), "image/png")})
        after = small.get("/metrics").text
    assert response.status_code == 413
    labels = {"route": "/predict", "status": "413"}
    assert (
        metric(after, "http_requests_total", **labels) - metric(before, "http_requests_total", **labels) == 1
    )
    kind = {"route": "/predict", "kind": "too_large"}
    assert (
        metric(after, "classifier_errors_total", **kind) - metric(before, "classifier_errors_total", **kind)
        == 1
    )


def test_request_id_is_returned_or_generated(client: TestClient) -> None:
    given = client.get("/health", headers={"X-Request-ID": "trace-0f3a:42"})
    assert given.headers["x-request-id"] == "trace-0f3a:42"
    generated = client.get("/health").headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", generated)
    assert client.get("/health").headers["x-request-id"] != generated
    hostile = client.get("/health", headers={"X-Request-ID": "a" * 500}).headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", hostile)  # too long to log or echo: replaced
    error = client.post(
        "/predict", files={"file": ("x.png", b"junk", "image/png")}, headers={"X-Request-ID": "e1"}
    )
    assert error.status_code == 400 and error.headers["x-request-id"] == "e1"


@pytest.fixture
def restore_log_level() -> Iterator[None]:
    level = logging.getLogger("app").level
    yield
    configure_logging(logging.getLevelName(level))


def test_log_level_comes_from_settings(restore_log_level: None) -> None:
    create_app(Settings(log_level="WARNING"))
    assert not logging.getLogger("app.access").isEnabledFor(logging.INFO)
    assert logging.getLogger("app.access").isEnabledFor(logging.ERROR)
    create_app(Settings(log_level="debug"))
    assert logging.getLogger("app.access").isEnabledFor(logging.DEBUG)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """One real uvicorn worker, its output captured in a file."""
    log = tmp_path_factory.mktemp("server") / "server.log"
    with running_server(log=log, env={"LOG_LEVEL": "INFO"}) as url:
        yield url, log


def log_lines(log: Path, request_id: str, timeout: float = 10) -> list[dict]:
    """The JSON request-log lines of one request id (the line is written just after the answer)."""
    deadline = time.monotonic() + timeout
    while True:
        lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
        found = [line for line in lines if line.get("request_id") == request_id]
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def test_each_request_writes_one_json_log_line_without_image_bytes(served, dataset) -> None:
    url, log = served
    png = image_bytes(dataset.x_test[0])
    response = httpx.post(
        f"{url}/predict",
        params={"return_input": "true"},
        files={"file": ("boot.png", png, "image/png")},
        headers={"X-Request-ID": "log-test-predict"},
    )
    assert response.status_code == 200 and response.headers["x-request-id"] == "log-test-predict"
    body = response.json()

    (line,) = log_lines(log, "log-test-predict")
    assert line["logger"] == "app.access" and line["level"] == "INFO"
    assert line["method"] == "POST" and line["route"] == "/predict" and line["status"] == 200
    assert 0 < line["duration_ms"] < 60_000
    assert line["bytes_in"] > len(png)
    assert (line["class_id"], line["label"], line["preprocess"]) == (body["class_id"], body["label"], "raw")
    text = log.read_text()
    assert body["input_png"][:40] not in text and "iVBOR" not in text  # no PNG, as base64 or otherwise
    assert "boot.png" not in text

    missing = httpx.get(f"{url}/nowhere", headers={"X-Request-ID": "log-test-404"})
    assert missing.status_code == 404
    (line,) = log_lines(log, "log-test-404")
    assert line["route"] == "<unmatched>" and line["status"] == 404 and "label" not in line

    generated = httpx.get(f"{url}/health").headers["x-request-id"]
    assert len(log_lines(log, generated)) == 1


def test_metrics_add_up_across_uvicorn_workers(tmp_path: Path, dataset) -> None:
    multiproc_dir = tmp_path / "prometheus"
    multiproc_dir.mkdir()
    png = image_bytes(dataset.x_test[0])
    env = {"PROMETHEUS_MULTIPROC_DIR": str(multiproc_dir)}
    with running_server("--workers", "2", env=env, log=tmp_path / "server.log") as url:

        def predict(_: int) -> int:
            # A new connection each time, so that either worker may accept it.
            return httpx.post(f"{url}/predict", files={"file": ("x.png", png, "image/png")}).status_code

        def workers_that_predicted() -> set[str]:
            """Pids whose own metrics file counts /predict requests (each worker writes its own)."""
            return {
                path.stem.rsplit("_", 1)[-1]
                for path in multiproc_dir.glob("counter_*.db")
                for key, value, *_ in MmapedDict.read_all_values_from_file(str(path))
                if value and '"route": "/predict"' in key and "http_requests_total" in key
            }

        sent = 0
        with ThreadPoolExecutor(8) as pool:
            while len(workers_that_predicted()) < 2 and sent < 800:
                assert set(pool.map(predict, range(16))) == {200}
                sent += 16
        assert len(workers_that_predicted()) == 2, f"one worker answered all {sent} requests"

        for _ in range(4):  # each scrape may land on either worker; each must show the sum
            text = httpx.get(f"{url}/metrics").text
            assert metric(text, "http_requests_total", route="/predict", status="200") == sent
            assert metric(text, "http_request_duration_seconds_count", route="/predict") == sent
            assert metric(text, "classifier_predictions_total") == sent
            assert metric(text, "classifier_model_info", name="fashion-mnist") >= 1
