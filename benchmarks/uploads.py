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
from app.oip import BYTES_INPUT, FP32_INPUT, HEADER_LENGTH, encode_bytes
from app.preprocessing import prepare_batch
from training.data import FILES, SHA256, find_data_dir, read_idx

BATCH = 64  # images per /predict/batch request
V2_PATH = "/v2/models/fashion-mnist/infer"  # the ceiling serves the same path
SHOP_PHOTO_SIZE = 500


@dataclass(frozen=True)
class Upload:
    """A prepared request body on disk, for wrk and for the first checked request."""

    name: str
    path: str  # URL path
    body_file: Path
    content_type: str
    files: int  # images per request
    headers: tuple[tuple[str, str], ...] = ()  # more request headers (the v2 binary extension's)


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
    directory: Path,
    name: str,
    path: str,
    body: bytes,
    content_type: str,
    files: int = 1,
    headers: tuple[tuple[str, str], ...] = (),
) -> Upload:
    body_file = directory / f"{name}.body"
    body_file.write_bytes(body)
    return Upload(name, path, body_file, content_type, files, headers)


def v2_binary_request(input_name: str, datatype: str, shape: list[int], data: bytes) -> tuple[bytes, str]:
    """An Open Inference Protocol request with one binary input, as tritonclient sends it by default:
    a JSON header, then the tensor's bytes; returns the body and its Inference-Header-Content-Length."""
    header = {
        "inputs": [
            {
                "name": input_name,
                "datatype": datatype,
                "shape": shape,
                "parameters": {"binary_data_size": len(data)},
            }
        ]
    }
    head = json.dumps(header).encode()
    return head + data, str(len(head))


def v2_uploads(directory: Path, image: np.ndarray, path: str) -> dict[str, Upload]:
    """The image as a v2 infer request: a binary FP32 [1, 28, 28, 1] tensor, and its PNG as binary BYTES."""
    tensor = prepare_batch(image[None]).astype("<f4").tobytes()
    png = encode_png(image)
    bodies = {
        "v2_fp32": v2_binary_request(FP32_INPUT, "FP32", [1, 28, 28, 1], tensor),
        "v2_png": v2_binary_request(BYTES_INPUT, "BYTES", [1], encode_bytes([png])),
    }
    return {
        name: write_upload(
            directory,
            name,
            path,
            body,
            "application/octet-stream",
            1,
            ((HEADER_LENGTH, length),),
        )
        for name, (body, length) in bodies.items()
    }


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
    # The service's second door: /predict with the PNG as the body.
    result["png_body"] = write_upload(directory, "png_body", "/predict", encode_png(images[0]), "image/png")
    result |= v2_uploads(directory, images[0], V2_PATH)
    return result


def base64_text(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
