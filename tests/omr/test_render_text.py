"""PNG renders set Chinese text in the CJK font the PDF uses; the ASCII alternative only without one."""

from __future__ import annotations

import numpy as np
import pytest

import omr.render as render
from omr.geometry import MM_PER_INCH
from omr.template import expand_page
from sample_sheets import resolve_template

DPI = 200
SCALE = DPI / MM_PER_INCH

pytestmark = pytest.mark.skipif(render.cjk_font_path() is None, reason="no CJK font installed (make install)")


def _ink_width_mm(image: np.ndarray, x: float, baseline: float, size: float) -> float:
    """Width of the ink of the text line starting at (x, baseline), cap height ``size`` mm."""
    rows = slice(int((baseline - 1.3 * size) * SCALE), int((baseline + 0.3 * size) * SCALE))
    cols = slice(int((x - 1) * SCALE), int((x + 40) * SCALE))
    inked = np.nonzero((image[rows, cols] < 128).any(axis=0))[0]
    return float(inked[-1] - inked[0] + 1) / SCALE if len(inked) else 0.0


def test_chinese_labels_are_set_in_the_cjk_font_as_in_the_pdf():
    page = expand_page(resolve_template("cn-a4-55"), 1)
    image = render.render_page(page, DPI)
    # 考号 at (20, 46), cap height 3 mm: two em squares of 3 / 0.718 mm, as reportlab sets it in the PDF.
    assert _ink_width_mm(image, 20, 46, 3) == pytest.approx(2 * 3 / 0.718, abs=0.8)


def test_without_a_cjk_font_the_ascii_alternative_is_drawn(monkeypatch):
    page = expand_page(resolve_template("cn-a4-55"), 1)
    monkeypatch.setattr(render, "cjk_font_path", lambda: None)
    image = render.render_page(page, DPI)
    assert _ink_width_mm(image, 20, 46, 3) > 12  # "EXAM ID" in Hershey capitals is far wider than 考号


def test_glyphs_are_rasterised_once_per_label_and_size():
    page = expand_page(resolve_template("cn-a3-100"), 1)
    render.render_page(page, DPI)
    before = render._glyphs.cache_info()
    again = render.render_page(page, DPI)
    after = render._glyphs.cache_info()
    assert after.misses == before.misses and after.hits > before.hits
    np.testing.assert_array_equal(again, render.render_page(page, DPI))
