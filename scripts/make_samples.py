"""Write the demo page's sample images: the first Fashion-MNIST test image of six classes.

    .venv/bin/python scripts/make_samples.py    # -> app/static/samples/*.png + samples.json

Each sample is the 28x28 test image exactly as stored (light garment on black), so the demo
shows the model on data it was evaluated on; the data set is read locally, never downloaded.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from PIL import Image

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))  # run as a plain script from any directory

from app.preprocessing import LABELS  # noqa: E402
from training.data import load_fashion_mnist  # noqa: E402

SAMPLE_DIR = REPO_ROOT / "app" / "static" / "samples"
SAMPLE_CLASSES = (0, 1, 3, 5, 8, 9)  # T-shirt/top, Trouser, Dress, Sandal, Bag, Ankle boot


def slug(label: str) -> str:
    return label.lower().replace("/", "-").replace(" ", "-")


def main() -> None:
    data = load_fashion_mnist(download=False)
    SAMPLE_DIR.mkdir(parents=True, exist_ok=True)
    manifest = []
    for class_id in SAMPLE_CLASSES:
        index = int((data.y_test == class_id).nonzero()[0][0])
        name = f"{slug(LABELS[class_id])}.png"
        Image.fromarray(data.x_test[index]).save(SAMPLE_DIR / name, optimize=True)
        manifest.append({"file": name, "label": LABELS[class_id], "test_index": index})
    (SAMPLE_DIR / "samples.json").write_text(json.dumps(manifest, indent=1) + "\n")
    print(f"wrote {len(manifest)} samples to {SAMPLE_DIR}")


if __name__ == "__main__":
    main()
