"""Upload bytes -> the 28x28 uint8 image the model sees: alpha, grayscale, background, resize, profile.

Decoding and its budgets live in app/decoding.py; this module prepares the decoded pixels.
Two preparations:
- raw: the tutorials' preparation (grayscale, resize to 28x28 nearest, nothing else). Right
  for images that already look like Fashion-MNIST: a light garment on black, 28x28.
- photo: Fashion-MNIST's own conversion of Zalando shop photos (trim the background, longest
  edge to 28, sharpen, centre on a square canvas, negate, 8-bit grayscale), plus what real
  uploads need: transparency flattened onto white, background subtraction (a plane fitted to
  the border, so a light gradient is no garment) and contrast normalisation, so garments on
  white, grey, coloured, dark or transparent backgrounds all reach the model the same way.
`auto` picks raw for data-set-like images and photo for everything else.

A profile (PROFILES; a model version's metadata names it) says what the data set's images look
like: Fashion-MNIST's garments fill the 28x28 box and are sharpened, MNIST's digits fit a 20x20 box
centred by their centre of mass. Every preparation also says whether the frame holds any object at
all (`no_object`: blank, uniform, a gradient, pure noise).

The photo conversion's constants were tuned on shop-style photos made from *training* images
(training/shop_photos.py); benchmarks/photo_accuracy.py measures it on test images.
"""

from __future__ import annotations

import ctypes
import io
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from PIL import Image

from app.decoding import (
    ACCEPTED_FORMATS,
    MAX_IMAGE_PIXELS,
    WORKING_SIZE,
    DecodeLimits,
    ImageError,
    ImageTooLarge,
    InvalidImage,
    as_limits,
    check_request_pixels,
    is_cheap,
    open_image,
)
from app.preprocessing import IMAGE_SIZE

DARK_BACKGROUND = 60  # border median below this (0-255) reads as a data-set-like black background
TRIM_FRACTION = 0.08  # trimmed: pixels closer to the background than this share of the garment's peak
NOISE_FACTOR = 4.0  # ... or than this many standard deviations of the background's noise
SPECK_SHARE = 0.01  # a separate blob with less than this share of the garment's pixels is a speck
LOW_CONTRAST = 24.0  # a cut-out fainter than this (0-255) on white is a white garment: flatten on black
SHARPEN_SIGMA = 1.0  # Fashion-MNIST sharpened with a Gaussian of radius and sigma 1.0 ...
SHARPEN_AMOUNT = 0.5  # ... by this much (unsharp masking), tuned on shop-style training photos
SIXTEEN_BIT = ("I", "I;16", "I;16B", "I;16L", "I;16N")
WITH_ALPHA = ("RGBA", "LA", "PA", "La", "RGBa")
LARGE_ALLOCATION = 4 * 1024 * 1024  # bytes; see release_large_buffers_promptly
M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter
LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # ITU-R 601, as Pillow's convert("L")

__all__ = [  # decoding's names are re-exported: callers import the whole upload path from here
    "ACCEPTED_FORMATS",
    "MAX_IMAGE_PIXELS",
    "DecodeLimits",
    "ImageError",
    "ImageTooLarge",
    "InvalidImage",
    "PreparedImage",
    "Profile",
    "encode_png",
    "get_profile",
    "is_cheap",
    "prepare_image",
    "prepare_images",
]


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


# ---- pixels ---------------------------------------------------------------------------------


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


def median(values: np.ndarray) -> float:
    """np.median of all the values, by partition: ~3 us instead of ~20 for a 28x28 image's ring."""
    flat = np.asarray(values).reshape(-1)
    half = flat.size // 2
    if flat.size % 2:
        return float(np.partition(flat, half)[half])
    low, high = np.partition(flat, (half - 1, half))[half - 1 : half + 1]
    return (float(low) + float(high)) / 2


def border_median(gray: np.ndarray) -> float:
    """Median of the outermost ring of pixels: the background level."""
    return median(border_ring(gray))


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
    spread = 1.4826 * median(deviation)  # robust sigma of the ring
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
    noise = 1.4826 * median(np.abs(ring - np.median(ring, axis=0)))  # robust sigma
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
    """A (h, w) image with max(h, w) <= 28 centred on a black 28x28 canvas by its box.

    When the margin is odd the extra pixel goes top and left, as in Fashion-MNIST itself
    (measured on the training set: odd margins are split that way in practically every image).
    """
    height, width = garment.shape
    top, left = (IMAGE_SIZE - height + 1) // 2, (IMAGE_SIZE - width + 1) // 2
    canvas = np.zeros((IMAGE_SIZE, IMAGE_SIZE), np.float32)
    canvas[top : top + height, left : left + width] = garment
    return canvas


def centre_by_mass(digit: np.ndarray) -> np.ndarray:
    """A (h, w) image placed on a black 28x28 canvas so its centre of mass is the canvas's centre.

    MNIST's rule: the digit's box fits in 20x20, and the centre of mass (rounded to a whole
    pixel) goes to (14, 14); a shift that would push ink off the canvas is clipped to the edge.
    """
    height, width = digit.shape
    total = float(digit.sum())
    if total <= 0:
        return centre_on_canvas(digit)
    rows, cols = np.indices(digit.shape)
    centre_y, centre_x = float((rows * digit).sum()) / total, float((cols * digit).sum()) / total
    top = int(np.clip(round(IMAGE_SIZE / 2 - centre_y), 0, IMAGE_SIZE - height))
    left = int(np.clip(round(IMAGE_SIZE / 2 - centre_x), 0, IMAGE_SIZE - width))
    canvas = np.zeros((IMAGE_SIZE, IMAGE_SIZE), np.float32)
    canvas[top : top + height, left : left + width] = digit
    return canvas


# ---- profiles: what the model's data set looks like --------------------------------------------


@dataclass(frozen=True)
class Profile:
    """How a data set's images were made from photos; a model version's metadata names one.

    `box` is the longest edge of the object in the 28x28 canvas, `centre` how it is placed
    ("box": the box centred; "mass": the centre of mass centred), `sharpen` the unsharp-mask amount.
    """

    name: str
    box: int = IMAGE_SIZE
    centre: str = "box"
    sharpen: float = SHARPEN_AMOUNT


PROFILES = {
    # Zalando shop photos: trimmed, longest edge 28, sharpened, centred by box (Fashion-MNIST's paper).
    "fashion-mnist": Profile("fashion-mnist"),
    # NIST digits: box fitted into 20x20, anti-aliased, centred by centre of mass, no sharpening (LeCun).
    "mnist": Profile("mnist", box=20, centre="mass", sharpen=0.0),
}
DEFAULT_PROFILE = "fashion-mnist"


def get_profile(profile: str | Profile) -> Profile:
    """The profile of that name (ValueError for an unknown one), or the Profile itself."""
    if isinstance(profile, Profile):
        return profile
    try:
        return PROFILES[profile]
    except KeyError:
        raise ValueError(f"unknown preparation profile {profile!r}; known: {', '.join(PROFILES)}") from None


def prepare_photo(image: Image.Image, profile: str | Profile = DEFAULT_PROFILE) -> tuple[np.ndarray, bool]:
    """The data set's conversion for a photo or drawing on any plain background; and whether it is empty.

    Transparency onto white; background (a fitted plane) subtracted, so the object's contrast
    with it is the intensity (negation on a light background); trimmed to the object; longest
    edge area-resized to the profile's box; sharpened; centred; contrast-normalised so the
    object's strongest pixel is white. The second value is True when the frame holds no object.
    """
    chosen = get_profile(profile)
    channels, alpha = to_float_channels(working_copy(image))
    photo = flatten(channels, alpha)
    difference = photo - fit_background(photo)
    box = garment_box(difference)
    if box is None or finds_nothing(photo):
        return np.zeros((IMAGE_SIZE, IMAGE_SIZE), np.uint8), True
    strength = np.abs(luminance(difference[box]))  # luma is linear: luma(photo) - luma(background)
    height, width = strength.shape
    scale = chosen.box / max(height, width)
    size = (min(chosen.box, max(1, round(width * scale))), min(chosen.box, max(1, round(height * scale))))
    resized = np.asarray(Image.fromarray(strength).resize(size, Image.Resampling.BOX), dtype=np.float32)
    canvas = centre_by_mass(resized) if chosen.centre == "mass" else centre_on_canvas(resized)
    if chosen.sharpen:
        canvas = sharpen(canvas, amount=chosen.sharpen)
    peak = float(canvas.max())
    if peak < 1.0:
        return np.zeros((IMAGE_SIZE, IMAGE_SIZE), np.uint8), True
    return to_uint8(canvas * (255.0 / peak)), False  # contrast normalisation


# ---- no object: blank, uniform, gradient or noise --------------------------------------------

FLAT_CONTRAST = 16.0  # an object stands out by more than this (0-255) from a smooth surface (data set: >= 95)
CORRELATED = 0.4  # ... and its pixels resemble their neighbours (noise: ~0; JPEG q50 noise: up to 0.3)
SILHOUETTE_CORRELATED = 0.25  # ... or its silhouette is correlated (noise's: ~0)
SILHOUETTE_LAG = 3  # a busily textured object still has a silhouette: correlated 3 pixels apart
NOISE_CONTRAST = 6.0  # ... and by more than this many standard deviations of the border's noise
SILHOUETTE_DELTA = 8.0  # silhouette: pixels this far (or 3 sigma of the border) from the border's level
SMALL_SURFACE_PIXELS = 4096  # up to this size a cached projection fits the surface (~400 KB at 64x64)


def finds_nothing(pixels: np.ndarray) -> bool:
    """Whether an image (H, W) or (H, W, C), float or uint8 0-255, shows nothing but a surface or noise.

    An object, drawn or photographed, differs from a smooth surface (a quadratic plus a cone fitted
    to the whole image: uniform, linear and radial gradients) by more than FLAT_CONTRAST somewhere,
    and either its pixels are correlated with their neighbours or its silhouette (what stands out
    from the border's level) is correlated SILHOUETTE_LAG pixels apart: a busily striped or dotted
    garment still has an outline. Pure noise (Gaussian, uniform, salt-and-pepper, grey or colour,
    even JPEG- or WebP-compressed) has neither, and weak noise does not stand out from itself
    (NOISE_CONTRAST). Checked on all 10,000 Fashion-MNIST test images (none flagged) and generated
    noise of every kind and size (all flagged): tests/app/test_no_object.py. Judged on the luma: an
    object differing from its background in hue alone is not seen.
    """
    array = np.asarray(pixels, dtype=np.float32)
    # Luma only: JPEG keeps it at full resolution, while its half-resolution colour makes noise correlated.
    gray = luminance(array) if array.ndim == 3 else array
    height, width = gray.shape
    if height < SILHOUETTE_LAG + 1 or width < SILHOUETTE_LAG + 1:
        return True
    residual = surface_residual(gray)
    # The background's own noise, from steps between neighbours along the border: a gradient adds nothing
    steps = np.diff(np.concatenate([gray[0], gray[1:, -1], gray[-1, -2::-1], gray[-2:0:-1, 0]]))
    noise = 1.4826 * median(np.abs(steps)) / np.sqrt(2.0)
    if float(np.abs(residual).max()) <= max(FLAT_CONTRAST, NOISE_CONTRAST * noise):
        return True
    if neighbour_correlation(residual) >= CORRELATED:
        return False
    return neighbour_correlation(silhouette(gray), SILHOUETTE_LAG) < SILHOUETTE_CORRELATED


def surface_residual(gray: np.ndarray) -> np.ndarray:
    """`gray` minus its least-squares smooth surface: constant, linear, quadratic and a centred cone.

    Small images (28x28 uploads) are projected with a cached 7 x N matrix, two small products. For
    larger ones (photos' working copies) the normal equations are solved from separable sums, never
    forming the N x 7 design matrix (which cost ~23 ms per 256 px working copy): the 7 moments of the
    image, the cached 7 x 7 inverse Gram matrix of its size, and the surface evaluated by broadcasting.
    """
    height, width = gray.shape
    if height * width <= SMALL_SURFACE_PIXELS:
        design, projection = small_surface(height, width)
        return gray - (design @ (projection @ gray.reshape(-1))).reshape(height, width)
    xs, ys, radius = surface_grid(height, width)
    coefficients = gram_inverse(height, width) @ surface_moments(gray, xs, ys, radius)
    c0, cx, cy, cxx, cyy, cxy, cr = (float(c) for c in coefficients)
    surface = (c0 + cx * xs + cxx * xs * xs)[None, :] + (cy * ys + cyy * ys * ys)[:, None]
    surface += (cxy * ys)[:, None] * xs[None, :] + cr * radius
    return gray - surface


@lru_cache(maxsize=16)
def surface_grid(height: int, width: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """x (width,) and y (height,) in [-0.5, 0.5], and the distance from the centre (height, width)."""
    xs = np.arange(width, dtype=np.float32) / np.float32(max(width - 1, 1)) - np.float32(0.5)
    ys = np.arange(height, dtype=np.float32) / np.float32(max(height - 1, 1)) - np.float32(0.5)
    radius = np.sqrt((ys * ys)[:, None] + (xs * xs)[None, :])  # a radial gradient's cone
    for array in (xs, ys, radius):
        array.flags.writeable = False  # shared by every caller through the cache
    return xs, ys, radius


@lru_cache(maxsize=8)
def small_surface(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """The (N, 7) surfaces as columns and their least-squares projection (7, N), float32."""
    design = np.stack([surface.reshape(-1) for surface in surfaces(height, width)], axis=1)
    projection = gram_inverse(height, width) @ design.T
    return design.astype(np.float32), projection.astype(np.float32)


def surfaces(height: int, width: int) -> list[np.ndarray]:
    """The 7 smooth surfaces on a height x width grid, float64 (H, W) each."""
    xs, ys, radius = (a.astype(np.float64) for a in surface_grid(height, width))
    grid_x, grid_y = np.broadcast_to(xs[None, :], radius.shape), np.broadcast_to(ys[:, None], radius.shape)
    return [np.ones_like(radius), grid_x, grid_y, grid_x * grid_x, grid_y * grid_y, grid_x * grid_y, radius]


def surface_moments(image: np.ndarray, xs: np.ndarray, ys: np.ndarray, radius: np.ndarray) -> np.ndarray:
    """The image's inner products with the 7 surfaces, from row and column sums (in the image's dtype)."""
    xs, ys, radius = (a.astype(image.dtype, copy=False) for a in (xs, ys, radius))
    columns = image.sum(axis=0)  # over y, per x
    rows = image.sum(axis=1)  # over x, per y
    moments = [columns.sum(), columns @ xs, rows @ ys, columns @ (xs * xs), rows @ (ys * ys)]
    moments += [ys @ (image @ xs), np.vdot(radius, image)]
    return np.array(moments, np.float64)


@lru_cache(maxsize=64)
def gram_inverse(height: int, width: int) -> np.ndarray:
    """(D'D)^-1 for the 7 surfaces on a height x width grid (the surfaces are independent)."""
    xs, ys, radius = (a.astype(np.float64) for a in surface_grid(height, width))
    columns = surfaces(height, width)
    return np.linalg.inv(
        np.stack([surface_moments(np.ascontiguousarray(c), xs, ys, radius) for c in columns])
    )


def neighbour_correlation(channel: np.ndarray, lag: int = 1) -> float:
    """Correlation of each pixel with the one `lag` to its right or below, the larger (0 for noise, ~1
    for shapes; a striped garment is correlated along its stripes and anti-correlated across them)."""
    if min(channel.shape) <= lag:
        return 0.0
    centred = channel - float(channel.mean())
    variance = float(np.vdot(centred, centred)) / centred.size
    if variance <= 0:
        return 0.0
    across = float(np.vdot(centred[:, :-lag], centred[:, lag:])) / centred[:, lag:].size
    down = float(np.vdot(centred[:-lag], centred[lag:])) / centred[lag:].size
    return max(across, down) / variance


def silhouette(channel: np.ndarray) -> np.ndarray:
    """1 where a pixel stands out from the border's level by more than its noise, else 0 (float32)."""
    ring = border_ring(channel)
    level = median(ring)
    noise = 1.4826 * median(np.abs(ring - level))
    return (np.abs(channel - level) > max(SILHOUETTE_DELTA, 3.0 * noise)).astype(np.float32)


# ---- choosing -------------------------------------------------------------------------------


def is_dataset_like(raw: np.ndarray) -> bool:
    """A raw-prepared 28x28 image with a dark background: already in the data set's form."""
    return border_median(raw) < DARK_BACKGROUND


def prepare_image(
    data: bytes,
    mode: str = "auto",
    max_pixels: DecodeLimits | int = MAX_IMAGE_PIXELS,
    profile: str | Profile = DEFAULT_PROFILE,
) -> PreparedImage:
    """Upload bytes -> the uint8 28x28 image for the model, by the requested preparation.

    `max_pixels` is the per-image pixel limit or all the decoder's budgets (DecodeLimits);
    `profile` the data set the model was trained on (PROFILES). `auto` judges a 28x28 upload by
    its raw preparation (no second conversion to float): data-set-like images keep it,
    everything else gets the photo preparation.
    """
    chosen = get_profile(profile)
    image = open_image(data, max_pixels)
    if mode == "auto":
        if image.size == (IMAGE_SIZE, IMAGE_SIZE):
            raw = prepare_raw(image)
            if is_dataset_like(raw):
                return PreparedImage(raw, "raw", finds_nothing(raw))
            pixels, empty = prepare_photo(image, chosen)
            if empty and not finds_nothing(raw):  # an object filling the whole frame: no background to trim
                return PreparedImage(raw, "raw")
            return PreparedImage(pixels, "photo", empty)
        mode = "photo"
    if mode == "raw":
        raw = prepare_raw(image)
        if image.size == (IMAGE_SIZE, IMAGE_SIZE):
            return PreparedImage(raw, "raw", finds_nothing(raw))
        channels, alpha = to_float_channels(working_copy(image))
        photo = flatten(channels, alpha)  # judged as the photo preparation would judge it
        empty = garment_box(photo - fit_background(photo)) is None or finds_nothing(photo)
        return PreparedImage(raw, "raw", empty)
    if mode == "photo":
        pixels, empty = prepare_photo(image, chosen)
        return PreparedImage(pixels, "photo", empty)
    raise ValueError(f"unknown preparation {mode!r}")


def prepare_images(
    uploads: list[bytes],
    mode: str = "auto",
    max_pixels: DecodeLimits | int = MAX_IMAGE_PIXELS,
    profile: str | Profile = DEFAULT_PROFILE,
) -> list[PreparedImage | ImageError]:
    """Prepare every upload of one request; a file the client got wrong becomes its error, in its place.

    The request as a whole is refused (ImageTooLarge, 413) when its images declare more pixels
    together than the request's budget: that is read from the headers before anything is decoded.
    """
    limits = as_limits(max_pixels)
    check_request_pixels(uploads, limits)
    prepared: list[PreparedImage | ImageError] = []
    for data in uploads:
        try:
            prepared.append(prepare_image(data, mode, limits, profile))
        except ImageError as error:
            prepared.append(error)
    return prepared


def encode_png(pixels: np.ndarray) -> bytes:
    """PNG bytes of a uint8 grayscale image."""
    buffer = io.BytesIO()
    Image.fromarray(pixels, mode="L").save(buffer, format="PNG")
    return buffer.getvalue()
