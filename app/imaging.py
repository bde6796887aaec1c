"""Upload bytes -> the 28x28 uint8 image the model sees: decode, limits, EXIF, alpha, grayscale, resize.

Two preparations:
- raw: the tutorials' preparation (grayscale, resize to 28x28 nearest, nothing else). Right
  for images that already look like Fashion-MNIST: a light garment on black, 28x28.
- photo: Fashion-MNIST's own conversion of Zalando shop photos (trim the background, longest
  edge to 28, sharpen, centre on a square canvas, negate, 8-bit grayscale), plus what real
  uploads need: transparency flattened onto white, background subtraction (a plane fitted to
  the border, so a light gradient is no garment) and contrast normalisation, so garments on
  white, grey, coloured, dark or transparent backgrounds all reach the model the same way.
`auto` picks raw for data-set-like images and photo for everything else.

The photo conversion's constants were tuned on shop-style photos made from *training* images
(training/shop_photos.py); benchmarks/photo_accuracy.py measures it on test images.
"""

from __future__ import annotations

import ctypes
import io
import re
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps

from app.preprocessing import IMAGE_SIZE

# Default width x height limit, checked before decoding: 24 MP (6000 x 4000, a camera photo). A decoded
# RGBA image and Pillow's premultiplied copy for resizing are ~96 MB each at that size; measured peak RSS
# of one preparation at 24 MP: RGBA 217 MiB, LA 308 MiB, 16-bit 259 MiB (488 MiB at 40 MP, the old limit).
MAX_IMAGE_PIXELS = 24_000_000

ACCEPTED_FORMATS = ("PNG", "JPEG", "WEBP", "GIF", "BMP", "TIFF")
DARK_BACKGROUND = 60  # border median below this (0-255) reads as a data-set-like black background
WORKING_SIZE = 256  # photos are area-reduced to at most this first: fast, and it averages sensor noise
TRIM_FRACTION = 0.08  # trimmed: pixels closer to the background than this share of the garment's peak
NOISE_FACTOR = 4.0  # ... or than this many standard deviations of the background's noise
SPECK_SHARE = 0.01  # a separate blob with less than this share of the garment's pixels is a speck
LOW_CONTRAST = 24.0  # a cut-out fainter than this (0-255) on white is a white garment: flatten on black
SHARPEN_SIGMA = 1.0  # Fashion-MNIST sharpened with a Gaussian of radius and sigma 1.0 ...
SHARPEN_AMOUNT = 0.5  # ... by this much (unsharp masking), tuned on shop-style training photos
SIXTEEN_BIT = ("I", "I;16", "I;16B", "I;16L", "I;16N")
WITH_ALPHA = ("RGBA", "LA", "PA", "La", "RGBa")
ORIENTATION = 0x0112  # the EXIF tag
LARGE_ALLOCATION = 4 * 1024 * 1024  # bytes; see release_large_buffers_promptly
M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter
LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # ITU-R 601, as Pillow's convert("L")


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
    no_object: bool = False  # the preparation found nothing in the frame (blank, uniform, gradient, noise)


def release_large_buffers_promptly() -> None:
    """Have glibc give every freed buffer over LARGE_ALLOCATION back to the OS at once.

    By default glibc raises its mmap threshold after the first large free, so the next decoded
    photo comes from the heap and a worker's RSS stays at its peak (measured: a 36-megapixel
    RGBA upload left ~370 MB behind). A fixed threshold keeps big buffers mmapped, returned on
    free; the small allocations of ordinary requests are unaffected. A no-op without glibc.
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(M_MMAP_THRESHOLD, LARGE_ALLOCATION)
    except (OSError, AttributeError):
        pass


release_large_buffers_promptly()


# ---- decoding ---------------------------------------------------------------------------------


def open_image(data: bytes, max_pixels: int) -> Image.Image:
    """Identify the format from the bytes (never the header), check the pixel count, decode.

    The pixel count is read from the file's header and checked before any pixel is decoded,
    so a decompression bomb (a small file declaring a huge image) costs nothing. Animated
    images give their first frame.
    """
    if not data:
        raise InvalidImage("the uploaded file is empty")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # bomb warnings (we check ourselves), "Corrupt EXIF data", ...
            image = Image.open(io.BytesIO(data), formats=ACCEPTED_FORMATS)
    except Image.DecompressionBombError as error:  # Pillow's own limit, far above ours
        raise ImageTooLarge(f"image declares {declared_pixels(error)}; the limit is {max_pixels}") from error
    except MemoryError:  # the server's shortage, not the client's mistake: a 503 (app.main)
        raise
    except Exception as error:  # plugins raise many types (struct.error, IndexError, ...) on junk
        raise InvalidImage(f"not a supported image ({', '.join(ACCEPTED_FORMATS)})") from error
    width, height = image.size
    if width * height > max_pixels:
        raise ImageTooLarge(f"image is {width}x{height} = {width * height} pixels; the limit is {max_pixels}")
    if width < 1 or height < 1:
        raise InvalidImage(f"image has no pixels ({width}x{height})")
    if image.format == "JPEG" and max(width, height) > 2 * WORKING_SIZE:
        image.draft("RGB", (WORKING_SIZE, WORKING_SIZE))  # DCT-domain downscale: much faster decode
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. "Palette images with Transparency expressed in bytes"
            image.load()
    except Image.DecompressionBombError as error:  # a frame bigger than the declared size
        raise ImageTooLarge(f"image declares {declared_pixels(error)}; the limit is {max_pixels}") from error
    except MemoryError:
        raise
    except Exception as error:  # Pillow raises many types for broken files
        raise InvalidImage(f"corrupt or truncated {image.format} image: {error}") from error
    return upright(image)


def declared_pixels(error: Image.DecompressionBombError) -> str:
    """The pixel count in Pillow's bomb message, which does not give the image's size."""
    found = re.search(r"\((\d+) pixels\)", str(error))
    return f"{found.group(1)} pixels" if found else f"over {2 * (Image.MAX_IMAGE_PIXELS or 0)} pixels"


def upright(image: Image.Image) -> Image.Image:
    """Apply the EXIF orientation; a broken EXIF block leaves the image as stored."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "Corrupt EXIF data" and the like
            if image.getexif().get(ORIENTATION, 1) == 1:
                return image  # exif_transpose would return a full copy
            return ImageOps.exif_transpose(image) or image
    except Exception:  # the pixels decoded fine; only the metadata is damaged
        return image


def to_float_channels(image: Image.Image) -> tuple[np.ndarray, np.ndarray | None]:
    """(H, W, C) float32 0-255 colour (C=1 or 3) and (H, W) alpha in [0, 1] or None."""
    try:
        if image.mode in SIXTEEN_BIT:
            gray = np.asarray(image, dtype=np.float32) / 257.0  # 16-bit grayscale -> 0-255
            return np.clip(gray, 0, 255)[..., None], None
        if image.mode == "F":
            return np.clip(np.asarray(image, dtype=np.float32), 0, 255)[..., None], None
        if image.mode == "LAB":  # Pillow cannot convert LAB to RGB; its L channel is the lightness
            return np.asarray(image.getchannel("L"), dtype=np.float32)[..., None], None
        if image.mode in WITH_ALPHA or "transparency" in image.info:
            rgba = np.asarray(image.convert("RGBA"), dtype=np.float32)
            return rgba[..., :3], rgba[..., 3] / 255.0
        if image.mode in ("L", "1"):
            return np.asarray(image.convert("L"), dtype=np.float32)[..., None], None
        return np.asarray(image.convert("RGB"), dtype=np.float32), None
    except (ValueError, OSError, TypeError, KeyError) as error:
        raise InvalidImage(f"unsupported pixel mode {image.mode}: {error}") from error


def luminance(channels: np.ndarray) -> np.ndarray:
    """ITU-R 601 luma, as Pillow's convert('L')."""
    if channels.shape[-1] == 1:
        return channels[..., 0]
    return channels @ LUMA


def grayscale(image: Image.Image, background: float) -> np.ndarray:
    """Float32 (H, W) luma with any transparency flattened onto `background` (0-255)."""
    channels, alpha = to_float_channels(image)
    gray = luminance(channels)
    if alpha is not None:
        gray = gray * alpha + background * (1.0 - alpha)
    return gray


def to_uint8(gray: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(gray), 0, 255).astype(np.uint8)


def border_ring(array: np.ndarray) -> np.ndarray:
    """The outermost ring of pixels, (4 * side, ...): where a product photo shows its background."""
    return np.concatenate([array[0], array[-1], array[1:-1, 0], array[1:-1, -1]])


def border_median(gray: np.ndarray) -> float:
    """Median of the outermost ring of pixels: the background level."""
    return float(np.median(border_ring(gray)))


# ---- raw: the tutorials' preparation ----------------------------------------------------------


def prepare_raw(image: Image.Image) -> np.ndarray:
    """The tutorials' preparation: grayscale (alpha on black), resize to 28x28 nearest (as load_img).

    Nearest-neighbour picks the same source pixels in any mode, so resizing first gives the
    tutorials' result without converting a large image's every pixel.
    """
    if image.size != (IMAGE_SIZE, IMAGE_SIZE):
        image = image.resize((IMAGE_SIZE, IMAGE_SIZE), Image.Resampling.NEAREST)
    if image.mode in ("L", "P", "RGB", "CMYK", "YCbCr", "1") and "transparency" not in image.info:
        return np.asarray(image.convert("L"), dtype=np.uint8)  # Pillow's integer luma, as load_img
    return to_uint8(grayscale(image, background=0.0))


# ---- photo: Fashion-MNIST's conversion for real uploads ---------------------------------------


def working_copy(image: Image.Image) -> Image.Image:
    """The image area-reduced to at most WORKING_SIZE, in a mode Pillow resamples properly."""
    if max(image.size) <= WORKING_SIZE:
        return image
    try:
        if image.mode in SIXTEEN_BIT:
            image = Image.fromarray(np.asarray(image, dtype=np.float32) / 257.0)  # mode F
        elif image.mode == "LAB":
            image = image.getchannel("L")
        elif image.mode in WITH_ALPHA or "transparency" in image.info:
            # RGBA resizes premultiplied: no halo from hidden colours (an RGBA image is not copied)
            if image.mode != "RGBA":
                image = image.convert("RGBA")
        elif image.mode == "1":
            image = image.convert("L")
        elif image.mode not in ("L", "RGB", "F"):
            image = image.convert("RGB")  # palette images would resize by nearest only
        scale = WORKING_SIZE / max(image.size)
        size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        return image.resize(size, Image.Resampling.BOX, reducing_gap=3.0)  # integer reduce first: fast
    except (ValueError, OSError, TypeError, KeyError) as error:
        raise InvalidImage(f"unsupported pixel mode {image.mode}: {error}") from error


def flatten(channels: np.ndarray, alpha: np.ndarray | None) -> np.ndarray:
    """Transparency flattened onto white, as the garment would lie in a shop photo.

    A light garment cut out on a transparent background would vanish on white: when the
    flattened image has almost no contrast but the alpha channel has a shape, it goes on black.
    """
    if alpha is None:
        return channels
    weight = alpha[..., None]
    on_white = channels * weight + 255.0 * (1.0 - weight)
    contrast = float(np.abs(luminance(on_white) - 255.0).max())
    if contrast < LOW_CONTRAST and float(np.ptp(alpha)) > 0.5:
        return channels * weight
    return on_white


def fit_background(channels: np.ndarray) -> np.ndarray:
    """Per-channel plane a + b*x + c*y fitted to the border ring: the background and its gradient.

    Ring pixels far from the ring's median (a garment touching the edge) are left out of the fit.
    """
    height, width = channels.shape[:2]
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    xs, ys = xs / max(width - 1, 1) - 0.5, ys / max(height - 1, 1) - 0.5
    design = np.stack([np.ones_like(xs), xs, ys], axis=-1)  # (H, W, 3)
    ring_design, ring_values = border_ring(design), border_ring(channels)  # (R, 3), (R, C)
    deviation = np.abs(ring_values - np.median(ring_values, axis=0)).max(axis=1)
    spread = 1.4826 * float(np.median(deviation))  # robust sigma of the ring
    keep = deviation <= 3.0 * spread + 2.0
    if keep.sum() < 3:
        keep[:] = True
    coefficients, *_ = np.linalg.lstsq(ring_design[keep], ring_values[keep], rcond=None)
    return np.asarray(design @ coefficients, dtype=np.float32)  # (H, W, C)


def box_blur3(array: np.ndarray) -> np.ndarray:
    """3x3 mean, edges replicated."""
    padded = np.pad(array, 1, mode="edge")
    rows = padded[:-2] + padded[1:-1] + padded[2:]
    return np.asarray((rows[:, :-2] + rows[:, 1:-1] + rows[:, 2:]) / 9.0, dtype=np.float32)


def garment_box(difference: np.ndarray) -> tuple[slice, slice] | None:
    """Rows and columns of the garment: where the colour differs from the background.

    Fashion-MNIST trimmed edges whose colour was within 5% of the corner colour; here the
    threshold is a share of the garment's own contrast, and never within the sensor noise.
    A pixel counts only if its 3x3 neighbourhood stands out too, so a lone speck of noise or
    dust cannot stretch the box. None when nothing stands out (a blank image).
    """
    ring = border_ring(difference)  # (R, C): the background's residual, signed
    noise = 1.4826 * float(np.median(np.abs(ring - np.median(ring, axis=0))))  # robust sigma
    distance = np.sqrt(np.mean(difference**2, axis=-1))
    threshold = max(TRIM_FRACTION * float(distance.max()), NOISE_FACTOR * noise, 1.0)
    garment = (distance > threshold) & (box_blur3(distance) > threshold / 2)
    rows, cols = main_extent(garment.sum(axis=1)), main_extent(garment.sum(axis=0))
    if rows is None or cols is None:
        return None
    return rows, cols


def main_extent(counts: np.ndarray) -> slice | None:
    """The span of a projection (garment pixels per row or column), leaving out specks.

    Runs of filled rows separated by empty ones are parts; a part with under SPECK_SHARE of
    the garment's pixels (dust, a stray mark in a corner) is not the garment.
    """
    filled = np.flatnonzero(counts)
    if filled.size == 0:
        return None
    parts = np.split(filled, np.flatnonzero(np.diff(filled) > 1) + 1)
    kept = [part for part in parts if counts[part].sum() >= SPECK_SHARE * counts.sum()]
    return slice(int(kept[0][0]), int(kept[-1][-1]) + 1)


def gaussian_kernel(sigma: float) -> np.ndarray:
    offsets = np.arange(-2 * int(np.ceil(sigma)), 2 * int(np.ceil(sigma)) + 1, dtype=np.float32)
    kernel = np.exp(-0.5 * (offsets / sigma) ** 2)
    return kernel / kernel.sum()


def sharpen(image: np.ndarray, sigma: float = SHARPEN_SIGMA, amount: float = SHARPEN_AMOUNT) -> np.ndarray:
    """Unsharp masking: image + amount * (image - Gaussian blur), outside the image is background."""
    kernel = gaussian_kernel(sigma)
    reach = len(kernel) // 2
    padded = np.pad(image, reach)
    height, width = image.shape
    across = sum(k * padded[:, i : i + width] for i, k in enumerate(kernel))
    blurred = sum(k * across[i : i + height] for i, k in enumerate(kernel))
    return np.clip(image + amount * (image - blurred), 0.0, None)


def centre_on_canvas(garment: np.ndarray) -> np.ndarray:
    """A (h, w) image with max(h, w) = 28 centred on a black 28x28 canvas.

    When the margin is odd the extra pixel goes top and left, as in Fashion-MNIST itself
    (measured on the training set: odd margins are split that way in practically every image).
    """
    height, width = garment.shape
    top, left = (IMAGE_SIZE - height + 1) // 2, (IMAGE_SIZE - width + 1) // 2
    canvas = np.zeros((IMAGE_SIZE, IMAGE_SIZE), np.float32)
    canvas[top : top + height, left : left + width] = garment
    return canvas


def prepare_photo(image: Image.Image) -> np.ndarray:
    """Fashion-MNIST's conversion for a product photo on any plain background.

    Transparency onto white; background (a fitted plane) subtracted, so the garment's
    contrast with it is the intensity (negation on a light background); trimmed to the
    garment; longest edge area-resized to 28; sharpened; centred; contrast-normalised so
    the garment's strongest pixel is white.
    """
    channels, alpha = to_float_channels(working_copy(image))
    photo = flatten(channels, alpha)
    difference = photo - fit_background(photo)
    box = garment_box(difference)
    if box is None:
        return np.zeros((IMAGE_SIZE, IMAGE_SIZE), np.uint8)
    strength = np.abs(luminance(difference[box]))  # luma is linear: luma(photo) - luma(background)
    height, width = strength.shape
    scale = IMAGE_SIZE / max(height, width)
    size = (min(IMAGE_SIZE, max(1, round(width * scale))), min(IMAGE_SIZE, max(1, round(height * scale))))
    resized = np.asarray(Image.fromarray(strength).resize(size, Image.Resampling.BOX), dtype=np.float32)
    canvas = sharpen(centre_on_canvas(resized))
    peak = float(canvas.max())
    if peak < 1.0:
        return np.zeros((IMAGE_SIZE, IMAGE_SIZE), np.uint8)
    return to_uint8(canvas * (255.0 / peak))  # contrast normalisation


# ---- choosing -------------------------------------------------------------------------------


def is_dataset_like(raw: np.ndarray) -> bool:
    """A raw-prepared 28x28 image with a dark background: already in Fashion-MNIST's form."""
    return border_median(raw) < DARK_BACKGROUND


def prepare_image(data: bytes, mode: str = "auto", max_pixels: int = MAX_IMAGE_PIXELS) -> PreparedImage:
    """Upload bytes -> the uint8 28x28 image for the model, by the requested preparation.

    `auto` judges a 28x28 upload by its raw preparation (no second conversion to float):
    data-set-like images keep it, everything else gets the photo preparation.
    """
    image = open_image(data, max_pixels)
    if mode == "auto":
        if image.size == (IMAGE_SIZE, IMAGE_SIZE):
            raw = prepare_raw(image)
            if is_dataset_like(raw):
                return PreparedImage(raw, "raw")
        mode = "photo"
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
