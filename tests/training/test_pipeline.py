"""The training CLI end to end on a small subset: train, export a version, serve it, predict, evaluate."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.main import create_app
from tests.helpers import image_bytes
from training.__main__ import main


@pytest.mark.slow
def test_train_export_serve(tmp_path: Path, dataset, capsys: pytest.CaptureFixture[str]) -> None:
    runs, models = tmp_path / "runs", tmp_path / "models" / "fashion-mnist"
    quick = ["--model", "baseline", "--epochs", "1", "--subset", "3000"]
    main(["train", *quick, "--runs-dir", str(runs), "--export", "--models-root", str(models)])
    version_dir = models / "1"
    names = {p.name for p in version_dir.iterdir()}
    figures = {"confusion_matrix.png", "reliability.png", "learning_curves.png", "samples.png"}
    assert {"model.keras", "model.tflite", "metadata.json", "report.md", *figures} <= names
    assert not [p for p in models.iterdir() if p.name.startswith(".tmp")]
    meta = json.loads((version_dir / "metadata.json").read_text())
    assert meta["version"] == 1 and len(meta["labels"]) == 10
    assert meta["training"]["seed"] == 42 and "--model baseline" in meta["training"]["command"]
    assert meta["metrics"]["test"]["count"] == 10_000 and 0.5 < meta["metrics"]["test"]["accuracy"] <= 1
    assert meta["training"]["keras_vs_litert_max_abs_diff"] < 1e-4
    assert set(meta["artifacts"]) == {"model.keras", "model.tflite"}
    assert len(meta["data"]["checksums_sha256_decompressed"]) == 4

    with TestClient(create_app(Settings(model_dir=models))) as client:
        png = image_bytes(dataset.x_test[0])
        assert (
            client.post("/predict", files={"file": ("x.png", png, "image/png")}).json()["model"]["version"]
            == 1
        )

    capsys.readouterr()
    main(["evaluate", "--models-root", str(models)])
    assert f"accuracy {meta['metrics']['test']['accuracy']:.4f}" in capsys.readouterr().out
    sample = tmp_path / "boot.png"
    sample.write_bytes(image_bytes(dataset.x_test[0]))
    main(["predict", str(sample), "--models-root", str(models)])
    assert "boot.png:" in capsys.readouterr().out

    # The same run again with flip averaging forced into the graph: the next version, twice the passes.
    (run_dir,) = runs.iterdir()
    main(["export", str(run_dir), "--models-root", str(models), "--flip-tta", "on"])
    flipped = json.loads((models / "2" / "metadata.json").read_text())["training"]
    assert flipped["flip_tta"] is True
    assert flipped["export_command"].endswith("--flip-tta on")


@pytest.mark.slow
def test_kfold_cv_writes_scores_and_plots(tmp_path: Path) -> None:
    main(
        ["cv", "--model", "mlp", "--folds", "3", "--epochs", "1", "--subset", "1500", "--out", str(tmp_path)]
    )
    summary = json.loads((tmp_path / "cv-mlp.json").read_text())
    assert len(summary["scores"]) == 3 and 0.3 < summary["mean"] < 1
    assert (tmp_path / "cv-mlp-box.png").is_file() and (tmp_path / "cv-mlp-curves.png").is_file()
