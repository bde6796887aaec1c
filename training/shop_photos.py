"""Shop-style uploads made from Fashion-MNIST images: what the service's photo preparation must handle.

Fashion-MNIST was made from Zalando product photos (trim, longest edge to 28, sharpen, centre,
negate, grayscale). A shop photo here runs that backwards, with what real uploads add: a dark
garment (negated intensities) of a random colour on a light white, grey or coloured background,
a colour cast and a faint light gradient, sensor noise, 200-800 px at any aspect ratio, the
garment anywhere in the frame (not centred), and JPEG (quality 50-95), PNG or WebP encoding;
some are cut-outs on a transparent background (RGBA PNG or WebP). numpy and Pillow only.

Every photo depends only on (seed, index), so a benchmark or test names its photos by a seed.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from PIL import Image

from app.imaging import LUMA  # the same luma the service uses

SIDE_RANGE = (200, 800)  # the photo's longer side, pixels
ASPECT_RANGE = (0.5, 2.0)  # width / height
FILL_RANGE = (0.45, 0.9)  # the garment's share of the photo along its tighter dimension
JPEG_QUALITY_RANGE = (50, 95)
WEBP_QUALITY_RANGE = (60, 95)
TRANSPARENT_SHARE = 0.2  # cut-outs on a transparent background
GRAYSCALE_SHARE = 0.1  # photos saved as 8-bit grayscale
BACKGROUNDS = ("white", "grey", "coloured")
RESAMPLING = (Image.Resampling.BILINEAR, Image.Resampling.BICUBIC, Image.Resampling.LANCZOS)


@dataclass(frozen=True)
class ShopPhoto:
    """One generated upload and how it was made."""

    data: bytes
    format: str  # JPEG, PNG or WEBP
    size: tuple[int, int]  # (width, height)
    background: str  # white, grey, coloured or transparent
    quality: int | None  # JPEG/WebP quality; None when lossless

    @property
    def media_type(self) -> str:
        return f"image/{self.format.lower()}"

    @property
    def filename(self) -> str:
        return f"photo.{ {'JPEG': 'jpg', 'PNG': 'png', 'WEBP': 'webp'}[self.format] }"


def garment_box(pixels: np.ndarray) -> tuple[slice, slice]:
    """Rows and columns of the non-black part of a Fashion-MNIST image (all of it if blank)."""
    rows, cols = np.nonzero(pixels > 0)
    if rows.size == 0:
        return slice(0, pixels.shape[0]), slice(0, pixels.shape[1])
    return slice(rows.min(), rows.max() + 1), slice(cols.min(), cols.max() + 1)


def background_colour(kind: str, rng: np.random.Generator) -> np.ndarray:
    """A light RGB background (0-255 floats) of the given kind."""
    if kind == "white":
        return rng.uniform(243, 255) + rng.uniform(-3, 3, 3)
    if kind == "grey":
        return rng.uniform(175, 235) + rng.uniform(-4, 4, 3)
    pastel = rng.uniform(0, 1, 3)  # a hue, kept light: every channel at least 150
    return 150 + 105 * pastel / max(float(pastel.max()), 1e-6) * rng.uniform(0.85, 1.0)


def garment_colour(rng: np.random.Generator) -> np.ndarray:
    """A dark RGB colour of any hue (luma 0-70): full strength in Fashion-MNIST is a dark garment."""
    hue = rng.uniform(0.05, 1.0, 3)
    return np.minimum(hue * rng.uniform(0, 70) / float(hue @ LUMA), 255.0)


def encode(image: Image.Image, format: str, quality: int | None) -> bytes:
    buffer = io.BytesIO()
    if format == "JPEG":
        image.save(buffer, format="JPEG", quality=quality)
    elif format == "WEBP":
        image.save(buffer, format="WEBP", quality=quality or 100, lossless=quality is None, method=2)
    else:
        image.save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def shop_photo(pixels: np.ndarray, rng: np.random.Generator) -> ShopPhoto:
    """One Fashion-MNIST image (28x28 uint8, light on black) as a shop-style upload."""
    rows, cols = garment_box(pixels)
    strength = pixels[rows, cols].astype(np.float32) / 255.0  # 1 = the darkest part of the garment
    garment_h, garment_w = strength.shape

    longer = int(rng.integers(SIDE_RANGE[0], SIDE_RANGE[1] + 1))
    aspect = float(np.exp(rng.uniform(np.log(ASPECT_RANGE[0]), np.log(ASPECT_RANGE[1]))))
    width, height = (longer, round(longer / aspect)) if aspect >= 1 else (round(longer * aspect), longer)
    scale = rng.uniform(*FILL_RANGE) * min(width / garment_w, height / garment_h)
    new_w, new_h = max(1, round(garment_w * scale)), max(1, round(garment_h * scale))
    resample = RESAMPLING[int(rng.integers(len(RESAMPLING)))]
    garment = Image.fromarray(strength, mode="F").resize((new_w, new_h), resample)
    top = int(rng.integers(0, height - new_h + 1))  # anywhere in the frame, not centred
    left = int(rng.integers(0, width - new_w + 1))
    mask = np.zeros((height, width), np.float32)
    mask[top : top + new_h, left : left + new_w] = np.clip(np.asarray(garment), 0.0, 1.0)

    # A cut-out comes from a white-balanced studio shot: its light parts are as white as the paper.
    transparent = rng.uniform() < TRANSPARENT_SHARE
    kind = "transparent" if transparent else BACKGROUNDS[int(rng.integers(len(BACKGROUNDS)))]
    background = np.full(3, 255.0) if transparent else background_colour(kind, rng)
    photo = background * (1.0 - mask[..., None]) + garment_colour(rng) * mask[..., None]
    if not transparent:  # the light of a shop photo: a colour cast, a faint gradient across the frame
        cast = rng.uniform(0.9, 1.0, 3)
        angle = rng.uniform(0, 2 * np.pi)
        ys, xs = np.ogrid[0:height, 0:width]
        ramp = np.cos(angle) * (xs / width - 0.5) + np.sin(angle) * (ys / height - 0.5)
        photo *= cast * (1.0 + rng.uniform(0.0, 0.06) * ramp)[..., None]
    photo += rng.normal(0, rng.uniform(0, 3), photo.shape)  # sensor noise
    rgb = np.clip(np.rint(photo), 0, 255).astype(np.uint8)

    if transparent:
        # A cut-out: the garment opaque (soft edges), the rest transparent black as editors save it.
        alpha = np.clip(mask * 40.0, 0.0, 1.0)
        rgba = np.dstack([np.where(alpha[..., None] > 0, rgb, 0), np.rint(alpha * 255)]).astype(np.uint8)
        image = Image.fromarray(rgba, mode="RGBA")
        format = ("PNG", "WEBP")[int(rng.integers(2))]
    else:
        image = Image.fromarray(rgb, mode="RGB")
        if rng.uniform() < GRAYSCALE_SHARE:
            image = image.convert("L")
        format = ("JPEG", "JPEG", "PNG", "WEBP")[int(rng.integers(4))]
    quality: int | None = None
    if format == "JPEG":
        quality = int(rng.integers(JPEG_QUALITY_RANGE[0], JPEG_QUALITY_RANGE[1] + 1))
    elif format == "WEBP" and rng.uniform() < 0.7:
        quality = int(rng.integers(WEBP_QUALITY_RANGE[0], WEBP_QUALITY_RANGE[1] + 1))
    return ShopPhoto(encode(image, format, quality), format, (width, height), kind, quality)


def photo_rng(seed: int, index: int) -> np.random.Generator:
    """The random stream of photo `index` under `seed`: photos do not depend on each other."""
    return np.random.default_rng([seed, index])


def shop_photos(images: np.ndarray, seed: int = 0, indices: np.ndarray | None = None) -> Iterator[ShopPhoto]:
    """Shop photos of `images[i]` for each i in `indices` (default: all), deterministic by seed."""
    for index in range(len(images)) if indices is None else indices:
        yield shop_photo(images[int(index)], photo_rng(seed, int(index)))
