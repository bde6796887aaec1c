"""Procedurally drawn non-garments: what people upload that is not clothing (outlier exposure).

Each image is drawn with Pillow at 96-320 px, as a user would upload it: dark ink on light paper
(mostly), flat colours, sometimes light on dark, then encoded as PNG and passed through the
service's own preparation (`app.imaging.prepare_image`), so the model learns "not a garment" on
exactly the 28x28 images the service would give it. Nothing here comes from third-party drawings.

Families: shapes, scribbles, text, faces, fruit, portraits, textures, noise, scenes. `scene`
(houses, cars, trees, suns) is kept out of training and used only to report how the detector
generalises to a family it never saw.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from app.imaging import prepare_image

FONT_DIRS = (Path("/usr/share/fonts/truetype"), Path("/usr/share/fonts"))
WORDS = ("hello", "SALE", "42", "ok", "Zebra", "abc", "2026", "tag", "XL", "hi!", "Q", "&", "@", "7", "fig")
Draw = Callable[[ImageDraw.ImageDraw, np.random.Generator, int, int, tuple[int, ...]], None]


@lru_cache(maxsize=1)
def font_files() -> tuple[Path, ...]:
    """TrueType fonts on this machine (Debian's DejaVu/Liberation); empty means Pillow's built-in font."""
    for folder in FONT_DIRS:
        if folder.is_dir():
            found = tuple(sorted(folder.rglob("*.ttf")))
            if found:
                return found
    return ()


def font(rng: np.random.Generator, size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    files = font_files()
    if files:
        return ImageFont.truetype(str(files[int(rng.integers(len(files)))]), size)
    return ImageFont.load_default(size)


def ink(rng: np.random.Generator, dark: bool) -> tuple[int, ...]:
    """A random colour: dark (luma under ~90) for drawing on paper, light for drawing on black."""
    hue = rng.uniform(0.0, 1.0, 3)
    level = rng.uniform(0, 90) if dark else rng.uniform(170, 255)
    rgb = np.clip(hue / max(float(hue.mean()), 1e-3) * level, 0, 255)
    return tuple(int(v) for v in rgb)


def point(rng: np.random.Generator, w: int, h: int, margin: float = 0.1) -> tuple[int, int]:
    return int(rng.uniform(margin, 1 - margin) * w), int(rng.uniform(margin, 1 - margin) * h)


def box(rng: np.random.Generator, w: int, h: int, low: float = 0.3, high: float = 0.9) -> list[int]:
    bw, bh = rng.uniform(low, high) * w, rng.uniform(low, high) * h
    x0, y0 = rng.uniform(0, w - bw), rng.uniform(0, h - bh)
    return [int(x0), int(y0), int(x0 + bw), int(y0 + bh)]


def stroke(rng: np.random.Generator, w: int) -> int:
    return max(1, int(w * rng.uniform(0.006, 0.05)))


def star(
    cx: float, cy: float, outer: float, inner: float, points: int, turn: float
) -> list[tuple[float, float]]:
    angles = turn + np.arange(2 * points) * np.pi / points
    radii = np.where(np.arange(2 * points) % 2 == 0, outer, inner)
    return [(cx + r * np.cos(a), cy + r * np.sin(a)) for r, a in zip(radii, angles, strict=True)]


def draw_shapes(
    d: ImageDraw.ImageDraw, rng: np.random.Generator, w: int, h: int, fg: tuple[int, ...]
) -> None:
    for _ in range(int(rng.integers(1, 4))):
        kind = int(rng.integers(5))
        fill = fg if rng.uniform() < 0.5 else None
        width = stroke(rng, w)
        b = box(rng, w, h)
        if kind == 0:
            d.ellipse(b, fill=fill, outline=fg, width=width)
        elif kind == 1:
            d.rectangle(b, fill=fill, outline=fg, width=width)
        elif kind == 2:
            cx, cy = (b[0] + b[2]) / 2, (b[1] + b[3]) / 2
            r = min(b[2] - b[0], b[3] - b[1]) / 2
            n = int(rng.integers(4, 9))
            d.polygon(
                star(cx, cy, r, r * rng.uniform(0.35, 0.6), n, rng.uniform(0, 6.3)), fill=fill, outline=fg
            )
        elif kind == 3:
            corners = [point(rng, w, h) for _ in range(int(rng.integers(3, 7)))]
            d.polygon(corners, fill=fill, outline=fg, width=width)
        else:  # a heart
            cx, cy, r = (b[0] + b[2]) / 2, (b[1] + b[3]) / 2, min(b[2] - b[0], b[3] - b[1]) / 4
            d.ellipse([cx - 2 * r, cy - r, cx, cy + r], fill=fg)
            d.ellipse([cx, cy - r, cx + 2 * r, cy + r], fill=fg)
            d.polygon([(cx - 2 * r, cy + r * 0.2), (cx + 2 * r, cy + r * 0.2), (cx, cy + 2.4 * r)], fill=fg)


def draw_scribble(
    d: ImageDraw.ImageDraw, rng: np.random.Generator, w: int, h: int, fg: tuple[int, ...]
) -> None:
    for _ in range(int(rng.integers(1, 4))):
        start = np.array(point(rng, w, h), float)
        steps = rng.normal(0, 0.08 * w, (int(rng.integers(4, 30)), 2)).cumsum(axis=0)
        pts = np.clip(start + steps, 0, [w - 1, h - 1])
        d.line([tuple(p) for p in pts], fill=fg, width=stroke(rng, w), joint="curve")


def draw_text(d: ImageDraw.ImageDraw, rng: np.random.Generator, w: int, h: int, fg: tuple[int, ...]) -> None:
    for _ in range(int(rng.integers(1, 3))):
        text = WORDS[int(rng.integers(len(WORDS)))]
        if rng.uniform() < 0.4:
            text = "".join(chr(int(c)) for c in rng.integers(33, 127, int(rng.integers(1, 6))))
        size = int(h * rng.uniform(0.15, 0.6))
        d.text(point(rng, w, h, 0.05), text, fill=fg, font=font(rng, size), anchor="mm")


def draw_face(d: ImageDraw.ImageDraw, rng: np.random.Generator, w: int, h: int, fg: tuple[int, ...]) -> None:
    cx, cy, r = (
        w / 2 + rng.uniform(-0.1, 0.1) * w,
        h / 2 + rng.uniform(-0.1, 0.1) * h,
        min(w, h) * rng.uniform(0.25, 0.45),
    )
    width = stroke(rng, w)
    filled = rng.uniform() < 0.4
    face_fill = ink(rng, dark=False) if filled else None
    d.ellipse([cx - r, cy - r, cx + r, cy + r], fill=face_fill, outline=fg, width=width)
    e = r * rng.uniform(0.08, 0.16)
    for side in (-1, 1):
        ex, ey = cx + side * r * 0.38, cy - r * 0.25
        d.ellipse([ex - e, ey - e, ex + e, ey + e], fill=fg)
    mouth = [cx - r * 0.5, cy - r * 0.2, cx + r * 0.5, cy + r * 0.6]
    if rng.uniform() < 0.8:
        d.arc(mouth, 20, 160, fill=fg, width=width)
    else:
        d.line([(cx - r * 0.4, cy + r * 0.4), (cx + r * 0.4, cy + r * 0.4)], fill=fg, width=width)


def draw_fruit(d: ImageDraw.ImageDraw, rng: np.random.Generator, w: int, h: int, fg: tuple[int, ...]) -> None:
    cx, cy, r = w / 2, h / 2 + 0.05 * h, min(w, h) * rng.uniform(0.25, 0.42)
    squash = rng.uniform(0.8, 1.2)
    outline_only = rng.uniform() < 0.35
    d.ellipse(
        [cx - r * squash, cy - r, cx + r * squash, cy + r],
        fill=None if outline_only else fg,
        outline=fg,
        width=stroke(rng, w),
    )
    d.line([(cx, cy - r * 0.9), (cx + r * 0.15, cy - r * 1.35)], fill=fg, width=max(2, stroke(rng, w)))
    if rng.uniform() < 0.7:  # a leaf
        d.ellipse([cx + r * 0.1, cy - r * 1.4, cx + r * 0.6, cy - r * 1.1], fill=fg)


def draw_portrait(
    d: ImageDraw.ImageDraw, rng: np.random.Generator, w: int, h: int, fg: tuple[int, ...]
) -> None:
    """Head and shoulders, as a passport photo or a profile picture reads after preparation."""
    cx, head = w / 2 + rng.uniform(-0.1, 0.1) * w, min(w, h) * rng.uniform(0.14, 0.24)
    top = h * rng.uniform(0.08, 0.25)
    d.ellipse([cx - head * 0.8, top, cx + head * 0.8, top + 2 * head], fill=fg)
    neck = top + 2 * head
    d.rectangle([cx - head * 0.3, neck - head * 0.2, cx + head * 0.3, neck + head * 0.4], fill=fg)
    shoulders = rng.uniform(1.6, 2.8) * head
    d.pieslice(
        [cx - shoulders, neck + head * 0.2, cx + shoulders, neck + head * 0.2 + 2.4 * shoulders],
        180,
        360,
        fill=fg,
    )
    if rng.uniform() < 0.5:  # hair
        d.chord(
            [cx - head * 0.9, top - head * 0.15, cx + head * 0.9, top + head * 1.2],
            180,
            360,
            fill=ink(rng, True),
        )


def draw_texture(
    d: ImageDraw.ImageDraw, rng: np.random.Generator, w: int, h: int, fg: tuple[int, ...]
) -> None:
    kind = int(rng.integers(4))
    step = int(max(4, min(w, h) * rng.uniform(0.04, 0.2)))
    width = max(1, int(step * rng.uniform(0.2, 0.6)))
    if kind == 0:  # stripes
        for x in range(0, w + h, step):
            d.line([(x, 0), (x - h * rng.uniform(0, 1), h)], fill=fg, width=width)
    elif kind == 1:  # checkerboard
        for y in range(0, h, step):
            for x in range((y // step) % 2 * step, w, 2 * step):
                d.rectangle([x, y, x + step - 1, y + step - 1], fill=fg)
    elif kind == 2:  # grid
        for x in range(0, w, step):
            d.line([(x, 0), (x, h)], fill=fg, width=width)
        for y in range(0, h, step):
            d.line([(0, y), (w, y)], fill=fg, width=width)
    else:  # dots
        r = width
        for y in range(step // 2, h, step):
            for x in range(step // 2, w, step):
                d.ellipse([x - r, y - r, x + r, y + r], fill=fg)


def draw_scene(d: ImageDraw.ImageDraw, rng: np.random.Generator, w: int, h: int, fg: tuple[int, ...]) -> None:
    """Houses, cars, trees and suns: the family kept out of training."""
    kind = int(rng.integers(4))
    width = stroke(rng, w)
    fill = fg if rng.uniform() < 0.5 else None
    if kind == 0:  # house
        x0, y0, x1, y1 = w * 0.2, h * 0.45, w * 0.8, h * 0.9
        d.rectangle([x0, y0, x1, y1], fill=fill, outline=fg, width=width)
        d.polygon(
            [(x0 - w * 0.05, y0), (x1 + w * 0.05, y0), ((x0 + x1) / 2, h * 0.12)],
            fill=fill,
            outline=fg,
            width=width,
        )
        d.rectangle([w * 0.45, h * 0.65, w * 0.55, y1], fill=None if fill else fg)
    elif kind == 1:  # car
        d.rectangle([w * 0.1, h * 0.45, w * 0.9, h * 0.7], fill=fill, outline=fg, width=width)
        d.polygon(
            [(w * 0.25, h * 0.45), (w * 0.35, h * 0.28), (w * 0.65, h * 0.28), (w * 0.75, h * 0.45)],
            fill=fill,
            outline=fg,
            width=width,
        )
        for x in (0.27, 0.73):
            d.ellipse([w * x - h * 0.1, h * 0.6, w * x + h * 0.1, h * 0.8], fill=fg)
    elif kind == 2:  # tree
        d.rectangle([w * 0.45, h * 0.55, w * 0.55, h * 0.92], fill=fg)
        d.ellipse([w * 0.2, h * 0.08, w * 0.8, h * 0.62], fill=fill, outline=fg, width=width)
    else:  # sun
        cx, cy, r = w / 2, h / 2, min(w, h) * 0.2
        d.ellipse([cx - r, cy - r, cx + r, cy + r], fill=fill, outline=fg, width=width)
        for a in np.linspace(0, 2 * np.pi, int(rng.integers(6, 14)), endpoint=False):
            d.line(
                [
                    (cx + 1.3 * r * np.cos(a), cy + 1.3 * r * np.sin(a)),
                    (cx + 2 * r * np.cos(a), cy + 2 * r * np.sin(a)),
                ],
                fill=fg,
                width=width,
            )


FAMILIES: dict[str, Draw] = {
    "shapes": draw_shapes,
    "scribble": draw_scribble,
    "text": draw_text,
    "face": draw_face,
    "fruit": draw_fruit,
    "portrait": draw_portrait,
    "texture": draw_texture,
    "scene": draw_scene,
}
TRAINING_FAMILIES = ("shapes", "scribble", "text", "face", "fruit", "portrait", "texture", "noise")
HELD_OUT_FAMILIES = ("scene",)


def noise_image(rng: np.random.Generator, w: int, h: int) -> Image.Image:
    """Noise, smoothed or not, grey or coloured: the preparation calls it empty; if not, the model must."""
    channels = 3 if rng.uniform() < 0.5 else 1
    noise = rng.normal(128, rng.uniform(10, 80), (h, w, channels))
    image = Image.fromarray(np.clip(noise, 0, 255).astype(np.uint8).squeeze())
    if rng.uniform() < 0.5:
        image = image.filter(ImageFilter.GaussianBlur(rng.uniform(1, 6)))
    return image


def negative_image(family: str, rng: np.random.Generator) -> Image.Image:
    """One drawn non-garment of `family` as an RGB (or grey) image."""
    w, h = (int(v) for v in rng.integers(96, 320, 2))
    if family == "noise":
        return noise_image(rng, w, h)
    dark_on_light = rng.uniform() < 0.8
    background = (
        ink(rng, dark=not dark_on_light)
        if rng.uniform() < 0.3
        else ((255,) * 3 if dark_on_light else (0,) * 3)
    )
    image = Image.new("RGB", (w, h), background)
    FAMILIES[family](ImageDraw.Draw(image), rng, w, h, ink(rng, dark=dark_on_light))
    if rng.uniform() < 0.3:
        image = image.filter(ImageFilter.GaussianBlur(rng.uniform(0.5, 2.0)))
    return image


def encode_png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def negative_uploads(
    count: int, seed: int, families: tuple[str, ...] = TRAINING_FAMILIES
) -> list[tuple[str, bytes]]:
    """`count` (family, PNG bytes) uploads, families in turn, deterministic by seed."""
    out = []
    for index in range(count):
        rng = np.random.default_rng([seed, index])
        family = families[index % len(families)]
        out.append((family, encode_png(negative_image(family, rng))))
    return out


def prepared_negatives(
    count: int, seed: int, families: tuple[str, ...] = TRAINING_FAMILIES
) -> tuple[np.ndarray, list[str]]:
    """The 28x28 uint8 images the service would feed the model for `count` drawn non-garments.

    Images the preparation already calls empty (`no_object`) are kept: the model should also
    reject them if a future preparation lets one through.
    """
    pixels, families_out = [], []
    for family, data in negative_uploads(count, seed, families):
        pixels.append(prepare_image(data, "auto").pixels)
        families_out.append(family)
    return np.stack(pixels), families_out
