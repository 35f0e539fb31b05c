"""What a page is (:class:`LoadedPage`), the limits a file is read under (:class:`LoadLimits`), and their checks."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Callable, Literal

import numpy as np

from omr import MAX_IMAGE_PIXELS

__all__ = ["ColorToGray", "LoadLimits", "LoadedPage", "PageError", "check_decoded_bytes", "check_pixels",
           "error_page", "fmt_bytes", "fmt_mpx"]

logger = logging.getLogger(__name__)

ColorToGray = Literal["luma", "red"]


@dataclass(frozen=True)
class LoadLimits:
    """Resource limits for reading one file.

    Attributes
    ----------
    max_file_bytes : int
        Largest file read at all; a larger file is never read into memory.
    max_pixels : int
        Largest page, in pixels (width x height as declared in the header, or of the rasterised PDF page).
        OpenCV's own limit (``OPENCV_IO_MAX_IMAGE_PIXELS``, :data:`omr.MAX_IMAGE_PIXELS` by default) also
        applies to what OpenCV decodes; above it Pillow decodes instead. Pillow refuses TIFF frames above
        twice ``PIL.Image.MAX_IMAGE_PIXELS`` (~179 Mpx by default) whatever this limit says.
    max_decoded_bytes : int
        Largest memory one page may take while it is decoded, computed from the header before any pixel is
        decoded: what the decoding path holds at its peak for the page's bit depth and channels. OpenCV's
        output counts twice, as ``cv2.imdecode`` copies it once (2 bytes a pixel for a page decoded to gray, 6
        for colour kept for red dropout); Pillow's 4 bytes a pixel plus the gray result for a PNG with alpha or
        a colour TIFF frame; a progressive JPEG adds the DCT coefficients libjpeg keeps. The default, 256 MiB,
        admits any 8-bit gray page within the default ``max_pixels`` and colour pages up to ~44 Mpx (A4 at
        600 dpi is 35 Mpx).
    max_pages : int
        Pages read per file (TIFF frames, PDF pages); the rest are reported skipped by one error page.
    max_pdf_page_mm : float
        Longest side of a PDF page (its crop box, which is what is rasterised).
    pdf_dpi : int
        Resolution PDF pages are rasterised at.
    pdf_timeout_s : float
        Time allowed for each ``pdfinfo`` / ``pdftoppm`` call.
    """

    max_file_bytes: int = 200 * 2**20
    max_pixels: int = MAX_IMAGE_PIXELS
    max_pages: int = 500
    max_pdf_page_mm: float = 1000.0
    pdf_dpi: int = 200
    pdf_timeout_s: float = 60.0
    max_decoded_bytes: int = 256 * 2**20

    def __post_init__(self) -> None:
        for name in ("max_file_bytes", "max_pixels", "max_decoded_bytes", "max_pages", "max_pdf_page_mm", "pdf_dpi",
                     "pdf_timeout_s"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise ValueError(f"LoadLimits.{name} must be a positive number, got {value!r}")


@dataclass(frozen=True, eq=False)  # eq=False: comparing images with == would be ambiguous
class LoadedPage:
    """One page of an input file: its gray image, or the reason it could not be read.

    Attributes
    ----------
    source : str
        The file path as given (or the ``source`` label given to :func:`omr.load.load_array`).
    page_index : int
        0-based page within the file.
    image : numpy.ndarray or None
        2-D ``uint8`` gray image, C-contiguous, 255 = white; ``None`` when the page could not be read.
    error : str or None
        Human-readable reason when ``image`` is ``None``.
    dpi : float or None
        Resolution of ``image``: the file's metadata dpi divided by ``reduction`` (JPEG, PNG, TIFF, BMP when
        recorded), or the rasterising dpi of a PDF page; ``None`` when unknown.
    reduction : int
        1, 2, 4 or 8: the factor by which the JPEG decoder reduced the image (see :func:`omr.load.iter_pages`).
    full_size : callable or None
        For a JPEG decoded reduced: decodes the same page again at full size, under the same limits (None when
        that is refused), for what ~100 dpi cannot show (a sticker's 0.25 mm bars); None otherwise.
    """

    source: str
    page_index: int
    image: np.ndarray | None
    error: str | None
    dpi: float | None
    reduction: int = 1
    full_size: Callable[[], np.ndarray | None] | None = field(default=None, repr=False)

    @property
    def ok(self) -> bool:
        """True when the page has an image."""
        return self.image is not None


class PageError(Exception):
    """A page-level failure whose message is the reason reported in :attr:`LoadedPage.error`."""


def fmt_bytes(n: int) -> str:
    return f"{n / 2**20:.1f} MB" if n >= 2**20 else f"{n:,} bytes"


def fmt_mpx(n: int) -> str:
    return f"{n / 1e6:g} Mpx"


def error_page(source: str, index: int, reason: str) -> LoadedPage:
    """The page that stands for page ``index`` of ``source`` when it cannot be read, and why."""
    logger.info("%s page %d: %s", source, index + 1, reason)
    return LoadedPage(source=source, page_index=index, image=None, error=reason, dpi=None)


def check_pixels(width: int, height: int, limits: LoadLimits) -> None:
    """PageError when a declared page size is empty or above ``limits.max_pixels``."""
    if width <= 0 or height <= 0:
        raise PageError(f"image declares an empty size of {width}x{height} px")
    if width * height > limits.max_pixels:
        raise PageError(f"image of {width}x{height} px exceeds the {fmt_mpx(limits.max_pixels)} limit")


def check_decoded_bytes(width: int, height: int, bytes_per_pixel: float, layout: str, limits: LoadLimits) -> None:
    """PageError when decoding a ``width`` x ``height`` page would take more than ``limits.max_decoded_bytes``.

    ``bytes_per_pixel`` is what the chosen decoding path holds at its peak for one pixel (the decoder's output
    plus the gray result); ``layout`` names the samples for the reason (e.g. ``"16-bit RGBA"``).
    """
    needed = math.ceil(width * height * bytes_per_pixel)
    if needed > limits.max_decoded_bytes:
        raise PageError(f"image of {width}x{height} px ({layout}) needs {fmt_bytes(needed)} to decode, exceeding "
                        f"the {fmt_bytes(limits.max_decoded_bytes)} decoded-size limit")
