"""The simulator's scanner-speed drift (non-uniform stretch along the feed), measured on its own."""

from __future__ import annotations

import numpy as np
import pytest

from omr.geometry import MM_PER_INCH
from omr.template import parse_template
from sample_sheets.scanner import ScanParams, feed_rows, scan, scan_points
from sample_sheets.simulate import random_truth, simulate_sheet

DPI = 200


def _ruled_page(rows: int = 2339, cols: int = 400, pitch: int = 40) -> tuple[np.ndarray, np.ndarray]:
    """A page of thin black lines every ``pitch`` rows, and the lines' rows."""
    page = np.full((rows, cols), 255, np.uint8)
    lines = np.arange(pitch, rows - pitch, pitch)
    page[lines] = 0
    return page, lines.astype(np.float64)


def _line_rows(image: np.ndarray) -> np.ndarray:
    """Darkness-weighted centre of every dark line in the image (rows), top to bottom."""
    profile = 255.0 - image[:, 100:300].mean(axis=1)
    dark = profile > 20
    starts = np.flatnonzero(dark & ~np.roll(dark, 1))
    ends = np.flatnonzero(dark & ~np.roll(dark, -1))
    return np.array([np.average(np.arange(a - 1, b + 2), weights=profile[a - 1:b + 2]) for a, b in zip(starts, ends)])


@pytest.mark.parametrize("drift, cycles, phase", [(0.015, 1.0, 0.0), (0.02, 1.5, 2.0), (0.01, 0.5, -1.0)])
def test_feed_drift_moves_each_row_by_the_integral_of_its_stretch(drift, cycles, phase):
    page, lines = _ruled_page()
    params = ScanParams(dpi=DPI, feed_drift=drift, feed_cycles=cycles, feed_phase=phase)
    image, matrix, _ = scan(page, params)
    assert np.allclose(matrix, np.eye(3))
    found = _line_rows(image)
    expected = feed_rows(params, lines, page.shape[0])
    inside = expected < page.shape[0] - 2
    assert len(found) == inside.sum()
    assert np.abs(found - expected[inside]).max() < 0.1  # px: the drift is where feed_rows says it is
    # Measured on the page itself: the local stretch between neighbouring lines wanders by about +-drift
    local = np.diff(found) / np.diff(lines[inside]) - 1.0
    assert local.max() == pytest.approx(drift, abs=0.25 * drift + 0.002)
    assert local.min() == pytest.approx(-drift, abs=0.25 * drift + 0.002)
    # and no homography explains it: the best straight line (a uniform scale) misses some rows by 0.4 mm or more
    fit = np.polyval(np.polyfit(lines[inside], found, 1), lines[inside])
    assert np.abs(found - fit).max() > 0.4 * DPI / MM_PER_INCH


def test_a_uniform_feed_stretch_lengthens_the_page():
    page, lines = _ruled_page()
    image, _, _ = scan(page, ScanParams(dpi=DPI, feed_stretch=0.01))
    found = _line_rows(image)
    assert np.diff(found).mean() == pytest.approx(40 * 1.01, abs=0.02)
    assert found[0] == pytest.approx(40 * 1.01, abs=0.1)


def test_without_feed_effects_the_scan_is_unchanged():
    page, _ = _ruled_page()
    image, _, _ = scan(page, ScanParams(dpi=DPI))
    assert np.array_equal(image, page)
    points = np.array([[10.0, 100.0], [300.0, 2000.0]])
    assert np.allclose(scan_points(ScanParams(dpi=DPI), np.eye(3), points, page.shape), points)


def test_simulated_truth_follows_the_feed():
    template = parse_template({
        "id": "t-feed", "pages": [{"anchors": [{"id": c, "x": x, "y": y} for c, x, y in
                                               [("tl", 12, 12), ("tr", 198, 12), ("bl", 12, 285), ("br", 198, 285)]],
                                   "identity": {"x": 60, "y": 12}}]})
    truth = random_truth(template, np.random.default_rng(1))
    plain = simulate_sheet(template, truth, seed=3, profile="clean", dpi=DPI)[0]
    drifted = simulate_sheet(template, truth, seed=3, profile="clean", dpi=DPI,
                             overrides={"feed_drift": 0.02, "feed_cycles": 1.0})[0]
    assert drifted.params.feed_drift == 0.02 and drifted.params.feed_cycles == 1.0
    assert drifted.truth["scanner"]["feed_drift"] == 0.02
    moved = {name: drifted.truth["anchors"][name]["y"] - plain.truth["anchors"][name]["y"] for name in ("bl", "br")}
    expected = feed_rows(drifted.params, np.array([plain.truth["anchors"]["bl"]["y"]]), drifted.image.shape[0])[0]
    assert moved["bl"] == pytest.approx(expected - plain.truth["anchors"]["bl"]["y"], abs=0.01)
    assert abs(moved["bl"]) > 0.05  # the bottom anchors really moved
