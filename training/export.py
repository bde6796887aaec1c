"""Export a training run as models/<name>/<version>/: calibrated Keras + LiteRT models, metadata, report."""

from __future__ import annotations

import json
import platform
import shutil
import tempfile
import time
import uuid
from importlib.metadata import version as package_version
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from app.model import Classifier, load_classifier, self_check
from app.model_version import (
    KERAS_FILE,
    METADATA_FILE,
    REFERENCE_COUNT,
    TFLITE_FILE,
    ModelMetadata,
    OpenSet,
    list_versions,
    make_references,
    sha256_file,
)
from app.preprocessing import PREPROCESSING, prepare_batch
from training.datasets import get_dataset
from training.evaluate import classification_metrics, fit_temperature, reliability_bins
from training.open_world import evaluate_open_world, tune_threshold
from training.report import write_open_world_section, write_report


@keras.saving.register_keras_serializable(package="fashion_mnist")
class HorizontalFlip(keras.layers.Layer):
    """Mirror images left-right (test-time augmentation inside the exported graph)."""

    def call(self, images: keras.KerasTensor) -> keras.KerasTensor:
        return keras.ops.flip(images, axis=2)


def averaged_logits(logits_model: keras.Model, flip_tta: bool) -> keras.Model:
    """(N, 28, 28, 1) -> logits, averaged with the mirrored image's logits when `flip_tta`."""
    inputs = keras.Input(shape=(28, 28, 1), name="image")
    logits = logits_model(inputs, training=False)
    if flip_tta:
        mirrored = logits_model(HorizontalFlip(name="flip")(inputs), training=False)
        logits = keras.layers.Average(name="flip_average")([logits, mirrored])
    return keras.Model(inputs, logits, name="logits")


def calibrated_model(logits_model: keras.Model, temperature: float, name: str) -> keras.Model:
    """(N, 28, 28, 1) -> softmax(logits / T): the served model."""
    inputs = keras.Input(shape=(28, 28, 1), name="image")
    logits = logits_model(inputs, training=False)
    scaled = keras.layers.Rescaling(1.0 / temperature, name="temperature")(logits)
    return keras.Model(inputs, keras.layers.Softmax(name="probabilities")(scaled), name=name)


def choose_flip_tta(
    logits_model: keras.Model, x_val: np.ndarray, y_val: np.ndarray, mode: str = "auto"
) -> tuple[bool, np.ndarray]:
    """Flip averaging on, off, or (auto) only if it raises validation accuracy; the choice and its val logits.

    "off" keeps single-image latency at one pass of the network; averaging costs a second pass. Both
    validation accuracies are measured and printed whatever the mode, so the choice is on record.
    """
    if mode not in ("auto", "on", "off"):
        raise ValueError(f"flip averaging mode {mode!r}: choose auto, on or off")
    batch = prepare_batch(x_val)
    plain = logits_model.predict(batch, batch_size=512, verbose=0)
    flipped = averaged_logits(logits_model, True).predict(batch, batch_size=512, verbose=0)
    plain_acc = float((plain.argmax(1) == y_val).mean())
    flip_acc = float((flipped.argmax(1) == y_val).mean())
    print(f"validation accuracy: plain {plain_acc:.4f}, with flip averaging {flip_acc:.4f}")
    use = flip_acc > plain_acc if mode == "auto" else mode == "on"
    return (True, flipped) if use else (False, plain)


def to_tflite(model: keras.Model) -> bytes:
    """A float32 LiteRT flatbuffer with a dynamic batch dimension (via a SavedModel, Keras 3's route)."""
    with tempfile.TemporaryDirectory() as saved:
        model.export(saved, format="tf_saved_model", verbose=False)
        return bytes(tf.lite.TFLiteConverter.from_saved_model(saved).convert())


def check_conversion(model: keras.Model, classifier: Classifier, images: np.ndarray) -> float:
    """Largest probability difference between Keras and LiteRT on some images; fails loudly if large."""
    expected = model.predict(prepare_batch(images), batch_size=512, verbose=0)
    difference = float(np.abs(classifier.predict(prepare_batch(images)) - expected).max())  # every column
    if not difference < 1e-4:
        raise RuntimeError(f"LiteRT output differs from Keras by {difference}")
    return difference


def class_and_garment_scores(
    classifier: Classifier, pixels: np.ndarray, chunk: int = 256
) -> tuple[np.ndarray, np.ndarray]:
    """uint8 (N, 28, 28) -> the service's class probabilities and garment scores (ones without a detector)."""
    parts = [
        classifier.scores(classifier.predict(prepare_batch(pixels[i : i + chunk])))
        for i in range(0, len(pixels), chunk)
    ]
    probabilities = np.concatenate([p.probabilities for p in parts])
    garment = [p.garment_score for p in parts]
    scores = np.concatenate(garment) if all(g is not None for g in garment) else np.ones(len(pixels))  # type: ignore[arg-type]
    return probabilities, scores


def library_versions() -> dict[str, str]:
    names = ("numpy", "ai-edge-litert", "pillow")
    return {
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        **{n: package_version(n) for n in names},
    }


def is_open_set(logits_model: keras.Model, labels: tuple[str, ...]) -> bool:
    """A model with one output more than there are labels has the "not a known object" class."""
    return int(logits_model.output_shape[-1]) == len(labels) + 1


def open_set_metadata(tuning: dict[str, object], open_world: dict[str, object]) -> dict[str, object]:
    """metadata.json's open_set: the method, the threshold and the headline proxy figures."""
    sets: dict[str, dict[str, object]] = open_world["sets"]  # type: ignore[assignment]
    return {
        "method": "background_class",
        "threshold": tuning["threshold"],
        "score": "garment_score = 1 - p(last output, 'not a known object')",
        "chosen_on": "validation renders: the highest threshold keeping these shares of each garment set",
        "keep_targets": tuning["keep_targets"],
        "test_proxies": {
            name: {k: v for k, v in figures.items() if k in ("kept", "accuracy", "count")}
            for name, figures in sets.items()
        },
        "auroc_test_proxies": open_world["auroc_all_garments_vs_non_garments"],
    }


def export_version(
    run_dir: Path,
    models_root: Path | None,
    data_dir: str | None = None,
    command: str = "",
    flip_tta: str = "auto",
    proxy_count: int = 1000,
) -> Path:
    """Calibrate on validation, convert, evaluate the LiteRT model on validation and test, write a version."""
    run = json.loads((run_dir / "run.json").read_text())
    history = json.loads((run_dir / "history.json").read_text())
    config = run["config"]
    spec = get_dataset(config.get("dataset", "fashion-mnist"))  # runs before --dataset were garments
    models_root = models_root or Path("models") / spec.name
    data = spec.load(data_dir)
    _, val_idx = data.train_val_split(config["val_size"], config["seed"])
    x_val, y_val = data.x_train[val_idx], data.y_train[val_idx]

    logits_model = keras.models.load_model(run_dir / KERAS_FILE, compile=False)  # the optimizer is not needed
    if not spec.mirror_invariant:  # a mirrored digit is another digit, or none
        if flip_tta == "on":
            raise ValueError(f"{spec.name}: a mirrored image changes class; no flip averaging")
        flip_tta = "off"
    use_flip, val_logits = choose_flip_tta(logits_model, x_val, y_val, flip_tta)
    temperature = fit_temperature(val_logits, y_val)
    served = calibrated_model(averaged_logits(logits_model, use_flip), temperature, spec.name)

    models_root.mkdir(parents=True, exist_ok=True)
    tmp = models_root / f".tmp-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        served.save(tmp / KERAS_FILE)
        (tmp / TFLITE_FILE).write_bytes(to_tflite(served))
        # Not yet a version (no hashes, no references): enough metadata to run the model.
        open_set = (
            OpenSet(method="background_class", threshold=0.5)
            if is_open_set(logits_model, spec.labels)
            else None
        )
        provisional = ModelMetadata.model_construct(
            name=spec.name, version=0, labels=list(spec.labels), open_set=open_set
        )
        classifier = Classifier(tmp, provisional, (tmp / TFLITE_FILE).read_bytes())
        self_check(classifier)
        conversion_error = check_conversion(served, classifier, x_val[:512])
        scorer = lambda pixels: class_and_garment_scores(classifier, pixels)  # noqa: E731
        tuning = tune_threshold(scorer, x_val, y_val, proxy_count) if open_set else None
        # The test set is read here once, after every choice (weights, temperature, threshold) is fixed.
        val_probs = classifier.predict_pixels(x_val)
        test_probs = classifier.predict_pixels(data.x_test)
        validation = classification_metrics(val_probs, y_val, spec.labels)
        test = classification_metrics(test_probs, data.y_test, spec.labels)
        open_world = None
        if tuning is not None:
            open_world, test_scores = evaluate_open_world(
                scorer, data.x_test, data.y_test, tuning["threshold"], proxy_count
            )
        versions = list_versions(models_root)
        version = (versions[-1] if versions else 0) + 1
        metadata = {
            "name": spec.name,
            "version": version,
            "labels": list(spec.labels),
            "input": spec.input_spec(),
            "preprocessing": PREPROCESSING,
            "preparation": spec.preparation,
            "output": (
                "float32 (N, 11) softmax(logits / temperature): the 10 classes in class-id order, then"
                " 'not a known object'"
                if open_set
                else "float32 (N, 10) probabilities in class-id order (softmax of logits / temperature)"
            ),
            "metrics": {
                split: {k: m[k] for k in ("accuracy", "loss", "ece", "count")}
                for split, m in (("validation", validation), ("test", test))
            },
            "training": {
                "model": config["model"],
                "command": config["command"],
                "export_command": command,
                "seed": config["seed"],
                "config": config,
                "wall_seconds": run["wall_seconds"],
                "epochs_run": run["epochs_run"],
                "best_val_accuracy_keras": run["best_val_accuracy"],
                "temperature": temperature,
                "flip_tta": use_flip,
                "keras_vs_litert_max_abs_diff": conversion_error,
                "train_images": run["train_images"],
                "val_images": run["val_images"],
                "parameters": int(logits_model.count_params()),
            },
            "data": {
                "name": spec.name,
                "description": spec.source,
                "licence": spec.licence,
                "checksums_sha256_decompressed": data.checksums,
                "source": str(data.source),
            },
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "libraries": library_versions(),
        }
        if tuning is not None and open_world is not None:
            metadata["open_set"] = open_set_metadata(tuning, open_world)
        (tmp / "metrics.json").write_text(
            json.dumps(
                {
                    "validation": validation,
                    "test": test,
                    "reliability_test": reliability_bins(test_probs, data.y_test),
                    **({"open_world": {"tuning": tuning, "test_proxies": open_world}} if tuning else {}),
                },
                indent=1,
            )
        )
        (tmp / "history.json").write_text(json.dumps(history))
        write_report(tmp, metadata, validation, test, history, data.x_test, data.y_test, test_probs)
        if open_world is not None:
            write_open_world_section(tmp, open_world, test_scores)
        metadata["artifacts"] = {name: sha256_file(tmp / name) for name in (KERAS_FILE, TFLITE_FILE)}
        references = x_val[:REFERENCE_COUNT]
        metadata["references"] = make_references(
            references,
            classifier.predict(prepare_batch(references)),
            f"the first {len(references)} validation images (seed {config['seed']} split)",
        ).model_dump()
        ModelMetadata.model_validate(metadata)  # never write a version the service would refuse
        (tmp / METADATA_FILE).write_text(json.dumps(metadata, indent=1))
        load_classifier(tmp)  # and load it exactly as the service will
        target = models_root / str(version)
        tmp.rename(target)  # atomic: a version directory is either complete or absent
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    print(
        f"exported {target}: test accuracy {test['accuracy']:.4f}, ECE {test['ece']:.4f}, T={temperature:.3f}"
    )
    return target
