"""Refinement: the fit is refitted to the printed bubble outlines, and a wrong fit is corrected or flagged whole."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from omr.geometry import MM_PER_INCH
from omr.read import REGISTRATION_UNSURE, fit_verified, outline_share, prepare_template, read_page
from omr.refine import fit_points, refine_transform
from omr.register import apply_homography, register_page
from sample_sheets import resolve_template
from sample_sheets.evaluate import compare_page
from sample_sheets.simulate import random_truth, simulate_sheet

DPI = 200


@pytest.fixture(scope="module")
def template():
    return resolve_template("cn-a4-55")


@pytest.fixture(scope="module")
def prepared(template):
    return prepare_template(template)


@pytest.fixture(scope="module")
def truth(template):
    return random_truth(template, np.random.default_rng(31), absent_rate=0.0, multi_error_rate=0.0, blank_rate=0.0)


def _true_matrix(sim) -> np.ndarray:
    """Template mm -> image pixels as the simulator really mapped them."""
    px = sim.truth["dpi"] / MM_PER_INCH
    return np.array(sim.truth["homography"], np.float64) @ np.array([[px, 0, -0.5], [0, px, -0.5], [0, 0, 1.0]])


def _error_mm(matrix: np.ndarray, sim, points_mm: np.ndarray) -> float:
    """Worst distance (mm) between where ``matrix`` and the simulator put ``points_mm``."""
    moved = apply_homography(matrix, points_mm) - apply_homography(_true_matrix(sim), points_mm)
    return float(np.linalg.norm(moved, axis=1).max() / (sim.truth["dpi"] / MM_PER_INCH))


def _paint_out(image: np.ndarray, sim, anchor) -> None:
    (x, y), = apply_homography(_true_matrix(sim), np.array([[anchor.x, anchor.y]]))
    cv2.circle(image, (int(round(x)), int(round(y))), int(anchor.size * DPI / MM_PER_INCH), 255, -1)


def _false_anchor(image: np.ndarray, sim, anchor, offset_mm: tuple[float, float]) -> np.ndarray:
    """``image`` with ``anchor`` painted out and a solid square of its size printed ``offset_mm`` away (a decoy)."""
    out = image.copy()
    _paint_out(out, sim, anchor)
    half = anchor.size / 2
    corners = np.array([[anchor.x + offset_mm[0] + sx * half, anchor.y + offset_mm[1] + sy * half]
                        for sx, sy in ((-1, -1), (1, -1), (1, 1), (-1, 1))])
    cv2.fillPoly(out, [np.round(apply_homography(_true_matrix(sim), corners)).astype(np.int32)], 0)
    return out


def test_refit_follows_a_keystone_that_a_three_anchor_fit_cannot(template, prepared, truth):
    sim = simulate_sheet(template, truth, seed=31, profile="clean", dpi=DPI, overrides={"perspective": 0.01})[0]
    page = prepared.pages[0]
    image = sim.image.copy()
    _paint_out(image, sim, page.expanded.anchors[3])
    fit = register_page(image, page.expanded)[0]
    assert fit.anchors_found == 3
    everywhere = page.centres_mm
    assert _error_mm(fit.page_to_image, sim, everywhere) > 0.4  # guard: the affine fit misses the far rows

    refit = refine_transform(image, fit.page_to_image, page.centres_mm[page.refine_index],
                             page.semi_axes_mm[page.refine_index])
    assert refit is not None
    assert _error_mm(refit, sim, everywhere) < 0.1
    result = read_page(image, prepared)
    assert REGISTRATION_UNSURE not in result.reasons
    accuracy = compare_page(result, sim.truth, template)
    assert accuracy.wrong_sure == 0 and accuracy.correct_sure == accuracy.groups, accuracy.line()


# A decoy blob standing in for one anchor: 2 mm off along either axis, or 2 mm across (about 0.5° over the page).
DECOYS = {"br 2 mm right": (3, (2.0, 0.0)), "bl 2 mm down": (2, (0.0, 2.0)), "tr 2 mm across": (1, (-1.4, 1.4)),
          "tl 3 mm": (0, (3.0, -1.0))}


@pytest.mark.parametrize("name", list(DECOYS))
def test_fit_on_a_decoy_anchor_is_corrected_or_flagged_whole_never_read_sure(template, prepared, truth, name):
    corner, offset = DECOYS[name]
    sim = simulate_sheet(template, truth, seed=31, profile="clean", dpi=DPI)[0]
    image = _false_anchor(sim.image, sim, prepared.pages[0].expanded.anchors[corner], offset)

    result = read_page(image, prepared)
    accuracy = compare_page(result, sim.truth, template)
    assert accuracy.wrong_sure == 0 and accuracy.ids_wrong_sure == 0, accuracy.wrong_examples
    if REGISTRATION_UNSURE in result.reasons:
        assert all(q.status == "uncertain" for q in result.questions.values())
    else:  # corrected: every reading right and sure, on a fit that puts every bubble where it is
        assert accuracy.correct_sure == accuracy.groups, accuracy.line()
        assert _error_mm(np.array(result.page_to_image), sim, prepared.pages[0].centres_mm) < 0.15

    # Guard: the anchors' fit really is wrong (four anchors that agree within the residual limit).
    fits = register_page(image, prepared.pages[0].expanded)
    assert fits[0].anchors_found == 4 and fits[0].orientation == 0
    assert _error_mm(fits[0].page_to_image, sim, prepared.pages[0].centres_mm) > 0.7


def _turned(matrix: np.ndarray, shape: tuple[int, int], degrees: float, shift_px: tuple[float, float]) -> np.ndarray:
    turn = np.vstack([cv2.getRotationMatrix2D((shape[1] / 2, shape[0] / 2), degrees, 1.0), [0, 0, 1]])
    return np.array([[1, 0, shift_px[0]], [0, 1, shift_px[1]], [0, 0, 1.0]]) @ turn @ matrix


@pytest.mark.parametrize("degrees, shift_mm", [(0.0, (2.0, 0.0)), (0.0, (0.0, -2.0)), (0.5, (0.0, 0.0)),
                                               (-0.5, (0.5, 0.5)), (0.0, (1.2, 0.0))])
def test_wrong_fit_is_refitted_right_or_not_at_all(template, prepared, truth, degrees, shift_mm):
    """A fit 2 mm or 0.5° off: refinement either finds the true transform or gives up (the page is then unverified)."""
    sim = simulate_sheet(template, truth, seed=32, profile="typical", dpi=DPI)[0]
    page = prepared.pages[0]
    fit = register_page(sim.image, page.expanded)[0]
    px = fit.px_per_mm
    wrong = _turned(fit.page_to_image, sim.image.shape, degrees, (shift_mm[0] * px, shift_mm[1] * px))
    assert _error_mm(wrong, sim, page.centres_mm) > 1.0  # guard
    assert not fit_verified(sim.image, page, wrong, fit.ink_level)

    refit = refine_transform(sim.image, wrong, page.centres_mm[page.refine_index], page.semi_axes_mm[page.refine_index])
    if refit is not None:
        assert _error_mm(refit, sim, page.centres_mm) < 0.1
        assert fit_verified(sim.image, page, refit, fit.ink_level)


def test_fit_points_trims_outliers_and_refuses_clustered_points():
    rng = np.random.default_rng(5)
    truth = np.array([[7.9, 0.12, 40.0], [-0.1, 7.8, 25.0], [1.5e-5, -2e-5, 1.0]])
    points = rng.uniform([10, 10], [200, 287], (48, 2))
    found = apply_homography(truth, points) + rng.normal(0, 0.15, (48, 2))
    found[:12] += rng.uniform(-12, 12, (12, 2))  # a quarter locked onto marks or neighbouring print
    refit = fit_points(points, found, 7.9)
    assert refit is not None
    assert np.abs(apply_homography(refit, points) - apply_homography(truth, points)).max() < 0.3
    assert fit_points(points[:8], found[:8], 7.9) is None  # too few
    corner = points[(points[:, 0] < 60) & (points[:, 1] < 80)]
    assert len(corner) >= 12 or fit_points(corner, apply_homography(truth, corner), 7.9) is None
    strip = np.column_stack([np.linspace(10, 200, 20), np.full(20, 150.0)]) + rng.normal(0, 0.5, (20, 2))
    assert fit_points(strip, apply_homography(truth, strip), 7.9) is None  # one row: the other axis is unknown
    half_wrong = found.copy()
    half_wrong[:30] += rng.uniform(-12, 12, (30, 2))
    assert fit_points(points, half_wrong, 7.9) is None  # most points disagree: no fit rather than a guess


# ----------------------------------------------------------------------------------------------------------
# 1-bit threshold scans erase the thin bubble outlines: the fit is verified on the page's bold print instead.

def _threshold_page(template, seed: int, dpi: int):
    """A hard-profile page scanned to 1 bit by a threshold, and the image as read_page smooths it back to gray."""
    truth = random_truth(template, np.random.default_rng(seed))
    sim = simulate_sheet(template, truth, seed=seed, profile="hard", dpi=dpi,
                         overrides={"binarize": "threshold", "threshold": 130.0, "blur": 1.4, "gamma": 0.9,
                                    # printed as rendered: bolder outlines would survive the threshold
                                    "print_outline_mm": 0.0, "print_bold_mm": 0.0, "print_scale": 1.0})[0]
    kernel = max(3, int(round(min(sim.image.shape) / min(template.page_mm) * 0.45)) | 1)
    return sim, cv2.blur(sim.image, (kernel, kernel))


@pytest.mark.parametrize("seed, dpi", [(9073, 150), (41, 150), (42, 150)])
def test_threshold_page_without_outlines_is_verified_on_its_bold_print(template, prepared, seed, dpi):
    sim, image = _threshold_page(template, seed, dpi)
    page = prepared.pages[0]
    right = _true_matrix(sim)
    fit = register_page(image, page.expanded)[0]
    assert outline_share(image, page, right, fit.ink_level) < 0.25  # guard: the outlines are gone from this page
    assert fit_verified(image, page, right, fit.ink_level)
    px = fit.px_per_mm
    for degrees, shift_mm in ((0.5, (0.0, 0.0)), (-0.4, (0.0, 0.0)), (0.0, (0.7, 0.0)), (0.0, (0.0, 0.7)),
                              (0.0, (0.5, 0.5))):
        wrong = _turned(right, image.shape, degrees, (shift_mm[0] * px, shift_mm[1] * px))
        assert not fit_verified(image, page, wrong, fit.ink_level), (degrees, shift_mm)
    result = read_page(sim.image, prepared)
    assert REGISTRATION_UNSURE not in result.reasons
    assert compare_page(result, sim.truth, template).wrong_sure == 0
