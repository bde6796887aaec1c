"""app.imaging without HTTP: decoding odd files, the raw and photo preparations, choosing between them."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageFile

from app.imaging import ImageTooLarge, InvalidImage, centre_on_canvas, prepare_image
from tests import odd_files
from tests.helpers import image_bytes
from training.shop_photos import photo_rng, shop_photo


def prepared(data: bytes, mode: str = "auto") -> np.ndarray:
    result = prepare_image(data, mode)
    assert result.pixels.shape == (28, 28) and result.pixels.dtype == np.uint8
    return result.pixels


def mean_abs_difference(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.float32) - b.astype(np.float32)).mean())


def on_background(
    strength: np.ndarray, background: float, garment: float, frame: tuple[int, int], at: tuple[int, int]
) -> np.ndarray:
    """A grayscale photo: `strength` (0-1) mixed from `background` to `garment` level, placed in a frame."""
    photo = np.full(frame, background, np.float32)
    height, width = strength.shape
    top, left = at
    photo[top : top + height, left : left + width] = background + (garment - background) * strength
    return np.clip(np.rint(photo), 0, 255).astype(np.uint8)


def enlarged(pixels: np.ndarray, side: int) -> np.ndarray:
    """A 28x28 image enlarged to side x side (bicubic), as 0-1 strength."""
    image = Image.fromarray(pixels.astype(np.float32) / 255.0).resize((side, side), Image.Resampling.BICUBIC)
    return np.clip(np.asarray(image), 0.0, 1.0)


# ---- decoding ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", odd_files.UNUSUAL)
def test_unusual_but_valid_images_are_prepared(name: str) -> None:
    prepared(odd_files.UNUSUAL[name]())


@pytest.mark.parametrize("name", [*odd_files.NOT_IMAGES, *odd_files.BROKEN])
def test_non_images_and_broken_images_are_invalid(name: str) -> None:
    data = {**odd_files.NOT_IMAGES, **odd_files.BROKEN}[name]()
    with pytest.raises(InvalidImage):
        prepare_image(data)


def test_empty_file_is_invalid() -> None:
    with pytest.raises(InvalidImage, match="empty"):
        prepare_image(b"")


@pytest.mark.parametrize("name", odd_files.BOMBS)
def test_bombs_are_refused_before_any_pixel_is_decoded(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    loads: list[object] = []
    original = ImageFile.ImageFile.load

    def recording_load(image: ImageFile.ImageFile) -> object:
        loads.append(image)
        return original(image)

    monkeypatch.setattr(ImageFile.ImageFile, "load", recording_load)
    with pytest.raises(ImageTooLarge, match="limit is 40000000"):
        prepare_image(odd_files.BOMBS[name](), max_pixels=40_000_000)
    assert loads == []


def test_pixel_limit_is_the_configured_one() -> None:
    data = image_bytes(np.zeros((100, 100), np.uint8))
    with pytest.raises(ImageTooLarge, match=r"100x100 = 10000 pixels; the limit is 9999"):
        prepare_image(data, max_pixels=9_999)
    prepared(data)


def test_exif_orientation_is_applied() -> None:
    upright = odd_files.save(Image.fromarray(odd_files.shop_rgb()), "JPEG", quality=92)
    assert mean_abs_difference(prepared(odd_files.exif_rotated_jpeg()), prepared(upright)) < 3


def test_sixteen_bit_png_is_scaled_not_clipped() -> None:
    assert np.array_equal(prepared(odd_files.png_16_bit()), odd_files.garment())


def test_animated_gif_gives_its_first_frame() -> None:
    assert prepared(odd_files.animated_gif()).max() == 255  # the second frame is blank


# ---- raw and auto ------------------------------------------------------------------------------


def test_dataset_images_pass_through_auto_unchanged(dataset) -> None:
    for pixels in dataset.x_test[::40]:
        result = prepare_image(image_bytes(pixels))
        assert result.mode == "raw"
        assert np.array_equal(result.pixels, pixels)


def test_dataset_images_as_jpeg_are_still_raw(dataset) -> None:
    assert prepare_image(image_bytes(dataset.x_test[0], "JPEG", quality=90)).mode == "raw"


def test_raw_is_the_tutorials_preparation() -> None:
    data = odd_files.save(Image.fromarray(odd_files.shop_rgb(100)[:, :70]), "PNG")
    tutorial = Image.open(io.BytesIO(data)).convert("L").resize((28, 28), Image.Resampling.NEAREST)
    result = prepare_image(data, "raw")
    assert result.mode == "raw" and np.array_equal(result.pixels, np.asarray(tutorial))


@pytest.mark.parametrize(
    ("pixels", "expected"),
    [
        (odd_files.garment(), "raw"),  # data-set-like: 28x28 on black
        (255 - odd_files.garment(), "photo"),  # 28x28 but on white
        (odd_files.garment(84), "photo"),  # on black but not 28x28
    ],
)
def test_auto_chooses_by_size_and_background(pixels: np.ndarray, expected: str) -> None:
    assert prepare_image(image_bytes(pixels)).mode == expected


def test_requested_mode_overrides_auto() -> None:
    data = image_bytes(odd_files.garment())
    assert prepare_image(data, "photo").mode == "photo"
    assert prepare_image(odd_files.webp(), "raw").mode == "raw"


# ---- photo ------------------------------------------------------------------------------------


def test_photo_recovers_the_dataset_image_from_shop_photos(dataset) -> None:
    """Shop-style photos made from training images come back close to the image itself."""
    indices = range(0, 60_000, 1_500)
    errors = [
        mean_abs_difference(
            prepared(shop_photo(dataset.x_train[i], photo_rng(11, i)).data), dataset.x_train[i]
        )
        for i in indices
    ]
    assert np.mean(errors) < 10  # 0-255 scale; a different garment is ~60 away


def test_dark_on_white_and_light_on_black_agree(dataset) -> None:
    strength = enlarged(dataset.x_test[1], 210)
    on_white = on_background(strength, 250, 30, (300, 260), (40, 20))
    on_black = on_background(strength, 0, 230, (300, 260), (40, 20))
    assert mean_abs_difference(prepared(image_bytes(on_white)), prepared(image_bytes(on_black))) < 2


def test_position_frame_and_scale_do_not_matter(dataset) -> None:
    centred = on_background(enlarged(dataset.x_test[2], 300), 240, 20, (400, 400), (50, 50))
    corner = on_background(enlarged(dataset.x_test[2], 180), 240, 20, (300, 700), (5, 500))
    assert mean_abs_difference(prepared(image_bytes(centred)), prepared(image_bytes(corner))) < 6


def test_grey_and_coloured_backgrounds_agree_with_white(dataset) -> None:
    strength = enlarged(dataset.x_test[3], 250)[..., None]
    garment = np.array([40.0, 25, 60])
    photos = [
        background * (1 - strength) + garment * strength
        for background in (
            np.array([252.0, 252, 252]),
            np.array([190.0, 190, 190]),
            np.array([250.0, 200, 170]),
        )
    ]
    results = [prepared(image_bytes(np.clip(np.rint(p), 0, 255).astype(np.uint8))) for p in photos]
    assert mean_abs_difference(results[0], results[1]) < 3
    assert mean_abs_difference(results[0], results[2]) < 3


def test_light_gradient_is_background_not_garment(dataset) -> None:
    strength = enlarged(dataset.x_test[4], 200)
    flat = on_background(strength, 235, 30, (320, 320), (60, 60)).astype(np.float32)
    ramp = np.linspace(0.94, 1.0, 320, dtype=np.float32)[None, :]  # 6% darker on the left
    shaded = np.clip(np.rint(flat * ramp), 0, 255).astype(np.uint8)
    assert (
        mean_abs_difference(prepared(image_bytes(flat.astype(np.uint8))), prepared(image_bytes(shaded))) < 3
    )


def test_a_speck_of_dust_does_not_stretch_the_box(dataset) -> None:
    clean = on_background(enlarged(dataset.x_test[5], 150), 245, 20, (300, 300), (120, 120))
    dusty = clean.copy()
    dusty[8, 8] = 0
    assert mean_abs_difference(prepared(image_bytes(clean)), prepared(image_bytes(dusty))) < 1


def test_transparent_cut_out_equals_the_garment_on_white() -> None:
    rgba = odd_files.cut_out()
    on_white = rgba[..., :3].copy()
    on_white[rgba[..., 3] == 0] = 255
    assert mean_abs_difference(prepared(image_bytes(rgba)), prepared(image_bytes(on_white))) < 1


def test_white_garment_cut_out_is_not_blank() -> None:
    """A white garment would vanish on white: its silhouette (flattened on black) is used instead."""
    mask = odd_files.garment(120) > 0
    rgba = np.zeros((120, 120, 4), np.uint8)
    rgba[mask] = (252, 252, 252, 255)
    on_black = np.where(mask, 252, 0).astype(np.uint8)
    assert mean_abs_difference(prepared(image_bytes(rgba)), prepared(image_bytes(on_black))) < 1


def test_faint_garment_gets_full_contrast() -> None:
    faint = on_background(enlarged(odd_files.garment(), 200), 200, 170, (260, 260), (30, 30))
    assert prepared(image_bytes(faint)).max() == 255


def test_blank_photo_is_black() -> None:
    assert not prepared(image_bytes(np.full((300, 200, 3), 180, np.uint8))).any()
    noisy = np.random.default_rng(0).normal(180, 3, (300, 200, 3)).clip(0, 255).astype(np.uint8)
    assert not prepared(image_bytes(noisy)).any()


def test_odd_margins_go_top_and_left_as_in_the_dataset() -> None:
    canvas = centre_on_canvas(np.ones((28, 5), np.float32))
    columns = np.flatnonzero(canvas.any(axis=0))
    assert (columns[0], 27 - columns[-1]) == (12, 11)
    canvas = centre_on_canvas(np.ones((10, 28), np.float32))
    rows = np.flatnonzero(canvas.any(axis=1))
    assert (rows[0], 27 - rows[-1]) == (9, 9)


def test_large_photo_is_reduced_before_the_conversion() -> None:
    big = on_background(enlarged(odd_files.garment(), 2400), 250, 20, (3000, 2600), (300, 100))
    small = on_background(enlarged(odd_files.garment(), 240), 250, 20, (300, 260), (30, 10))
    assert mean_abs_difference(prepared(image_bytes(big)), prepared(image_bytes(small))) < 4
