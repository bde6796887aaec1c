"""Garment drawings rendered from Fashion-MNIST images: outlines, silhouettes, flat icons, line art.

People upload drawings as well as photos. A drawing keeps a garment's shape and loses its
texture: an outline is a hollow contour, an icon a flat-coloured shape drawn to fill a square.
Each render here starts from a data-set image (upscaled, its shape found by a threshold), draws
it in one of those styles at 96-224 px, squashes or stretches it (icons fill a square: up to
±30 % aspect change), encodes it as PNG and passes it through the service's own preparation.
Renders of training images teach the model; renders of validation images choose the open-set
threshold; renders of test images are a reported proxy. No third-party drawing is used.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageFilter

from app.imaging import prepare_image

STYLES = ("outline", "silhouette", "icon", "lineart")
ASPECT_JITTER = 0.3  # width is scaled by a factor in [1 / 1.3, 1.3]


def garment_mask(pixels: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """The data-set image upscaled to `size` (float 0-1) and its garment mask."""
    up = (
        np.asarray(Image.fromarray(pixels).resize((size, size), Image.Resampling.BICUBIC), np.float32) / 255.0
    )
    up = np.clip(up, 0.0, 1.0)
    threshold = 0.12 * max(float(up.max()), 1e-3)
    return up, up > threshold


def erode(mask: np.ndarray, radius: int) -> np.ndarray:
    """Binary erosion by a square of side 2 * radius + 1 (Pillow's MinFilter)."""
    image = Image.fromarray(mask.astype(np.uint8) * 255).filter(ImageFilter.MinFilter(2 * radius + 1))
    return np.asarray(image) > 127


def edges(image: np.ndarray, share: float) -> np.ndarray:
    """The strongest `share` of gradient magnitudes: the garment's inner lines (seams, sleeves, soles)."""
    gy, gx = np.gradient(image)
    magnitude = np.hypot(gx, gy)
    return magnitude > np.quantile(magnitude, 1.0 - share)


def render(pixels: np.ndarray, style: str, rng: np.random.Generator) -> Image.Image:
    """One 28x28 data-set garment as a drawing in `style` (dark ink on light paper, mostly)."""
    size = int(rng.integers(96, 225))
    image, mask = garment_mask(pixels, size)
    pen = max(1, int(size * rng.uniform(0.008, 0.03)))
    ink = rng.uniform(0, 80, 3) * rng.uniform(0.2, 1.0, 3)
    paper = np.full(3, rng.uniform(225, 255)) - rng.uniform(0, 10, 3)
    if style == "outline":
        strokes = mask & ~erode(mask, pen)
        drawing = np.where(strokes[..., None], ink, paper)
    elif style == "lineart":
        strokes = (mask & ~erode(mask, pen)) | (edges(image, rng.uniform(0.02, 0.08)) & erode(mask, pen))
        drawing = np.where(strokes[..., None], ink, paper)
    elif style == "silhouette":
        drawing = np.where(mask[..., None], ink, paper)
    else:  # icon: flat fill of a (possibly light) colour with a dark outline, 2-3 tones
        fill = rng.uniform(40, 200, 3)
        tone = np.where(image > np.quantile(image[mask], 0.5) if mask.any() else mask, 0.75, 1.0)
        body = fill * tone[..., None]
        outline = mask & ~erode(mask, pen)
        drawing = np.where(outline[..., None], ink, np.where(mask[..., None], body, paper))
    picture = Image.fromarray(np.clip(drawing, 0, 255).astype(np.uint8), "RGB")
    factor = float(np.exp(rng.uniform(-np.log1p(ASPECT_JITTER), np.log1p(ASPECT_JITTER))))
    width = max(8, round(size * factor))
    picture = picture.resize((width, size), Image.Resampling.BILINEAR)
    margin = int(size * rng.uniform(0.02, 0.2))
    framed = Image.new("RGB", (width + 2 * margin, size + 2 * margin), tuple(int(v) for v in paper))
    framed.paste(picture, (margin, margin))
    return framed


def drawing_upload(pixels: np.ndarray, style: str, rng: np.random.Generator) -> bytes:
    buffer = io.BytesIO()
    render(pixels, style, rng).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def prepared_drawings(
    images: np.ndarray, seed: int, styles: tuple[str, ...] = STYLES
) -> tuple[np.ndarray, list[str]]:
    """Each image drawn in a style (in turn) and prepared by the service: uint8 (N, 28, 28), style names."""
    out, names = [], []
    for index, pixels in enumerate(images):
        style = styles[index % len(styles)]
        rng = np.random.default_rng([seed, index])
        out.append(prepare_image(drawing_upload(pixels, style, rng), "auto").pixels)
        names.append(style)
    return np.stack(out), names


def squashed(images: np.ndarray, seed: int) -> np.ndarray:
    """Data-set images with their aspect ratio changed by up to ±30 %, re-fit to 28 px like an upload."""
    out = []
    for index, pixels in enumerate(images):
        rng = np.random.default_rng([seed, index])
        factor = float(np.exp(rng.uniform(-np.log1p(ASPECT_JITTER), np.log1p(ASPECT_JITTER))))
        buffer = io.BytesIO()
        picture = Image.fromarray(255 - pixels).resize(
            (max(8, round(112 * factor)), 112), Image.Resampling.BICUBIC
        )
        picture.save(buffer, format="PNG")
        out.append(prepare_image(buffer.getvalue(), "auto").pixels)
    return np.stack(out)
