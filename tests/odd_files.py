"""Real files of every awkward kind an upload can be: unusual but valid images, non-images, broken
images and decompression bombs. Each maker returns the file's bytes, written by Pillow or by hand."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib

import numpy as np
from PIL import Image

from tests.helpers import image_bytes


def garment(size: int = 28) -> np.ndarray:
    """A boot-like light shape on black (uint8, size x size), asymmetric so rotations show."""
    pixels = np.zeros((size, size), np.uint8)
    s = size / 28
    pixels[int(4 * s) : int(24 * s), int(8 * s) : int(14 * s)] = 200  # the shaft
    pixels[int(18 * s) : int(24 * s), int(8 * s) : int(25 * s)] = 230  # the foot, pointing right
    return pixels


def shop_rgb(size: int = 120) -> np.ndarray:
    """The garment as a small shop photo: dark brown on an off-white background (H, W, 3)."""
    strength = garment(size).astype(np.float32)[..., None] / 255.0
    photo = np.array([245, 242, 236]) * (1 - strength) + np.array([60, 40, 30]) * strength
    return np.clip(photo, 0, 255).astype(np.uint8)


def save(image: Image.Image, format: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=format, **options)
    return buffer.getvalue()


# ---- valid but unusual -----------------------------------------------------------------------


def cmyk_jpeg() -> bytes:
    return save(Image.fromarray(shop_rgb()).convert("CMYK"), "JPEG", quality=90)


def png_16_bit() -> bytes:
    """16-bit grayscale PNG of the 28x28 garment (values scaled x257)."""
    return save(Image.fromarray(garment().astype(np.uint16) * 257), "PNG")


def png_48_bit() -> bytes:
    """16-bit-per-channel RGB PNG, written by hand (Pillow cannot write one)."""
    rgb16 = shop_rgb(64).astype(">u2") * 257
    raw = b"".join(b"\0" + row.tobytes() for row in rgb16)
    return png_chunks(64, 64, bit_depth=16, colour_type=2, idat=zlib.compress(raw))


def palette_png_with_transparency() -> bytes:
    image = Image.fromarray(shop_rgb()).convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    corner = image.getpixel((0, 0))
    return save(image, "PNG", transparency=corner)  # the background colour is transparent


def exif_rotated_jpeg(orientation: int = 6) -> bytes:
    """Stored rotated; EXIF orientation 6 says "rotate 90 degrees clockwise to view"."""
    upright = Image.fromarray(shop_rgb())
    stored = upright.transpose(Image.Transpose.ROTATE_90)  # what a camera held sideways writes
    exif = Image.Exif()
    exif[0x0112] = orientation
    return save(stored, "JPEG", quality=92, exif=exif)


def animated_gif() -> bytes:
    """First frame the garment, second frame blank."""
    first = Image.fromarray(shop_rgb()).convert("P")
    second = Image.new("P", first.size, 0)
    return save(first, "GIF", save_all=True, append_images=[second], duration=100, loop=0)


def webp(lossless: bool = False) -> bytes:
    return save(Image.fromarray(shop_rgb()), "WEBP", lossless=lossless, quality=80)


def webp_rgba() -> bytes:
    return save(Image.fromarray(cut_out()), "WEBP", lossless=True)


def bmp() -> bytes:
    return save(Image.fromarray(shop_rgb()), "BMP")


def tiff(compression: str = "tiff_lzw") -> bytes:
    return save(Image.fromarray(shop_rgb()), "TIFF", compression=compression)


def cut_out() -> np.ndarray:
    """The garment on a transparent background (RGBA), transparent pixels black as editors save them."""
    rgba = np.dstack([shop_rgb(), np.where(garment(120) > 0, 255, 0).astype(np.uint8)])
    rgba[rgba[..., 3] == 0] = 0
    return rgba


def rgba_png() -> bytes:
    return image_bytes(cut_out())


def grayscale_alpha_png() -> bytes:
    rgba = cut_out()
    return save(Image.fromarray(rgba).convert("LA"), "PNG")


def bilevel_png() -> bytes:
    return save(Image.fromarray(garment(56) == 0), "PNG")  # mode "1": black garment on white


def grayscale_progressive_jpeg() -> bytes:
    return save(Image.fromarray(shop_rgb()).convert("L"), "JPEG", progressive=True, quality=85)


def lab_tiff() -> bytes:
    return save(Image.fromarray(shop_rgb()).convert("LAB"), "TIFF")


def one_pixel_png() -> bytes:
    return image_bytes(np.full((1, 1), 255, np.uint8))


def thin_strip_png() -> bytes:
    return image_bytes(np.full((1, 2000), 128, np.uint8))


UNUSUAL = {
    "cmyk.jpg": cmyk_jpeg,
    "16-bit.png": png_16_bit,
    "48-bit.png": png_48_bit,
    "palette-transparency.png": palette_png_with_transparency,
    "exif-rotated.jpg": exif_rotated_jpeg,
    "animated.gif": animated_gif,
    "lossy.webp": webp,
    "lossless.webp": lambda: webp(lossless=True),
    "rgba.webp": webp_rgba,
    "rgb.bmp": bmp,
    "lzw.tiff": tiff,
    "deflate.tiff": lambda: tiff("tiff_adobe_deflate"),
    "lab.tiff": lab_tiff,
    "rgba.png": rgba_png,
    "gray-alpha.png": grayscale_alpha_png,
    "bilevel.png": bilevel_png,
    "progressive-gray.jpg": grayscale_progressive_jpeg,
    "one-pixel.png": one_pixel_png,
    "thin-strip.png": thin_strip_png,
}

# ---- not images ------------------------------------------------------------------------------

SVG = (
    b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="28" height="28">'
    b'<rect width="9" height="9"/></svg>'
)
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
HTML = b"<!DOCTYPE html><html><body><img src='boot.png'></body></html>"


def zip_file() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("boot.png", image_bytes(garment()))
    return buffer.getvalue()


def ico() -> bytes:
    """A real image, in a format the service does not accept."""
    return save(Image.fromarray(shop_rgb(32)), "ICO")


NOT_IMAGES = {
    "text.txt": lambda: b"hello, this is not an image\n",
    "drawing.svg": lambda: SVG,
    "document.pdf": lambda: PDF,
    "page.html": lambda: HTML,
    "archive.zip": zip_file,
    "icon.ico": ico,
    "json.json": lambda: b'{"file": "boot.png"}',
    "nul-bytes.bin": lambda: b"\0" * 1000,
}

# ---- broken images ---------------------------------------------------------------------------


def truncated(data: bytes, keep: float = 0.5) -> bytes:
    return data[: int(len(data) * keep)]


def corrupt_png_data() -> bytes:
    """A PNG whose compressed pixel data is overwritten with junk (chunk CRCs no longer match)."""
    data = bytearray(image_bytes(shop_rgb()))
    start = data.index(b"IDAT") + 8
    data[start : start + 64] = bytes(range(64))
    return bytes(data)


def png_header_only() -> bytes:
    return image_bytes(garment())[:33]  # signature and IHDR, no pixel data


def jpeg_header_only() -> bytes:
    data = save(Image.fromarray(shop_rgb()), "JPEG")
    return data[: data.index(b"\xff\xda")]  # everything before the scan


BROKEN = {
    "truncated.png": lambda: truncated(image_bytes(shop_rgb())),
    "truncated.jpg": lambda: truncated(save(Image.fromarray(shop_rgb()), "JPEG", quality=95)),
    "truncated.gif": lambda: truncated(save(Image.fromarray(shop_rgb()).convert("P"), "GIF")),
    "truncated.webp": lambda: truncated(webp()),
    "truncated.tiff": lambda: truncated(tiff("raw")),
    "corrupt-data.png": corrupt_png_data,
    "header-only.png": png_header_only,
    "header-only.jpg": jpeg_header_only,
    "signature-only.png": lambda: b"\x89PNG\r\n\x1a\n",
}

# ---- decompression bombs: tiny files declaring huge images -----------------------------------


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def png_chunks(width: int, height: int, bit_depth: int, colour_type: int, idat: bytes) -> bytes:
    header = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b"")
    )


def png_bomb(width: int = 30_000, height: int = 30_000) -> bytes:
    """An 8-bit grayscale PNG declaring width x height, its zeros compressed ~1000:1 (first rows only)."""
    rows = zlib.compress(b"\0" * (width + 1) * min(height, 64), 9)
    return png_chunks(width, height, bit_depth=8, colour_type=0, idat=rows)


def gif_bomb(side: int = 30_000) -> bytes:
    """A 1x1 GIF whose screen and frame descriptors are patched to declare side x side."""
    data = bytearray(save(Image.new("P", (1, 1)), "GIF"))
    data[6:10] = struct.pack("<HH", side, side)  # logical screen
    frame = data.index(b"\x2c")  # image descriptor: left, top, width, height
    data[frame + 5 : frame + 9] = struct.pack("<HH", side, side)
    return bytes(data)


def tiff_bomb(side: int = 30_000) -> bytes:
    """A hand-made little-endian TIFF declaring side x side 8-bit grayscale, with 16 bytes of data."""
    entries = [
        (256, 4, 1, side),  # ImageWidth (LONG)
        (257, 4, 1, side),  # ImageLength
        (258, 3, 1, 8),  # BitsPerSample
        (259, 3, 1, 1),  # Compression: none
        (262, 3, 1, 1),  # PhotometricInterpretation: black is zero
        (273, 4, 1, 8),  # StripOffsets: right after the header
        (278, 4, 1, side),  # RowsPerStrip
        (279, 4, 1, 16),  # StripByteCounts
    ]
    ifd_offset = 8 + 16
    ifd = struct.pack("<H", len(entries))
    for tag, kind, count, value in entries:
        packed = struct.pack("<H", value) + b"\0\0" if kind == 3 else struct.pack("<I", value)
        ifd += struct.pack("<HHI", tag, kind, count) + packed
    return b"II*\0" + struct.pack("<I", ifd_offset) + b"\0" * 16 + ifd + b"\0\0\0\0"


def jpeg_bomb(side: int = 65_000) -> bytes:
    """A small JPEG whose frame header is patched to declare side x side."""
    data = bytearray(save(Image.new("L", (8, 8)), "JPEG"))
    frame = data.index(b"\xff\xc0")
    data[frame + 5 : frame + 9] = struct.pack(">HH", side, side)
    return bytes(data)


BOMBS = {
    "bomb-30000x30000.png": png_bomb,
    "bomb-7000x7000.png": lambda: png_bomb(7_000, 7_000),  # over our 40 Mpx limit, under Pillow's
    "bomb.gif": gif_bomb,
    "bomb.tiff": tiff_bomb,
    "bomb.jpg": jpeg_bomb,
}
