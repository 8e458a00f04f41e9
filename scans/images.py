"""Uploaded photos: judged by decoding them, then re-encoded clean for storage.

    prepared = prepare_scan_image(upload)   # PreparedImage(jpeg=..., thumbnail=..., ...)

An upload is judged by Pillow decoding it with an explicit ``formats=`` list (JPEG, PNG,
WebP, HEIC/HEIF), never by its name or Content-Type. Size limits are checked from the
header before any pixel is decoded, which is what stops decompression bombs, HEIC ones
included. What is stored is a new JPEG made from the pixels alone: EXIF orientation
applied, then every piece of metadata (GPS, camera, XMP, ICC, comments) left behind.

In a gevent web worker the pixels are worked on in one of the worker's photo processes
(``dermalens_site.photo_processes``, ``prepare_photo``), with a GIL of its own; the
upload's bytes are read in the worker. Elsewhere (tests, commands, gthread) in-process.

The stored photo is written without Huffman optimisation, and so in pieces. Pillow's
JPEG encoder keeps the GIL for each piece of output it writes; an optimised JPEG is
written in one piece, after two passes over every pixel, which held a web worker's other
requests (greenlets, on the thread the GIL is taken from) for 100-150 ms per
12-megapixel photo when photos were prepared in the worker's threads. Written plainly,
the GIL changes hands every few milliseconds (which still matters outside the photo
processes), the encode takes half the CPU, and the file is 4-6 % larger with the very
same pixels (the Huffman tables are lossless). The 320 px thumbnail, a few milliseconds
of work and served on every list page, is optimised. For the same reason WebP is decoded
by OpenCV (``decoded_webp``); Pillow's other decoders let go of the GIL as they go.
"""

import io
import re
import warnings
from dataclasses import dataclass

import cv2
import numpy as np
import pillow_heif
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from PIL import Image, ImageOps, UnidentifiedImageError
from rest_framework import status

from dermalens_site.errors import ApplicationError
from dermalens_site.photo_processes import in_photo_process

pillow_heif.register_heif_opener()
ACCEPTED_FORMATS = ("JPEG", "PNG", "WEBP", "HEIF")
THUMBNAIL_JPEG_QUALITY = 80
# What the decoders raise for a damaged file; pillow-heif reports libheif's refusals as
# RuntimeError.
DECODE_ERRORS = (OSError, SyntaxError, ValueError, RuntimeError)
# Pillow's own bomb limit is set to ours, and its warning (1x-2x the limit) is an error.
Image.MAX_IMAGE_PIXELS = settings.MAX_IMAGE_PIXELS
warnings.simplefilter("error", Image.DecompressionBombWarning)
# Pillow's grey modes of 16 bits a pixel, which a 16-bit grey PNG opens in ("I;16";
# "I" in older Pillows). ``convert("RGB")`` clips them at 255 instead of scaling them,
# which turns a well-exposed photo white. 48- and 64-bit colour PNGs, and 16-bit grey
# with alpha, already open as 8-bit "RGB" or "RGBA".
# What the transparent parts of a photo (a selfie cut out of its background) are laid
# on: a neutral grey, which the exposure and colour checks of an analysis read nothing
# into. Their colour values are whatever the editing app left under them.
TRANSPARENCY_BACKDROP = (128, 128, 128)
SIXTEEN_BIT_GREY_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I")
SIXTEEN_BIT_MAX = 65535
SIXTEEN_TO_EIGHT_BITS = 257  # 65535 / 255: full scale to full scale
# The scans a JPEG's picture may hold. A progressive JPEG is decoded in scans that each
# refine every pixel, and a scan that adds nothing is a few bytes: libjpeg only warns
# about one too many, so a 390 KB file of 6000 x 6000 pixels with its last scan written
# 3,000 times more took its photo process past PHOTO_WORK_TIMEOUT_SECONDS (each copy
# about 0.12 s at 36 megapixels). libjpeg-turbo names the guard (djpeg's -maxscans,
# TurboJPEG's TJPARAM_SCANLIMIT); Pillow offers none, so the scans are counted here.
# A baseline photo (every phone's) holds 1 to 4, libjpeg's progressive scripts (Pillow's
# and most encoders') 10 for colour, 6 for grey, 18 for CMYK, and optimising encoders
# (mozjpeg) choose about as many: at 32 the worst such file costs about four seconds.
MAX_JPEG_SCANS = 32
# The markers (segments) counted at most: real photos hold a few dozen (tables, EXIF,
# ICC, XMP in chunks of up to 64 KB), while 10 MB of empty comments are 2.5 million of
# them, five seconds for the count alone. A JPEG with more counts as one with too many
# scans.
MAX_JPEG_MARKERS = 1000
# A JPEG marker: 0xFF (and any fill bytes 0xFF), then a code that is not 0x00 (a 0xFF
# within the compressed data), 0x01 (TEM) or 0xD0-0xD7 (RSTn): these sit within a scan's
# data, and are skipped over by the search itself.
JPEG_MARKER = re.compile(rb"\xff+([^\x00\x01\xd0-\xd7\xff])")
JPEG_SOS = 0xDA
JPEG_EOI = 0xD9


class InvalidImage(ApplicationError):
    default_code = "invalid_image"
    default_message = "The file is not a readable photo."


class EmptyImage(InvalidImage):
    default_code = "empty_image"
    default_message = "The image file is empty."


class UnsupportedImage(InvalidImage):
    status_code = status.HTTP_415_UNSUPPORTED_MEDIA_TYPE
    default_code = "unsupported_image"
    default_message = "Upload a JPEG, PNG, WebP or HEIC photo."


class CorruptImage(InvalidImage):
    default_code = "corrupt_image"
    default_message = "The image is damaged or incomplete."


class AnimatedImage(InvalidImage):
    default_code = "animated_image"
    default_message = "Upload a still photo, not an animation."


class ImageTooSmall(InvalidImage):
    default_code = "image_too_small"


class ImageTooLarge(InvalidImage):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "image_too_large"


@dataclass(frozen=True)
class PreparedImage:
    jpeg: bytes
    thumbnail: bytes
    width: int
    height: int


def prepare_scan_image(upload: UploadedFile) -> PreparedImage:
    """The upload's bytes are read here; the pixels are worked on in one of the worker's
    photo processes (``dermalens_site.photo_processes``), called directly elsewhere."""
    if upload.size is not None and upload.size > settings.MAX_IMAGE_BYTES:
        raise too_many_bytes()
    data = upload.read(settings.MAX_IMAGE_BYTES + 1)
    if not data:
        raise EmptyImage()
    if len(data) > settings.MAX_IMAGE_BYTES:
        raise too_many_bytes()
    return in_photo_process(prepare_photo, data)


def prepare_photo(data: bytes) -> PreparedImage:
    """Judge a photo by decoding it, and make the JPEG to store and its thumbnail."""
    picture = decode(data)
    return PreparedImage(
        jpeg=stored_jpeg(picture),
        thumbnail=thumbnail_jpeg(picture),
        width=picture.width,
        height=picture.height,
    )


def decode(data: bytes) -> Image.Image:
    """Decode an upload into clean RGB pixels, upright, at most the stored size."""
    try:
        source = Image.open(io.BytesIO(data), formats=ACCEPTED_FORMATS)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
        raise too_many_pixels() from err
    except UnidentifiedImageError as err:
        raise UnsupportedImage() from err
    except DECODE_ERRORS as err:
        # A file cut short or damaged within its header (a JPEG's markers, a WebP's first
        # chunk).
        raise CorruptImage() from err
    with source:
        check_header(source)
        if source.format in ("JPEG", "MPO") and jpeg_scan_count(data) > MAX_JPEG_SCANS:
            raise CorruptImage()
        try:
            if source.format == "WEBP" and not source.has_transparency_data:
                rgb = decoded_webp(data, source)
            else:
                source.load()
                # In place: a 12-megapixel photo is 36 MB decoded; copies add up per upload.
                ImageOps.exif_transpose(source, in_place=True)
                opaque_rgb = source.mode == "RGB" and not source.has_transparency_data
                rgb = source if opaque_rgb else in_rgb(in_eight_bits(source))
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
            raise too_many_pixels() from err
        except DECODE_ERRORS as err:
            raise CorruptImage() from err
    if min(rgb.size) < settings.MIN_IMAGE_SHORT_SIDE_PX:
        raise too_small()
    rgb.thumbnail((settings.STORED_IMAGE_MAX_SIDE_PX,) * 2, Image.Resampling.LANCZOS)
    # The pixels alone go on: the JPEG encoder finds no EXIF, XMP, ICC profile or
    # comment to carry over, and the GPS position goes with the EXIF.
    rgb.info = {}
    rgb.getexif().clear()
    return rgb


def decoded_webp(data: bytes, source: Image.Image) -> Image.Image:
    """A WebP photo's pixels, decoded by OpenCV's libwebp, upright as its EXIF says.

    Pillow's WebP decoder keeps the GIL for stretches of up to ~45 ms for 12 megapixels;
    OpenCV's lets go of it while it decodes, and the pixels are the same. ``source`` is
    the file opened by Pillow, its header checked, its EXIF read.
    """
    try:
        pixels = cv2.imdecode(
            np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR_RGB | cv2.IMREAD_IGNORE_ORIENTATION
        )
    except cv2.error as err:
        raise CorruptImage() from err
    # libwebp decodes at the size in the header Pillow read, or not at all.
    if pixels is None or (pixels.shape[1], pixels.shape[0]) != source.size:
        raise CorruptImage()
    picture = Image.fromarray(pixels)
    if exif := source.info.get("exif"):
        picture.info["exif"] = exif
        ImageOps.exif_transpose(picture, in_place=True)
    return picture


def in_rgb(picture: Image.Image) -> Image.Image:
    """The picture in RGB; where it is transparent (in part or in degrees), as it shows
    over TRANSPARENCY_BACKDROP, not the colours hidden under its transparency."""
    if not picture.has_transparency_data:
        return picture.convert("RGB")
    backdrop = Image.new("RGBA", picture.size, (*TRANSPARENCY_BACKDROP, 255))
    backdrop.alpha_composite(picture.convert("RGBA"))
    return backdrop.convert("RGB")


def in_eight_bits(picture: Image.Image) -> Image.Image:
    """A 16-bit grey picture scaled to 8-bit grey (65535 is 255, rounded); any other
    picture as it is."""
    if picture.mode not in SIXTEEN_BIT_GREY_MODES:
        return picture
    levels = np.clip(np.asarray(picture), 0, SIXTEEN_BIT_MAX).astype(np.uint32)
    half = SIXTEEN_TO_EIGHT_BITS // 2
    eight = Image.fromarray(((levels + half) // SIXTEEN_TO_EIGHT_BITS).astype(np.uint8))
    clear = picture.info.get("transparency")
    if isinstance(clear, int):  # a PNG's one transparent grey level, scaled alike
        eight.info["transparency"] = (min(clear, SIXTEEN_BIT_MAX) + half) // SIXTEEN_TO_EIGHT_BITS
    return eight


def check_header(source: Image.Image) -> None:
    """Limits judged from the declared size, before a single pixel is decoded."""
    width, height = source.size
    if width * height > settings.MAX_IMAGE_PIXELS:
        raise too_many_pixels()
    if min(width, height) < settings.MIN_IMAGE_SHORT_SIDE_PX:
        raise too_small()
    # HEIF files may hold several images (depth maps, bursts), and so may a JPEG in the
    # multi-picture format (MPF: a preview, a depth map), which Pillow opens as "MPO":
    # the primary image, the first, is the photo. Other formats with several frames are
    # animations.
    if source.format not in ("HEIF", "MPO") and getattr(source, "n_frames", 1) > 1:
        raise AnimatedImage()


def jpeg_scan_count(data: bytes) -> int:
    """The scans of a JPEG's first picture, up to one past MAX_JPEG_SCANS (and that past
    MAX_JPEG_MARKERS markers): its markers from the start to its end of image (EOI),
    each segment's contents skipped by its length (an EXIF thumbnail is a JPEG within
    one), a scan's data to the next marker. Bytes that are no marker between segments
    are skipped, as libjpeg skips them."""
    scans = 0
    position = 2  # past the start of image (SOI)
    for _ in range(MAX_JPEG_MARKERS):
        marker = JPEG_MARKER.search(data, position)
        if marker is None or scans > MAX_JPEG_SCANS:
            return scans
        code, position = marker[1][0], marker.end()
        if code == JPEG_EOI:
            return scans
        scans += code == JPEG_SOS
        # Every other marker has a segment, its length (two bytes) counting itself; a
        # scan's data follows its header, and the next search skips over it.
        position += int.from_bytes(data[position : position + 2], "big")
    return MAX_JPEG_SCANS + 1


def thumbnail_of(picture: Image.Image) -> Image.Image:
    small = picture.copy()
    small.thumbnail((settings.THUMBNAIL_MAX_SIDE_PX,) * 2, Image.Resampling.LANCZOS)
    return small


def stored_jpeg(picture: Image.Image) -> bytes:
    """The photo as stored: written in pieces, not optimised (see the module's docstring)."""
    return encode_jpeg(picture, settings.STORED_JPEG_QUALITY, optimize=False)


def thumbnail_jpeg(picture: Image.Image) -> bytes:
    return encode_jpeg(thumbnail_of(picture), THUMBNAIL_JPEG_QUALITY, optimize=True)


def encode_jpeg(picture: Image.Image, quality: int, *, optimize: bool) -> bytes:
    """A baseline JPEG of the pixels alone; ``optimize``: Huffman tables fitted to the
    picture (smaller, twice the CPU, and the GIL held for the whole encode)."""
    buffer = io.BytesIO()
    picture.save(buffer, format="JPEG", quality=quality, optimize=optimize)
    return buffer.getvalue()


def too_many_bytes() -> ImageTooLarge:
    limit_mb = settings.MAX_IMAGE_BYTES / (1024 * 1024)
    return ImageTooLarge(
        f"The image is larger than {limit_mb:g} MB.",
        details={"max_bytes": settings.MAX_IMAGE_BYTES},
    )


def too_many_pixels() -> ImageTooLarge:
    megapixels = settings.MAX_IMAGE_PIXELS / 1_000_000
    return ImageTooLarge(
        f"The image has more than {megapixels:g} megapixels.",
        details={"max_pixels": settings.MAX_IMAGE_PIXELS},
    )


def too_small() -> ImageTooSmall:
    side = settings.MIN_IMAGE_SHORT_SIDE_PX
    return ImageTooSmall(
        f"The image must be at least {side} pixels on its short side.",
        details={"min_short_side_px": side},
    )
