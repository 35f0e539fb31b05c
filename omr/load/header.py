"""A file's header read with Pillow without decoding a pixel: size, mode, dpi, EXIF orientation.

Pillow calls run inside :func:`pillow_calls`: Pillow reports corrupt metadata and its own decompression-bomb check
as warnings, which would otherwise become errors under ``-W error``. ``warnings.catch_warnings`` changes
process-global state, so call the loader from one thread per process or accept that another thread's warning
filters may briefly be overridden.
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO

from PIL import BmpImagePlugin, Image, JpegImagePlugin, PngImagePlugin, TiffImagePlugin

from omr.load.limits import PageError

__all__ = ["FORMAT_NAMES", "exif_orientation", "metadata_dpi", "open_header", "pillow_calls", "pillow_pixel_bytes",
           "plausible_dpi"]

logger = logging.getLogger(__name__)

_PIL_CLASSES = {
    "jpeg": JpegImagePlugin.JpegImageFile,
    "png": PngImagePlugin.PngImageFile,
    "bmp": BmpImagePlugin.BmpImageFile,
    "tiff": TiffImagePlugin.TiffImageFile,
}
FORMAT_NAMES = {"jpeg": "JPEG", "png": "PNG", "bmp": "BMP", "tiff": "TIFF", "pdf": "PDF"}


@contextmanager
def pillow_calls() -> Iterator[None]:
    """Run Pillow code with its warnings recorded and logged instead of raised or printed.

    Pillow signals corrupt metadata ("Possibly corrupt EXIF data") and its own decompression-bomb check
    (``DecompressionBombWarning``; our own pixel check runs first) as warnings; under ``-W error`` they would
    abort a page that decodes fine. ``DecompressionBombError`` is an exception and is reported by the caller.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    for w in caught:
        logger.debug("Pillow warning: %s: %s", w.category.__name__, w.message)


def open_header(fp: IO[bytes], fmt: str) -> Image.Image:
    """Parse a file's header with Pillow without decoding pixels.

    The format plugin is constructed directly (``Image.open`` would run Pillow's own decompression-bomb
    check with Pillow's global limit, ~89 Mpx, before ours); every frame's size is checked against
    ``LoadLimits.max_pixels`` by the caller instead.
    """
    try:
        with pillow_calls():
            return _PIL_CLASSES[fmt](fp)
    except Image.DecompressionBombError as error:
        raise PageError(f"image exceeds the decompression-bomb limit ({error})") from None
    except Exception as error:  # noqa: BLE001 - any parser failure is a property of the file
        raise PageError(f"unreadable {FORMAT_NAMES[fmt]} header ({type(error).__name__}: {error})") from None


def pillow_pixel_bytes(mode: str) -> int:
    """Bytes one pixel takes in a decoded Pillow image of ``mode`` (Pillow keeps every multi-band mode in 4)."""
    if mode in ("1", "L", "P"):
        return 1
    if mode.startswith("I;16"):
        return 2
    return 4


def exif_orientation(im: Image.Image) -> int:
    """The EXIF orientation (1-8) recorded in an opened image; 1 when absent or unreadable."""
    try:
        with pillow_calls():
            value = im.getexif().get(0x0112, 1)
        return int(value) if int(value) in range(1, 9) else 1
    except Exception:  # noqa: BLE001 - unreadable EXIF means no orientation
        return 1


def metadata_dpi(info: dict) -> float | None:
    """The dpi recorded in a Pillow ``info`` dict, or None when absent or implausible."""
    dpi = info.get("dpi")
    try:
        x, y = (float(v) for v in dpi)  # type: ignore[union-attr]
    except (TypeError, ValueError):
        return None
    return plausible_dpi(x, y)


def plausible_dpi(x: float, y: float) -> float | None:
    """One dpi from horizontal and vertical values; None for absent or meaningless ones (e.g. 1 = "unset")."""
    if not (math.isfinite(x) and math.isfinite(y) and 10.0 <= x <= 100_000 and 10.0 <= y <= 100_000):
        return None
    return round(x if abs(x - y) <= 0.01 * x else (x + y) / 2, 2)
