"""Single-image formats, JPEG, PNG and BMP, decoded by OpenCV from memory (or by Pillow).

The decoding path is chosen from the header so that a page is reduced before it is converted: JPEG and BMP are
decoded straight to 8-bit gray (colour only for red dropout), JPEG optionally at 1/2, 1/4 or 1/8 size by libjpeg;
a PNG without alpha is decoded straight to gray when it is gray or 16-bit colour, and to 8-bit colour otherwise
(16-bit colour is reduced by libpng while decoding, within one gray level of ``v / 257``); a PNG with alpha is
decoded by Pillow to 8-bit samples (4 bytes a pixel, where OpenCV would keep 16-bit BGRA) and composited on
white (16-bit samples keep their top byte: within two gray levels of compositing the 16-bit values). What the
chosen path will hold is checked against ``LoadLimits.max_decoded_bytes`` before a pixel is decoded.

Truncation rule: a JPEG must have its end-of-image marker (``FF D9``) after the start of its first scan; a PNG
must end with its IEND chunk (bytes after IEND are tolerated); an uncompressed BMP must hold all the pixel rows
its header declares. Data damaged *inside* a JPEG that still has its end marker cannot be detected cheaply and
is decoded as well as the decoder can.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from typing import Callable

import cv2
import numpy as np
from PIL import Image

from omr.load.gray import finish, pillow_to_gray, to_gray
from omr.load.header import (FORMAT_NAMES, exif_orientation, metadata_dpi, open_header, pillow_calls,
                             pillow_pixel_bytes)
from omr.load.limits import LoadedPage, LoadLimits, PageError, check_decoded_bytes, check_pixels

__all__ = ["decode_single", "reduction_for"]

logger = logging.getLogger(__name__)

_PNG_IEND = b"\x00\x00\x00\x00IEND\xaeB`\x82"
_PNG_COLOUR_TYPES = {0: "gray", 2: "RGB", 3: "palette", 4: "gray+alpha", 6: "RGBA"}

_CV_REDUCED = {
    (1, False): cv2.IMREAD_GRAYSCALE, (2, False): cv2.IMREAD_REDUCED_GRAYSCALE_2,
    (4, False): cv2.IMREAD_REDUCED_GRAYSCALE_4, (8, False): cv2.IMREAD_REDUCED_GRAYSCALE_8,
    (1, True): cv2.IMREAD_COLOR, (2, True): cv2.IMREAD_REDUCED_COLOR_2,
    (4, True): cv2.IMREAD_REDUCED_COLOR_4, (8, True): cv2.IMREAD_REDUCED_COLOR_8,
}


def _jpeg_scan_start(data: bytes) -> int | None:
    """Offset of the first SOS marker of a JPEG, walking the marker segments; None if there is none."""
    i, n = 2, len(data)
    while i + 4 <= n:
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
        elif marker in (0x01, 0xD8) or 0xD0 <= marker <= 0xD7:  # markers without a length
            i += 2
        elif marker == 0xDA:
            return i
        elif marker == 0xD9:
            return None
        else:
            i += 2 + int.from_bytes(data[i + 2:i + 4], "big")
    return None


def _check_complete(data: bytes, fmt: str) -> None:
    """Raise PageError if the file is truncated (see the module docstring for the rule)."""
    if fmt == "jpeg":
        start = _jpeg_scan_start(data)
        if start is None:
            raise PageError("truncated JPEG (no image data after the header)")
        if data.rfind(b"\xff\xd9") < start:
            raise PageError("truncated JPEG (no end-of-image marker after the image data)")
    elif fmt == "png":
        if data.rfind(_PNG_IEND) < 0:
            raise PageError("truncated PNG (no IEND chunk)")
    elif fmt == "bmp" and len(data) >= 30:
        offset = int.from_bytes(data[10:14], "little")
        header = int.from_bytes(data[14:18], "little")
        if header == 12:
            width, height = int.from_bytes(data[18:20], "little"), int.from_bytes(data[20:22], "little")
            bits, compression = int.from_bytes(data[24:26], "little"), 0
        else:
            width = int.from_bytes(data[18:22], "little", signed=True)
            height = int.from_bytes(data[22:26], "little", signed=True)
            bits = int.from_bytes(data[28:30], "little")
            compression = int.from_bytes(data[30:34], "little") if len(data) >= 34 else 0
        if compression in (0, 3, 6):  # uncompressed rows (BI_RGB, BI_BITFIELDS, BI_ALPHABITFIELDS)
            needed = offset + (abs(width) * bits + 31) // 32 * 4 * abs(height)
            if len(data) < needed:
                raise PageError(f"truncated BMP (pixel data needs {needed:,} bytes, the file has {len(data):,})")


def reduction_for(width: int, height: int, min_px: int | None) -> int:
    """Largest JPEG reduction (8, 4, 2) keeping the shorter side >= min_px (libjpeg rounds sizes up)."""
    if min_px is None:
        return 1
    short = min(width, height)
    for r in (8, 4, 2):
        if -(-short // r) >= min_px:
            return r
    return 1


@dataclass(frozen=True)
class _DecodePlan:
    """How OpenCV is asked to decode a file (or that Pillow decodes it), and what OpenCV's decoding costs."""

    flags: int | None  # None: decoded by Pillow (see _pillow_decode)
    output_bytes: float  # bytes of OpenCV's result per pixel of the full-size image
    layout: str  # the samples, named for a refusal reason
    decoder_bytes: float = 0.0  # what the decoder itself keeps per pixel (a progressive JPEG's coefficients)

    @property
    def peak_bytes(self) -> float:
        """Per pixel at the peak: ``cv2.imdecode`` decodes into its own buffer and copies it into the array it
        returns (two outputs for a moment); the gray result made afterwards never costs more than that."""
        return 2 * self.output_bytes + self.decoder_bytes


def _jpeg_coefficient_bytes(header: Image.Image) -> float:
    """Bytes a pixel libjpeg keeps for a progressive JPEG: every component's DCT coefficients (2 bytes each) at
    its sampling, for the whole image whatever the output scale (a baseline JPEG is decoded a few rows at a time)."""
    if not header.info.get("progressive"):
        return 0.0
    sampling = [(h, v) for _, h, v, _ in getattr(header, "layer", [])] or [(1, 1)]
    h_max, v_max = max(h for h, _ in sampling), max(v for _, v in sampling)
    return 2.0 * sum(h * v for h, v in sampling) / (h_max * v_max)


def _png_plan(data: bytes, header: Image.Image, color_to_gray: str) -> _DecodePlan:
    """Decode a PNG straight to gray (or 8-bit colour); one with alpha goes to Pillow, to be composited on white."""
    depth, colour_type = data[24], data[25]  # IHDR, which Pillow has already validated
    sample = 2 if depth == 16 else 1
    layout = f"{depth}-bit {_PNG_COLOUR_TYPES.get(colour_type, 'PNG')}"
    if colour_type in (4, 6) or "transparency" in header.info:
        return _DecodePlan(None, 0, layout)  # Pillow: 8-bit samples, 4 a pixel; OpenCV would hold 16-bit BGRA twice
    if colour_type == 0 or (sample == 2 and color_to_gray == "luma"):
        return _DecodePlan(cv2.IMREAD_GRAYSCALE | cv2.IMREAD_ANYDEPTH, sample, layout)
    return _DecodePlan(cv2.IMREAD_COLOR, 3, layout)  # 8-bit BGR (16-bit reduced by libpng)


def _cv_decode(data: bytes, flags: int) -> np.ndarray | None:
    try:
        arr = cv2.imdecode(np.frombuffer(data, np.uint8), flags)
    except cv2.error as error:
        logger.debug("OpenCV refused the image: %s", error)
        return None
    return arr if arr is not None and arr.size else None


def _pillow_decode(header: Image.Image, fmt: str, limits: LoadLimits, color_to_gray: str, layout: str) -> np.ndarray:
    """Full-size decoding by Pillow: a PNG with alpha, or a file OpenCV refused (JPEG straight to gray for luma).

    Pillow holds every multi-band image in 4 bytes a pixel (16-bit samples reduced to their top byte while
    decoding); the gray result is made from it band by band.
    """
    width, height = header.size
    try:
        with pillow_calls():
            if fmt == "jpeg" and color_to_gray == "luma" and header.mode != "L":
                header.draft("L", header.size)
            check_decoded_bytes(width, height, pillow_pixel_bytes(header.mode) + 1, layout, limits)
            header.load()
            return pillow_to_gray(header, color_to_gray)
    except PageError:
        raise
    except Image.DecompressionBombError as error:
        raise PageError(f"image exceeds the decompression-bomb limit ({error})") from None
    except Exception as error:  # noqa: BLE001 - decoder failures are properties of the file
        raise PageError(f"corrupt {FORMAT_NAMES[fmt]}: no decoder could read it "
                        f"({type(error).__name__}: {error})") from None


def decode_single(data: bytes, fmt: str, source: str, limits: LoadLimits, reduce_min_px: int | None,
                  color_to_gray: str) -> LoadedPage:
    """Decode a JPEG, PNG or BMP held in memory (PageError with the reason when it cannot be)."""
    header = open_header(io.BytesIO(data), fmt)
    width, height = header.size
    check_pixels(width, height, limits)
    _check_complete(data, fmt)
    dpi = metadata_dpi(header.info)
    orientation = exif_orientation(header) if fmt == "jpeg" else 1
    reduction = 1
    if fmt == "jpeg":
        reduction = reduction_for(width, height, None if reduce_min_px is None else int(reduce_min_px))
        colour = color_to_gray == "red" and header.mode != "L"
        # Orientation is applied below from the tag Pillow read, whatever the OpenCV version does.
        progressive = "progressive " if header.info.get("progressive") else ""
        plan = _DecodePlan(_CV_REDUCED[reduction, colour] | cv2.IMREAD_IGNORE_ORIENTATION,
                           (3 if colour else 1) / reduction**2, f"{progressive}{header.mode} JPEG",
                           _jpeg_coefficient_bytes(header))
    elif fmt == "bmp":  # BMP alpha bytes are unreliable (often zero): decode the colour only
        colour = color_to_gray == "red"
        plan = _DecodePlan((cv2.IMREAD_COLOR if colour else cv2.IMREAD_GRAYSCALE) | cv2.IMREAD_IGNORE_ORIENTATION,
                           3 if colour else 1, f"{header.mode} BMP")
    else:
        plan = _png_plan(data, header, color_to_gray)
    check_decoded_bytes(width, height, plan.peak_bytes, plan.layout, limits)
    arr = None if plan.flags is None else _cv_decode(data, plan.flags)
    if arr is None:  # Pillow's choice, or OpenCV refused (or the image is above its pixel limit): full size
        reduction = 1
        gray = _pillow_decode(header, fmt, limits, color_to_gray, plan.layout)
    else:
        gray = to_gray(arr, "bgr", color_to_gray)
        del arr
    return LoadedPage(source=source, page_index=0, image=finish(gray, orientation), error=None,
                      dpi=None if dpi is None else round(dpi / reduction, 2), reduction=reduction,
                      full_size=_full_size(data, fmt, source, limits, color_to_gray) if reduction > 1 else None)


def _full_size(data: bytes, fmt: str, source: str, limits: LoadLimits, color_to_gray: str
               ) -> Callable[[], np.ndarray | None]:
    """The page decoded again at full size, on demand (None when the limits refuse it)."""
    def decode() -> np.ndarray | None:
        try:
            return decode_single(data, fmt, source, limits, None, color_to_gray).image
        except PageError:
            return None
    return decode
