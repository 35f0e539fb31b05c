"""Anchors of any shape in use (rectangles, L-corners with their arm width, circles): template fields, drawing and
registration at 150/200/300 dpi, gray and 1-bit, at every quarter turn."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from omr.geometry import MM_PER_INCH, template_geometry
from omr.layout import FillRect, anchor_polygon, page_primitives, timing_bar_rects
from omr.read import prepare_template, read_page
from omr.register import anchor_reference_point, apply_homography, find_anchor_candidates, register_page
from omr.render import render_page
from omr.template import Anchor, TemplateError, TimingTrack, expand_page, parse_template
from sample_sheets.printable import render_pdf
from sample_sheets.simulate import random_truth, simulate_sheet

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


# ----------------------------------------------------------------------------------------------------------
# Registration: rect and L anchors found, through the simulator, at every quarter turn


SHAPES = {
    "rect-wide": {"shape": "rect", "width": 10, "height": 5},
    "rect-tall": {"shape": "rect", "width": 4, "height": 9},
    "l-thin-arm": {"shape": "l_corner", "size": 8, "arm": 1.5},
    "l-wide-arm": {"shape": "l_corner", "width": 10, "height": 7, "arm": 3},
}


def _shaped_card(name: str):
    margin = 14.0
    anchors = [{"id": corner, "x": x, "y": y, "corner": corner, **SHAPES[name]}
               for corner, x, y in [("tl", margin, margin), ("tr", 210 - margin, margin),
                                    ("bl", margin, 297 - margin), ("br", 210 - margin, 297 - margin)]]
    return parse_template({
        "id": f"t-{name}", "code": 77,
        "pages": [{"anchors": anchors, "identity": {"x": 60, "y": 12},
                   "fields": [{"kind": "choice_block", "id": "q", "first": 1, "count": 40, "options": "ABCD",
                               "x": 30, "y": 60, "rows": 20, "row_pitch": 9, "column_pitch": 90}]}],
    })


def _turned(image: np.ndarray, points_px: np.ndarray, quarter_turns: int) -> tuple[np.ndarray, np.ndarray]:
    """The image turned ``quarter_turns`` x 90° counter-clockwise (np.rot90) and where ``points_px`` land."""
    points = np.asarray(points_px, np.float64).copy()
    for _ in range(quarter_turns % 4):
        cols = image.shape[1]
        image = np.rot90(image)
        points = np.stack([points[:, 1], cols - 1 - points[:, 0]], axis=1)
    return np.ascontiguousarray(image), points


# (shape, dpi, 1-bit, quarter turns): every shape, every dpi, gray and 1-bit, every turn appear
CASES = [
    ("rect-wide", 150, False, 0), ("rect-wide", 300, True, 1), ("rect-wide", 200, True, 2),
    ("rect-tall", 200, False, 3), ("rect-tall", 150, True, 0), ("rect-tall", 300, False, 2),
    ("l-thin-arm", 200, True, 1), ("l-thin-arm", 300, False, 3), ("l-thin-arm", 150, False, 2),
    ("l-wide-arm", 150, True, 3), ("l-wide-arm", 200, False, 0), ("l-wide-arm", 300, True, 1),
]


@pytest.mark.parametrize("name, dpi, bilevel, turns", CASES)
def test_rect_and_l_anchors_are_found_and_the_page_read(name, dpi, bilevel, turns):
    template = _shaped_card(name)
    page = expand_page(template, 1)
    truth = random_truth(template, np.random.default_rng(5), absent_rate=0.0, multi_error_rate=0.0)
    overrides = {"rotation_deg": 2.0, "shift_mm": 1.5, "binarize": "threshold" if bilevel else "none"}
    sim = simulate_sheet(template, truth, seed=9, profile="clean", dpi=dpi, overrides=overrides)[0]
    anchors_mm = np.array([anchor_reference_point(a) for a in page.anchors])
    homography = np.array(sim.truth["homography"], np.float64)
    truth_px = apply_homography(homography, anchors_mm * dpi / MM_PER_INCH - 0.5)
    image, truth_px = _turned(sim.image, truth_px, turns)

    fits = register_page(image, page)
    assert fits and fits[0].anchors_found == 4
    right = [fit for fit in fits if np.abs(apply_homography(fit.page_to_image, anchors_mm) - truth_px).max()
             <= 0.25 * dpi / MM_PER_INCH]
    assert right, f"no fit puts the {name} anchors within 0.25 mm of where they are"
    result = read_page(image, prepare_template(template))
    assert result.status == "ok", result.reasons
    assert result.orientation == (0, 270, 180, 90)[turns]
    assert {q: r.marked for q, r in result.questions.items()} == sim.truth["answers"]


def _window_with(shape_mm: list[tuple[str, tuple]], px_per_mm: float = 200 / MM_PER_INCH) -> np.ndarray:
    """A 40 x 40 mm paper window (200 dpi) with the given solid shapes: ("rect", (x, y, w, h)) or ("poly", points)."""
    side = int(40 * px_per_mm)
    image = np.full((side, side), 245, np.uint8)
    for kind, value in shape_mm:
        points = ([(value[0], value[1]), (value[0] + value[2], value[1]), (value[0] + value[2], value[1] + value[3]),
                   (value[0], value[1] + value[3])] if kind == "rect" else value)
        cv2.fillPoly(image, [np.round(np.array(points) * px_per_mm * 16).astype(np.int32)], 20, cv2.LINE_AA, 4)
    return image


def _candidates(image: np.ndarray, anchor: Anchor) -> list:
    return find_anchor_candidates(image, 200 / MM_PER_INCH, [(0, 0, image.shape[1], image.shape[0], anchor)])


def test_a_heading_bar_or_a_square_is_not_taken_for_a_rect_anchor():
    anchor = Anchor(id="a", shape="rect", x=20, y=20, width=10, height=5)
    assert len(_candidates(_window_with([("rect", (15, 17.5, 10, 5))]), anchor)) == 1
    assert len(_candidates(_window_with([("rect", (17, 17, 7, 7))]), anchor)) == 0  # a square of about its area
    assert len(_candidates(_window_with([("rect", (8, 18, 15, 3.3))]), anchor)) == 0  # a longer, thinner bar
    assert len(_candidates(_window_with([("rect", (5, 16, 24, 6))]), anchor)) == 0  # a heading bar


def _l(x: float, y: float, side: float, arm: float) -> list[tuple[float, float]]:
    return [(x, y), (x + side, y), (x + side, y + arm), (x + arm, y + arm), (x + arm, y + side), (x, y + side)]


def test_an_l_is_told_by_its_arm_width():
    anchor = Anchor(id="a", shape="l_corner", x=20, y=20, size=9, arm=2)
    assert len(_candidates(_window_with([("poly", _l(15.5, 15.5, 9, 2))]), anchor)) == 1
    assert len(_candidates(_window_with([("poly", _l(15.5, 15.5, 9, 4.5))]), anchor)) == 0  # arms twice as wide
    assert len(_candidates(_window_with([("rect", (15.5, 15.5, 9, 9))]), anchor)) == 0  # a solid square
    assert len(_candidates(_window_with([("rect", (15.5, 15.5, 9, 2))]), anchor)) == 0  # one arm alone


@pytest.mark.skipif(not shutil.which("pdftoppm"), reason="poppler-utils not installed")
def test_pdf_prints_rect_anchors_and_timing_bars_where_the_geometry_says(tmp_path):
    template = parse_template(_card())
    render_pdf(template, tmp_path / "card.pdf")
    subprocess.run(["pdftoppm", "-r", "150", "-gray", str(tmp_path / "card.pdf"), str(tmp_path / "card")],
                   check=True, capture_output=True, timeout=60)
    image = np.asarray(Image.open(next(tmp_path.glob("card-*.pgm"))))
    geometry = template_geometry(template, 150)["pages"][0]
    boxes = [bar for track in geometry["timing"] for bar in track["bars"]]
    assert len(boxes) == 96
    for anchor in geometry["anchors"]:
        width, height = anchor["box"]
        boxes.append({"x": anchor["center"][0] + 0.5 - width / 2, "y": anchor["center"][1] + 0.5 - height / 2,
                      "w": width, "h": height})
    for box in boxes:
        x0, y0, x1, y1 = box["x"], box["y"], box["x"] + box["w"], box["y"] + box["h"]
        inside = image[int(np.ceil(y0 + 1)):int(y1 - 1), int(np.ceil(x0 + 1)):int(x1 - 1)]
        assert inside.size and inside.max() < 80, box  # solid ink right up to the edges
        assert image[int(y0 - 3), int((x0 + x1) / 2)] > 200 and image[int(y1 + 3), int((x0 + x1) / 2)] > 200, box
        assert image[int((y0 + y1) / 2), int(x0 - 3)] > 200 and image[int((y0 + y1) / 2), int(x1 + 3)] > 200, box
