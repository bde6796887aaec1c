"""app.decoding without HTTP: the header read once, the decoder's budgets, what is cheap on the event loop."""

from __future__ import annotations

import time

import numpy as np
import pytest
from PIL import Image

from app.decoding import (
    INLINE_MAX_BYTES,
    DecodeLimits,
    ImageTooLarge,
    check_request_pixels,
    is_cheap,
    read_header,
)
from app.imaging import prepare_image, prepare_images
from tests import hostile_files, odd_files
from tests.helpers import image_bytes


@pytest.mark.parametrize(
    ("format", "options"),
    [("PNG", {}), ("JPEG", {}), ("JPEG", {"progressive": True}), ("GIF", {}), ("WEBP", {}),
     ("WEBP", {"lossless": True}), ("BMP", {}), ("TIFF", {}), ("TIFF", {"compression": "tiff_lzw"})],
)  # fmt: skip
def test_header_gives_the_size_of_every_format(format: str, options: dict[str, object]) -> None:
    data = image_bytes(np.zeros((37, 53, 3), np.uint8), format, **options)
    header = read_header(data)
    assert (header.format, header.width, header.height) == (format if format != "WEBP" else "WEBP", 53, 37)


def test_rgba_webp_and_transparent_gif_headers() -> None:
    header = read_header(odd_files.webp_rgba())
    assert (header.width, header.height) == (120, 120)
    assert read_header(odd_files.animated_gif()).frames == 2


def test_unknown_or_truncated_files_give_an_empty_header() -> None:
    for data in (b"", b"hello", b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF89a"):
        assert read_header(data).pixels == 0


def test_small_data_set_sized_files_are_cheap() -> None:
    assert is_cheap(hostile_files.small_png())
    assert is_cheap(hostile_files.small_jpeg())
    assert not is_cheap(hostile_files.small_png(), "photo")  # forced through the photo conversion
    assert not is_cheap(image_bytes(np.zeros((29, 28), np.uint8)))


@pytest.mark.parametrize(
    "make",
    [
        lambda: hostile_files.padded_jpeg(9_500_000),
        lambda: hostile_files.padded_png(9_500_000),
        lambda: hostile_files.commented_gif(9_500_000),
        lambda: hostile_files.padded_jpeg(INLINE_MAX_BYTES - 100),  # small, but 4,000 markers
        lambda: hostile_files.padded_png(INLINE_MAX_BYTES - 100),
        lambda: hostile_files.commented_gif(INLINE_MAX_BYTES - 100),
        lambda: hostile_files.many_frames_gif(50),
    ],
    ids=["jpeg-9.5MB", "png-9.5MB", "gif-9.5MB", "jpeg-16KB", "png-16KB", "gif-16KB", "gif-50-frames"],
)
def test_padded_28x28_files_are_not_cheap(make: object) -> None:
    data = make()  # type: ignore[operator]
    started = time.perf_counter()
    assert not is_cheap(data)
    assert time.perf_counter() - started < 0.05  # the decision itself reads at most INLINE_MAX_BYTES


def test_a_cheap_file_is_prepared_within_a_few_milliseconds() -> None:
    """The worst file that still counts as cheap: the largest, with the most segments allowed."""
    worst = [
        hostile_files.padded_png(INLINE_MAX_BYTES - 2_000, chunk_payload=600),
        hostile_files.padded_jpeg(INLINE_MAX_BYTES - 2_000, marker_payload=600),
    ]
    for data in worst:
        assert is_cheap(data)
        prepare_image(data)  # warm-up
        started = time.perf_counter()
        for _ in range(10):
            prepare_image(data)
        # ~1 ms each on an idle core; the margin is for a loaded 2-core machine
        assert (time.perf_counter() - started) / 10 < 0.02


def test_scan_bomb_is_413_before_decoding() -> None:
    data = hostile_files.scan_bomb(800, 600, scans=10_000)
    started = time.perf_counter()
    with pytest.raises(ImageTooLarge, match=r"JPEG has 10\d\d\d scans; the limit is 100"):
        prepare_image(data)
    assert time.perf_counter() - started < 0.5


def test_ordinary_progressive_jpeg_is_within_the_scan_budget() -> None:
    data = image_bytes(odd_files.shop_rgb(), "JPEG", progressive=True, quality=85)
    assert 1 < read_header(data).scans <= 12
    assert prepare_image(data).mode == "photo"


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: hostile_files.padded_png(2_000_000, chunk_payload=1000), "PNG has over 1048576 bytes"),
        (lambda: hostile_files.padded_jpeg(2_000_000, marker_payload=1000), "JPEG has over 1048576 bytes"),
        (lambda: hostile_files.padded_png(1_000_000), r"PNG has over 4096 chunks, markers or blocks"),
        (lambda: hostile_files.padded_jpeg(1_000_000), r"JPEG has over 4096 chunks, markers or blocks"),
        (lambda: hostile_files.commented_gif(1_000_000), r"GIF has over 4096 chunks, markers or blocks"),
        (lambda: hostile_files.many_frames_gif(1_500), r"GIF has 1001 frames; the limit is 1000"),
    ],
    ids=["png-metadata", "jpeg-metadata", "png-chunks", "jpeg-markers", "gif-blocks", "gif-frames"],
)  # fmt: skip
def test_budgets_are_413_with_the_limit(make: object, message: str) -> None:
    with pytest.raises(ImageTooLarge, match=message):
        prepare_image(make())  # type: ignore[operator]


def test_budgets_follow_the_limits_given() -> None:
    data = hostile_files.padded_jpeg(20_000)
    prepare_image(data, max_pixels=DecodeLimits(max_segments=10_000))
    with pytest.raises(ImageTooLarge, match="the limit is 100$"):
        prepare_image(data, max_pixels=DecodeLimits(max_segments=100))
    with pytest.raises(ImageTooLarge, match="JPEG has 1 scans; the limit is 0"):
        prepare_image(hostile_files.small_jpeg(), max_pixels=DecodeLimits(max_jpeg_scans=0))


def test_a_batch_over_the_request_pixel_budget_is_refused_from_the_headers() -> None:
    big = hostile_files.png_16_bit_blank()  # 24 MP each: within the per-image limit
    started = time.perf_counter()
    with pytest.raises(
        ImageTooLarge, match=r"the 8 images declare 192000000 pixels together; the limit is 48000000"
    ):
        prepare_images([big] * 8)
    assert time.perf_counter() - started < 0.5
    check_request_pixels([big, big], DecodeLimits())  # two fit


def test_the_request_budget_counts_every_file() -> None:
    photo = image_bytes(np.full((1000, 1000), 200, np.uint8))
    limits = DecodeLimits(max_request_pixels=2_500_000)
    assert len(prepare_images([photo] * 2, "auto", limits)) == 2
    with pytest.raises(ImageTooLarge):
        prepare_images([photo] * 3, "auto", limits)


def test_real_files_stay_within_every_budget() -> None:
    for name, make in odd_files.UNUSUAL.items():
        data = make()
        prepare_image(data)  # no ImageTooLarge
        header = read_header(data)
        assert header.segments < 100 and header.metadata_bytes < 70_000, name
    exif = Image.Exif()
    exif[0x010E] = "x" * 60_000  # a large EXIF description: 60 KB of APP1
    prepare_image(odd_files.save(Image.fromarray(odd_files.shop_rgb()), "JPEG", exif=exif))
