"""Bubble measurement on synthetic images: gray levels inside, dark share, and the paper ring around."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from omr.measure import disk_samples, measure_bubbles, ring_samples

PX_PER_MM = 10.0
INNER_FRACTION, RING_FRACTION = 0.72, 1.45
RING = ring_samples(24)


def _measure(image: np.ndarray, centres, jacobians, semi_axes, *, dark_level: float = 128.0, per_axis: int = 16):
    centres = np.asarray(centres, np.float64).reshape(-1, 2)
    jacobians = np.asarray(jacobians, np.float64).reshape(-1, 2, 2)
    semi = np.asarray(semi_axes, np.float64).reshape(-1, 2)
    return measure_bubbles(image, centres, jacobians, semi, inner=disk_samples(per_axis), ring=RING,
                           inner_fraction=INNER_FRACTION, ring_fraction=RING_FRACTION, dark_level=dark_level)


def _scale(px_per_mm: float = PX_PER_MM) -> np.ndarray:
    return np.eye(2) * px_per_mm


def test_black_disk_and_paper():
    image = np.full((300, 300), 255, np.uint8)
    cv2.circle(image, (150, 150), 30, 0, -1)  # 3 mm radius at 10 px/mm
    # Semi-axes 2.5 mm: inner samples within 18 px (inside the disk), ring at 36 px (outside it).
    result = _measure(image, [[150, 150], [60, 240]], [_scale(), _scale()], [[2.5, 2.5], [2.5, 2.5]])
    assert result.inner_mean[0] < 3
    assert result.inner_dark_fraction[0] > 0.99
    assert result.ring_median[0] > 250
    assert result.inner_mean[1] > 252
    assert result.inner_dark_fraction[1] == 0.0
    assert result.ring_median[1] > 252


def test_half_filled_bubble_is_half_dark():
    image = np.full((200, 200), 240, np.uint8)
    image[:, :100] = 10  # everything left of x = 99.5 is ink: the bubble at x = 99.5 is cut through its middle
    result = _measure(image, [[99.5, 100]], [_scale()], [[2.5, 1.6]])
    assert result.inner_dark_fraction[0] == pytest.approx(0.5, abs=0.04)
    assert result.inner_mean[0] == pytest.approx(125, abs=8)


def _pattern() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A smooth, asymmetric elliptical bubble (outline, a mark over its left part, a blot outside)."""
    image = np.full((400, 400), 235, np.uint8)
    centre = np.array([200.0, 200.0])
    cv2.ellipse(image, (200, 200), (25, 16), 0, 0, 360, 60, 2, cv2.LINE_AA)
    cv2.ellipse(image, (191, 196), (8, 5), 20, 0, 360, 30, -1, cv2.LINE_AA)  # upper-left part of the inside
    cv2.circle(image, (232, 180), 6, 90, -1, cv2.LINE_AA)  # on the ring's upper right
    image = cv2.GaussianBlur(image, (0, 0), 1.2)
    return image, centre, np.array([2.5, 1.6])


def _as_tuple(result) -> np.ndarray:
    return np.array([result.inner_mean[0], result.inner_dark_fraction[0], result.ring_median[0]])


def test_pattern_is_asymmetric():
    """Guard for the invariance tests: a wrong Jacobian would change the readings a lot."""
    image, centre, semi = _pattern()
    right = _as_tuple(_measure(image, centre, _scale(), semi))
    swapped = _as_tuple(_measure(image, centre, np.array([[0, 1], [1, 0]]) * PX_PER_MM, semi))
    assert abs(right[0] - swapped[0]) > 10
    assert 0.1 < right[1] < 0.7  # a partial mark: neither all nor nothing dark


@pytest.mark.parametrize("angle", [90.0, 30.0, -137.0, 180.0])
def test_readings_are_invariant_to_rotation_with_matching_jacobian(angle):
    image, centre, semi = _pattern()
    reference = _as_tuple(_measure(image, centre, _scale(), semi))
    if angle == 90.0:
        # np.rot90 (exact, no interpolation) turns counter-clockwise: (x, y) -> (y, cols - 1 - x).
        turned = np.ascontiguousarray(np.rot90(image))
        linear = np.array([[0.0, 1.0], [-1.0, 0.0]])
        new_centre = np.array([centre[1], image.shape[1] - 1 - centre[0]])
    else:
        matrix = cv2.getRotationMatrix2D((210.0, 190.0), angle, 1.0)  # about a point other than the bubble
        turned = cv2.warpAffine(image, matrix, (400, 400), flags=cv2.INTER_CUBIC, borderValue=235)
        linear = matrix[:, :2]
        new_centre = matrix @ np.append(centre, 1.0)
    rotated = _as_tuple(_measure(turned, new_centre, linear @ _scale(), semi))
    assert rotated[0] == pytest.approx(reference[0], abs=2)
    assert rotated[1] == pytest.approx(reference[1], abs=0.03)
    assert rotated[2] == pytest.approx(reference[2], abs=2)
    if angle not in (180.0,):
        # ... and only with the matching Jacobian: the unrotated one reads something else.
        wrong = _as_tuple(_measure(turned, new_centre, _scale(), semi))
        assert abs(wrong[0] - reference[0]) > 5


def test_readings_scale_with_the_jacobian():
    image, centre, semi = _pattern()
    reference = _as_tuple(_measure(image, centre, _scale(), semi))
    big = cv2.resize(image, None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC)
    # Pixel centres: x_big = 2 x + 0.5.
    doubled = _as_tuple(_measure(big, 2 * centre + 0.5, _scale(2 * PX_PER_MM), semi))
    assert doubled[0] == pytest.approx(reference[0], abs=2)
    assert doubled[2] == pytest.approx(reference[2], abs=2)


@pytest.mark.parametrize("per_axis", [6, 8, 10, 16, 20, 33, 64])
def test_disk_samples_fill_the_unit_disk(per_axis):
    points = disk_samples(per_axis)
    assert points.ndim == 2 and points.shape[1] == 2
    assert np.all(np.hypot(points[:, 0], points[:, 1]) <= 1.0 + 1e-12)
    # Grid points in a disk: pi/4 n^2 up to an error of the order of the perimeter.
    assert len(points) == pytest.approx(np.pi / 4 * per_axis**2, abs=0.5 * per_axis + 2)
    assert len(np.unique(points, axis=0)) == len(points)
    assert np.abs(points.mean(axis=0)).max() < 1e-9  # symmetric: no bias towards a side of the bubble
    # Spread over the whole disk, not a small core.
    assert np.hypot(points[:, 0], points[:, 1]).max() > 1 - 2.0 / per_axis


def test_ring_samples_lie_evenly_on_the_unit_circle():
    ring = ring_samples(24)
    assert ring.shape == (24, 2)
    assert np.hypot(ring[:, 0], ring[:, 1]) == pytest.approx(np.ones(24))
    angles = np.sort(np.arctan2(ring[:, 1], ring[:, 0]))
    assert np.diff(angles) == pytest.approx(np.full(23, 2 * np.pi / 24))


def test_ring_median_ignores_a_stroke_crossing_the_ring():
    image = np.full((300, 300), 230, np.uint8)
    centre, semi = np.array([150.0, 150.0]), np.array([2.5, 1.6])
    cv2.line(image, (20, 60), (280, 240), 15, 5)  # straight through the bubble and across its ring twice
    ring_points = centre + RING * semi * RING_FRACTION * PX_PER_MM
    on_ring = image[np.rint(ring_points[:, 1]).astype(int), np.rint(ring_points[:, 0]).astype(int)]
    assert (on_ring < 100).sum() >= 2, "guard: the stroke must hit ring samples"

    result = _measure(image, centre, _scale(), semi)
    assert result.ring_median[0] == pytest.approx(230, abs=2)
    assert result.inner_mean[0] < 220  # the stroke does darken the inside


def test_bubbles_are_measured_independently_in_order():
    image = np.full((200, 400), 250, np.uint8)
    levels = [20, 90, 160, 250]
    for i, level in enumerate(levels):
        cv2.circle(image, (50 + 100 * i, 100), 30, level, -1)
    centres = [[50 + 100 * i, 100] for i in range(4)][::-1]
    result = _measure(image, centres, [_scale()] * 4, [[2.0, 2.0]] * 4)
    assert result.inner_mean == pytest.approx(levels[::-1], abs=1)
