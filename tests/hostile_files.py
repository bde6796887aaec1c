"""Uploads made to cost the decoder as much as possible: padded headers, scan bombs, many frames.

Each maker returns the file's bytes; each is a valid image that Pillow would decode, slowly.
"""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
from PIL import Image

from tests.odd_files import garment, png_chunk, png_chunks


def save(image: Image.Image, format: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=format, **options)
    return buffer.getvalue()


def small_jpeg() -> bytes:
    return save(Image.fromarray(garment()), "JPEG", quality=90)


def small_png() -> bytes:
    return save(Image.fromarray(garment()), "PNG")


def padded_jpeg(size: int = 9_500_000, marker_payload: int = 0) -> bytes:
    """A 28x28 JPEG padded to `size` bytes with COM markers (empty by default: the most markers)."""
    data = small_jpeg()
    marker = b"\xff\xfe" + struct.pack(">H", 2 + marker_payload) + b"c" * marker_payload
    return data[:2] + marker * ((size - len(data)) // len(marker)) + data[2:]


def padded_png(size: int = 9_500_000, chunk_payload: int = 0) -> bytes:
    """A 28x28 PNG padded to `size` bytes with ancillary chunks before its pixel data."""
    data = small_png()
    chunk = png_chunk(b"zzZz", b"p" * chunk_payload)
    return data[:33] + chunk * ((size - len(data)) // len(chunk)) + data[33:]


def commented_gif(size: int = 9_500_000) -> bytes:
    """A 28x28 GIF padded to `size` bytes with one-byte comment extensions before its image."""
    data = save(Image.fromarray(garment()).convert("P"), "GIF")
    image_at = data.index(b"\x2c", 13)
    comment = b"\x21\xfe\x01c\x00"
    return data[:image_at] + comment * ((size - len(data)) // len(comment)) + data[image_at:]


def many_frames_gif(frames: int = 2_000) -> bytes:
    """A 28x28 GIF with `frames` frames (tiny ones: the same 1x1 patch again and again)."""
    data = save(Image.fromarray(garment()).convert("P"), "GIF")
    trailer = data.rindex(b"\x3b")
    patch = b"\x2c" + struct.pack("<HHHH", 0, 0, 1, 1) + b"\x00" + b"\x02\x02\x44\x01\x00"
    return data[:trailer] + patch * (frames - 1) + b"\x3b"


def scan_bomb(width: int = 4_000, height: int = 3_000, scans: int = 10_000) -> bytes:
    """A progressive JPEG whose last scan is repeated `scans` times (libjpeg only warns, and decodes each)."""
    data = save(Image.new("L", (width, height), 128), "JPEG", progressive=True, quality=75)
    last_scan = data.rindex(b"\xff\xda")
    end = data.rindex(b"\xff\xd9")
    return data[:end] + data[last_scan:end] * (scans - 1) + data[end:]


def png_16_bit_blank(width: int = 6_000, height: int = 4_000) -> bytes:
    """A 16-bit grayscale PNG of width x height zeros: ~30 KB, and ~0.4 s and 100+ MB to decode."""
    rows = zlib.compress(b"\0" * (2 * width + 1) * height, 9)
    return png_chunks(width, height, bit_depth=16, colour_type=0, idat=rows)


def photo_jpeg(side: int = 600, seed: int = 0) -> bytes:
    """An ordinary shop-style photo upload: the garment in dark brown on off-white, with noise."""
    rng = np.random.default_rng(seed)
    strength = np.asarray(Image.fromarray(garment()).resize((side, side)), np.float32)[..., None] / 255
    photo = np.array([245, 242, 236]) * (1 - strength) + np.array([60, 40, 30]) * strength
    photo += rng.normal(0, 3, photo.shape)
    return save(Image.fromarray(np.clip(photo, 0, 255).astype(np.uint8)), "JPEG", quality=85)
