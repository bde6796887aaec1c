"""Startup verifies the model version and refuses to start when anything is wrong."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.main import create_app
from app.model import ModelLoadError, list_versions


def shipped_root() -> Path:
    return Settings().model_dir


def copy_version(tmp_path: Path, version: int) -> Path:
    root = shipped_root()
    target = tmp_path / "fashion-mnist" / str(version)
    shutil.copytree(root / str(list_versions(root)[-1]), target)
    meta = json.loads((target / "metadata.json").read_text())
    meta["version"] = version
    (target / "metadata.json").write_text(json.dumps(meta))
    return target


def start(model_dir: Path, version: int | None = None) -> TestClient:
    client = TestClient(create_app(Settings(model_dir=model_dir, model_version=version)))
    client.__enter__()
    return client


def test_highest_version_is_served_unless_pinned(tmp_path: Path) -> None:
    copy_version(tmp_path, 1)
    copy_version(tmp_path, 3)
    client = start(tmp_path / "fashion-mnist")
    assert client.get("/health").json()["model"]["version"] == 3
    client.__exit__(None, None, None)
    client = start(tmp_path / "fashion-mnist", version=1)
    assert client.get("/model-info").json()["version"] == 1
    client.__exit__(None, None, None)


def test_corrupt_tflite_refuses_to_start(tmp_path: Path) -> None:
    target = copy_version(tmp_path, 1)
    data = bytearray((target / "model.tflite").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (target / "model.tflite").write_bytes(bytes(data))
    with pytest.raises(ModelLoadError, match="corrupt"):
        start(tmp_path / "fashion-mnist")


def test_missing_artifact_refuses_to_start(tmp_path: Path) -> None:
    target = copy_version(tmp_path, 1)
    (target / "model.keras").unlink()
    with pytest.raises(ModelLoadError, match="missing"):
        start(tmp_path / "fashion-mnist")


def test_no_versions_or_bad_pin_refuses_to_start(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="no model versions"):
        start(tmp_path)
    copy_version(tmp_path, 1)
    with pytest.raises(ModelLoadError, match="pinned model version 7"):
        start(tmp_path / "fashion-mnist", version=7)


def test_service_does_not_import_tensorflow_or_training() -> None:
    import subprocess
    import sys

    code = (
        "import sys, app.main\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras', 'training')]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
