"""Registration: find a page's anchors and the transform from template millimetres to image pixels.

Only windows around where anchors can be are examined (downsampled to about 3 px/mm), so a page costs well
under a millisecond here. Each orientation (0/90/180/270°) that fits the image's aspect is tried; anchors are
matched, an affine fit checks them, and a perspective transform is fitted to all of them. Which orientation is
right is left to the page-identity strip (see :mod:`omr.read`), because a sheet's four corner anchors look the
same upside down.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Iterator

import cv2
import numpy as np

from omr.layout import anchor_polygon
from omr.template import Anchor, ExpandedPage

__all__ = ["Registration", "AnchorCandidate", "find_anchor_candidates", "register_page", "iter_registrations", "apply_homography",
           "homography_jacobians", "anchor_reference_point"]

_WORK_PX_PER_MM = 2.2  # resolution anchors are searched at (an anchor stays >= 10 px)
_SEARCH_BASE_MM = 14.0  # shift/margin tolerance of the first guess
_SEARCH_ROTATION = 0.11  # ~6° of rotation, times the distance from the page centre


@dataclass(frozen=True)
class AnchorCandidate:
    x: float  # refined centroid, full-resolution pixels
    y: float
    size_px: float  # sqrt of the dark area
    ink: float  # median gray inside (how black the print is on this scan)


@dataclass(frozen=True)
class Registration:
    """A fitted page: ``page_to_image`` maps template mm (x, y, 1) to image pixels."""

    page_to_image: np.ndarray  # 3x3 float64
    orientation: int  # degrees the page is turned in the image: 0, 90, 180 or 270
    residual_mm: float  # worst anchor misfit of an affine fit
    px_per_mm: float
    ink_level: float  # gray level of solid print (anchors)
    anchors_found: int


@lru_cache(maxsize=256)
def anchor_reference_point(anchor: Anchor) -> tuple[float, float]:
    """The centroid of an anchor's printed shape in mm (what a centroid in the image corresponds to)."""
    if anchor.shape == "circle":
        return anchor.x, anchor.y
    polygon = np.asarray(anchor_polygon(anchor), np.float64)
    x, y = polygon[:, 0], polygon[:, 1]
    cross = x * np.roll(y, -1) - np.roll(x, -1) * y
    area = cross.sum() / 2
    return float(((x + np.roll(x, -1)) * cross).sum() / (6 * area)), float(((y + np.roll(y, -1)) * cross).sum() / (6 * area))


def apply_homography(matrix: np.ndarray, points_mm: np.ndarray) -> np.ndarray:
    """Map (n, 2) template points (mm) through a 3x3 homography to (n, 2) image pixels."""
    points = np.asarray(points_mm, np.float64)
    homogeneous = points @ matrix[:, :2].T + matrix[:, 2]
    return homogeneous[:, :2] / homogeneous[:, 2:3]


def homography_jacobians(matrix: np.ndarray, points_mm: np.ndarray) -> np.ndarray:
    """(n, 2, 2) derivatives d(pixel)/d(mm) of the homography at each point: the local scale and rotation."""
    points = np.asarray(points_mm, np.float64)
    homogeneous = points @ matrix[:, :2].T + matrix[:, 2]
    w = homogeneous[:, 2]
    jac = np.empty((len(points), 2, 2))
    for row in range(2):
        for col in range(2):
            jac[:, row, col] = (matrix[row, col] * w - homogeneous[:, row] * matrix[2, col]) / (w * w)
    return jac


def _nominal_transform(orientation: int, width_mm: float, height_mm: float, shape: tuple[int, int]) -> np.ndarray:
    """A similarity guess (mm -> px) that centres the page in the image turned by ``orientation``."""
    rows, cols = shape
    turned_w, turned_h = (width_mm, height_mm) if orientation in (0, 180) else (height_mm, width_mm)
    scale = (cols / turned_w + rows / turned_h) / 2
    angle = np.deg2rad(orientation)
    cos, sin = np.cos(angle), np.sin(angle)
    # Rotate the page about its centre (clockwise in image coordinates, y down), scale, centre in the image.
    rotation = np.array([[cos, -sin], [sin, cos]]) * scale
    centre_mm = np.array([width_mm / 2, height_mm / 2])
    offset = np.array([(cols - 1) / 2, (rows - 1) / 2]) - rotation @ centre_mm
    matrix = np.eye(3)
    matrix[:2, :2] = rotation
    matrix[:2, 2] = offset
    return matrix


def _orientations(width_mm: float, height_mm: float, shape: tuple[int, int]) -> list[int]:
    rows, cols = shape
    page_portrait = height_mm >= width_mm
    image_portrait = rows >= cols
    if abs(height_mm - width_mm) < 0.05 * max(height_mm, width_mm):
        return [0, 90, 180, 270]
    return [0, 180] if page_portrait == image_portrait else [90, 270]


_AREA_SHARE = {"square": 1.0, "circle": np.pi / 4, "l_corner": 5 / 9}  # printed area / size²
_EXTENT_AND_FILL = {  # per shape: (min extent, max extent, min fill, max fill) of the blob vs its box and size²
    "square": (0.72, 1.01, 0.6, 1.4),
    "circle": (0.6, 0.9, 0.5, 1.1),
    "l_corner": (0.38, 0.72, 0.35, 0.8),  # an L covers 5/9 of its box
}


def _gray_levels(image: np.ndarray, fractions: tuple[float, ...]) -> list[float]:
    """Gray levels below which the given fractions of pixels lie (a fast percentile for uint8)."""
    histogram = cv2.calcHist([image], [0], None, [256], [0, 256]).ravel().cumsum()
    return [float(np.searchsorted(histogram, f * histogram[-1])) for f in fractions]


def find_anchor_candidates(image: np.ndarray, px_per_mm: float,
                           windows: list[tuple[int, int, int, int, Anchor]]) -> list[AnchorCandidate]:
    """Dark blobs of an anchor's size and shape inside each search window (x0, y0, x1, y1, anchor)."""
    factor = max(1, int(round(px_per_mm / _WORK_PX_PER_MM)))
    found: list[AnchorCandidate] = []
    for x0, y0, x1, y1, anchor in windows:
        crop = image[y0:y1, x0:x1]
        if crop.size == 0:
            continue
        small = cv2.resize(crop, None, fx=1 / factor, fy=1 / factor, interpolation=cv2.INTER_AREA) if factor > 1 else crop
        expected = anchor.size * px_per_mm / factor
        # The darkest pixels must include the anchor's own: take a share well below its area in the window.
        share = 0.3 * _AREA_SHARE[anchor.shape] * expected * expected / small.size
        lo, hi = _gray_levels(small, (share, 0.9))
        if hi - lo < 50:  # no black print in this window
            continue
        threshold = (lo + hi) / 2
        mask = (small < threshold).astype(np.uint8)
        _, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
        width, height, area = stats[1:, 2], stats[1:, 3], stats[1:, 4]
        # A blob cut by the image border has a wrong centroid: an anchor there counts as missing.
        left, top = stats[1:, 0] * factor + x0, stats[1:, 1] * factor + y0
        inside = (left > 0) & (top > 0) & (left + width * factor < image.shape[1] - 1) \
            & (top + height * factor < image.shape[0] - 1)
        min_extent, max_extent, min_fill, max_fill = _EXTENT_AND_FILL[anchor.shape]
        extent = area / np.maximum(width * height, 1)
        fill = area / (expected * expected)
        keep = ((width >= 0.65 * expected) & (width <= 1.5 * expected) & (height >= 0.65 * expected)
                & (height <= 1.5 * expected) & (extent >= min_extent) & (extent <= max_extent)
                & (fill >= min_fill) & (fill <= max_fill) & inside)
        for label in np.flatnonzero(keep) + 1:
            left, top, box_w, box_h, _ = stats[label]
            candidate = _refine(image, x0 + left * factor, y0 + top * factor, box_w * factor, box_h * factor,
                                hi, threshold)
            if candidate is not None:
                found.append(candidate)
    return found


def _refine(image: np.ndarray, left: int, top: int, width: int, height: int, paper: float,
            threshold: float) -> AnchorCandidate | None:
    """Sub-pixel centroid of the blob at full resolution, weighting pixels by how dark they are."""
    pad = max(2, int(0.25 * max(width, height)))
    y0, x0 = max(0, top - pad), max(0, left - pad)
    crop = image[y0:top + height + pad, x0:left + width + pad]
    ink = _gray_levels(crop, (0.05,))[0]
    span = paper - ink
    if span < 40:
        return None
    weight = np.clip((paper - crop.astype(np.float32)) / span, 0.0, 1.0)
    weight[weight < 0.25] = 0.0  # ignore paper noise around the blob
    moments = cv2.moments(weight)
    if moments["m00"] <= 0:
        return None
    inside = crop[crop < threshold]
    return AnchorCandidate(moments["m10"] / moments["m00"] + x0, moments["m01"] / moments["m00"] + y0,
                           float(np.sqrt(moments["m00"])), float(inside.mean()) if inside.size else ink)


@lru_cache(maxsize=64)
def _search_windows(anchors: tuple[Anchor, ...], width_mm: float, height_mm: float, shape: tuple[int, int],
                    orientations: tuple[int, ...]) -> tuple[list, float]:
    """Where to look for anchors in an image of ``shape`` (cached: a batch's pages mostly share one size)."""
    rows, cols = shape
    windows = []
    seen = set()
    scale = None
    for orientation in orientations:
        nominal = _nominal_transform(orientation, width_mm, height_mm, shape)
        scale = float(np.sqrt(abs(np.linalg.det(nominal[:2, :2]))))
        for anchor in anchors:
            (px, py), = apply_homography(nominal, np.array([[anchor.x, anchor.y]]))
            distance = np.hypot(anchor.x - width_mm / 2, anchor.y - height_mm / 2)
            half = (_SEARCH_BASE_MM + _SEARCH_ROTATION * distance + anchor.size) * scale
            x0, y0 = int(max(0, px - half)), int(max(0, py - half))
            x1, y1 = int(min(cols, px + half)), int(min(rows, py + half))
            key = (x0 // 8, y0 // 8, x1 // 8, y1 // 8, anchor.shape, anchor.size)
            if key not in seen:
                seen.add(key)
                windows.append((x0, y0, x1, y1, anchor))
    return windows, scale


def _fit_affine(src: np.ndarray, dst: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    design = np.hstack([src, np.ones((len(src), 1))])
    solution, *_ = np.linalg.lstsq(design, dst, rcond=None)
    matrix = np.eye(3)
    matrix[:2, :] = solution.T
    residuals = np.linalg.norm(design @ solution - dst, axis=1)
    return matrix, residuals


def iter_registrations(image: np.ndarray, page: ExpandedPage, *, max_residual_mm: float = 1.5
                       ) -> Iterator[Registration]:
    """Fits of the page's anchors, one per orientation that fits, produced lazily.

    Orientations come in order of how well a first match lands (more anchors, then closer; ties keep 0° before
    180°, since most pages arrive upright), so a caller that checks each fit with the identity strip usually
    stops after the first and never fits the others.
    """
    shape = image.shape[:2]
    orientations = _orientations(page.width_mm, page.height_mm, shape)
    windows, px_per_mm = _search_windows(page.anchors, page.width_mm, page.height_mm, shape, tuple(orientations))
    candidates = find_anchor_candidates(image, px_per_mm, windows)
    if len(candidates) < 3:
        return
    points = np.array([[c.x, c.y] for c in candidates])
    template_points = np.array([anchor_reference_point(a) for a in page.anchors])
    tolerance = np.array([
        (_SEARCH_BASE_MM + _SEARCH_ROTATION * np.hypot(a.x - page.width_mm / 2, a.y - page.height_mm / 2))
        * px_per_mm for a in page.anchors
    ])
    first_matches = []
    for order, orientation in enumerate(orientations):
        predicted = apply_homography(_nominal_transform(orientation, page.width_mm, page.height_mm, shape),
                                     template_points)
        matched = _match(predicted, points, tolerance)
        if matched is None:
            continue
        found = matched >= 0
        distance = float(np.linalg.norm(predicted[found] - points[matched[found]], axis=1).mean())
        first_matches.append(((-int(found.sum()), round(distance / (2.0 * px_per_mm)), order), orientation, matched))
    for _, orientation, matched in sorted(first_matches, key=lambda item: item[0]):
        fit = _fit(orientation, matched, template_points, points, candidates, px_per_mm, max_residual_mm)
        if fit is not None:
            yield fit


def _fit(orientation: int, matched: np.ndarray, template_points: np.ndarray, points: np.ndarray,
         candidates: list[AnchorCandidate], px_per_mm: float, max_residual_mm: float) -> Registration | None:
    affine, _ = _fit_affine(template_points[matched >= 0], points[matched[matched >= 0]])
    # Second pass with the fitted affine and a tight tolerance, so a stray blob cannot stand in for an anchor.
    matched = _match(apply_homography(affine, template_points), points,
                     np.full(len(template_points), 3.0 * px_per_mm))
    # One anchor may be lost (a corner cut off by a skewed feed, a torn or covered corner): three still fix
    # an affine transform, which the identity strip then confirms; the caller flags such a page.
    if matched is None or (matched < 0).sum() > max(0, len(template_points) - 3):
        return None
    found = matched >= 0
    src, dst = template_points[found], points[matched[found]]
    affine, residuals = _fit_affine(src, dst)
    scale = float(np.sqrt(abs(np.linalg.det(affine[:2, :2]))))
    residual_mm = float(residuals.max() / scale)
    if residual_mm > max_residual_mm:
        return None
    if len(src) >= 4:
        homography, _ = cv2.findHomography(src, dst, 0)
        if homography is None:
            return None
    else:
        homography = affine
    ink = float(np.mean([candidates[i].ink for i in matched[found]]))
    return Registration(homography, orientation, residual_mm, scale, ink, len(src))


def register_page(image: np.ndarray, page: ExpandedPage, *, max_residual_mm: float = 1.5) -> list[Registration]:
    """Every orientation under which the page's anchors fit, best fit first (empty: no anchors found).

    Parameters
    ----------
    image : (rows, cols) uint8 array
        The scanned page, grayscale.
    page : ExpandedPage
        The template page whose anchors to look for.
    max_residual_mm : float
        Worst anchor misfit tolerated by the affine check.
    """
    fits = list(iter_registrations(image, page, max_residual_mm=max_residual_mm))
    fits.sort(key=lambda fit: (-fit.anchors_found, fit.residual_mm))
    return fits


def _match(predicted: np.ndarray, points: np.ndarray, tolerance: np.ndarray) -> np.ndarray | None:
    """For each predicted anchor the index of the nearest unused candidate within tolerance, or -1."""
    distances = np.linalg.norm(predicted[:, None, :] - points[None, :, :], axis=2)
    matched = np.full(len(predicted), -1)
    used: set[int] = set()
    for index in np.argsort(distances.min(axis=1)):
        for candidate in np.argsort(distances[index]):
            if distances[index, candidate] > tolerance[index]:
                break
            if candidate not in used:
                matched[index] = candidate
                used.add(int(candidate))
                break
    if (matched >= 0).sum() < 3:
        return None
    return matched
