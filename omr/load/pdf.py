"""PDF: ``pdfinfo`` first, then ``pdftoppm`` (through pdf2image) in chunks of a few pages.

Each page's size (its crop box, which is what is rasterised) is checked against ``max_pdf_page_mm`` and, at
``pdf_dpi``, against ``max_pixels`` and ``max_decoded_bytes`` before it is rasterised. Pages are written to a
temporary folder a few at a time and read back one by one, so a 300-page PDF never sits in memory at once.
"""

from __future__ import annotations

import logging
import math
import os
import re
import tempfile
from collections.abc import Iterator

import cv2
import numpy as np

from omr.load.gray import to_gray
from omr.load.limits import LoadedPage, LoadLimits, PageError, check_decoded_bytes, error_page, fmt_mpx

__all__ = ["iter_pdf", "pdfinfo"]

logger = logging.getLogger(__name__)

#: Pages rasterised per pdftoppm call, and the pixel budget of one call (its pages wait in a temp folder).
_PDF_CHUNK_PAGES = 8
_PDF_CHUNK_PIXELS = 256_000_000
_MM_PER_INCH = 25.4
_PT_PER_INCH = 72.0

_PAGE_SIZE_KEY = re.compile(r"Page\s+(\d+)\s+size$")
_PAGE_SIZE_VALUE = re.compile(r"([0-9.]+)\s*x\s*([0-9.]+)\s*pts")
_PDF_OUTPUT_NAME = re.compile(r"-(\d+)\.p[gp]m$")


def pdfinfo(path: str, limits: LoadLimits) -> dict:
    """``pdfinfo`` of the first ``max_pages`` pages; PageError with a clear reason when it fails."""
    from pdf2image import pdfinfo_from_path
    from pdf2image.exceptions import PDFInfoNotInstalledError, PDFPageCountError, PDFPopplerTimeoutError

    try:
        return pdfinfo_from_path(path, timeout=limits.pdf_timeout_s, first_page=1, last_page=limits.max_pages)
    except PDFPopplerTimeoutError:
        raise PageError(f"PDF could not be inspected within {limits.pdf_timeout_s:g} s (pdfinfo timed out)") from None
    except PDFInfoNotInstalledError:
        raise PageError("cannot read PDF: poppler's pdfinfo is not installed") from None
    except PDFPageCountError as error:
        detail = " ".join(line.strip() for line in str(error).splitlines()[1:] if line.strip())
        if "password" in detail.lower():
            raise PageError("encrypted PDF (a password is required to open it)") from None
        raise PageError(f"unreadable PDF ({detail or 'pdfinfo found no page count'})") from None


def _pdf_page_sizes(info: dict) -> dict[int, tuple[float, float]]:
    """Page number (1-based) -> (width, height) in points, from pdfinfo's per-page lines (crop box)."""
    sizes = {}
    for key, value in info.items():
        match = _PAGE_SIZE_KEY.match(key)
        size = _PAGE_SIZE_VALUE.match(str(value)) if match else None
        if match and size:
            sizes[int(match.group(1))] = (float(size.group(1)), float(size.group(2)))
    return sizes


def _pdf_page_problem(number: int, size: tuple[float, float] | None, limits: LoadLimits,
                      color_to_gray: str) -> str | None:
    """Why PDF page ``number`` of ``size`` points cannot be rasterised under ``limits``, or None."""
    if size is None:
        return f"PDF page {number} has no size (pdfinfo did not report it)"
    w_mm, h_mm = (v / _PT_PER_INCH * _MM_PER_INCH for v in size)
    if not (w_mm > 0 and h_mm > 0):
        return f"PDF page {number} has an empty size"
    if max(w_mm, h_mm) > limits.max_pdf_page_mm:
        return (f"PDF page {number} is {w_mm:.0f}x{h_mm:.0f} mm, larger than the "
                f"{limits.max_pdf_page_mm:g} mm limit")
    w_px, h_px = (math.ceil(v / _PT_PER_INCH * limits.pdf_dpi) for v in size)
    if w_px * h_px > limits.max_pixels:
        return (f"PDF page {number} would be {w_px}x{h_px} px at {limits.pdf_dpi} dpi, exceeding the "
                f"{fmt_mpx(limits.max_pixels)} limit")
    try:  # poppler writes gray for luma, colour for red dropout; cv2.imread holds two copies for a moment
        check_decoded_bytes(w_px, h_px, 2 if color_to_gray == "luma" else 6, f"PDF page {number} at "
                            f"{limits.pdf_dpi} dpi", limits)
    except PageError as error:
        return str(error)
    return None


def _pdf_pixels(size: tuple[float, float], dpi: int) -> int:
    return math.ceil(size[0] / _PT_PER_INCH * dpi) * math.ceil(size[1] / _PT_PER_INCH * dpi)


def _rasterise(path: str, pages: list[int], source: str, limits: LoadLimits,
               color_to_gray: str) -> Iterator[LoadedPage]:
    """Rasterise consecutive PDF pages with one pdftoppm call; on failure retry them one by one."""
    from pdf2image import convert_from_path
    from pdf2image.exceptions import PDFPopplerTimeoutError

    with tempfile.TemporaryDirectory(prefix="yuejuan-pdf-") as folder:
        try:
            files = convert_from_path(path, dpi=limits.pdf_dpi, output_folder=folder, first_page=pages[0],
                                      last_page=pages[-1], fmt="ppm", grayscale=color_to_gray == "luma",
                                      use_cropbox=True, timeout=limits.pdf_timeout_s, paths_only=True,
                                      output_file="page")
        except Exception as error:  # noqa: BLE001 - a poppler failure is a property of the file
            if len(pages) > 1:
                for number in pages:
                    yield from _rasterise(path, [number], source, limits, color_to_gray)
                return
            if isinstance(error, PDFPopplerTimeoutError):
                reason = f"rasterising PDF page {pages[0]} timed out after {limits.pdf_timeout_s:g} s"
            else:
                reason = f"rasterising PDF page {pages[0]} failed ({type(error).__name__}: {error})"
            yield error_page(source, pages[0] - 1, reason)
            return
        by_page = {}
        for file in files:
            match = _PDF_OUTPUT_NAME.search(str(file))
            if match:
                by_page[int(match.group(1))] = str(file)
        for number in pages:
            file = by_page.get(number)
            arr = cv2.imread(file, cv2.IMREAD_UNCHANGED) if file else None
            if file:
                os.remove(file)
            if arr is None:
                yield error_page(source, number - 1, f"poppler produced no image for PDF page {number}")
                continue
            gray = to_gray(arr, "bgr", color_to_gray)
            del arr
            yield LoadedPage(source=source, page_index=number - 1, image=np.ascontiguousarray(gray), error=None,
                             dpi=float(limits.pdf_dpi))
            del gray  # the consumer holds the page; this generator must not while it reads the next one


def iter_pdf(path: str, source: str, limits: LoadLimits, color_to_gray: str) -> Iterator[LoadedPage]:
    """Every page of the PDF at ``path`` as a page (or an error page), at most ``limits.max_pages`` of them."""
    try:
        info = pdfinfo(path, limits)
    except PageError as error:
        yield error_page(source, 0, str(error))
        return
    total = int(info.get("Pages", 0) or 0)
    if total <= 0:
        yield error_page(source, 0, "PDF has no pages")
        return
    readable = min(total, limits.max_pages)
    sizes = _pdf_page_sizes(info)
    problems = {n: _pdf_page_problem(n, sizes.get(n), limits, color_to_gray) for n in range(1, readable + 1)}
    number = 1
    while number <= readable:
        if problems[number]:
            yield error_page(source, number - 1, problems[number])  # type: ignore[arg-type]
            number += 1
            continue
        chunk, pixels = [number], _pdf_pixels(sizes[number], limits.pdf_dpi)
        while (len(chunk) < _PDF_CHUNK_PAGES and chunk[-1] + 1 <= readable and not problems[chunk[-1] + 1]
               and pixels + _pdf_pixels(sizes[chunk[-1] + 1], limits.pdf_dpi) <= _PDF_CHUNK_PIXELS):
            chunk.append(chunk[-1] + 1)
            pixels += _pdf_pixels(sizes[chunk[-1]], limits.pdf_dpi)
        done: set[int] = set()
        try:
            for page in _rasterise(path, chunk, source, limits, color_to_gray):
                done.add(page.page_index)
                yield page
                del page  # not held while the next page is read
        except Exception as error:  # noqa: BLE001 - never stop the batch
            logger.exception("unexpected error rasterising %s pages %s", source, chunk)
            for n in chunk:
                if n - 1 not in done:
                    yield error_page(source, n - 1,
                                     f"internal error rasterising page: {type(error).__name__}: {error}")
        number = chunk[-1] + 1
    if total > readable:
        yield error_page(source, readable, f"pages {readable + 1}-{total} of {total} skipped: the file has more "
                                           f"than the {limits.max_pages}-page limit")


