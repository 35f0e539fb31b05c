"""Anchors of any shape in use (rectangles, L-corners with their arm width, circles): template fields, drawing and
registration at 150/200/300 dpi, gray and 1-bit, at every quarter turn."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from omr.geometry import MM_PER_INCH
from omr.layout import FillRect, anchor_polygon, page_primitives, timing_bar_rects
from omr.register import anchor_reference_point
from omr.render import render_page
from omr.template import Anchor, TemplateError, TimingTrack, expand_page, parse_template

TIMING_CARD = Path(__file__).parent / "data" / "timing_card.json"


def _card(**page_changes) -> dict:
    data = json.loads(TIMING_CARD.read_text(encoding="utf-8"))
    data["pages"][0].update(page_changes)
    return data


# ----------------------------------------------------------------------------------------------------------
# Template fields


def test_rect_anchor_needs_width_and_height():
    assert Anchor(id="a", shape="rect", x=20, y=20, width=12, height=4).box == (12, 4)
    with pytest.raises(ValueError, match="needs width and height"):
        Anchor(id="a", shape="rect", x=20, y=20, width=12)


def test_square_and_circle_refuse_width():
    for shape in ("square", "circle"):
        with pytest.raises(ValueError, match="has only a size"):
            Anchor(id="a", shape=shape, x=20, y=20, width=8, height=8)


def test_l_corner_arm_defaults_to_a_third_and_is_bounded():
    assert Anchor(id="a", shape="l_corner", x=20, y=20, size=9).arm_mm == pytest.approx(3.0)
    assert Anchor(id="a", shape="l_corner", x=20, y=20, width=12, height=8, arm=2).arm_mm == 2
    with pytest.raises(ValueError, match="arm"):
        Anchor(id="a", shape="l_corner", x=20, y=20, size=8, arm=6)  # nearly solid: no longer an L
    with pytest.raises(ValueError, match="only an l_corner"):
        Anchor(id="a", shape="rect", x=20, y=20, width=8, height=4, arm=2)


def test_anchor_outside_the_page_is_named():
    card = _card()
    card["pages"][0]["anchors"][0] = {"id": "tl", "shape": "rect", "x": 4, "y": 12, "width": 10, "height": 5}
    with pytest.raises(TemplateError, match=r"anchors\[tl\]"):
        parse_template(card)


def test_timing_track_bars_must_not_touch_and_stay_on_the_page():
    with pytest.raises(ValueError, match="touch"):
        TimingTrack(side="left", x=7, y=40, count=10, pitch=2.0, bar_width=5, bar_height=1.5)
    track = TimingTrack(side="top", x=27, y=29, count=3, pitch=7, bar_width=1.5, bar_height=4)
    assert track.bar_centres() == [(27, 29), (34, 29), (41, 29)]
    card = _card(timing=[{"side": "left", "x": 7, "y": 40, "count": 60, "pitch": 6.5}])  # last bar at y 423.5
    with pytest.raises(TemplateError, match=r"timing\[0\]"):
        parse_template(card)


def test_expanded_page_carries_the_tracks_and_the_render_prints_every_bar():
    template = parse_template(_card())
    page = expand_page(template, 1)
    assert [track.id for track in page.timing] == ["left", "right", "top"]
    bars = timing_bar_rects(page)
    assert len(bars) == 36 + 36 + 24
    assert sum(isinstance(item, FillRect) for item in page_primitives(page)) >= len(bars)
    image = render_page(page, 200)
    scale = 200 / MM_PER_INCH
    for x, y, w, h in bars:
        assert image[int((y + h / 2) * scale), int((x + w / 2) * scale)] < 60
        assert image[int((y - 0.6) * scale), int((x + w / 2) * scale)] > 200  # paper between bars


def test_l_corner_polygon_has_its_arm_width():
    anchor = Anchor(id="a", shape="l_corner", x=30, y=40, width=12, height=8, arm=2, corner="br")
    polygon = np.array(anchor_polygon(anchor))
    x, y = polygon[:, 0], polygon[:, 1]
    area = 0.5 * abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))
    assert area == pytest.approx(12 * 2 + 2 * (8 - 2))
    assert (x.min(), x.max(), y.min(), y.max()) == (24, 36, 36, 44)
    cx, cy = anchor_reference_point(anchor)
    assert cx > 30 and cy > 40  # pulled towards the elbow, bottom right
