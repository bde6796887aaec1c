"""The training CLI: `python -m training <command> ...`."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

MODELS_ROOT = Path("models/fashion-mnist")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m training", description=__doc__)
    parser.add_argument("--data-dir", help="directory with the four Fashion-MNIST .gz files")
    commands = parser.add_subparsers(dest="command", required=True)

    p = commands.add_parser("train", help="train a zoo model on a seeded train/validation split")
    p.add_argument("--model", default="final")
    p.add_argument("--epochs", type=int)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--subset", type=int, help="train on the first N training images only")
    p.add_argument("--runs-dir", type=Path, default=Path("runs"))
    p.add_argument("--export", action="store_true", help="export the trained run as a new model version")
    p.add_argument("--models-root", type=Path, default=MODELS_ROOT)

    args = parser.parse_args(argv)
    if args.command == "train":
        from training.train import default_config, train

        config = default_config(
            args.model, epochs=args.epochs, batch_size=args.batch_size, seed=args.seed, subset=args.subset
        )
        run_dir = train(config, args.runs_dir, args.data_dir)
        if args.export:
            from training.export import export_version

            export_version(run_dir, args.models_root, args.data_dir)


if __name__ == "__main__":
    main()
