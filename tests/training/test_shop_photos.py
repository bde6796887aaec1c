"""The shop-style photo generator: deterministic, and as varied as the issue asks."""

from __future__ import annotations

import io
from collections import Counter

import numpy as np
import pytest
from PIL import Image

from training.shop_photos import ShopPhoto, shop_photos

COUNT = 80


@pytest.fixture(scope="module")
def photos(dataset) -> list[ShopPhoto]:
    return list(shop_photos(dataset.x_test, seed=3, indices=np.arange(COUNT)))


def decoded(photo: ShopPhoto) -> Image.Image:
    image = Image.open(io.BytesIO(photo.data))
    image.load()
    return image


def test_same_seed_same_bytes_other_seed_other_bytes(dataset) -> None:
    indices = np.array([5, 17, 4000])
    first = [p.data for p in shop_photos(dataset.x_test, seed=1, indices=indices)]
    again = [p.data for p in shop_photos(dataset.x_test, seed=1, indices=indices)]
    other = [p.data for p in shop_photos(dataset.x_test, seed=2, indices=indices)]
    assert first == again
    assert all(a != b for a, b in zip(first, other, strict=True))


def test_a_photo_depends_on_its_index_not_on_its_neighbours(dataset) -> None:
    alone = next(shop_photos(dataset.x_test, seed=1, indices=np.array([17])))
    among = list(shop_photos(dataset.x_test, seed=1, indices=np.array([5, 17])))[1]
    assert alone.data == among.data


def test_formats_sizes_and_aspect_ratios_vary(photos: list[ShopPhoto]) -> None:
    assert set(Counter(p.format for p in photos)) == {"JPEG", "PNG", "WEBP"}
    for photo in photos:
        image = decoded(photo)
        assert image.format == photo.format and image.size == photo.size
        assert 200 <= max(image.size) <= 800
    aspects = [w / h for w, h in (p.size for p in photos)]
    assert min(aspects) < 0.75 and max(aspects) > 1.33
    qualities = [p.quality for p in photos if p.format == "JPEG"]
    assert all(q is not None and 50 <= q <= 95 for q in qualities) and len(set(qualities)) > 5


def test_backgrounds_are_light_and_varied(photos: list[ShopPhoto]) -> None:
    assert set(Counter(p.background for p in photos)) == {"white", "grey", "coloured", "transparent"}
    for photo in photos:
        if photo.background == "transparent":
            continue
        image = decoded(photo)
        corner = np.asarray(image.convert("RGB"), dtype=np.float32)[:4, :4].reshape(-1, 3).mean(axis=0)
        assert corner.mean() > 150, photo.background
        if photo.background == "coloured" and image.mode == "RGB":  # some photos are saved grayscale
            assert np.ptp(corner) > 10  # a hue, not a grey


def test_transparent_photos_are_rgba_cut_outs(photos: list[ShopPhoto]) -> None:
    cut_outs = [p for p in photos if p.background == "transparent"]
    assert cut_outs
    for photo in cut_outs:
        assert photo.format in ("PNG", "WEBP")
        alpha = np.asarray(decoded(photo).convert("RGBA"))[..., 3]
        assert alpha[0, 0] == 0 and alpha.max() == 255


def test_garments_are_placed_off_centre(photos: list[ShopPhoto]) -> None:
    offsets = []
    for photo in photos:
        rgba = np.asarray(decoded(photo).convert("RGBA"), dtype=np.float32)
        gray = rgba[..., :3].mean(axis=-1) * rgba[..., 3] / 255 + 255 * (1 - rgba[..., 3] / 255)
        rows, cols = np.nonzero(gray < np.median(gray) - 40)
        height, width = gray.shape
        offsets.append(max(abs(rows.mean() / height - 0.5), abs(cols.mean() / width - 0.5)))
    assert np.mean(np.array(offsets) > 0.05) > 0.5  # most garments sit clearly away from the centre
