"""New versions without a restart, under load: 32 connections post to /predict and to v2 infer while
versions are copied in (a good one, then a corrupt one) and removed; no request fails."""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np
import pytest

from app.config import REPO_ROOT
from app.model_version import TFLITE_FILE
from tests.app.test_observability import metric
from tests.helpers import image_bytes, running_server

POLL_S = 2.0
CONNECTIONS = 32
SHIPPED = REPO_ROOT / "models" / "fashion-mnist"


@dataclass
class Answer:
    started: float  # time.monotonic() when the request was sent
    done: float  # ... and when the answer arrived
    route: str
    status: int
    version: int | None
    error: str | None = None


@dataclass
class Load:
    """CONNECTIONS clients, each posting /predict and v2 infer in turn until stopped."""

    url: str
    png: bytes
    tensor: list[float]
    answers: list[Answer] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def client(self) -> None:
        infer = {
            "inputs": [{"name": "image", "datatype": "FP32", "shape": [1, 28, 28, 1], "data": self.tensor}]
        }
        with httpx.Client(base_url=self.url, timeout=30) as client:
            turn = 0
            while not self.stop.is_set():
                turn += 1
                started = time.monotonic()
                try:
                    if turn % 2:
                        response = client.post("/predict", files={"file": ("x.png", self.png, "image/png")})
                        version = response.json()["model"]["version"] if response.status_code == 200 else None
                        route = "/predict"
                    else:
                        response = client.post("/v2/models/fashion-mnist/infer", content=json.dumps(infer))
                        ok = response.status_code == 200
                        version = int(response.json()["model_version"]) if ok else None
                        route = "infer"
                    self.answers.append(
                        Answer(started, time.monotonic(), route, response.status_code, version)
                    )
                except Exception as error:  # a dropped connection is a failure too
                    self.answers.append(Answer(started, time.monotonic(), "?", 0, None, repr(error)))

    def versions_sent_after(self, moment: float) -> set[int | None]:
        """The versions that answered requests sent after `moment` (waits until some have answered)."""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            versions = {a.version for a in list(self.answers) if a.started > moment}
            if versions:
                return versions
            time.sleep(0.05)
        return set()

    def first_answer_from(self, version: int, after: float, timeout: float) -> float | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [a.done for a in list(self.answers) if a.version == version and a.done > after]
            if found:
                return min(found)
            time.sleep(0.05)
        return None


@pytest.mark.slow
def test_versions_come_and_go_under_load_without_a_failed_request(tmp_path: Path, dataset) -> None:
    repository = tmp_path / "repository"
    shutil.copytree(SHIPPED / "1", repository / "fashion-mnist" / "1")
    corrupt = tmp_path / "corrupt" / "3"
    shutil.copytree(SHIPPED / "2", corrupt)
    metadata = json.loads((corrupt / "metadata.json").read_text())
    (corrupt / "metadata.json").write_text(json.dumps({**metadata, "version": 3}))
    model = bytearray((corrupt / TFLITE_FILE).read_bytes())
    model[len(model) // 2] ^= 0xFF
    (corrupt / TFLITE_FILE).write_bytes(bytes(model))

    env = {"MODEL_REPOSITORY": str(repository), "MODEL_POLL_SECONDS": str(POLL_S), "LOG_LEVEL": "INFO"}
    log = tmp_path / "server.log"
    tensor = (dataset.x_test[0].astype(np.float32) / 255).ravel().tolist()
    with running_server("--no-access-log", env=env, log=log) as url:
        load = Load(url, image_bytes(dataset.x_test[0]), tensor)
        threads = [threading.Thread(target=load.client, daemon=True) for _ in range(CONNECTIONS)]
        for thread in threads:
            thread.start()
        try:
            assert load.first_answer_from(1, 0, timeout=60) is not None  # the clients are under way
            assert load.versions_sent_after(0) == {1}

            # A good version, copied in with a plain `cp -r`, is answering within two polls.
            subprocess.run(
                ["cp", "-r", str(SHIPPED / "2"), str(repository / "fashion-mnist" / "2")], check=True
            )
            copied = time.monotonic()
            first = load.first_answer_from(2, copied, timeout=4 * POLL_S)
            assert first is not None and first - copied <= 2 * POLL_S, (
                f"v2 answered after {first and first - copied}"
            )
            assert load.versions_sent_after(time.monotonic()) == {2}

            # A corrupt one never answers; v2 keeps answering; the refusal is visible.
            subprocess.run(["cp", "-r", str(corrupt), str(repository / "fashion-mnist" / "3")], check=True)
            copied = time.monotonic()
            assert load.first_answer_from(3, copied, timeout=3 * POLL_S) is None
            assert {a.version for a in list(load.answers) if a.started > copied} == {2}
            with httpx.Client(base_url=url, timeout=30) as client:
                refused = client.get("/model-info").json()["refused"]
                assert [(r["name"], r["version"]) for r in refused] == [("fashion-mnist", 3)]
                assert "is corrupt" in refused[0]["error"]
                scrape = client.get("/metrics").text
                assert (
                    metric(scrape, "classifier_model_refusals_total", model="fashion-mnist", version="3") == 1
                )

            # A removed version stops answering; the newest remaining good one (1) takes over.
            shutil.rmtree(repository / "fashion-mnist" / "2")
            removed = time.monotonic()
            assert load.first_answer_from(1, removed, timeout=4 * POLL_S) is not None
            assert load.versions_sent_after(time.monotonic()) == {1}
            with httpx.Client(base_url=url, timeout=30) as client:
                assert client.get("/v2/models/fashion-mnist/versions/2/ready").status_code == 404
        finally:
            load.stop.set()
            for thread in threads:
                thread.join(timeout=30)
    failures = [a for a in load.answers if a.status != 200]
    assert len(load.answers) > 200 and not failures, failures[:5]
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    assert any(line["level"] == "ERROR" and "version 3 refused" in line["message"] for line in lines)
