"""The printer: each print effect does what it says and nothing else; the simulator's truth follows the print."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from omr.geometry import mm_to_px
from omr.render import render_page
from omr.template import expand_page
from sample_sheets import resolve_template
from sample_sheets.marks import bubble_geometry
from sample_sheets.printer import PrintParams, print_page, print_transform, printed_layout
from sample_sheets.simulate import random_truth, simulate_sheet

A4 = resolve_template("cn-a4-55")
PAGE = expand_page(A4, 1)
DPI = 200
PX_PER_MM = DPI / 25.4


@pytest.fixture(scope="module")
def blank() -> np.ndarray:
    return render_page(PAGE, DPI)


def _ink(image: np.ndarray, mask: np.ndarray | None = None) -> float:
    dark = 255.0 - image.astype(np.float64)
    return float(dark[mask].sum() if mask is not None else dark.sum())


def _ring_mask(page, shape, inner: float, outer: float) -> np.ndarray:
    """Pixels between ``inner`` and ``outer`` times each bubble's radii (around the outline)."""
    mask = np.zeros(shape, np.uint8)
    for _, b in page.bubbles:
        centre = (int(round(mm_to_px(b.x, DPI))), int(round(mm_to_px(b.y, DPI))))
        rx, ry = b.width / 2 * PX_PER_MM, b.height / 2 * PX_PER_MM
        cv2.ellipse(mask, centre, (int(round(rx * outer)), int(round(ry * outer))), 0, 0, 360, 1, -1)
        cv2.ellipse(mask, centre, (int(round(rx * inner)), int(round(ry * inner))), 0, 0, 360, 0, -1)
    return mask.astype(bool)


def test_default_print_is_the_render(blank):
    assert np.array_equal(print_page(PAGE, DPI, PrintParams()), blank)
    assert printed_layout(PAGE, 1.0) is PAGE


@pytest.mark.parametrize("kwargs", [{"scale": 0.3}, {"scale": 1.5}, {"bold_mm": -0.1}, {"outline_mm": 2.0},
                                    {"anchor_tone": 0.0}, {"anchor_tone": 1.2}])
def test_impossible_print_settings_are_refused(kwargs):
    with pytest.raises(ValueError):
        PrintParams(**kwargs)


def test_fit_to_page_shrinks_content_about_the_centre():
    image = print_page(PAGE, DPI, PrintParams(scale=0.96))
    matrix = print_transform(PAGE, DPI, 0.96)
    printed = printed_layout(PAGE, 0.96)
    assert (printed.width_mm, printed.height_mm) == (PAGE.width_mm, PAGE.height_mm)  # same paper
    assert image.shape == render_page(PAGE, DPI).shape
    for anchor, moved in zip(PAGE.anchors, printed.anchors):
        template_px = np.array([mm_to_px(anchor.x, DPI), mm_to_px(anchor.y, DPI), 1.0])
        expected = (matrix @ template_px)[:2]
        assert np.allclose(expected, [mm_to_px(moved.x, DPI), mm_to_px(moved.y, DPI)])
        assert moved.size == pytest.approx(anchor.size * 0.96)
        # The printed anchor's ink is centred where the transform says.
        half = int(moved.size / 2 * PX_PER_MM) + 3  # the anchor and a little paper, no neighbouring line
        x0, y0 = int(round(expected[0])) - half, int(round(expected[1])) - half
        window = 255.0 - image[y0:y0 + 2 * half + 1, x0:x0 + 2 * half + 1].astype(np.float64)
        window[window < 128] = 0
        ys, xs = np.mgrid[: window.shape[0], : window.shape[1]]
        centroid = np.array([(xs * window).sum(), (ys * window).sum()]) / window.sum() + (x0, y0)
        if anchor.shape != "l_corner":  # an L's ink is not centred on its box
            assert np.hypot(*(centroid - expected)) < 0.5, (anchor.id, centroid, expected)
    # Bubbles too: a corner bubble moves towards the centre by 4 % of its distance from it.
    first = printed.groups[0].bubbles[0]
    original = PAGE.groups[0].bubbles[0]
    assert first.x - PAGE.width_mm / 2 == pytest.approx(0.96 * (original.x - PAGE.width_mm / 2))
    assert first.width == pytest.approx(0.96 * original.width)


def test_thicker_outlines_thicken_the_outlines_only(blank):
    image = print_page(PAGE, DPI, PrintParams(outline_mm=0.1))
    # 0.1 mm more line along every outline: the ink added is that strip's area, in solid black.
    perimeter_mm = sum(np.pi * (3 * (a + b) - np.sqrt((3 * a + b) * (a + 3 * b)))  # Ramanujan, a, b = radii
                       for a, b in ((bubble.width / 2, bubble.height / 2) for _, bubble in PAGE.bubbles))
    expected = perimeter_mm * PX_PER_MM * 0.1 * PX_PER_MM * 255
    assert _ink(image) - _ink(blank) == pytest.approx(expected, rel=0.2)
    inner = _ring_mask(PAGE, blank.shape, 0.0, 0.65)  # the labels inside the bubbles
    assert np.array_equal(image[inner], blank[inner])
    assert (image <= blank).all()  # ink only added


def test_bolder_font_thickens_labels_not_outlines(blank):
    image = print_page(PAGE, DPI, PrintParams(bold_mm=0.1))
    inner = _ring_mask(PAGE, blank.shape, 0.0, 0.65)
    assert 1.2 < _ink(image, inner) / _ink(blank, inner) < 2.0  # thin strokes: 0.1 mm is a lot
    ring = _ring_mask(PAGE, blank.shape, 0.85, 1.2)
    assert _ink(image, ring) == pytest.approx(_ink(blank, ring), rel=0.01)
    assert (image <= blank).all()


def test_gray_anchors_are_gray_and_nothing_else_changes(blank):
    image = print_page(PAGE, DPI, PrintParams(anchor_tone=0.6))
    changed = image != blank
    for anchor in PAGE.anchors:
        x, y = int(round(mm_to_px(anchor.x, DPI))), int(round(mm_to_px(anchor.y, DPI)))
        if anchor.shape == "square":
            assert abs(int(image[y, x]) - 102) <= 1  # 60 % of black on white
    ys, xs = np.nonzero(changed)
    near = np.zeros(len(xs), bool)
    for anchor in PAGE.anchors:
        reach = anchor.size / 2 * PX_PER_MM + 4
        near |= (np.abs(xs - mm_to_px(anchor.x, DPI)) <= reach) & (np.abs(ys - mm_to_px(anchor.y, DPI)) <= reach)
    assert near.all()


def test_simulated_truth_follows_the_print():
    truth = random_truth(A4, np.random.default_rng(5), multi_error_rate=0.0)
    sim = simulate_sheet(A4, truth, seed=5, profile="clean", overrides={"print_scale": 0.96})[0]
    assert sim.truth["printer"]["scale"] == 0.96
    matrix = np.array(sim.truth["homography"])
    assert np.allclose(matrix, print_transform(PAGE, DPI, 0.96), atol=1e-9)  # clean scan: only the print
    # Marks land in the printed bubbles: where the truth homography puts a bubble, a filled one is darker than
    # the blank print, an empty one is not.
    blank = print_page(PAGE, DPI, PrintParams(scale=0.96)).astype(np.float64)
    geometry = bubble_geometry(PAGE, DPI)
    centres = cv2.perspectiveTransform(np.stack([geometry.cx, geometry.cy], 1).reshape(-1, 1, 2), matrix)[:, 0]
    states = [state for group in sim.truth["groups"].values() for state in group["bubbles"].values()]
    assert "filled" in states
    for (x, y), state in zip(centres, states):
        r, c = int(round(y)), int(round(x))
        added = float((blank[r - 2:r + 3, c - 2:c + 3] - sim.image[r - 2:r + 3, c - 2:c + 3]).mean())
        if state == "filled":
            assert added > 30, (x, y, added)
        elif state == "empty":
            assert added == 0, (x, y, added)
    for anchor in PAGE.anchors:
        recorded = sim.truth["anchors"][anchor.id]
        point = np.array([[[mm_to_px(anchor.x, DPI), mm_to_px(anchor.y, DPI)]]])
        assert np.allclose(cv2.perspectiveTransform(point, matrix)[0, 0], [recorded["x"], recorded["y"]], atol=0.01)


def test_print_overrides_leave_everything_else_as_it_was():
    truth = random_truth(A4, np.random.default_rng(6))
    plain = simulate_sheet(A4, truth, seed=6, profile="typical", overrides={"anchor_tone": 1.0})[0]
    gray = simulate_sheet(A4, truth, seed=6, profile="typical", overrides={"anchor_tone": 0.6})[0]
    assert gray.truth["scanner"] == plain.truth["scanner"]
    assert gray.truth["groups"] == plain.truth["groups"]
    assert gray.truth["printer"] == {**plain.truth["printer"], "anchor_tone": 0.6}
    assert not np.array_equal(gray.image, plain.image)
