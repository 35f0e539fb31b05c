"""omr.load: every supported format, EXIF orientation, reduced JPEG decoding, and a hostile corpus.

Every fixture is generated in tmp_path (numpy, OpenCV, Pillow, reportlab, or bytes written by hand).
"""

from __future__ import annotations

import io
import os
import resource
import struct
import time
import tracemalloc
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image, ImageOps, TiffImagePlugin

from omr.load import (LoadedPage, LoadLimits, _orient, collect_inputs, count_pages, iter_array, iter_pages,
                      load_array, sniff_format)
from sample_sheets.hostile import png_by_hand, tiff_by_hand

# --------------------------------------------------------------------------------------------------------
# Fixture helpers
# --------------------------------------------------------------------------------------------------------

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


# --------------------------------------------------------------------------------------------------------
# Formats
# --------------------------------------------------------------------------------------------------------


def test_sniff_format_by_magic_bytes() -> None:
    assert sniff_format(jpeg_bytes(page_pattern())[:32]) == "jpeg"
    assert sniff_format(pil_bytes(Image.new("L", (4, 4)), "PNG")) == "png"
    assert sniff_format(pil_bytes(Image.new("L", (4, 4)), "BMP")) == "bmp"
    assert sniff_format(pil_bytes(Image.new("L", (4, 4)), "TIFF")) == "tiff"
    assert sniff_format(b"MM\x00*\x00\x00\x00\x08") == "tiff"
    assert sniff_format(b"%PDF-1.7\n") == "pdf"
    assert sniff_format(b"\r\n junk before the header %PDF-1.4\n") == "pdf"
    assert sniff_format(b"BM is the start of this text, not a bitmap") is None
    assert sniff_format(b"GIF89a....") is None
    assert sniff_format(b"") is None


def test_jpeg_gray_and_colour(tmp_path: Path) -> None:
    gray = page_pattern()
    p1 = write(tmp_path / "gray.jpg", jpeg_bytes(gray, dpi=(300, 300)))
    page = only(list(iter_pages(p1)))
    img = good(page)
    assert img.shape == (H, W) and page.dpi == 300 and page.reduction == 1 and page.source == str(p1)
    assert dark_bbox(img) == (20, 10, 70, 40)

    colour = np.dstack([gray, gray, gray])
    colour[BOX] = (0, 0, 120)  # dark blue box (RGB)
    p2 = write(tmp_path / "colour.jpeg", jpeg_bytes(colour))
    page = only(list(iter_pages(p2)))
    img = good(page)
    assert page.dpi is None
    assert dark_bbox(img) == (20, 10, 70, 40)
    assert abs(int(img[40, 20]) - round(0.114 * 120)) <= 4


def test_cmyk_jpeg(tmp_path: Path) -> None:
    rgb = np.dstack([page_pattern()] * 3)
    path = write(tmp_path / "cmyk.jpg", pil_bytes(Image.fromarray(rgb).convert("CMYK"), "JPEG", quality=95))
    img = good(only(list(iter_pages(path))))
    assert img[150, 150] > 240 and img[40, 20] < 15


@pytest.mark.parametrize("kind", ["L", "RGB", "RGBA", "LA", "I;16", "P", "P+transparency", "1"])
def test_png_modes(tmp_path: Path, kind: str) -> None:
    gray = page_pattern()
    if kind == "L":
        im = Image.fromarray(gray)
    elif kind == "RGB":
        im = Image.fromarray(np.dstack([gray] * 3))
    elif kind in ("RGBA", "LA"):
        # Opaque black box; a transparent region whose colour is black must come out white (paper).
        alpha = np.full((H, W), 255, np.uint8)
        alpha[200:260, 100:180] = 0
        base = gray.copy()
        base[200:260, 100:180] = 0
        im = Image.fromarray(np.dstack([base] * 3 + [alpha]) if kind == "RGBA" else np.dstack([base, alpha]))
    elif kind == "I;16":
        im16 = np.full((H, W), 40000, np.uint16)
        im16[BOX] = 0
        im = Image.fromarray(im16)
    elif kind in ("P", "P+transparency"):
        # Palette: 0 = white, 1 = black, 2 = black but (with tRNS) fully transparent.
        idx = np.where(gray == 0, 1, 0).astype(np.uint8)
        idx[200:260, 100:180] = 2 if kind == "P+transparency" else 0
        im = Image.frombytes("P", (W, H), idx.tobytes())
        im.putpalette([255, 255, 255, 0, 0, 0, 0, 0, 0] + [128, 128, 128] * 253)
    else:
        im = Image.fromarray(gray).convert("1")
    kw = {"transparency": 2} if kind == "P+transparency" else {}
    path = write(tmp_path / f"{kind}.png", pil_bytes(im, "PNG", dpi=(150, 150), **kw))
    page = only(list(iter_pages(path)))
    img = good(page)
    assert img.shape == (H, W)
    assert page.dpi == pytest.approx(150, abs=0.01)
    if kind == "I;16":
        assert img[150, 150] == round(40000 / 257) and img[40, 20] == 0
        return
    assert dark_bbox(img) == (20, 10, 70, 40)
    assert set(np.unique(img)) == {0, 255}
    if kind in ("RGBA", "LA", "P+transparency"):
        assert (img[200:260, 100:180] == 255).all()


def test_png_partial_alpha_composites_on_white(tmp_path: Path) -> None:
    rgba = np.zeros((10, 10, 4), np.uint8)
    rgba[..., 3] = 128  # black at half opacity
    img = good(only(load_array(pil_bytes(Image.fromarray(rgba), "PNG"))))
    assert (np.abs(img.astype(int) - 127) <= 1).all()


def test_bmp_gray_colour_and_32bit_with_zero_alpha(tmp_path: Path) -> None:
    gray = page_pattern()
    p8 = write(tmp_path / "g.bmp", pil_bytes(Image.fromarray(gray), "BMP"))
    assert dark_bbox(good(only(list(iter_pages(p8))))) == (20, 10, 70, 40)
    bgra = np.dstack([gray, gray, gray, np.zeros_like(gray)])  # 32-bit BMP whose 4th byte is all zero
    ok, enc = cv2.imencode(".bmp", bgra)
    assert ok
    p32 = write(tmp_path / "c.bmp", enc.tobytes())
    img = good(only(list(iter_pages(p32))))
    assert dark_bbox(img) == (20, 10, 70, 40)


def test_multipage_tiff_mixed_frames(tmp_path: Path) -> None:
    gray = page_pattern()
    g4 = Image.fromarray(gray).convert("1")
    # A scanner's usual G4 page is 1-bit MinIsWhite (0 = white): store inverted bits and flip the tag.
    g4_min_is_white = set_tiff_photometric(pil_bytes(Image.fromarray(255 - gray).convert("1"), "TIFF",
                                                     compression="group4"), 0)
    frames = [
        (g4, "group4", {"dpi": (300, 300)}),
        (Image.fromarray(gray), "tiff_lzw", {"dpi": (200, 200)}),
        (Image.fromarray(gray.astype(np.uint16) * 257), "tiff_lzw", {}),
        (Image.fromarray(np.dstack([gray] * 3)), "tiff_lzw", {}),
        (Image.fromarray(gray), "tiff_adobe_deflate", {}),
        (Image.fromarray(gray).convert("P"), "packbits", {}),
    ]
    data = multipage_tiff(frames)
    path = write(tmp_path / "mixed.tif", data)
    assert count_pages(path) == len(frames)
    pages = list(iter_pages(path))
    assert [p.page_index for p in pages] == list(range(len(frames)))
    for page in pages:
        img = good(page)
        assert img.shape == (H, W), page.page_index
        assert dark_bbox(img) == (20, 10, 70, 40), page.page_index
        assert img[150, 150] == 255 and img[40, 20] == 0, page.page_index
    assert pages[0].dpi == 300 and pages[1].dpi == 200 and pages[2].dpi is None  # dpi is per frame

    # 1-bit G4 stored MinIsWhite (what scanners write): the decoder must honour the photometric tag.
    img = good(only(list(iter_pages(write(tmp_path / "miniswhite.tif", g4_min_is_white)))))
    assert dark_bbox(img) == (20, 10, 70, 40) and set(np.unique(img)) == {0, 255}


def test_tiff_orientation_is_applied(tmp_path: Path) -> None:
    path = write(tmp_path / "o6.tif", pil_bytes(Image.fromarray(page_pattern()), "TIFF", tiffinfo={274: 6}))
    img = good(only(list(iter_pages(path))))
    assert img.shape == (W, H)
    # Orientation 6: the stored image is shown rotated 90° clockwise, so its top-left corner goes top-right.
    assert dark_bbox(img) == (10, H - 70, 40, H - 20)


def test_pdf_multipage_pattern_and_physical_size(tmp_path: Path) -> None:
    rects = [[(20, 30 + 40 * k, 50, 10)] for k in range(3)]  # the box moves down 40 mm per page
    path = write(tmp_path / "three.pdf", pdf_bytes([(210, 297, r) for r in rects]))
    dpi = 100
    assert count_pages(path) == 3
    pages = list(iter_pages(path, limits=LoadLimits(pdf_dpi=dpi)))
    assert [p.page_index for p in pages] == [0, 1, 2]
    px = dpi / 25.4
    for k, page in enumerate(pages):
        img = good(page)
        assert page.dpi == dpi
        assert abs(img.shape[0] - 297 * px) <= 1 and abs(img.shape[1] - 210 * px) <= 1
        top, left, bottom, right = dark_bbox(img)
        expected = ((30 + 40 * k) * px, 20 * px, (40 + 40 * k) * px, 70 * px)
        assert np.allclose((top, left, bottom, right), expected, atol=1.5), (k, (top, left, bottom, right), expected)


def test_pdf_red_dropout(tmp_path: Path) -> None:
    data = pdf_bytes([(100, 100, [(10, 10, 20, 20)])], fill=(1, 0, 0))
    limits = LoadLimits(pdf_dpi=50)
    luma = good(only(load_array(data, limits=limits)))
    red = good(only(load_array(data, limits=limits, color_to_gray="red")))
    assert luma[30, 30] < 100 and red[30, 30] > 245


@pytest.mark.parametrize("orientation", [3, 6])
def test_jpeg_exif_orientation(tmp_path: Path, orientation: int) -> None:
    data = jpeg_bytes(page_pattern(), orientation=orientation)
    expected = np.asarray(ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("L"))
    img = good(only(list(iter_pages(write(tmp_path / f"o{orientation}.jpg", data)))))
    assert img.shape == expected.shape
    assert np.abs(img.astype(int) - expected).max() <= 8
    if orientation == 3:
        assert dark_bbox(img) == (H - 70, W - 40, H - 20, W - 10)
    else:
        assert dark_bbox(img) == (10, H - 70, 40, H - 20)
    # The reduced decoder path is oriented the same way.
    reduced = good(only(list(iter_pages(tmp_path / f"o{orientation}.jpg", reduce_jpeg_to_min_px=100))))
    assert reduced.shape == tuple(-(-s // 2) for s in expected.shape)
    assert np.allclose(dark_bbox(reduced), np.array(dark_bbox(img)) / 2, atol=1)


def test_orientation_table_matches_pillow() -> None:
    arr = np.random.default_rng(1).integers(0, 255, (5, 7), dtype=np.uint8)
    for orientation in range(1, 9):
        im = Image.fromarray(arr)
        im.getexif()[0x0112] = orientation
        assert np.array_equal(_orient(arr, orientation), np.asarray(ImageOps.exif_transpose(im))), orientation


def test_reduced_jpeg_decode(tmp_path: Path) -> None:
    path = write(tmp_path / "a4.jpg", jpeg_bytes(page_pattern(2339, 1654), quality=85, dpi=(200, 200)))
    for min_px, reduction, shape in [(None, 1, (2339, 1654)), (830, 1, (2339, 1654)), (827, 2, (1170, 827)),
                                     (400, 4, (585, 414)), (100, 8, (293, 207))]:
        page = only(list(iter_pages(path, reduce_jpeg_to_min_px=min_px)))
        img = good(page)
        assert (page.reduction, img.shape) == (reduction, shape), min_px
        assert page.dpi == pytest.approx(200 / reduction, abs=0.01)
        assert np.allclose(dark_bbox(img), np.array([20, 10, 70, 40]) / reduction, atol=1)
    png = write(tmp_path / "a4.png", pil_bytes(Image.fromarray(page_pattern(2339, 1654)), "PNG"))
    page = only(list(iter_pages(png, reduce_jpeg_to_min_px=100)))
    assert page.reduction == 1 and good(page).shape == (2339, 1654)


@pytest.mark.parametrize("fmt", ["png", "jpeg"])
def test_color_to_gray_red_vs_luma_on_blue_and_red_marks(tmp_path: Path, fmt: str) -> None:
    rgb = np.full((100, 100, 3), 255, np.uint8)
    rgb[10:40, 10:40] = (0, 0, 255)  # blue pen
    rgb[60:90, 60:90] = (255, 0, 0)  # red printing
    data = pil_bytes(Image.fromarray(rgb), "PNG") if fmt == "png" else jpeg_bytes(rgb, quality=98)
    luma = good(only(load_array(data)))
    red = good(only(load_array(data, color_to_gray="red")))
    tol = 0 if fmt == "png" else 12
    assert abs(int(luma[25, 25]) - 29) <= tol and abs(int(luma[75, 75]) - 76) <= tol  # BT.601 luma
    assert red[25, 25] <= tol and red[75, 75] >= 255 - tol  # blue stays dark, red drops out
    assert red[5, 5] >= 255 - tol and luma[5, 5] >= 255 - tol


def test_load_array_matches_iter_pages(tmp_path: Path) -> None:
    gray = page_pattern()
    inputs = {
        "j.jpg": jpeg_bytes(gray),
        "t.tif": multipage_tiff([(Image.fromarray(gray), "tiff_lzw", {}), (Image.fromarray(255 - gray), None, {})]),
        "d.pdf": pdf_bytes([(50, 50, [(5, 5, 10, 10)]), (50, 50, [])]),
    }
    limits = LoadLimits(pdf_dpi=72)
    for name, data in inputs.items():
        from_file = list(iter_pages(write(tmp_path / name, data), limits=limits))
        from_bytes = load_array(data, source=name, limits=limits)
        assert len(from_file) == len(from_bytes) >= 1
        lazy = iter_array(data, source=name, limits=limits)
        assert not isinstance(lazy, list) and [p.page_index for p in lazy] == [p.page_index for p in from_bytes]
        for a, b in zip(from_file, from_bytes):
            assert b.source == name and a.page_index == b.page_index and a.dpi == b.dpi
            assert np.array_equal(good(a), good(b))


def test_invalid_arguments_raise_at_the_call(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        iter_pages(tmp_path / "x.jpg", color_to_gray="green")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        iter_pages(tmp_path / "x.jpg", reduce_jpeg_to_min_px=0)
    with pytest.raises(ValueError):
        LoadLimits(max_pages=0)


# --------------------------------------------------------------------------------------------------------
# Hostile corpus: each gives an error page with a reason, never an exception
# --------------------------------------------------------------------------------------------------------


def test_empty_random_and_renamed_text(tmp_path: Path) -> None:
    bad(list(iter_pages(write(tmp_path / "empty.jpg", b""))), "empty file")
    rnd = np.random.default_rng(7).integers(0, 256, 5000, dtype=np.uint8).tobytes()
    bad(list(iter_pages(write(tmp_path / "random.png", b"\x00\x01" + rnd))),
        "not an image or PDF (starts with b'\\x00\\x01")
    bad(list(iter_pages(write(tmp_path / "notes.jpg", b"These are my notes, not a scan.\n"))),
        "not an image or PDF (starts with b'These are my")
    bad(list(iter_pages(write(tmp_path / "anim.gif", pil_bytes(Image.new("L", (8, 8)), "GIF")))),
        "unsupported format: GIF")
    bad(load_array(b""), "empty file")


def test_missing_path_and_folder(tmp_path: Path) -> None:
    page = bad(list(iter_pages(tmp_path / "nope.jpg")), "No such file")
    assert page.source == str(tmp_path / "nope.jpg")
    bad(list(iter_pages(tmp_path)), "folder")
    assert count_pages(tmp_path / "nope.jpg") == 1


def test_truncated_jpeg(tmp_path: Path) -> None:
    data = jpeg_bytes(np.random.default_rng(0).integers(0, 256, (400, 300), dtype=np.uint8), quality=90)
    for cut in (2, 50, len(data) // 2, len(data) - 700):
        pages = list(iter_pages(write(tmp_path / f"cut{cut}.jpg", data[:-cut])))
        bad(pages, "truncated JPEG")
        pages = list(iter_pages(tmp_path / f"cut{cut}.jpg", reduce_jpeg_to_min_px=50))
        bad(pages, "truncated JPEG")
    # Bytes after the end marker (scanner padding) are fine.
    good(only(load_array(data + b"\x00" * 64)))


def test_truncated_png_and_bmp(tmp_path: Path) -> None:
    data = pil_bytes(Image.fromarray(np.random.default_rng(0).integers(0, 256, (300, 300), dtype=np.uint8)), "PNG")
    for cut in (4, 12, len(data) // 2):
        bad(list(iter_pages(write(tmp_path / f"cut{cut}.png", data[:-cut]))), "truncated PNG")
    bmp = pil_bytes(Image.fromarray(page_pattern()), "BMP")
    bad(load_array(bmp[: len(bmp) // 2]), "truncated BMP")


def test_png_pixel_bomb(tmp_path: Path) -> None:
    data = png_by_hand(50_000, 50_000, zlib.compress(b"\x00" * (50_001 * 20), 9))
    path = write(tmp_path / "bomb.png", data)
    assert len(data) < 2000
    with PeakMemory() as mem:
        page = bad(list(iter_pages(path)), "image of 50000x50000 px exceeds the 120 Mpx limit")
        bad(load_array(data), "exceeds the 120 Mpx limit")
    mem.assert_small()
    assert page.dpi is None


def test_tiff_pixel_bomb_on_a_later_frame(tmp_path: Path) -> None:
    small = bytes(page_pattern(10, 10))
    data = tiff_by_hand([(10, 10, small), (100_000, 100_000, b"\x00" * 16), (10, 10, small)])
    path = write(tmp_path / "bomb.tif", data)
    with PeakMemory() as mem:
        pages = list(iter_pages(path))
    mem.assert_small()
    assert [p.page_index for p in pages] == [0, 1, 2]
    good(pages[0])
    bad(pages, "image of 100000x100000 px exceeds", index=1)
    good(pages[2])  # the batch goes on past the bad frame
    with PeakMemory() as mem:
        bad(list(iter_pages(path, limits=LoadLimits(max_pixels=50))), "image of 10x10 px exceeds the 5e-05 Mpx limit")
    mem.assert_small()


def test_jpeg_declaring_huge_dimensions(tmp_path: Path) -> None:
    data = bytearray(jpeg_bytes(page_pattern(16, 16)))
    sof = data.find(b"\xff\xc0")
    struct.pack_into(">HH", data, sof + 5, 60_000, 60_000)  # height, width of the frame header
    with PeakMemory() as mem:
        bad(load_array(bytes(data)), "image of 60000x60000 px exceeds")
    mem.assert_small()


def test_truncated_multipage_tiff_reports_every_page(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    frames = [(Image.fromarray(rng.integers(0, 256, (100, 100), dtype=np.uint8)), None, {}) for _ in range(3)]
    data = multipage_tiff(frames)
    for cut in (len(data) // 2, 60):
        pages = list(iter_pages(write(tmp_path / f"cut{cut}.tif", data[:-cut])))
        assert [p.page_index for p in pages] == list(range(len(pages)))
        errors = [p for p in pages if p.image is None]
        assert errors, pages
        assert all(p.error for p in errors)


def test_tiff_more_pages_than_the_limit(tmp_path: Path) -> None:
    frames = [(Image.fromarray(page_pattern(20, 20)), None, {}) for _ in range(5)]
    path = write(tmp_path / "five.tif", multipage_tiff(frames))
    limits = LoadLimits(max_pages=2)
    pages = list(iter_pages(path, limits=limits))
    assert [p.page_index for p in pages] == [0, 1, 2]
    good(pages[0]), good(pages[1])
    bad(pages, "pages 3-5 of 5 skipped", index=2)
    assert count_pages(path, limits) == 3 and count_pages(path) == 5


def test_pdf_with_a_3000mm_page(tmp_path: Path) -> None:
    data = pdf_bytes([(210, 297, [(10, 10, 10, 10)]), (3000, 3000, [(10, 10, 10, 10)]), (210, 297, [])])
    path = write(tmp_path / "huge.pdf", data)
    with PeakMemory() as mem:
        pages = list(iter_pages(path, limits=LoadLimits(pdf_dpi=50)))
    mem.assert_small()
    assert [p.page_index for p in pages] == [0, 1, 2]
    good(pages[0]), good(pages[2])
    bad(pages, "PDF page 2 is 3000x3000 mm, larger than the 1000 mm limit", index=1)
    # A page within the millimetre limit but too many pixels at the rasterising dpi is refused too.
    pages = list(iter_pages(path, limits=LoadLimits(pdf_dpi=50, max_pdf_page_mm=5000, max_pixels=10_000_000)))
    bad(pages, "would be", index=1)


def test_pdf_crop_box_is_what_is_checked_and_rasterised(tmp_path: Path) -> None:
    from reportlab.lib.units import mm
    from reportlab.pdfgen import canvas

    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=(3000 * mm, 3000 * mm))  # huge media box ...
    c.setCropBox((0, 0, 100 * mm, 150 * mm))  # ... but the visible page is 100 x 150 mm
    c.showPage()
    c.save()
    img = good(only(load_array(buf.getvalue(), limits=LoadLimits(pdf_dpi=50))))
    assert abs(img.shape[0] - 150 / 25.4 * 50) <= 1 and abs(img.shape[1] - 100 / 25.4 * 50) <= 1


def test_pdf_more_pages_than_the_limit(tmp_path: Path) -> None:
    path = write(tmp_path / "five.pdf", pdf_bytes([(50, 50, [])] * 5))
    limits = LoadLimits(max_pages=3, pdf_dpi=30)
    pages = list(iter_pages(path, limits=limits))
    assert [p.page_index for p in pages] == [0, 1, 2, 3]
    for page in pages[:3]:
        good(page)
    bad(pages, "pages 4-5 of 5 skipped", index=3)
    assert count_pages(path, limits) == 4


def test_encrypted_and_corrupt_pdf(tmp_path: Path) -> None:
    from reportlab.pdfgen import canvas

    buf = io.BytesIO()
    c = canvas.Canvas(buf, encrypt="secret")
    c.drawString(100, 100, "x")
    c.showPage()
    c.save()
    bad(list(iter_pages(write(tmp_path / "enc.pdf", buf.getvalue()))), "encrypted PDF")
    data = pdf_bytes([(50, 50, [])] * 2)
    bad(list(iter_pages(write(tmp_path / "cut.pdf", data[: len(data) // 3]))), "unreadable PDF")
    bad(load_array(b"%PDF-1.4\n%garbage only\n"), "unreadable PDF")


def test_file_over_max_file_bytes_is_not_read(tmp_path: Path) -> None:
    noise = np.random.default_rng(0).integers(0, 256, (200, 200), dtype=np.uint8)
    path = write(tmp_path / "big.jpg", jpeg_bytes(noise))
    limits = LoadLimits(max_file_bytes=1000)
    bad(list(iter_pages(path, limits=limits)), "exceeds the 1,000 bytes limit")
    bad(load_array(path.read_bytes(), limits=limits), "exceeds the 1,000 bytes limit")
    assert count_pages(path, limits) == 1


def test_collect_inputs_mixed_folder(tmp_path: Path) -> None:
    folder = tmp_path / "batch"
    (folder / "sub").mkdir(parents=True)
    jpg = jpeg_bytes(page_pattern())
    write(folder / "scan10.jpg", jpg)
    write(folder / "scan2.jpg", jpg)
    write(folder / "scan1.dat", jpg)  # extension does not matter: the magic bytes do
    write(folder / "sub" / "a.pdf", pdf_bytes([(50, 50, [])]))
    write(folder / "sub" / "b.tif", pil_bytes(Image.fromarray(page_pattern()), "TIFF"))
    write(folder / "notes.jpg", b"plain text")
    write(folder / "empty.png", b"")
    write(folder / "zz.gif", pil_bytes(Image.new("L", (4, 4)), "GIF"))
    single = write(tmp_path / "single.png", pil_bytes(Image.fromarray(page_pattern()), "PNG"))

    accepted, rejected = collect_inputs([single, folder, tmp_path / "missing", folder / "scan2.jpg"])
    assert accepted == [single, folder / "scan1.dat", folder / "scan2.jpg", folder / "scan10.jpg",
                        folder / "sub" / "a.pdf", folder / "sub" / "b.tif"]
    reasons = {p.name: r for p, r in rejected}
    assert set(reasons) == {"notes.jpg", "empty.png", "zz.gif", "missing"}
    assert "not an image or PDF" in reasons["notes.jpg"]
    assert "empty" in reasons["empty.png"]
    assert "GIF" in reasons["zz.gif"]
    assert "no such file" in reasons["missing"]

    # The batch goes on: every accepted file yields pages, the bad ones only error pages.
    for path in accepted:
        pages = list(iter_pages(path, limits=LoadLimits(pdf_dpi=30)))
        assert len(pages) == count_pages(path) == 1 and pages[0].image is not None
    for path, _ in rejected:
        assert only(list(iter_pages(path))).image is None


# --------------------------------------------------------------------------------------------------------
# Timing (printed, not asserted): run with -s to see it
# --------------------------------------------------------------------------------------------------------


def test_jpeg_decode_timings(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    page = np.full((2339, 1654), 245, np.uint8)
    for y in range(200, 2200, 60):
        cv2.putText(page, f"Question {y}  A  B  C  D", (150, y), cv2.FONT_HERSHEY_SIMPLEX, 1.2, 20, 2)
        for k in range(4):
            cv2.circle(page, (1000 + 120 * k, y - 10), 22, 30, 2)
    page = np.clip(page + rng.normal(0, 4, page.shape), 0, 255).astype(np.uint8)
    path = tmp_path / "page.jpg"
    assert cv2.imwrite(str(path), page, [cv2.IMWRITE_JPEG_QUALITY, 85])

    def ms(fn, n: int = 10) -> float:
        fn()
        times = []
        for _ in range(n):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        return 1000 * float(np.median(times))

    figures = {
        "cv2.imread gray": ms(lambda: cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)),
        "cv2.imread reduced 2": ms(lambda: cv2.imread(str(path), cv2.IMREAD_REDUCED_GRAYSCALE_2)),
        "iter_pages full": ms(lambda: list(iter_pages(path))),
        "iter_pages reduce_jpeg_to_min_px=827 (r=2)": ms(lambda: list(iter_pages(path, reduce_jpeg_to_min_px=827))),
        "iter_pages reduce_jpeg_to_min_px=400 (r=4)": ms(lambda: list(iter_pages(path, reduce_jpeg_to_min_px=400))),
    }
    print(f"\n1654x2339 gray JPEG q85, {os.path.getsize(path):,} bytes:")
    for name, value in figures.items():
        print(f"  {name:45s} {value:6.1f} ms")


# --------------------------------------------------------------------------------------------------------
# Failures inside the machinery: a timed-out or crashing page never takes the others down
# --------------------------------------------------------------------------------------------------------


def test_pdf_rasterise_timeout_is_retried_page_by_page(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import pdf2image
    from pdf2image.exceptions import PDFPopplerTimeoutError

    real = pdf2image.convert_from_path
    calls = []

    def flaky(path, **kw):
        calls.append((kw["first_page"], kw["last_page"]))
        if kw["first_page"] <= 2 <= kw["last_page"]:  # page 2 "hangs"
            raise PDFPopplerTimeoutError("Run poppler timeout.")
        return real(path, **kw)

    monkeypatch.setattr(pdf2image, "convert_from_path", flaky)
    path = write(tmp_path / "three.pdf", pdf_bytes([(50, 50, [])] * 3))
    pages = list(iter_pages(path, limits=LoadLimits(pdf_dpi=30, pdf_timeout_s=5)))
    assert calls == [(1, 3), (1, 1), (2, 2), (3, 3)]
    assert [p.page_index for p in pages] == [0, 1, 2]
    good(pages[0]), good(pages[2])
    bad(pages, "rasterising PDF page 2 timed out after 5 s", index=1)


def test_pdfinfo_timeout(tmp_path: Path) -> None:
    path = write(tmp_path / "one.pdf", pdf_bytes([(50, 50, [])]))
    bad(list(iter_pages(path, limits=LoadLimits(pdf_timeout_s=1e-4))), "could not be inspected")


def test_unexpected_error_becomes_an_error_page(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import omr.load

    def boom(*args, **kwargs):
        raise RuntimeError("simulated bug")

    monkeypatch.setattr(omr.load, "_decode_single", boom)
    pages = list(iter_pages(write(tmp_path / "a.jpg", jpeg_bytes(page_pattern()))))
    bad(pages, "internal error reading file: RuntimeError")


def test_pillow_decompression_bomb_warning_and_error_are_handled(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pillow's own check (TIFF frames) warns above MAX_IMAGE_PIXELS and fails above twice that.

    pytest turns warnings into errors here, so the warning must be handled inside omr.load.
    """
    data = pil_bytes(Image.fromarray(page_pattern(10, 10)), "TIFF")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 80)  # 100 px: warning only
    good(only(load_array(data)))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 40)  # 100 px > 2 x 40: DecompressionBombError
    bad(load_array(data), "decompression-bomb limit")
