"""Shared fixture makers for the omr.load tests: small pages, files in every format, and checks of a page.

Every fixture is generated in memory or in tmp_path (numpy, OpenCV, Pillow, reportlab, or bytes written by hand).
"""

from __future__ import annotations

import io
import resource
import struct
import tracemalloc
from pathlib import Path

import numpy as np
from PIL import Image, TiffImagePlugin

from omr.load import LoadedPage

H, W = 300, 200
#: A black box in the top-left corner of an otherwise white page: shows orientation and position.
BOX = (slice(20, 70), slice(10, 40))


def page_pattern(h: int = H, w: int = W) -> np.ndarray:
    img = np.full((h, w), 255, np.uint8)
    img[BOX] = 0
    return img


def jpeg_bytes(arr: np.ndarray, quality: int = 95, orientation: int | None = None, **kw) -> bytes:
    im = Image.fromarray(arr)
    if orientation is not None:
        exif = Image.Exif()
        exif[0x0112] = orientation
        kw["exif"] = exif.tobytes()
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=quality, **kw)
    return buf.getvalue()


def pil_bytes(im: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **kw)
    return buf.getvalue()


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def only(pages: list[LoadedPage]) -> LoadedPage:
    assert len(pages) == 1, pages
    return pages[0]


def good(page: LoadedPage) -> np.ndarray:
    assert page.error is None, page.error
    img = page.image
    assert img is not None and img.dtype == np.uint8 and img.ndim == 2 and img.flags.c_contiguous
    return img


def dark_bbox(img: np.ndarray, threshold: int = 128) -> tuple[int, int, int, int]:
    """(top, left, bottom, right) of the pixels darker than threshold, bottom/right exclusive."""
    ys, xs = np.nonzero(img < threshold)
    return int(ys.min()), int(xs.min()), int(ys.max()) + 1, int(xs.max()) + 1


def bad(pages: list[LoadedPage], phrase: str, index: int = 0) -> LoadedPage:
    page = next(p for p in pages if p.page_index == index)
    assert page.image is None and page.error is not None, page
    assert phrase in page.error, page.error
    return page


class PeakMemory:
    """Peak Python allocations (tracemalloc, includes NumPy) and growth of the process's peak RSS."""

    def __enter__(self) -> PeakMemory:
        self.rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        tracemalloc.start()
        return self

    def __exit__(self, *exc) -> None:
        self.traced_peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        self.rss_growth = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - self.rss0

    def assert_small(self) -> None:
        assert self.traced_peak < 50 * 2**20, self.traced_peak
        assert self.rss_growth < 200 * 2**20, self.rss_growth


def pdf_bytes(pages: list[tuple[float, float, list[tuple[float, float, float, float]]]],
              fill: tuple[float, float, float] = (0, 0, 0)) -> bytes:
    """PDF whose pages are (width_mm, height_mm, [filled rectangles as (x, y, w, h) mm from the top-left])."""
    from reportlab.lib.units import mm
    from reportlab.pdfgen import canvas

    buf = io.BytesIO()
    c = canvas.Canvas(buf)
    for width, height, rects in pages:
        c.setPageSize((width * mm, height * mm))
        c.setFillColorRGB(*fill)
        for x, y, w, h in rects:
            c.rect(x * mm, (height - y - h) * mm, w * mm, h * mm, stroke=0, fill=1)
        c.showPage()
    c.save()
    return buf.getvalue()


def set_tiff_photometric(data: bytes, value: int) -> bytes:
    """Rewrite the PhotometricInterpretation of the first frame of a little-endian TIFF."""
    out = bytearray(data)
    ifd = struct.unpack_from("<I", out, 4)[0]
    for k in range(struct.unpack_from("<H", out, ifd)[0]):
        entry = ifd + 2 + 12 * k
        if struct.unpack_from("<H", out, entry)[0] == 262:
            struct.pack_into("<H", out, entry + 8, value)
            return bytes(out)
    raise AssertionError("no photometric tag")


def multipage_tiff(frames: list[tuple[Image.Image, str | None, dict]]) -> bytes:
    """Multi-page TIFF with a compression (and extra save options) per frame."""
    parts = []
    for im, compression, options in frames:
        parts.append(pil_bytes(im, "TIFF", compression=compression, **options))
    buf = io.BytesIO()
    with TiffImagePlugin.AppendingTiffWriter(buf, True) as tf:
        for part in parts:
            tf.write(part)
            tf.newFrame()
    return buf.getvalue()

