"""The audit overlay: bubbles ringed by what was read, and a banner a teacher can read (Chinese when a CJK font is
installed, OpenCV's ASCII font otherwise)."""

from __future__ import annotations

import numpy as np
import pytest

from omr import overlay
from omr.read import prepare_template, read_page
from omr.render import cjk_font_path, render_page
from omr.template import expand_page
from sample_sheets import resolve_template


@pytest.fixture(scope="module")
def blank_page():
    template = resolve_template("cn-a4-55")
    prepared = prepare_template(template)
    image = render_page(expand_page(template, 1), 150)
    return image, read_page(image, prepared), prepared


def _banner_ink(canvas: np.ndarray) -> int:
    band = canvas[:40, :, :].astype(int)
    coloured = (band.max(axis=2) - band.min(axis=2)) > 60  # the banner is drawn in colour on a gray page
    return int(coloured.sum())


def test_banner_in_chinese_with_a_cjk_font(blank_page, monkeypatch):
    if cjk_font_path() is None:
        pytest.skip("no CJK font installed (make install adds fonts-wqy-microhei)")
    image, result, prepared = blank_page
    drawn: list[str] = []
    real_text = overlay.ImageDraw.ImageDraw.text

    def spy(self, xy, text, *args, **kwargs):
        drawn.append(text)
        return real_text(self, xy, text, *args, **kwargs)

    monkeypatch.setattr(overlay.ImageDraw.ImageDraw, "text", spy)
    canvas = overlay.draw_overlay(image, result, prepared)
    assert canvas.shape == (*image.shape, 3)
    assert len(drawn) == 1 and drawn[0].startswith(("正常", "待复核", "无法识别"))
    assert not any(word in drawn[0] for word in ("OK", "FLAGGED", "UNREADABLE"))
    assert _banner_ink(canvas) > 100


def test_banner_falls_back_to_ascii_without_a_font(blank_page, monkeypatch):
    image, result, prepared = blank_page
    monkeypatch.setattr(overlay, "cjk_font_path", lambda: None)
    canvas = overlay.draw_overlay(image, result, prepared)
    assert _banner_ink(canvas) > 100
