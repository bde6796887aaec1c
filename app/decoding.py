"""Upload bytes -> a decoded Pillow image, within budgets: the header read once, limits, EXIF.

A decoder's work is bounded before it starts. `read_header` walks the file's container structure
(PNG chunks, JPEG markers, GIF blocks, WebP chunks, the first TIFF directory) without decoding a
pixel, and `check_budgets` refuses what would cost too much: too many pixels (per image and per
request), progressive JPEG scans, metadata bytes, segments that Pillow parses one at a time in
Python, animation frames. The same header says whether an upload is cheap enough to prepare on
the event loop (`is_cheap`): nothing that can take more than a few milliseconds runs there.
"""

from __future__ import annotations

import io
import re
import struct
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps

from app.preprocessing import IMAGE_SIZE

# Default width x height limit, checked before decoding: 24 MP (6000 x 4000, a camera photo). A decoded
# RGBA image and Pillow's premultiplied copy for resizing are ~96 MB each at that size; measured peak RSS
# of one preparation at 24 MP: RGBA 217 MiB, LA 308 MiB, 16-bit 259 MiB (488 MiB at 40 MP, the old limit).
MAX_IMAGE_PIXELS = 24_000_000
# Pixels of all the images of one request together: two full-size photos. A batch of 8 x 24 MP 16-bit
# PNGs (535 KB) cost 3.2 s and 373 MB before this limit; now it is refused from the headers alone.
MAX_REQUEST_PIXELS = 48_000_000
# Scans of a progressive JPEG: encoders write 6-12 (libjpeg's default script: 10 for colour), mozjpeg
# up to ~20; each scan passes over every coefficient, so 10,000 empty scans held a thread for ~7 s.
MAX_JPEG_SCANS = 100
# Metadata bytes (PNG ancillary chunks, JPEG APPn/COM markers, GIF extensions, WebP EXIF/XMP/ICC and
# unknown chunks), framing included: EXIF is at most 64 KiB, ICC profiles a few KiB.
MAX_METADATA_BYTES = 1024 * 1024
# Chunks, markers and blocks that Pillow parses one at a time in Python (measured: 5-15 us each on the
# development VM, so 4,096 cost at most ~60 ms). A 10 MiB PNG written by libpng has ~1,300 chunks.
MAX_SEGMENTS = 4096
# Frames of an animated GIF, PNG or WebP. Only the first is ever decoded.
MAX_ANIMATION_FRAMES = 1000

# Prepared on the event loop only when all of these hold (worst case measured: ~1 ms): a data-set-sized
# image, in a file this small, with this few segments and scans.
INLINE_MAX_BYTES = 16 * 1024
INLINE_MAX_SEGMENTS = 32
INLINE_MAX_SCANS = 16

ACCEPTED_FORMATS = ("PNG", "JPEG", "WEBP", "GIF", "BMP", "TIFF")
ORIENTATION = 0x0112  # the EXIF tag
WORKING_SIZE = 256  # JPEGs far larger than this are decoded at a reduced scale (see open_image)
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_IMAGE_CHUNKS = frozenset({b"IHDR", b"PLTE", b"IDAT", b"IEND", b"tRNS", b"acTL", b"fcTL", b"fdAT"})
WEBP_IMAGE_CHUNKS = frozenset({b"VP8 ", b"VP8L", b"VP8X", b"ALPH", b"ANIM", b"ANMF"})
JPEG_FRAME_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}  # SOFn: they carry the size
JPEG_STANDALONE = frozenset(range(0xD0, 0xDA)) | {0x01}  # RSTn, SOI, EOI, TEM: no length field


class ImageError(ValueError):
    """Base class of the client's image mistakes; `status_code` is the HTTP answer."""

    status_code = 400


class InvalidImage(ImageError):
    """Not an image we can decode: wrong format, corrupt or truncated."""


class ImageTooLarge(ImageError):
    """The image (or the request's images together) is over a size or decoding budget."""

    status_code = 413


@dataclass(frozen=True)
class DecodeLimits:
    """The decoder's budgets (app.config.Settings.decode_limits builds them from the settings)."""

    max_pixels: int = MAX_IMAGE_PIXELS
    max_request_pixels: int = MAX_REQUEST_PIXELS
    max_jpeg_scans: int = MAX_JPEG_SCANS
    max_metadata_bytes: int = MAX_METADATA_BYTES
    max_segments: int = MAX_SEGMENTS
    max_frames: int = MAX_ANIMATION_FRAMES


def as_limits(limits: DecodeLimits | int) -> DecodeLimits:
    """Budgets from a DecodeLimits, or the defaults with a per-image pixel limit."""
    return limits if isinstance(limits, DecodeLimits) else DecodeLimits(max_pixels=limits)


@dataclass
class Header:
    """What the container says before any pixel is decoded. Counts stop a little past their cap."""

    format: str = ""  # one of ACCEPTED_FORMATS, "" when not recognised (Pillow decides then)
    width: int = 0  # 0 when the walk did not find the size
    height: int = 0
    segments: int = 0  # chunks / markers / blocks a decoder parses one at a time in Python
    metadata_bytes: int = 0
    scans: int = 0  # JPEG scans (1 for a baseline JPEG)
    frames: int = 1

    @property
    def pixels(self) -> int:
        return self.width * self.height

    def over(self, cap: int) -> bool:
        return self.segments > cap


def read_header(
    data: bytes,
    segment_cap: int = MAX_SEGMENTS,
    metadata_cap: int = MAX_METADATA_BYTES,
    frame_cap: int = MAX_ANIMATION_FRAMES,
) -> Header:
    """Walk the container without decoding; stop once segments or metadata pass their caps.

    Lenient: a structure it cannot follow ends the walk with what was found, and Pillow judges the
    file. The work is bounded by the caps (JPEG scans are counted by a C-speed byte search).
    """
    header = Header()
    try:
        if data.startswith(PNG_SIGNATURE):
            walk_png(data, header, segment_cap, metadata_cap)
        elif data.startswith(b"\xff\xd8"):
            walk_jpeg(data, header, segment_cap, metadata_cap)
        elif data[:6] in (b"GIF87a", b"GIF89a"):
            walk_gif(data, header, segment_cap, metadata_cap, frame_cap)
        elif data[:4] == b"RIFF" and data[8:12] == b"WEBP":
            walk_webp(data, header, segment_cap, metadata_cap)
        elif data[:2] == b"BM" and len(data) >= 26:
            read_bmp(data, header)
        elif data[:4] in (b"II*\0", b"MM\0*"):
            read_tiff(data, header)
    except (struct.error, IndexError, ValueError):
        pass  # truncated or malformed structure: what was found so far stands
    return header


def walk_png(data: bytes, header: Header, segment_cap: int, metadata_cap: int) -> None:
    header.format = "PNG"
    if data[12:16] == b"IHDR":
        header.width, header.height = struct.unpack_from(">II", data, 16)
    position = len(PNG_SIGNATURE)
    while position + 12 <= len(data) and not header.over(segment_cap):
        length, kind = struct.unpack_from(">I4s", data, position)
        header.segments += 1
        if kind not in PNG_IMAGE_CHUNKS:
            header.metadata_bytes += length + 12
            if header.metadata_bytes > metadata_cap:
                return
        elif kind == b"acTL":
            header.frames = struct.unpack_from(">I", data, position + 8)[0]
        elif kind == b"IEND":
            return
        position += length + 12


def walk_jpeg(data: bytes, header: Header, segment_cap: int, metadata_cap: int) -> None:
    header.format = "JPEG"
    position = 2
    while position + 4 <= len(data) and not header.over(segment_cap):
        if data[position] != 0xFF:
            return
        marker = data[position + 1]
        if marker == 0xFF:  # fill byte
            position += 1
            continue
        header.segments += 1
        if marker in JPEG_STANDALONE:
            position += 2
            continue
        (length,) = struct.unpack_from(">H", data, position + 2)
        if marker in JPEG_FRAME_MARKERS and not header.width:
            header.height, header.width = struct.unpack_from(">HH", data, position + 5)
        elif marker == 0xDA:  # the first scan: the rest is entropy-coded data and later scans
            # In entropy-coded data 0xFF is always followed by 0x00 or RSTn, so each FFDA is a scan
            # header (a marker segment between scans could hold the bytes too: a hostile file's own loss).
            header.scans = 1 + data.count(b"\xff\xda", position + 2)
            return
        elif 0xE0 <= marker <= 0xEF or marker == 0xFE:  # APPn, COM
            header.metadata_bytes += length + 2
            if header.metadata_bytes > metadata_cap:
                return
        position += 2 + length


def walk_gif(data: bytes, header: Header, segment_cap: int, metadata_cap: int, frame_cap: int) -> None:
    """Blocks up to the first image count as segments; frames are counted through the whole file."""
    header.format = "GIF"
    header.width, header.height, flags = struct.unpack_from("<HHB", data, 6)
    position = 13 + (3 << ((flags & 7) + 1) if flags & 0x80 else 0)
    header.frames = 0
    while position < len(data):
        introducer = data[position]
        if introducer == 0x3B:  # trailer
            break
        if introducer == 0x21:  # extension: label, then sub-blocks
            position += 2
            before_image = header.frames == 0
            while data[position]:
                if before_image:
                    header.segments += 1
                    header.metadata_bytes += data[position] + 1
                position += data[position] + 1
            position += 1
            if before_image and (header.over(segment_cap) or header.metadata_bytes > metadata_cap):
                break
        elif introducer == 0x2C:  # image descriptor, optional local colour table, LZW data sub-blocks
            header.frames += 1
            if header.frames > frame_cap:
                break
            flags = data[position + 9]
            position += 10 + (3 << ((flags & 7) + 1) if flags & 0x80 else 0) + 1
            while data[position]:
                position += data[position] + 1
            position += 1
        else:
            break
    if header.frames == 0:  # no image in it: the size at the top is not to be trusted
        header.width = header.height = 0
    header.frames = max(header.frames, 1)


def walk_webp(data: bytes, header: Header, segment_cap: int, metadata_cap: int) -> None:
    header.format = "WEBP"
    position = 12
    frames = 0
    while position + 8 <= len(data) and not header.over(segment_cap):
        kind, size = struct.unpack_from("<4sI", data, position)
        body = position + 8
        header.segments += 1
        if kind == b"VP8X":
            header.width = 1 + int.from_bytes(data[body + 4 : body + 7], "little")
            header.height = 1 + int.from_bytes(data[body + 7 : body + 10], "little")
        elif kind == b"VP8 " and not header.width:
            width, height = struct.unpack_from("<HH", data, body + 6)
            header.width, header.height = width & 0x3FFF, height & 0x3FFF
        elif kind == b"VP8L" and not header.width:
            (bits,) = struct.unpack_from("<I", data, body + 1)
            header.width, header.height = (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
        elif kind == b"ANMF":
            frames += 1
        elif kind not in WEBP_IMAGE_CHUNKS:
            header.metadata_bytes += size + 8
            if header.metadata_bytes > metadata_cap:
                break
        position = body + size + (size & 1)
    header.frames = max(frames, 1)


def read_bmp(data: bytes, header: Header) -> None:
    header.format = "BMP"
    (info_size,) = struct.unpack_from("<I", data, 14)
    if info_size not in (12, 16, 40, 52, 56, 64, 108, 124):  # the known DIB headers; else not a BMP
        return
    if info_size == 12:  # OS/2 BITMAPCOREHEADER
        header.width, height = struct.unpack_from("<HH", data, 18)
    else:
        width, height = struct.unpack_from("<ii", data, 18)
        header.width = abs(width)
    header.height = abs(height)


def read_tiff(data: bytes, header: Header) -> None:
    """The first directory: size, and as segments its entries plus, uncompressed, its strips or tiles.

    Pillow reads an uncompressed TIFF one strip at a time in Python; compressed ones go to libtiff.
    """
    header.format = "TIFF"
    order = "<" if data[:2] == b"II" else ">"
    (offset,) = struct.unpack_from(order + "I", data, 4)
    (entries,) = struct.unpack_from(order + "H", data, offset)
    header.segments = entries
    compression, pieces = 1, 0
    for index in range(min(entries, MAX_SEGMENTS + 1)):
        tag, kind, count = struct.unpack_from(order + "HHI", data, offset + 2 + 12 * index)
        value_at = offset + 2 + 12 * index + 8
        value = struct.unpack_from(order + ("H" if kind == 3 else "I"), data, value_at)[0]
        if tag == 256:
            header.width = value
        elif tag == 257:
            header.height = value
        elif tag == 259:
            compression = value
        elif tag in (273, 324):  # StripOffsets, TileOffsets
            pieces = count
    if compression == 1:
        header.segments += pieces


def check_budgets(header: Header, limits: DecodeLimits) -> None:
    """Refuse (413) an image whose header says it would cost more than the budgets allow."""
    name = header.format or "image"
    if header.pixels > limits.max_pixels:
        raise ImageTooLarge(
            f"image is {header.width}x{header.height} = {header.pixels} pixels; "
            f"the limit is {limits.max_pixels}"
        )
    if header.scans > limits.max_jpeg_scans:
        raise ImageTooLarge(f"JPEG has {header.scans} scans; the limit is {limits.max_jpeg_scans}")
    if header.metadata_bytes > limits.max_metadata_bytes:
        raise ImageTooLarge(
            f"{name} has over {limits.max_metadata_bytes} bytes of metadata; "
            f"the limit is {limits.max_metadata_bytes}"
        )
    if header.segments > limits.max_segments:
        raise ImageTooLarge(
            f"{name} has over {limits.max_segments} chunks, markers or blocks; "
            f"the limit is {limits.max_segments}"
        )
    if header.frames > limits.max_frames:
        raise ImageTooLarge(f"{name} has {header.frames} frames; the limit is {limits.max_frames}")


def check_request_pixels(uploads: list[bytes], limits: DecodeLimits) -> None:
    """Refuse (413) a request whose images declare more pixels together than the request budget.

    An image over the per-image limit is not counted: it is refused on its own, without decoding.
    """
    declared = (read_header(data, segment_cap=limits.max_segments).pixels for data in uploads)
    total = sum(pixels for pixels in declared if pixels <= limits.max_pixels)
    if total > limits.max_request_pixels:
        raise ImageTooLarge(
            f"the {len(uploads)} images declare {total} pixels together; "
            f"the limit is {limits.max_request_pixels} per request"
        )


def is_cheap(data: bytes, mode: str = "auto") -> bool:
    """Whether preparing the upload on the event loop costs well under a few milliseconds.

    From the header alone, read once and only within INLINE_MAX_BYTES: a data-set-sized (28x28)
    image, a small file, few segments and scans, one frame, and not forced through the photo
    conversion. Everything else is prepared on a thread.
    """
    if mode == "photo" or len(data) > INLINE_MAX_BYTES:
        return False
    header = read_header(data, INLINE_MAX_SEGMENTS, INLINE_MAX_BYTES, frame_cap=1)
    return (
        (header.width, header.height) == (IMAGE_SIZE, IMAGE_SIZE)
        and header.segments <= INLINE_MAX_SEGMENTS
        and header.scans <= INLINE_MAX_SCANS
        and header.frames == 1
    )


def open_image(data: bytes, max_pixels: DecodeLimits | int = MAX_IMAGE_PIXELS) -> Image.Image:
    """Identify the format from the bytes (never the header), check the budgets, decode.

    The budgets are checked from the container's structure before any pixel is decoded, so a
    decompression bomb (a small file declaring a huge image) costs nothing, and Pillow's own
    reading of the size is checked once more. Animated images give their first frame.
    """
    limits = as_limits(max_pixels)
    if not data:
        raise InvalidImage("the uploaded file is empty")
    check_budgets(
        read_header(data, limits.max_segments, limits.max_metadata_bytes, limits.max_frames), limits
    )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # bomb warnings (we check ourselves), "Corrupt EXIF data", ...
            image = Image.open(io.BytesIO(data), formats=ACCEPTED_FORMATS)
    except Image.DecompressionBombError as error:  # Pillow's own limit, far above ours
        raise ImageTooLarge(
            f"image declares {declared_pixels(error)}; the limit is {limits.max_pixels}"
        ) from error
    except MemoryError:  # the server's shortage, not the client's mistake: a 503 (app.main)
        raise
    except Exception as error:  # plugins raise many types (struct.error, IndexError, ...) on junk
        raise InvalidImage(f"not a supported image ({', '.join(ACCEPTED_FORMATS)})") from error
    width, height = image.size
    if width * height > limits.max_pixels:
        raise ImageTooLarge(
            f"image is {width}x{height} = {width * height} pixels; the limit is {limits.max_pixels}"
        )
    if width < 1 or height < 1:
        raise InvalidImage(f"image has no pixels ({width}x{height})")
    if image.format == "JPEG" and max(width, height) > 2 * WORKING_SIZE:
        image.draft("RGB", (WORKING_SIZE, WORKING_SIZE))  # DCT-domain downscale: much faster decode
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. "Palette images with Transparency expressed in bytes"
            image.load()
    except Image.DecompressionBombError as error:  # a frame bigger than the declared size
        raise ImageTooLarge(
            f"image declares {declared_pixels(error)}; the limit is {limits.max_pixels}"
        ) from error
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
