"""Registration: anchors are found and the fitted transform maps template mm to where the page really is."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from omr.batch import decode_min_side_px
from omr.geometry import MM_PER_INCH, mm_to_px
from omr.load import load_array
from omr.read import prepare_template, read_page
from omr.register import anchor_reference_point, apply_homography, homography_jacobians, register_page
from omr.render import render_page
from omr.template import Anchor, expand_page, parse_template
from sample_sheets import resolve_template
from sample_sheets.evaluate import compare_page
from sample_sheets.scanner import jpeg_round_trip
from sample_sheets.simulate import random_truth, simulate_sheet

DPI = 200
TOLERANCE_PX = 1.5


@pytest.fixture(scope="module")
def template():
    return resolve_template("cn-a4-55")


@pytest.fixture(scope="module")
def page(template):
    return expand_page(template, 1)


@pytest.fixture(scope="module")
def prepared(template):
    return prepare_template(template)


@pytest.fixture(scope="module")
def truth(template):
    return random_truth(template, np.random.default_rng(11), absent_rate=0.0, multi_error_rate=0.0)


@pytest.fixture(scope="module")
def check_points(page) -> np.ndarray:
    """Every anchor centre and 20 bubble centres spread over the page (template mm)."""
    bubbles = np.array([[b.x, b.y] for _, b in page.bubbles])
    chosen = bubbles[np.random.default_rng(3).choice(len(bubbles), 20, replace=False)]
    return np.vstack([[[a.x, a.y] for a in page.anchors], chosen])


def _truth_positions(sim, points_mm: np.ndarray) -> np.ndarray:
    """Where the simulator put template points: mm -> template px at its dpi -> its homography."""
    dpi = sim.truth["dpi"]
    return apply_homography(np.array(sim.truth["homography"], np.float64), points_mm * dpi / MM_PER_INCH - 0.5)


def _anchors_inside(sim, page) -> list[bool]:
    """Per anchor: whether its whole square lies inside the scanned frame (from the truth homography)."""
    rows, cols = sim.image.shape
    inside = []
    for anchor in page.anchors:
        half = anchor.size / 2
        corners = np.array([[anchor.x + dx, anchor.y + dy] for dx in (-half, half) for dy in (-half, half)])
        mapped = _truth_positions(sim, corners)
        inside.append(bool(np.all((mapped >= 0) & (mapped <= [cols - 1, rows - 1]))))
    return inside


def _paint_out_anchor(image: np.ndarray, sim, anchor) -> None:
    (x, y), = _truth_positions(sim, np.array([[anchor.x, anchor.y]]))
    cv2.circle(image, (int(round(x)), int(round(y))), int(anchor.size * 1.2 * DPI / MM_PER_INCH), 255, -1)


def _fit(fits, orientation: int):
    matching = [fit for fit in fits if fit.orientation == orientation]
    assert matching, f"no fit with orientation {orientation}: {[f.orientation for f in fits]}"
    return matching[0]


def _error(fit, points_mm: np.ndarray, expected_px: np.ndarray) -> float:
    return float(np.linalg.norm(apply_homography(fit.page_to_image, points_mm) - expected_px, axis=1).max())


# Overscan keeps the paper's corners (and so the anchors) inside the frame at a strong rotation; clipped
# anchors are a separate case below.
DISTORTIONS = {
    "rotation+4.5": {"rotation_deg": 4.5, "overscan_mm": 10.0},
    "rotation-4.5": {"rotation_deg": -4.5, "overscan_mm": 10.0},
    "shift+4": {"shift_mm": 4.0},
    "shift-4": {"shift_mm": -4.0},
    "scale0.97": {"scale": 0.97},
    "scale1.03": {"scale": 1.03},
    "perspective+": {"perspective": 0.01},
    "perspective-": {"perspective": -0.01},
    "upside_down": {"upside_down": True},
}


@pytest.mark.parametrize("name", list(DISTORTIONS))
def test_register_recovers_the_simulated_transform(template, page, truth, check_points, name):
    overrides = DISTORTIONS[name]
    sim = simulate_sheet(template, truth, seed=5, profile="clean", dpi=DPI, overrides=overrides)[0]
    assert all(_anchors_inside(sim, page)), "precondition: anchors inside the frame"
    expected_orientation = 180 if overrides.get("upside_down") else 0

    fits = register_page(sim.image, page)
    fit = _fit(fits, expected_orientation)
    assert fit.anchors_found == 4
    if "perspective" not in overrides:  # residual_mm is the misfit of an *affine* fit: perspective raises it
        assert fit.residual_mm < 0.3
    truth_linear = homography_jacobians(np.array(sim.truth["homography"], np.float64), np.array([[1000.0, 1000.0]]))[0]
    assert fit.px_per_mm == pytest.approx(DPI / MM_PER_INCH * np.sqrt(abs(np.linalg.det(truth_linear))), rel=0.02)
    assert _error(fit, check_points, _truth_positions(sim, check_points)) <= TOLERANCE_PX
    # The other candidate (the page turned half way) maps the bubbles somewhere else entirely.
    for other in fits:
        if other.orientation != expected_orientation:
            assert _error(other, check_points, _truth_positions(sim, check_points)) > 100


def test_distortions_really_move_the_page(template, truth, check_points):
    """Guard: each distortion case moves the bubbles well beyond the tolerance (else the test proves nothing)."""
    plain = simulate_sheet(template, truth, seed=5, profile="clean", dpi=DPI)[0]
    base = _truth_positions(plain, check_points)
    for name in ("rotation+4.5", "shift+4", "scale0.97", "perspective+"):
        moved = _truth_positions(
            simulate_sheet(template, truth, seed=5, profile="clean", dpi=DPI, overrides=DISTORTIONS[name])[0],
            check_points)
        assert np.linalg.norm(moved - base, axis=1).max() > 5 * TOLERANCE_PX, name


@pytest.fixture(scope="module")
def clean_sim(template, truth):
    return simulate_sheet(template, truth, seed=7, profile="clean", dpi=DPI)[0]


@pytest.mark.parametrize("k, orientation", [(1, 270), (3, 90)])
def test_quarter_turned_page_registers_with_90_or_270(prepared, page, truth, clean_sim, check_points, k,
                                                      orientation):
    rows, cols = clean_sim.image.shape
    turned = np.ascontiguousarray(np.rot90(clean_sim.image, k))
    expected = _truth_positions(clean_sim, check_points)
    x, y = expected[:, 0], expected[:, 1]
    # np.rot90 turns counter-clockwise: k=1 sends (x, y) to (y, cols-1-x), k=3 to (rows-1-y, x).
    expected = np.stack([y, cols - 1 - x], axis=1) if k == 1 else np.stack([rows - 1 - y, x], axis=1)

    fits = register_page(turned, page)
    assert {fit.orientation for fit in fits} <= {90, 270}
    fit = _fit(fits, orientation)
    assert fit.anchors_found == 4
    assert _error(fit, check_points, expected) <= TOLERANCE_PX

    result = read_page(turned, prepared)
    assert result.status == "ok", result.reasons
    assert result.orientation == orientation
    assert result.student_id == truth.student_id


def test_page_with_one_anchor_missing_registers_on_three(template, prepared, page, clean_sim, check_points):
    image = clean_sim.image.copy()
    _paint_out_anchor(image, clean_sim, page.anchors[1])
    assert register_page(clean_sim.image, page)[0].anchors_found == 4  # guard: it was there before

    fits = register_page(image, page)
    fit = _fit(fits, 0)
    assert fit.anchors_found == 3
    assert _error(fit, check_points, _truth_positions(clean_sim, check_points)) <= TOLERANCE_PX

    # The fit on three anchors is verified by the printed outlines: the page reads as any other, with no flag a
    # teacher would spend a minute on (a fit they did not verify would flag every reading, see test_read_pages).
    result = read_page(image, prepared)
    assert not any(reason.startswith("anchor missing") for reason in result.reasons), result.reasons
    assert result.page == 1 and result.student_id == clean_sim.truth["student_id"]
    accuracy = compare_page(result, clean_sim.truth, template)
    assert accuracy.wrong_sure == 0 and accuracy.correct_sure == accuracy.groups, accuracy.line()


def _feeder_scan(template, page, seed: int, painted) -> tuple:
    """Sheet ``seed`` of benchmarks/registration_three_anchors.py (a feeder's skew, shift, scale and keystone) with
    the ``painted`` anchors painted out, as production decodes its JPEG: (simulation, image)."""
    rng = np.random.default_rng(seed)
    truth = random_truth(template, rng)
    sim = simulate_sheet(template, truth, seed=seed, profile="typical", overrides={
        "upside_down": 0.0, "binarize": "none", "rotation_deg": rng.uniform(-5, 5), "shift_mm": (-6, 6),
        "scale": (0.98, 1.02), "perspective": (-0.01, 0.01)})[0]
    image = sim.image.copy()
    dpi = sim.truth["dpi"]
    for anchor in painted:
        (x, y), = apply_homography(np.array(sim.truth["homography"], np.float64),
                                   np.array([[anchor.x, anchor.y]]) * dpi / MM_PER_INCH - 0.5)
        half = int(anchor.size * 0.8 * dpi / MM_PER_INCH)
        image[max(0, int(y) - half):int(y) + half, max(0, int(x) - half):int(x) + half] = int(np.median(image))
    decoded = load_array(jpeg_round_trip(image, 90, dpi)[1], reduce_jpeg_to_min_px=decode_min_side_px(template))
    return sim, decoded[0].image


def test_lost_anchor_whose_window_holds_a_printed_square_registers_on_three(template, prepared, page):
    # Sheet 5004 of benchmarks/registration_three_anchors.py: skewed 2.4°, shifted, its top-left anchor lost. The
    # filling guide's ■ in that anchor's window was matched to it, and the four-point affine it pulled left fewer
    # than three anchors within the tight rematch: "no anchors found". Each three of the four now fix a fit of
    # their own, and the print picks the right one.
    sim, image = _feeder_scan(template, page, 5004, page.anchors[:1])
    fits = register_page(image, page)
    assert fits and fits[0].anchors_found == 3
    result = read_page(image, prepared)
    assert result.status != "error", result.reasons
    accuracy = compare_page(result, sim.truth, template)
    assert accuracy.wrong_sure == 0 and accuracy.correct_sure == accuracy.groups, accuracy.line()


@pytest.mark.parametrize("missing", [(1, 2), (0, 1)], ids=["diagonal pair", "top pair"])
def test_page_with_two_anchors_missing_is_read_when_its_print_verifies(template, prepared, page, clean_sim, missing):
    # Two anchors fix a similarity only, a first guess: the printed outlines refit it and other outlines verify it.
    image = clean_sim.image.copy()
    for index in missing:
        _paint_out_anchor(image, clean_sim, page.anchors[index])
    fits = register_page(image, page)
    assert any(fit.anchors_found == 2 for fit in fits) and all(fit.anchors_found < 4 for fit in fits)
    result = read_page(image, prepared)
    assert result.status != "error", result.reasons
    accuracy = compare_page(result, clean_sim.truth, template)
    assert accuracy.wrong_sure == 0 and accuracy.correct_sure == accuracy.groups, accuracy.line()


def test_stray_blob_beside_two_anchors_is_not_taken_for_the_third(template, prepared, page):
    # A feeder's skewed, shifted page whose top anchors are painted out: a gray blob of the header lies in the
    # top-left window, and the exact affine on it and the two bottom anchors puts the identity strip off the
    # print. The two-anchor guesses that come last find the page (the case that was lost before).
    sim, image = _feeder_scan(template, page, 5000, page.anchors[:2])
    fits = register_page(image, page)
    assert any(fit.anchors_found == 3 for fit in fits) and any(fit.anchors_found == 2 for fit in fits)
    result = read_page(image, prepared)
    assert result.status != "error", result.reasons
    accuracy = compare_page(result, sim.truth, template)
    assert accuracy.wrong_sure == 0 and accuracy.correct_sure == accuracy.groups, accuracy.line()


@pytest.mark.parametrize("name", ["cn-a4-55", "us-letter-70"])
def test_two_anchors_on_blank_paper_are_not_a_page(name):
    # Only two of the anchors printed, nothing else: the two-anchor guesses must find no print to verify them,
    # with the identity strip (cn-a4-55) or without it (us-letter-70, told by its outlines).
    template = resolve_template(name)
    rendered = render_page(expand_page(template, 1), DPI)
    image = np.full_like(rendered, 245)
    for anchor in expand_page(template, 1).anchors[1:3]:
        x, y = (int(round(mm_to_px(v, DPI))) for v in (anchor.x, anchor.y))
        half = int(max(anchor.box) * DPI / MM_PER_INCH)
        box = (slice(max(0, y - half), y + half), slice(max(0, x - half), x + half))
        image[box] = rendered[box]
    result = read_page(image, prepare_template(template))
    assert result.status == "error" and result.page is None and not result.questions, result.reasons


def test_white_page_and_noise_give_no_registration(page, clean_sim):
    shape = clean_sim.image.shape
    assert register_page(np.full(shape, 255, np.uint8), page) == []
    noise = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    assert register_page(noise, page) == []


# ----------------------------------------------------------------------------------------------------------
# Anchor shapes


def test_reference_point_of_square_and_circle_is_the_centre():
    for shape in ("square", "circle"):
        anchor = Anchor(id="a", shape=shape, x=17.3, y=42.9, size=7.0)
        assert anchor_reference_point(anchor) == pytest.approx((17.3, 42.9), abs=1e-9)


def _l_centroid_analytic(anchor: Anchor) -> tuple[float, float]:
    """The L as two rectangles: a full arm along the elbow's edge and the rest of the other arm."""
    s, a = anchor.size, anchor.size / 3
    # Elbow at the top-left of a box [0, s]^2: top bar s x a, left bar a x (s - a) below it.
    areas = np.array([s * a, a * (s - a)])
    cx = np.array([s / 2, a / 2])
    cy = np.array([a / 2, a + (s - a) / 2])
    u, v = (areas * cx).sum() / areas.sum(), (areas * cy).sum() / areas.sum()
    if anchor.corner in ("tr", "br"):
        u = s - u
    if anchor.corner in ("bl", "br"):
        v = s - v
    return anchor.x - s / 2 + u, anchor.y - s / 2 + v


def _l_centroid_raster(anchor: Anchor, px_per_mm: float = 20.0) -> tuple[float, float]:
    """Centroid of the L rasterised at pixel centres (20 px/mm), via cv2.moments."""
    s, a = anchor.size, anchor.size / 3
    n = int(np.ceil(s * px_per_mm)) + 10
    x0, y0 = anchor.x - s / 2 - 5 / px_per_mm, anchor.y - s / 2 - 5 / px_per_mm
    centres = (np.arange(n) + 0.5) / px_per_mm
    xs, ys = np.meshgrid(x0 + centres, y0 + centres)
    u, v = xs - (anchor.x - s / 2), ys - (anchor.y - s / 2)
    if anchor.corner in ("tr", "br"):
        u = s - u
    if anchor.corner in ("bl", "br"):
        v = s - v
    inside = (u >= 0) & (u <= s) & (v >= 0) & (v <= s) & ((u <= a) | (v <= a))
    moments = cv2.moments(inside.astype(np.uint8), binaryImage=True)
    col, row = moments["m10"] / moments["m00"], moments["m01"] / moments["m00"]
    return x0 + (col + 0.5) / px_per_mm, y0 + (row + 0.5) / px_per_mm


@pytest.mark.parametrize("corner", ["tl", "tr", "bl", "br"])
def test_reference_point_of_l_corner_is_its_centroid(corner):
    anchor = Anchor(id="a", shape="l_corner", x=30.0, y=50.0, size=9.0, corner=corner)
    point = anchor_reference_point(anchor)
    assert point == pytest.approx(_l_centroid_analytic(anchor), abs=1e-9)
    assert point == pytest.approx(_l_centroid_raster(anchor), abs=0.02)
    # The centroid is pulled towards the elbow, well away from the box centre.
    assert np.hypot(point[0] - anchor.x, point[1] - anchor.y) > 0.15 * anchor.size


def _shaped_template(shape: str, size: float):
    margin = 12.0
    anchors = [{"id": corner, "shape": shape, "x": x, "y": y, "size": size, "corner": corner}
               for corner, x, y in [("tl", margin, margin), ("tr", 210 - margin, margin),
                                    ("bl", margin, 297 - margin), ("br", 210 - margin, 297 - margin)]]
    return parse_template({
        "id": f"t-{shape.replace('_', '-')}-{size:g}",
        "pages": [{"anchors": anchors, "identity": {"x": 60, "y": 12},
                   "fields": [{"kind": "choice_block", "id": "q", "first": 1, "count": 20, "options": "ABCD",
                               "x": 25, "y": 100}]}],
    })


def _registers_rendered_page(shape: str, size: float, dpi: int) -> None:
    page = expand_page(_shaped_template(shape, size), 1)
    image = render_page(page, dpi)
    points = np.array([[a.x, a.y] for a in page.anchors] + [[25.0, 100.0], [150.0, 200.0], [105.0, 148.5]])
    fits = register_page(image, page)
    assert fits, f"{shape} anchors of {size} mm not registered at {dpi} dpi"
    fit = _fit(fits, 0)
    assert fit.anchors_found == 4
    assert _error(fit, points, mm_to_px(points, dpi)) <= 0.5 * TOLERANCE_PX


@pytest.mark.parametrize("shape, size, dpi", [
    ("square", 5, 150), ("square", 5, 300), ("circle", 8, 200), ("circle", 8, 300),
    ("l_corner", 8, 150), ("l_corner", 8, 300), ("l_corner", 12, 200),
])
def test_rendered_page_with_each_anchor_shape_registers(shape, size, dpi):
    _registers_rendered_page(shape, size, dpi)


@pytest.mark.parametrize("shape, size, dpi", [("circle", 5, 200), ("l_corner", 5, 200), ("l_corner", 6, 300)])
def test_rendered_page_with_small_circle_or_l_anchors_registers(shape, size, dpi):
    _registers_rendered_page(shape, size, dpi)


def test_anchor_clipped_by_the_frame_is_not_trusted(template, page, truth, check_points):
    sim = simulate_sheet(template, truth, seed=5, profile="clean", dpi=DPI,
                         overrides={"rotation_deg": 4.5, "overscan_mm": 0.0})[0]
    assert not all(_anchors_inside(sim, page)), "precondition: an anchor is clipped"
    fits = [fit for fit in register_page(sim.image, page) if fit.orientation == 0]
    # Either the clipped anchors are not used (and too few remain) or the mapping is still right.
    assert not fits or _error(fits[0], check_points, _truth_positions(sim, check_points)) <= TOLERANCE_PX


# ----------------------------------------------------------------------------------------------------------
# Homography helpers


@pytest.fixture(scope="module")
def homography() -> np.ndarray:
    matrix = np.array([[7.6, 0.35, 40.0], [-0.4, 7.9, 25.0], [2e-4, -1.5e-4, 1.0]])
    return matrix * 1.7  # scale-free: any multiple is the same homography


def test_apply_homography_matches_opencv(homography):
    points = np.random.default_rng(1).uniform([0, 0], [210, 297], (50, 2))
    expected = cv2.perspectiveTransform(points[None], homography)[0]
    assert apply_homography(homography, points) == pytest.approx(expected, rel=1e-10, abs=1e-9)


def test_homography_jacobians_match_finite_differences(homography):
    points = np.random.default_rng(2).uniform([0, 0], [210, 297], (30, 2))
    jacobians = homography_jacobians(homography, points)
    assert jacobians.shape == (30, 2, 2)
    h = 1e-4
    for axis in range(2):
        step = np.zeros(2)
        step[axis] = h
        forward, backward = apply_homography(homography, points + step), apply_homography(homography, points - step)
        derivative = (forward - backward) / (2 * h)
        assert jacobians[:, :, axis] == pytest.approx(derivative, rel=1e-6, abs=1e-6)
    # Perspective makes the Jacobian vary over the page (a constant one would be an affine shortcut).
    assert np.ptp(jacobians[:, 0, 0]) > 0.01


# ----------------------------------------------------------------------------------------------------------
# A corner anchor partly off the image (a few mm of shift plus skew, no overscan): three intact anchors fix the
# page. Each case cuts one anchor about in half; the lid shows as a light or a dark scanner background.

def _inside_share(sim, anchor) -> float:
    """Share of an anchor's printed square that lies inside the scanned frame."""
    rows, cols = sim.image.shape
    steps = np.linspace(-anchor.size / 2, anchor.size / 2, 11)
    points = np.array([[anchor.x + dx, anchor.y + dy] for dx in steps for dy in steps])
    mapped = _truth_positions(sim, points)
    return float(np.mean(np.all((mapped >= 0) & (mapped <= [cols - 1, rows - 1]), axis=1)))


HALF_OFF_CASES = {  # name: (rotation °, shift mm (x, y), lid gray, the anchor cut in half)
    "br-light-lid": (4.6, (1.5, 1.5), 245.0, 3),
    "br-dark-lid": (4.6, (1.5, 1.5), 25.0, 3),
    "bl-dark-lid": (-3.2, (-4.2, -4.2), 25.0, 2),
    "tr-light-lid": (-4.3, (2.3, 2.3), 240.0, 1),
    "tl-dark-lid": (3.0, (-3.5, -3.5), 30.0, 0),
}


@pytest.mark.parametrize("name", list(HALF_OFF_CASES))
def test_page_with_a_corner_anchor_half_off_the_image_is_read(template, page, prepared, name):
    rotation, shift, lid, cut = HALF_OFF_CASES[name]
    truth = random_truth(template, np.random.default_rng(21), absent_rate=0.0, multi_error_rate=0.0, blank_rate=0.0)
    sim = simulate_sheet(template, truth, seed=21, profile="typical", dpi=DPI, overrides={
        "rotation_deg": rotation, "shift_mm": shift, "overscan_mm": 0.0, "lid": lid, "upside_down": 0.0,
        "jpeg_quality": 90})[0]
    shares = [_inside_share(sim, anchor) for anchor in page.anchors]
    assert 0.25 <= shares[cut] <= 0.75 and all(s == 1.0 for i, s in enumerate(shares) if i != cut), shares

    result = read_page(sim.image, prepared)
    assert result.status != "error", result.reasons
    assert result.page == 1 and result.orientation == 0
    accuracy = compare_page(result, sim.truth, template)
    assert accuracy.wrong_sure == 0, accuracy.wrong_examples
    assert accuracy.flagged_groups <= 2, accuracy.line()
    assert accuracy.correct_sure >= accuracy.groups - 2


# ----------------------------------------------------------------------------------------------------------
# Black-backed feeders and gray anchors: the paper edge right beside every anchor, the background as dark as the
# print; anchors printed at a 60 % tone (gray ~100 on white paper).

def _lid_beside_anchors(image: np.ndarray, sim, page, gap_mm: float, gray: int = 20) -> np.ndarray:
    """``image`` with everything beyond a paper edge ``gap_mm`` outside each anchor painted as a dark background."""
    out = image.copy()
    matrix = np.array(sim.truth["homography"], np.float64) @ np.array(
        [[DPI / MM_PER_INCH, 0, -0.5], [0, DPI / MM_PER_INCH, -0.5], [0, 0, 1]])
    far = 400.0
    for anchor in page.anchors:
        sx = -1 if anchor.x < page.width_mm / 2 else 1
        sy = -1 if anchor.y < page.height_mm / 2 else 1
        ex, ey = anchor.x + sx * (anchor.size / 2 + gap_mm), anchor.y + sy * (anchor.size / 2 + gap_mm)
        for polygon in ([[ex, -far], [ex + sx * far, -far], [ex + sx * far, far], [ex, far]],
                        [[-far, ey], [far, ey], [far, ey + sy * far], [-far, ey + sy * far]]):
            points = apply_homography(matrix, np.array(polygon, np.float64))
            cv2.fillPoly(out, [np.round(points * 16).astype(np.int32)], gray, cv2.LINE_AA, 4)
    return out


def _gray_anchors(image: np.ndarray, sim, page, gray: int = 100) -> np.ndarray:
    out = image.copy()
    for anchor in page.anchors:
        half = anchor.size / 2 + 0.02
        square = np.array([[anchor.x - half, anchor.y - half], [anchor.x + half, anchor.y - half],
                           [anchor.x + half, anchor.y + half], [anchor.x - half, anchor.y + half]])
        cv2.fillPoly(out, [np.round(_truth_positions(sim, square) * 16).astype(np.int32)], gray, cv2.LINE_AA, 4)
    return out


@pytest.mark.parametrize("gap_mm", [0.0, 0.5, 1.5])
@pytest.mark.parametrize("gray_anchors", [False, True])
def test_anchors_beside_a_dark_background_are_found(template, page, prepared, truth, check_points, gap_mm,
                                                    gray_anchors):
    sim = simulate_sheet(template, truth, seed=5, profile="typical", dpi=DPI,
                         overrides={"rotation_deg": 2.0, "overscan_mm": 0.0, "upside_down": 0.0, "jpeg_quality": 90})[0]
    image = _lid_beside_anchors(sim.image, sim, page, gap_mm)
    if gray_anchors:
        image = _gray_anchors(image, sim, page)
    fit = _fit(register_page(image, page), 0)
    assert fit.anchors_found == 4
    if not (gray_anchors and gap_mm == 1.5):
        assert _error(fit, check_points, _truth_positions(sim, check_points)) <= 3 * TOLERANCE_PX  # refined when read
    # else: the gray anchor shares its window with the filling guide's black ■, whose darkness sets the window's
    # threshold; the anchor is found beside the background 1.5 mm off and the raw fit is ~0.65 mm off — the
    # outlines refine it, and the page below must still read every mark right
    result = read_page(image, prepared)
    assert result.status == "ok", result.reasons
    accuracy = compare_page(result, sim.truth, template)
    assert accuracy.wrong_sure == 0 and accuracy.correct_sure == accuracy.groups, accuracy.line()


@pytest.mark.parametrize("lid", [20.0, 250.0])
def test_gray_anchors_on_a_skewed_page_are_found(template, page, prepared, truth, check_points, lid):
    sim = simulate_sheet(template, truth, seed=6, profile="typical", dpi=DPI,
                         overrides={"rotation_deg": -4.0, "overscan_mm": 4.0, "lid": lid, "upside_down": 0.0,
                                    "jpeg_quality": False, "scale": 0.98, "perspective": 0.008})[0]
    image = _gray_anchors(sim.image, sim, page)
    fit = _fit(register_page(image, page), 0)
    assert fit.anchors_found == 4 and fit.ink_level > 60  # the gray print, not black
    assert _error(fit, check_points, _truth_positions(sim, check_points)) <= TOLERANCE_PX
    accuracy = compare_page(read_page(image, prepared), sim.truth, template)
    assert accuracy.wrong_sure == 0 and accuracy.correct_sure == accuracy.groups, accuracy.line()


# ----------------------------------------------------------------------------------------------------------
# The feeder profile: skew to ±5°, shift to ±8 mm (anchors partly off the image), scale ±2 %, keystone, dark or
# light backgrounds. No page with three intact anchors is lost; every page whose fit is off is flagged whole.

def test_feeder_pages_with_three_intact_anchors_are_read_and_never_misregistered_sure(template, page, prepared):
    from omr.read import REGISTRATION_UNSURE

    centres = np.array([[b.x, b.y] for _, b in page.bubbles])
    intact_pages = lost = 0
    for seed in range(700, 716):
        truth = random_truth(template, np.random.default_rng(seed))
        sim = simulate_sheet(template, truth, seed=seed, profile="feeder")[0]
        result = read_page(sim.image, prepared)
        accuracy = compare_page(result, sim.truth, template)
        assert accuracy.wrong_sure == 0 and accuracy.ids_wrong_sure == 0, (seed, accuracy.wrong_examples)
        if sum(_anchors_inside(sim, page)) >= 3:
            intact_pages += 1
            lost += result.status == "error"
        if result.status != "error" and REGISTRATION_UNSURE not in result.reasons:
            error_px = np.linalg.norm(apply_homography(np.array(result.page_to_image), centres)
                                      - _truth_positions(sim, centres), axis=1).max()
            assert error_px / (sim.truth["dpi"] / MM_PER_INCH) <= 0.4, seed
    assert lost == 0 and intact_pages >= 10
