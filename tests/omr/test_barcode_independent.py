"""Code 128 against implementations that share nothing with omr/code128.py: zxing-cpp (reader and writer) and
reportlab's Code128 drawing (a third writer, rasterised by poppler as a scanner would see a printed page).

A pattern table that encodes and decodes with the same mistake passes every round trip of its own; here, what
yuejuan prints must read right in zxing-cpp, and what the others print must read right in yuejuan. The texts
below make every one of the 107 patterns appear (start codes, data, checksums, code-set switches, stop), so any
two swapped patterns fail.
"""

from __future__ import annotations

import io
from typing import get_args

import numpy as np
import pytest
import zxingcpp
from pdf2image import convert_from_bytes
from reportlab.graphics.barcode.code128 import Code128
from reportlab.lib.units import mm
from reportlab.pdfgen import canvas

from omr.barcode import SYMBOLOGIES, read_label
from omr.code128 import PATTERNS, decode_region, decode_scanline, encode, render_modules
from omr.template import Barcode, Rect
from sample_sheets.marks import draw_label, scanned_label

CODE128 = zxingcpp.BarcodeFormat.Code128
SYMBOLOGY_FORMATS = {"code128": CODE128, "code39": zxingcpp.BarcodeFormat.Code39,
                     "pdf417": zxingcpp.BarcodeFormat.PDF417, "datamatrix": zxingcpp.BarcodeFormat.DataMatrix,
                     "qr": zxingcpp.BarcodeFormat.QRCode}


def _texts(count: int, seed: int) -> list[str]:
    """Student ids and arbitrary ASCII (control characters and DEL too), as zxing-cpp's writer takes them."""
    rng = np.random.default_rng(seed)
    texts = []
    for index in range(count):
        size = int(rng.integers(1, 16))
        if index % 3 == 0:
            texts.append("".join(str(d) for d in rng.integers(0, 10, size)))
        elif index % 3 == 1:
            texts.append("".join(chr(c) for c in rng.integers(32, 127, size)))
        else:
            texts.append("".join(chr(c) for c in rng.integers(0, 128, size)))
    return texts


def _zxing_modules(text: str) -> np.ndarray:
    """The bars (True) of zxing-cpp's Code 128 symbol for ``text``, one per module, without quiet zones."""
    image = np.asarray(zxingcpp.create_barcode(text, CODE128).to_image(scale=1, add_quiet_zones=False))
    return image[0] < 128


def _patterns_in(modules: np.ndarray) -> set[tuple[int, ...]]:
    """The run-length patterns of a symbol's characters (6 runs each, the stop's 7), read off its modules."""
    flips = np.flatnonzero(np.diff(modules.astype(np.int8))) + 1
    runs = np.diff(np.concatenate([[0], flips, [len(modules)]]))
    found = {tuple(int(r) for r in runs[i:i + 6]) for i in range(0, len(runs) - 7, 6)}
    return found | {tuple(int(r) for r in runs[-7:])}


def _zxing_read(image: np.ndarray) -> list[str]:
    return [found.text for found in zxingcpp.read_barcodes(image, formats=[CODE128])]


def _scanline(modules: np.ndarray, module_px: float = 3.0) -> np.ndarray:
    quiet = np.zeros(10, bool)
    return 250 - 230 * render_modules(np.concatenate([quiet, modules, quiet]), module_px)


def _printable(text: str) -> bool:
    """Within what yuejuan encodes (code sets B and C: space to ``~``)."""
    return all(32 <= ord(c) <= 126 for c in text)


def test_the_texts_exercise_every_pattern() -> None:
    seen: set[tuple[int, ...]] = set()
    for text in _texts(300, seed=1):
        seen |= _patterns_in(_zxing_modules(text))
        if _printable(text):
            seen |= _patterns_in(encode(text)[10:-10])
    assert seen == set(PATTERNS)  # all 107, each as zxing-cpp or yuejuan draws it


# ----------------------------------------------------------------------------------------------------------
# What yuejuan prints reads right in zxing-cpp


def test_yuejuan_symbols_read_in_zxing() -> None:
    for text in _texts(300, seed=1):
        if not _printable(text):
            continue
        image = np.tile(_scanline(encode(text)[10:-10]), (30, 1)).astype(np.uint8)
        assert _zxing_read(image) == [text]


@pytest.mark.parametrize("dpi", [150, 200, 300])
def test_simulator_labels_read_in_zxing(dpi: int) -> None:
    rng = np.random.default_rng(dpi)
    rect = Rect("label", 5.0, 5.0, 70.0, 30.0, "barcode", symbology="code128")
    for _ in range(10):
        text = "".join(str(d) for d in rng.integers(0, 10, 10))
        page = np.full((int(40 * dpi / 25.4), int(80 * dpi / 25.4)), 245, np.uint8)
        draw_label(page, rect, dpi, text, rng, skew_deg=rng.uniform(-2, 2))
        assert _zxing_read(page) == [text]


# ----------------------------------------------------------------------------------------------------------
# What zxing-cpp and reportlab print reads right in yuejuan


def test_zxing_symbols_read_in_yuejuan() -> None:
    for text in _texts(300, seed=1):
        modules = _zxing_modules(text)
        assert decode_scanline(_scanline(modules)) == text
        image = np.asarray(zxingcpp.create_barcode(text, CODE128).to_image(scale=2))
        assert decode_region(image) == text


@pytest.mark.parametrize("dpi", [150, 200, 300])
def test_zxing_symbols_scanned_and_blurred_read_in_yuejuan(dpi: int) -> None:
    rng = np.random.default_rng(dpi)
    for text in _texts(60, seed=dpi):
        if len(_zxing_modules(text)) * 0.33 > 70:
            continue  # longer than a sticker
        image = scanned_label(_zxing_modules(text), 0.33, dpi, rng, blur_px=rng.uniform(0.5, 1.1),
                              noise=rng.uniform(2, 6), skew_deg=rng.uniform(-3, 3))
        assert decode_region(image) == text, repr(text)


@pytest.mark.parametrize("dpi", [150, 200, 300])
def test_reportlab_labels_rasterised_read_in_yuejuan(dpi: int) -> None:
    ids = ["2026010023", "20260100X7", "A-17 b", "0000000000", "9999999999"]
    pdf = io.BytesIO()
    page = canvas.Canvas(pdf, pagesize=(70 * mm, 24 * mm * len(ids)))
    for row, text in enumerate(ids):
        Code128(text, barWidth=0.38 * mm, barHeight=12 * mm, quiet=True).drawOn(page, 4 * mm, (6 + 24 * row) * mm)
    page.save()
    image = np.asarray(convert_from_bytes(pdf.getvalue(), dpi=dpi, grayscale=True)[0])
    band = image.shape[0] // len(ids)
    for row, text in enumerate(ids):
        crop = image[image.shape[0] - (row + 1) * band:image.shape[0] - row * band]  # PDF rows count from below
        assert decode_region(crop) == text
        assert _zxing_read(crop) == [text]


# ----------------------------------------------------------------------------------------------------------
# The reader's barcode step: every symbology a template may name, failing closed


@pytest.mark.parametrize("symbology, module_mm", [("code128", 0.33), ("code39", 0.3), ("pdf417", 0.3),
                                                  ("datamatrix", 0.5), ("qr", 0.5)])
def test_reader_reads_each_symbology_written_by_zxing(symbology: str, module_mm: float) -> None:
    rng = np.random.default_rng(len(symbology))
    for _ in range(5):
        text = "".join(str(d) for d in rng.integers(0, 10, 10))
        written = zxingcpp.create_barcode(text, SYMBOLOGY_FORMATS[symbology])
        modules = np.asarray(written.to_image(scale=1, add_quiet_zones=False)) < 128
        if symbology in ("code128", "code39"):
            modules = modules[0]
        crop = scanned_label(modules, module_mm, 200, rng, blur_px=0.9, skew_deg=rng.uniform(-2, 2))
        assert read_label(crop, symbology) == text
        assert read_label(crop, "code128" if symbology != "code128" else "qr") is None  # not what the field says


@pytest.mark.parametrize("symbology", SYMBOLOGIES)
def test_simulator_stickers_of_each_symbology_read_in_the_reader(symbology: str) -> None:
    rng = np.random.default_rng(9)
    rect = Rect("label", 5.0, 5.0, 70.0, 34.0, "barcode", symbology=symbology)
    for _ in range(3):
        text = "".join(str(d) for d in rng.integers(0, 10, 10))
        page = np.full((int(44 * 300 / 25.4), int(80 * 300 / 25.4)), 245, np.uint8)
        draw_label(page, rect, 300, text, rng)
        assert read_label(page, symbology) == text


def test_template_symbologies_are_the_readers() -> None:
    assert set(get_args(Barcode.model_fields["symbology"].annotation)) == set(SYMBOLOGIES)


def test_reader_refuses_two_different_labels_in_one_crop() -> None:
    rng = np.random.default_rng(4)
    for symbology in ("code128", "qr"):
        written = [np.asarray(zxingcpp.create_barcode(text, SYMBOLOGY_FORMATS[symbology]).to_image(scale=4))
                   for text in ("2026010023", "2026010024")]
        both = np.hstack(written) if symbology == "qr" else np.vstack(written)
        assert read_label(both, symbology) is None
        assert read_label(written[0], symbology) == "2026010023"
    with pytest.raises(ValueError):
        read_label(np.full((40, 40), 255, np.uint8), "ean13")
    assert read_label(rng.integers(0, 256, (80, 300)).astype(np.uint8), "code128") is None
    label = scanned_label(encode("2026010023")[10:-10], 0.33, 200, rng, blur_px=0.6)
    assert read_label(label, "code128") == "2026010023"
    middle = label.shape[1] // 2
    torn = label.copy()
    torn[:, middle - 5:middle + 5] = 240  # a scratch through a few bars, top to bottom: neither decoder reads it
    assert read_label(torn, "code128") is None
    assert read_label(label[:, :middle], "code128") is None  # half the label: no stop pattern
