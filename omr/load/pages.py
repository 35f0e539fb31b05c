"""The loader's entry points: every page of a file (on disk or in memory), lazily, or their count.

Rules for bad input. Nothing raises for bad input and nothing is skipped silently: a file or a page that cannot
be read yields a :class:`~omr.load.LoadedPage` whose ``image`` is ``None`` and whose ``error`` says why. The
file size is checked before the file is read; every format module checks each page's declared size and decoded
bytes before decoding it. At most ``max_pages`` pages of one TIFF or PDF are read; the pages beyond are reported
by one error page (at index ``max_pages``) naming how many were skipped. Pages are yielded one at a time and
not kept: memory holds the page the caller is working on and the one being read.
"""

from __future__ import annotations

import io
import logging
import numbers
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

from omr.load import raster
from omr.load.header import open_header
from omr.load.limits import ColorToGray, LoadedPage, LoadLimits, PageError, error_page, fmt_bytes
from omr.load.pdf import iter_pdf, pdfinfo
from omr.load.sniff import HEAD_BYTES, describe_unrecognised, sniff_format
from omr.load.tiff import count_tiff_frames, iter_tiff

__all__ = ["count_pages", "iter_array", "iter_pages", "load_array"]

logger = logging.getLogger(__name__)


def _check_options(limits: LoadLimits, reduce_jpeg_to_min_px: int | None, color_to_gray: str) -> None:
    if not isinstance(limits, LoadLimits):
        raise TypeError(f"limits must be a LoadLimits, got {type(limits).__name__}")
    if reduce_jpeg_to_min_px is not None and (not isinstance(reduce_jpeg_to_min_px, numbers.Integral)
                                              or isinstance(reduce_jpeg_to_min_px, bool) or reduce_jpeg_to_min_px < 1):
        raise ValueError(f"reduce_jpeg_to_min_px must be a positive int or None, got {reduce_jpeg_to_min_px!r}")
    if color_to_gray not in ("luma", "red"):
        raise ValueError(f"color_to_gray must be 'luma' or 'red', got {color_to_gray!r}")


def _iter_image(data: bytes, fmt: str, source: str, limits: LoadLimits, reduce_min_px: int | None,
                color_to_gray: str) -> Iterator[LoadedPage]:
    if fmt == "tiff":
        yield from iter_tiff(io.BytesIO(data), source, limits, color_to_gray)
        return
    try:
        yield raster.decode_single(data, fmt, source, limits, reduce_min_px, color_to_gray)
    except PageError as error:
        yield error_page(source, 0, str(error))


def _guarded(pages: Iterator[LoadedPage], source: str) -> Iterator[LoadedPage]:
    """Turn any unexpected exception into an error page after the pages already yielded."""
    next_index = 0
    try:
        for page in pages:
            next_index = page.page_index + 1
            yield page
            del page  # not held while the next page is read
    except Exception as error:  # noqa: BLE001 - one bad file never stops a batch
        logger.exception("unexpected error reading %s", source)
        yield error_page(source, next_index, f"internal error reading file: {type(error).__name__}: {error}")


def _iter_path(path: str | Path, limits: LoadLimits, reduce_min_px: int | None,
               color_to_gray: str) -> Iterator[LoadedPage]:
    source = str(path)
    try:
        info = os.stat(path)
        if not stat.S_ISREG(info.st_mode):
            reason = "is a folder, not a file" if stat.S_ISDIR(info.st_mode) else "not a regular file"
            yield error_page(source, 0, reason)
            return
        if info.st_size == 0:
            yield error_page(source, 0, "empty file (0 bytes)")
            return
        if info.st_size > limits.max_file_bytes:
            yield error_page(source, 0, f"file of {fmt_bytes(info.st_size)} exceeds the "
                                        f"{fmt_bytes(limits.max_file_bytes)} limit")
            return
        fh = open(path, "rb")  # noqa: SIM115 - closed below, after the pages of a TIFF are read from it
    except OSError as error:
        yield error_page(source, 0, f"cannot read file: {error.strerror or error}")
        return
    with fh:
        try:
            head = fh.read(HEAD_BYTES)
            fmt = sniff_format(head)
            data = b""
            fh.seek(0)
            if fmt in ("jpeg", "png", "bmp"):
                # Read what stat() promised (plus one byte to notice a file still growing): read(n) allocates n.
                data = fh.read(info.st_size + 1)
        except OSError as error:
            yield error_page(source, 0, f"cannot read file: {error.strerror or error}")
            return
        if fmt is None:
            yield error_page(source, 0, describe_unrecognised(head))
            return
        if fmt == "tiff":  # frames are read from the file (libtiff reads its strips), never the whole file at once
            yield from iter_tiff(fh, source, limits, color_to_gray)
            return
    if fmt == "pdf":
        yield from iter_pdf(os.fspath(path), source, limits, color_to_gray)
        return
    if len(data) > limits.max_file_bytes:  # the file grew after stat()
        yield error_page(source, 0, f"file exceeds the {fmt_bytes(limits.max_file_bytes)} limit")
        return
    yield from _iter_image(data, fmt, source, limits, reduce_min_px, color_to_gray)


def _iter_bytes(data: bytes, source: str, limits: LoadLimits, reduce_min_px: int | None,
                color_to_gray: str) -> Iterator[LoadedPage]:
    if len(data) == 0:
        yield error_page(source, 0, "empty file (0 bytes)")
        return
    if len(data) > limits.max_file_bytes:
        yield error_page(source, 0, f"file of {fmt_bytes(len(data))} exceeds the "
                                    f"{fmt_bytes(limits.max_file_bytes)} limit")
        return
    head = bytes(data[:HEAD_BYTES])
    fmt = sniff_format(head)
    if fmt is None:
        yield error_page(source, 0, describe_unrecognised(head))
        return
    if fmt == "pdf":  # poppler reads files: hand it a private temporary copy
        with tempfile.TemporaryDirectory(prefix="yuejuan-pdf-") as folder:
            pdf_path = os.path.join(folder, "input.pdf")
            with open(pdf_path, "wb") as fh:
                fh.write(data)
            yield from iter_pdf(pdf_path, source, limits, color_to_gray)
        return
    yield from _iter_image(bytes(data), fmt, source, limits, reduce_min_px, color_to_gray)


def iter_pages(path: str | Path, *, limits: LoadLimits = LoadLimits(), reduce_jpeg_to_min_px: int | None = None,
               color_to_gray: ColorToGray = "luma") -> Iterator[LoadedPage]:
    """Read every page of one file, lazily, one :class:`LoadedPage` per page.

    Bad input never raises: a missing, empty, oversized, unrecognised, truncated or corrupt file, a pixel
    bomb, an encrypted PDF, a page over the limits - each yields an error page (``image is None``) with the
    reason, and the other pages of the file are still read. Pages come in file order with increasing
    ``page_index``; a file that cannot be opened at all yields exactly one error page (index 0).

    Parameters
    ----------
    path : str or Path
        The file. Its format is recognised from its magic bytes, not its extension.
    limits : LoadLimits
        Size, decoded-bytes, page and time limits.
    reduce_jpeg_to_min_px : int, optional
        JPEG only: decode at 1/2, 1/4 or 1/8 size (libjpeg's DCT scaling, much cheaper than resizing), the
        largest reduction that keeps the image's shorter side at least this many pixels; reported in
        :attr:`LoadedPage.reduction`. Other formats always decode at full size.
    color_to_gray : {"luma", "red"}
        How colour becomes gray: luma, or the red channel (red printing drops out, blue ink stays dark).

    Returns
    -------
    Iterator[LoadedPage]

    Raises
    ------
    ValueError, TypeError
        Only for invalid arguments (raised at the call, before iterating).
    """
    _check_options(limits, reduce_jpeg_to_min_px, color_to_gray)
    return _guarded(_iter_path(path, limits, reduce_jpeg_to_min_px, color_to_gray), str(path))


def iter_array(data: bytes | bytearray | memoryview, *, source: str = "<memory>", limits: LoadLimits = LoadLimits(),
               reduce_jpeg_to_min_px: int | None = None, color_to_gray: ColorToGray = "luma") -> Iterator[LoadedPage]:
    """Like :func:`iter_pages`, for a file's content held in memory (an upload).

    ``source`` labels the pages (e.g. the upload's file name). A PDF is written to a private temporary
    folder for poppler; other formats decode straight from memory.
    """
    _check_options(limits, reduce_jpeg_to_min_px, color_to_gray)
    return _guarded(_iter_bytes(data, source, limits, reduce_jpeg_to_min_px, color_to_gray), source)


def load_array(data: bytes | bytearray | memoryview, *, source: str = "<memory>", limits: LoadLimits = LoadLimits(),
               reduce_jpeg_to_min_px: int | None = None, color_to_gray: ColorToGray = "luma") -> list[LoadedPage]:
    """Every page of a file held in memory, as a list (see :func:`iter_array`; same rules as :func:`iter_pages`).

    All pages are decoded before returning: for long PDFs or TIFFs prefer :func:`iter_array` (a 300-page
    A4 PDF at 200 dpi is ~1.2 GB of gray pixels).
    """
    return list(iter_array(data, source=source, limits=limits, reduce_jpeg_to_min_px=reduce_jpeg_to_min_px,
                           color_to_gray=color_to_gray))


def count_pages(path: str | Path, limits: LoadLimits = LoadLimits()) -> int:
    """Number of :class:`LoadedPage` records :func:`iter_pages` will yield for ``path`` (cheap, no decoding).

    TIFF: frames found by walking the directories; PDF: ``pdfinfo``'s page count; other formats and files
    that cannot be read: 1 (they yield one page or one error page). Beyond ``limits.max_pages`` the count is
    ``max_pages + 1`` (the skipped pages are reported by one error page). A best estimate for progress
    bars: a TIFF frame that turns out undecodable still yields its one error page, so counts agree.
    """
    try:
        info = os.stat(path)
        if not stat.S_ISREG(info.st_mode) or info.st_size == 0 or info.st_size > limits.max_file_bytes:
            return 1
        with open(path, "rb") as fh:
            fmt = sniff_format(fh.read(HEAD_BYTES))
            if fmt == "tiff":
                fh.seek(0)
                try:
                    n = count_tiff_frames(open_header(fh, "tiff"), 1, limits.max_pages + 1)
                except PageError:
                    return 1
            elif fmt == "pdf":
                try:
                    n = int(pdfinfo(os.fspath(path), limits).get("Pages", 0) or 0)
                except PageError:
                    return 1
            else:
                return 1
    except OSError:
        return 1
    return max(1, min(n, limits.max_pages) + (1 if n > limits.max_pages else 0))
