"""The printable PDF: physical page size, and the printed sheet matches :mod:`omr.geometry`."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import omr.pdf_font as pdf_font
import sample_sheets.printable as printable
from omr.geometry import template_geometry
from omr.render import render_page
from omr.template import Template, decode_identity, expand_page
from sample_sheets import resolve_template
from sample_sheets.printable import render_pdf, render_png

TEMPLATES = ["cn-a4-55", "cn-a3-100"]
POINTS_PER_MM = 72 / 25.4
RASTER_DPI = 150

needs_poppler = pytest.mark.skipif(
    not (shutil.which("pdfinfo") and shutil.which("pdftoppm")), reason="poppler-utils not installed"
)


def _run(*command: str) -> str:
    return subprocess.run(command, check=True, capture_output=True, text=True, timeout=60).stdout


@pytest.fixture(scope="module")
def pdfs(tmp_path_factory) -> dict[str, Path]:
    directory = tmp_path_factory.mktemp("pdf")
    paths = {}
    for name in TEMPLATES:
        paths[name] = directory / f"{name}.pdf"
        render_pdf(resolve_template(name), paths[name])
    return paths


@pytest.fixture(scope="module")
def rasters(pdfs, tmp_path_factory) -> dict[str, list[np.ndarray]]:
    """Each PDF rasterised by poppler at 150 dpi, grayscale, one array per page."""
    if not shutil.which("pdftoppm"):
        pytest.skip("poppler-utils not installed")
    directory = tmp_path_factory.mktemp("raster")
    out = {}
    for name, pdf in pdfs.items():
        _run("pdftoppm", "-r", str(RASTER_DPI), "-gray", str(pdf), str(directory / name))
        files = sorted(directory.glob(f"{name}-*.pgm"), key=lambda p: int(p.stem.rsplit("-", 1)[1]))
        out[name] = [np.asarray(Image.open(path)) for path in files]
    return out


@needs_poppler
@pytest.mark.parametrize("name", TEMPLATES)
def test_pdf_page_count_and_physical_size(pdfs, name: str):
    template = resolve_template(name)
    count = len(template.pages)
    info = _run("pdfinfo", "-f", "1", "-l", str(count), str(pdfs[name]))
    assert re.search(rf"^Pages:\s+{count}$", info, re.M)
    sizes = re.findall(r"^Page\s+\d+ size:\s+([\d.]+) x ([\d.]+) pts", info, re.M)
    assert len(sizes) == count
    width_mm, height_mm = template.page_mm
    for width_pt, height_pt in sizes:
        assert float(width_pt) == pytest.approx(width_mm * POINTS_PER_MM, abs=0.5)
        assert float(height_pt) == pytest.approx(height_mm * POINTS_PER_MM, abs=0.5)


def _printed(rasters, name: str):
    template = resolve_template(name)
    geometry = template_geometry(template, RASTER_DPI)
    images = rasters[name]
    assert len(images) == len(geometry["pages"])
    return template, list(zip(geometry["pages"], images))


@needs_poppler
@pytest.mark.parametrize("name", TEMPLATES)
def test_printed_anchors_and_identity_match_geometry(rasters, name: str):
    template, pages = _printed(rasters, name)
    for page_geometry, image in pages:
        cols, rows = page_geometry["size_px"]
        # poppler rounds the page size up to whole pixels
        assert image.shape[0] in (rows, rows + 1) and image.shape[1] in (cols, cols + 1)
        for anchor in page_geometry["anchors"]:
            cx, cy = anchor["center"]
            half = anchor["size"] / 2
            assert image[round(cy), round(cx)] < 60, anchor
            for dx, dy in ((1, 0), (-1, 0), (0, 1), (0, -1)):
                assert image[round(cy + dy * (half - 2)), round(cx + dx * (half - 2))] < 60, anchor
                assert image[round(cy + dy * (half + 2)), round(cx + dx * (half + 2))] > 200, anchor
        bits = []
        for cell in page_geometry["identity"]:
            value = image[round(cell["y"] + cell["h"] / 2 - 0.5), round(cell["x"] + cell["w"] / 2 - 0.5)]
            assert (value < 60) if cell["bit"] else (value > 200), cell
            bits.append(int(value < 128))
        assert decode_identity(bits) == (template.identity_code, page_geometry["page"])


@needs_poppler
@pytest.mark.parametrize("name", TEMPLATES)
def test_printed_bubble_outlines_match_geometry(rasters, name: str):
    _, pages = _printed(rasters, name)
    for page_geometry, image in pages:
        bubbles = page_geometry["bubbles"]
        centres = np.array([b["center"] for b in bubbles])
        radii = np.array([b["radius"] for b in bubbles])
        for sx, sy in ((1, 0), (-1, 0), (0, 1), (0, -1)):
            xs = np.rint(centres[:, 0] + sx * radii[:, 0]).astype(int)
            ys = np.rint(centres[:, 1] + sy * radii[:, 1]).astype(int)
            darkest = np.min([image[ys + d * abs(sy), xs + d * abs(sx)] for d in (-1, 0, 1)], axis=0)
            bad = [f"{bubbles[i]['group']}/{bubbles[i]['label']}" for i in np.flatnonzero(darkest >= 128)]
            assert not bad, f"page {page_geometry['page']}: no printed outline at {bad[:5]}"


@needs_poppler
@pytest.mark.parametrize("name", TEMPLATES)
def test_print_and_raster_render_agree(rasters, name: str):
    # The same primitives drawn by two renderers: dark pixels should mostly coincide (text fonts differ).
    template, pages = _printed(rasters, name)
    for page_geometry, printed in pages:
        rendered = render_page(expand_page(template, page_geometry["page"]), RASTER_DPI)
        rows, cols = rendered.shape
        printed = printed[:rows, :cols]
        both = np.count_nonzero((printed < 128) & (rendered < 128))
        either = np.count_nonzero((printed < 128) | (rendered < 128))
        assert both / either > 0.5


@pytest.mark.skipif(not shutil.which("pdftotext"), reason="poppler-utils not installed")
def test_pdf_carries_real_chinese_text(pdfs):
    text = _run("pdftotext", str(pdfs["cn-a4-55"]), "-")
    assert "答题卡" in text
    assert "贴条形码区" in text
    assert "ANSWER SHEET" not in text  # the ASCII stand-in is for raster renders only
    assert "½" in text


def test_render_pdf_to_file_object_is_reproducible():
    template = resolve_template("cn-a4-55")
    first, second = io.BytesIO(), io.BytesIO()
    render_pdf(template, first)
    render_pdf(template, second)
    assert first.getvalue().startswith(b"%PDF-")
    assert first.getvalue() == second.getvalue()


def test_render_pdf_accepts_str_path(tmp_path: Path):
    path = tmp_path / "sheet.pdf"
    render_pdf(resolve_template("cn-a4-55"), str(path))
    assert path.read_bytes().startswith(b"%PDF-")


@pytest.mark.parametrize("dpi", [150, 300])
def test_render_png_records_dpi(tmp_path: Path, dpi: int):
    template: Template = resolve_template("cn-a3-100")
    path = tmp_path / "page.png"
    render_png(template, 2, dpi, path)
    with Image.open(path) as image:
        assert image.mode == "L"
        assert image.info["dpi"] == pytest.approx((dpi, dpi), abs=0.05)  # PNG stores whole pixels per metre
        pixels = np.asarray(image)
    np.testing.assert_array_equal(pixels, render_page(expand_page(template, 2), dpi))


def test_unusable_font_files_fall_back_to_cid_font(tmp_path: Path, monkeypatch):
    junk = tmp_path / "broken.ttf"
    junk.write_bytes(b"not a font")
    candidates = [junk, tmp_path / "missing.ttc"]
    latin_only = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
    if latin_only.exists():
        candidates.append(latin_only)  # a real TrueType font without Chinese glyphs
    monkeypatch.setattr(pdf_font, "_font_candidates", lambda: candidates)
    pdf_font.cjk_font_name.cache_clear()
    try:
        assert pdf_font.cjk_font_name() == "STSong-Light"
    finally:
        pdf_font.cjk_font_name.cache_clear()


def test_font_from_environment_is_tried_first(tmp_path: Path, monkeypatch):
    font = tmp_path / "mine.ttf"
    monkeypatch.setenv("YUEJUAN_CJK_FONT", str(font))
    assert pdf_font._font_candidates()[0] == font


def test_text_runs_split_latin_and_chinese():
    runs = printable._runs("选择题 1-60½")
    cjk = printable.cjk_font_name()
    assert runs == [(cjk, "选择题"), ("Helvetica", " 1-60½")]
