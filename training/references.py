"""`python -m training add-references <version dir>`: record reference inputs in an older version.

Versions exported before reference inputs existed (models/fashion-mnist/1 and 2) lack the
`references` field the service now requires. This runs the version's own model.tflite under LiteRT,
as the service does (no TensorFlow), on the same images export records (the first validation images
of the version's seeded split) and adds their outputs to metadata.json. Nothing else is recomputed;
metadata.json is not among the hashed artifacts, so the recorded sha256s stay valid.
"""

from __future__ import annotations

import json
from pathlib import Path

from app.model import Classifier, load_classifier
from app.model_version import (
    METADATA_FILE,
    REFERENCE_COUNT,
    ModelMetadata,
    make_references,
    read_verified_model,
)
from app.preprocessing import prepare_batch
from training.data import load_fashion_mnist, train_val_split


def add_references(directory: Path, data_dir: str | None = None, count: int = REFERENCE_COUNT) -> None:
    """Write `references` into directory/metadata.json, then load the version as the service would."""
    path = directory / METADATA_FILE
    raw = json.loads(path.read_text(encoding="utf-8"))
    if "references" in raw:
        raise SystemExit(f"{path} already has reference inputs; export records them, nothing to add")
    config = raw["training"]["config"]
    data = load_fashion_mnist(data_dir)
    _, val_idx = train_val_split(len(data.x_train), config["val_size"], config["seed"])
    images = data.x_train[val_idx[:count]]
    # Everything but the references, to verify the artifacts and run the model.
    provisional = ModelMetadata.model_construct(**raw)
    classifier = Classifier(directory, provisional, read_verified_model(directory, provisional))
    references = make_references(
        images,
        classifier.predict(prepare_batch(images)),
        f"the first {len(images)} validation images (seed {config['seed']} split); added by "
        f"`python -m training add-references {directory}`",
    )
    raw["references"] = references.model_dump()
    path.write_text(json.dumps(raw, indent=1), encoding="utf-8")
    load_classifier(directory)
    print(f"{path}: {len(images)} reference inputs recorded; the version loads")
