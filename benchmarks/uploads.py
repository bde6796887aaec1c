"""What the serving benchmarks send: test images, a shop-style photo, and request bodies on disk for wrk."""

from __future__ import annotations

import base64
import io
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from app.imaging import encode_png
from training.data import FILES, SHA256, find_data_dir, read_idx

BATCH = 64  # images per /predict/batch request
SHOP_PHOTO_SIZE = 500


@dataclass(frozen=True)
class Upload:
    """A prepared request body on disk, for wrk and for the first checked request."""

    name: str
    path: str  # URL path
    body_file: Path
    content_type: str
    files: int  # images per request


def test_images(count: int) -> np.ndarray:
    """The first `count` Fashion-MNIST test images (uint8, N x 28 x 28)."""
    directory = find_data_dir(download=False)
    images, _ = read_idx(directory / FILES["test_images"], SHA256["test_images"])
    return images[:count]


def shop_photo_jpeg(pixels: np.ndarray, size: int = SHOP_PHOTO_SIZE) -> bytes:
    """A test image as a shop photo: upscaled, dark garment on white, warm tint, JPEG."""
    garment = Image.fromarray(pixels).resize((size, size), Image.Resampling.LANCZOS)
    inverted = ImageOps.invert(garment)
    tinted = ImageOps.colorize(inverted, black=(60, 40, 30), white=(250, 247, 240))
    buffer = io.BytesIO()
    tinted.save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def multipart(field_name: str, files: list[tuple[str, bytes, str]]) -> tuple[bytes, str]:
    """A multipart/form-data body with one part per file, all under `field_name`."""
    boundary = "----fashion-mnist-benchmark-boundary"
    chunks = []
    for filename, data, media_type in files:
        head = (
            f"--{boundary}\r\nContent-Disposition: form-data; name={json.dumps(field_name)}; "
            f"filename={json.dumps(filename)}\r\nContent-Type: {media_type}\r\n\r\n"
        )
        chunks += [head.encode(), data, b"\r\n"]
    chunks.append(f"--{boundary}--\r\n".encode())
    return b"".join(chunks), f"multipart/form-data; boundary={boundary}"


def write_upload(
    directory: Path, name: str, path: str, body: bytes, content_type: str, files: int = 1
) -> Upload:
    body_file = directory / f"{name}.body"
    body_file.write_bytes(body)
    return Upload(name, path, body_file, content_type, files)


def make_uploads(directory: Path) -> dict[str, Upload]:
    """The uploads: the 28x28 PNG, the shop-photo JPEG, a batch of 64 PNGs, and the PNG as a raw body."""
    images = test_images(BATCH)
    uploads = {
        "png": ("/predict", "file", [("boot.png", encode_png(images[0]), "image/png")]),
        "jpeg": ("/predict", "file", [("boot.jpg", shop_photo_jpeg(images[0]), "image/jpeg")]),
        "batch": (
            "/predict/batch",
            "files",
            [(f"{i}.png", encode_png(image), "image/png") for i, image in enumerate(images)],
        ),
    }
    result = {}
    for name, (path, field_name, files) in uploads.items():
        body, content_type = multipart(field_name, files)
        result[name] = write_upload(directory, name, path, body, content_type, len(files))
    # The same PNG as the whole body, no multipart (the ceiling's /predict/raw).
    result["png_raw"] = write_upload(directory, "png_raw", "/predict/raw", encode_png(images[0]), "image/png")
    return result


def base64_text(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
