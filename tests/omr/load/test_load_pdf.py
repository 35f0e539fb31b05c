"""omr.load.pdf: PDF pages through poppler, their size limits, and poppler failures."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest


from load_fixtures import PeakMemory, bad, dark_bbox, good, only, pdf_bytes, write
from omr.load import LoadLimits, count_pages, iter_pages, load_array


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



def test_pdf_page_decoded_bytes_depend_on_red_dropout(tmp_path: Path) -> None:
    path = write(tmp_path / "page.pdf", pdf_bytes([(100, 100, [(10, 10, 20, 20)])]))
    dpi = 50
    side = round(100 / 25.4 * dpi)
    limits = LoadLimits(pdf_dpi=dpi, max_decoded_bytes=2 * (side + 1) ** 2)  # gray twice: luma, not colour
    good(only(list(iter_pages(path, limits=limits))))
    bad(list(iter_pages(path, limits=limits, color_to_gray="red")), "decoded-size limit")
