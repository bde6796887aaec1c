"""Upload bytes -> the 28x28 uint8 image the model sees: decode, limits, EXIF, alpha, grayscale, resize.

Two preparations:
- raw: the tutorials' preparation (grayscale, resize to 28x28, nothing else). Right for
  images that already look like Fashion-MNIST: a light garment on black, 28x28.
- photo: Fashion-MNIST's own conversion of Zalando shop photos (trim the background,
  longest edge to 28, centre on a square canvas, negate), plus background subtraction and
  contrast normalisation so garments on white, grey or transparent backgrounds work.
`auto` picks raw for data-set-like images and photo for everything else.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from app.preprocessing import IMAGE_SIZE

ACCEPTED_FORMATS = ("PNG", "JPEG", "WEBP", "GIF", "BMP", "TIFF")
DARK_BACKGROUND = 60  # border median below this (0-255) reads as a data-set-like black background
TRIM_FRACTION = 0.08  # pixels differing from the background by less than this share of the peak are trimmed
WORKING_SIZE = 256  # photos are reduced to at most this before the photo conversion


class ImageError(ValueError):
    """Base class of the client's image mistakes; `status_code` is the HTTP answer."""

    status_code = 400


class InvalidImage(ImageError):
    """Not an image we can decode: wrong format, corrupt or truncated."""


class ImageTooLarge(ImageError):
    """The image's pixel count is over the configured limit."""

    status_code = 413


@dataclass(frozen=True)
class PreparedImage:
    """What the model will see, and which preparation made it."""

    pixels: np.ndarray  # uint8 (28, 28)
    mode: str  # "raw" or "photo"


def open_image(data: bytes, max_pixels: int) -> Image.Image:
    """Identify the format from the bytes (never the header), check the pixel count, decode."""
    if not data:
        raise InvalidImage("the uploaded file is empty")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=ACCEPTED_FORMATS)
    except Image.DecompressionBombError as error:
        raise ImageTooLarge(str(error)) from error
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as error:
        raise InvalidImage(f"not a supported image ({', '.join(ACCEPTED_FORMATS)})") from error
    width, height = image.size
    if width * height > max_pixels:
        raise ImageTooLarge(f"image is {width}x{height} = {width * height} pixels; the limit is {max_pixels}")
    if width < 1 or height < 1:
        raise InvalidImage(f"image has no pixels ({width}x{height})")
    if image.format == "JPEG" and max(width, height) > 2 * WORKING_SIZE:
        image.draft("RGB", (WORKING_SIZE, WORKING_SIZE))  # DCT-domain downscale: much faster decode
    try:
        image.load()
        return ImageOps.exif_transpose(image) or image
    except Exception as error:  # Pillow raises many types for broken files
        raise InvalidImage(f"corrupt or truncated {image.format} image: {error}") from error


def to_float_channels(image: Image.Image) -> tuple[np.ndarray, np.ndarray | None]:
    """(H, W, C) float32 0-255 colour (C=1 or 3) and (H, W) alpha in [0, 1] or None."""
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N"):
        gray = np.asarray(image, dtype=np.float32) / 257.0  # 16-bit grayscale
        return np.clip(gray, 0, 255)[..., None], None
    if image.mode == "F":
        return np.clip(np.asarray(image, dtype=np.float32), 0, 255)[..., None], None
    has_alpha = image.mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in image.info
    if has_alpha:
        rgba = np.asarray(image.convert("RGBA"), dtype=np.float32)
        return rgba[..., :3], rgba[..., 3] / 255.0
    if image.mode in ("L", "1"):
        return np.asarray(image.convert("L"), dtype=np.float32)[..., None], None
    return np.asarray(image.convert("RGB"), dtype=np.float32), None


def luminance(channels: np.ndarray) -> np.ndarray:
    """ITU-R 601 luma, as Pillow's convert('L')."""
    if channels.shape[-1] == 1:
        return channels[..., 0]
    return channels @ np.array([0.299, 0.587, 0.114], dtype=np.float32)


def border_median(gray: np.ndarray) -> float:
    """Median of the outermost ring of pixels: the background level."""
    ring = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    return float(np.median(ring))


def grayscale(image: Image.Image, background: float) -> np.ndarray:
    """Float32 (H, W) luma with any transparency flattened onto `background` (0-255)."""
    channels, alpha = to_float_channels(image)
    gray = luminance(channels)
    if alpha is not None:
        gray = gray * alpha + background * (1.0 - alpha)
    return gray


def to_uint8(gray: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(gray), 0, 255).astype(np.uint8)


def prepare_raw(image: Image.Image) -> np.ndarray:
    """The tutorials' preparation: grayscale (alpha on black), resize to 28x28 (nearest, as load_img)."""
    gray = Image.fromarray(to_uint8(grayscale(image, background=0.0)))
    if gray.size != (IMAGE_SIZE, IMAGE_SIZE):
        gray = gray.resize((IMAGE_SIZE, IMAGE_SIZE), Image.Resampling.NEAREST)
    return np.asarray(gray, dtype=np.uint8)


def prepare_photo(image: Image.Image) -> np.ndarray:
    """Fashion-MNIST's conversion for a product photo on any plain background."""
    if max(image.size) > WORKING_SIZE:
        image = image.copy()
        image.thumbnail((WORKING_SIZE, WORKING_SIZE), Image.Resampling.BOX)
    gray = grayscale(image, background=255.0)  # transparent areas are background, as in a shop photo
    background = border_median(gray)
    strength = np.abs(gray - background)  # background subtraction; negation when the background is light
    peak = float(strength.max())
    if peak < 1.0:
        return np.zeros((IMAGE_SIZE, IMAGE_SIZE), np.uint8)  # a blank image
    rows, cols = np.nonzero(strength > TRIM_FRACTION * peak)
    strength = strength[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
    height, width = strength.shape
    scale = IMAGE_SIZE / max(height, width)
    new_size = (max(1, round(width * scale)), max(1, round(height * scale)))
    resized = np.asarray(
        Image.fromarray(strength.astype(np.float32), mode="F").resize(new_size, Image.Resampling.LANCZOS)
    )
    canvas = np.zeros((IMAGE_SIZE, IMAGE_SIZE), np.float32)
    top, left = (IMAGE_SIZE - new_size[1]) // 2, (IMAGE_SIZE - new_size[0]) // 2
    canvas[top : top + new_size[1], left : left + new_size[0]] = resized
    canvas *= 255.0 / max(float(canvas.max()), 1.0)  # contrast normalisation: the garment's peak is white
    return to_uint8(canvas)


def is_dataset_like(image: Image.Image) -> bool:
    """28x28 with a dark background: already in Fashion-MNIST's form."""
    if image.size != (IMAGE_SIZE, IMAGE_SIZE):
        return False
    return border_median(grayscale(image, background=0.0)) < DARK_BACKGROUND


def prepare_image(data: bytes, mode: str = "auto", max_pixels: int = 40_000_000) -> PreparedImage:
    """Upload bytes -> the uint8 28x28 image for the model, by the requested preparation."""
    image = open_image(data, max_pixels)
    if mode == "auto":
        mode = "raw" if is_dataset_like(image) else "photo"
    if mode == "raw":
        return PreparedImage(prepare_raw(image), "raw")
    if mode == "photo":
        return PreparedImage(prepare_photo(image), "photo")
    raise ValueError(f"unknown preparation {mode!r}")


def encode_png(pixels: np.ndarray) -> bytes:
    """PNG bytes of a uint8 grayscale image."""
    buffer = io.BytesIO()
    Image.fromarray(pixels, mode="L").save(buffer, format="PNG")
    return buffer.getvalue()
