"""Registration: find a page's anchors and the transform from template millimetres to image pixels.

Only windows around where anchors can be are examined (downsampled to about 3 px/mm), so a page costs well
under a millisecond here. Each orientation (0/90/180/270°) that fits the image's aspect is tried; anchors are
matched, an affine fit checks them, and a perspective transform is fitted to all of them. Which orientation is
right is left to the page-identity strip (see :mod:`omr.read`), because a sheet's four corner anchors look the
same upside down.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Iterator

import cv2
import numpy as np
from numba import njit

from omr.layout import anchor_polygon
from omr.template import Anchor, ExpandedPage

__all__ = ["Registration", "AnchorCandidate", "AnchorShape", "anchor_shape", "find_anchor_candidates", "register_page",
           "iter_registrations", "apply_homography", "homography_jacobians", "anchor_reference_point"]

_WORK_PX_PER_MM = 2.2  # resolution anchors are searched at (an anchor stays >= 10 px)
_SEARCH_BASE_MM = 14.0  # shift/margin tolerance of the first guess
_SEARCH_ROTATION = 0.11  # ~6° of rotation, times the distance from the page centre


@dataclass(frozen=True)
class AnchorCandidate:
    x: float  # refined centroid, full-resolution pixels
    y: float
    size_px: float  # sqrt of the dark area
    ink: float  # median gray inside (how black the print is on this scan)
    edges: int = 0  # what cuts the blob (bits: image border left 1, top 2, right 4, bottom 8; other print 16)

    @property
    def clipped(self) -> bool:
        """Part of the blob may be cut off or merged with other dark print: its centroid is off."""
        return self.edges != 0


@dataclass(frozen=True)
class Registration:
    """A fitted page: ``page_to_image`` maps template mm (x, y, 1) to image pixels."""

    page_to_image: np.ndarray  # 3x3 float64
    orientation: int  # degrees the page is turned in the image: 0, 90, 180 or 270
    residual_mm: float  # worst anchor misfit of an affine fit
    px_per_mm: float
    ink_level: float  # gray level of solid print (anchors)
    anchors_found: int
    clipped_anchors: int = 0  # of those, anchors cut by the image border or touching other print (centroid less sure)


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


_EXTENT_AND_FILL = {  # per shape: (min extent, max extent, min fill, max fill) of the blob vs its box and the anchor's
    "square": (0.62, 1.01, 0.6, 1.4),  # a gray square turned 5°, thresholded well below its own ink: down to ~0.65
    "circle": (0.6, 0.9, 0.5, 1.1),
    "rect": (0.45, 1.01, 0.6, 1.4),  # a 4:1 bar turned 5° fills ~0.7 of its box; its sides are checked as well
}
_SIDE_TOLERANCE = (0.7, 1.35)  # a rect's or L's measured principal sides over the printed shape's
_SHAPE_PX_PER_MM = 20.0  # resolution an anchor's printed shape is rasterised at to learn its moments


@dataclass(frozen=True)
class AnchorShape:
    """What a blob must look like to be taken for ``anchor``, in mm (see :func:`anchor_shape`)."""

    area_mm2: float  # printed area
    box_mm: tuple[float, float]  # bounding box, upright
    extent: tuple[float, float]  # blob area over its bounding box
    fill: tuple[float, float]  # blob area over the box's (width x height)
    sides_mm: tuple[float, float]  # principal sides √(12·eigenvalue of the covariance), longer first; 0: unchecked


@lru_cache(maxsize=256)
def anchor_shape(anchor: Anchor) -> AnchorShape:
    """The limits a blob must meet to be ``anchor``.

    A square or circle is told by its bounding box, extent and fill (turning does not change them much). A
    rectangle and an L are also checked on their principal sides, which turning does not change at all: the
    square roots of twelve times the eigenvalues of the shape's covariance (a w x h rectangle's are w and h). So
    a printed heading bar, a block of text or a square of the L's size is not taken for a rect or an L, and an
    L's arm width is checked by its area (2·arm·side - arm² of a square L).
    """
    width, height = anchor.box
    box_area = width * height
    if anchor.shape == "circle":
        return AnchorShape(np.pi / 4 * box_area, (width, height), *_limits("circle"), (0.0, 0.0))
    polygon = np.asarray(anchor_polygon(anchor), np.float64)
    mask = np.zeros((int(np.ceil(height * _SHAPE_PX_PER_MM)) + 2, int(np.ceil(width * _SHAPE_PX_PER_MM)) + 2),
                    np.uint8)
    corner = polygon.min(axis=0)
    cv2.fillPoly(mask, [np.round((polygon - corner) * _SHAPE_PX_PER_MM * 16).astype(np.int32)], 1, cv2.LINE_8, 4)
    moments = cv2.moments(mask, binaryImage=True)
    area = moments["m00"] / _SHAPE_PX_PER_MM ** 2
    covariance = np.array([[moments["mu20"], moments["mu11"]], [moments["mu11"], moments["mu02"]]]) / moments["m00"]
    sides = np.sqrt(12 * np.clip(np.linalg.eigvalsh(covariance)[::-1], 0, None)) / _SHAPE_PX_PER_MM
    if anchor.shape == "square":
        return AnchorShape(area, (width, height), *_limits("square"), (0.0, 0.0))
    if anchor.shape == "rect":
        return AnchorShape(area, (width, height), *_limits("rect"), (float(sides[0]), float(sides[1])))
    share = area / box_area  # an L: 5/9 of its box with arms a third of its side
    extent = (0.68 * share, min(1.01, 1.3 * share))
    fill = (0.63 * share, 1.44 * share)
    return AnchorShape(area, (width, height), extent, fill, (float(sides[0]), float(sides[1])))


def _limits(shape: str) -> tuple[tuple[float, float], tuple[float, float]]:
    min_extent, max_extent, min_fill, max_fill = _EXTENT_AND_FILL[shape]
    return (min_extent, max_extent), (min_fill, max_fill)


def find_anchor_candidates(image: np.ndarray, px_per_mm: float, windows: list[tuple[int, int, int, int, Anchor]],
                           *, beside_background: bool = False) -> list[AnchorCandidate]:
    """Dark blobs of an anchor's size and shape inside each search window (x0, y0, x1, y1, anchor).

    Each window is downsampled to about ``_WORK_PX_PER_MM`` (``cv2.resize``), then :func:`_window_anchors`
    thresholds it between its darkest share and its paper, labels the dark blobs, keeps those of the anchor's size
    and shape, and refines each kept blob's centroid at full resolution.
    """
    factor = max(1, int(round(px_per_mm / _WORK_PX_PER_MM)))
    found: list[AnchorCandidate] = []
    image = np.ascontiguousarray(image)
    for x0, y0, x1, y1, anchor in windows:
        crop = image[y0:y1, x0:x1]
        if crop.size == 0:
            continue
        small = cv2.resize(crop, None, fx=1 / factor, fy=1 / factor, interpolation=cv2.INTER_AREA) if factor > 1 else crop
        scale = px_per_mm / factor
        limits = anchor_shape(anchor)
        expected = anchor.size * scale
        box = np.array(limits.box_mm) * scale
        # The darkest pixels must include the anchor's own: take a share well below its area in the window.
        share = 0.3 * limits.area_mm2 * scale * scale / small.size
        shape_args = (float(box.min()), float(box.max()), float(share), *limits.extent, *limits.fill,
                      limits.sides_mm[0] * scale, limits.sides_mm[1] * scale)
        small = np.ascontiguousarray(small)
        blobs = _window_anchors(image, small, x0, y0, factor, *shape_args, False)
        if not len(blobs):
            # A gray anchor (60 %, lighter still on a toner-saving print) beside black print falls on the window's
            # threshold, set by the black: look again at a threshold set by the anchor's own level.
            blobs = _window_anchors(image, small, x0, y0, factor, *shape_args, True)
        found.extend(AnchorCandidate(x, y, size, ink, int(edges)) for x, y, size, ink, edges in blobs.tolist())
        if anchor.shape == "square" and (beside_background or not len(blobs)):
            # With ``beside_background`` also when a blob qualified: a printed ■ (the filling guide's 正确填涂) can
            # stand in a window whose real anchor merged with a dark background; matching by position then picks
            # the anchor. A square found beside the background near a blob is that blob again: left out.
            apart = 2.0 * anchor.size * px_per_mm
            found.extend(beside for beside in _square_beside_background(image, small, x0, y0, factor, expected)
                         if all(np.hypot(beside.x - b[0], beside.y - b[1]) > apart for b in blobs.tolist()))
    return found


def _square_beside_background(image: np.ndarray, small: np.ndarray, x0: int, y0: int, factor: int,
                              expected: float) -> list[AnchorCandidate]:
    """A square anchor merged with a dark scanner background (a black-backed feeder, the paper edge right beside
    the anchor), found by its shape: a dark square of the anchor's size with paper beyond at least two adjacent
    sides. The background lies outside the paper, which is convex, so no part of it has paper on two adjacent
    sides. The centroid is taken inside that square only; the caller's refinement and verification correct and
    check what this leaves off (see :mod:`omr.refine`).
    """
    side = int(round(expected))
    strip = max(2, int(round(0.4 * expected)))
    rows, cols = small.shape
    if side < 4 or rows < side + 2 * strip or cols < side + 2 * strip:
        return []
    ink, paper = np.percentile(small, [5, 90])
    if paper - ink < 50:
        return []
    dark = (small < (ink + paper) / 2).astype(np.float64)
    total = np.pad(dark.cumsum(0).cumsum(1), ((1, 0), (1, 0)))

    def share(top: np.ndarray, left: np.ndarray, height: int, width: int) -> np.ndarray:
        """Dark share of the boxes at (top, left) of ``height`` x ``width``; NaN where a box leaves the window."""
        inside = (top >= 0) & (left >= 0) & (top + height <= rows) & (left + width <= cols)
        t, l = np.clip(top, 0, rows - height), np.clip(left, 0, cols - width)
        sums = total[t + height, l + width] - total[t, l + width] - total[t + height, l] + total[t, l]
        return np.where(inside, sums / (height * width), np.nan)

    top, left = np.mgrid[0:rows - side + 1, 0:cols - side + 1]
    box = share(top, left, side, side)
    clear = {name: share(*args) <= 0.15 for name, args in {  # NaN (outside the window) is not paper
        "left": (top, left - strip, side, strip), "right": (top, left + side, side, strip),
        "top": (top - strip, left, strip, side), "bottom": (top + side, left, strip, side)}.items()}
    corner = (clear["left"] | clear["right"]) & (clear["top"] | clear["bottom"])
    score = np.where((box >= 0.8) & corner, box, -1.0)
    if score.max() < 0:
        return []
    row, col = np.unravel_index(int(np.argmax(score)), score.shape)
    bx, by, size = x0 + col * factor, y0 + row * factor, side * factor
    crop = image[by:by + size, bx:bx + size].astype(np.float64)
    weight = np.clip((paper - crop) / max(paper - ink, 1.0), 0.0, 1.0)
    if weight.sum() <= 0:
        return []
    ys, xs = np.mgrid[0:crop.shape[0], 0:crop.shape[1]]
    x, y = bx + (weight * xs).sum() / weight.sum(), by + (weight * ys).sum() / weight.sum()
    return [AnchorCandidate(float(x), float(y), float(np.sqrt(weight.sum())), float(crop[weight > 0.5].mean()
                                                                                      if (weight > 0.5).any() else ink),
                            16)]


@njit(cache=True, nogil=True)
def _gray_level(counts: np.ndarray, total: int, fraction: float) -> float:
    """The gray level below which ``fraction`` of ``total`` pixels lie, from a 256-bin histogram.

    Parameters
    ----------
    counts : (256,) int64 array
        Pixels per gray level.
    total : int
        Number of pixels.
    fraction : float
        Share of the pixels, 0 .. 1.

    Returns
    -------
    float
        The first level whose cumulative count reaches ``fraction * total`` (computed in float32, as a float32
        ``calcHist`` cumulative sum would be searched), 256 if none does.
    """
    target = np.float32(fraction) * np.float32(total)
    running = 0
    for level in range(256):
        running += counts[level]
        if running >= target:
            return float(level)
    return 256.0


@njit(cache=True, nogil=True)
def _find_root(parent: np.ndarray, label: int) -> int:
    while parent[label] != label:
        parent[label] = parent[parent[label]]
        label = parent[label]
    return label


@njit(cache=True, nogil=True)
def _window_anchors(image, small, x0, y0, factor, short, long, share, min_extent, max_extent, min_fill, max_fill,
                    long_side, short_side, own_level):
    """Anchor-like dark blobs of one search window, refined at full resolution.

    Parameters
    ----------
    image : (rows, cols) uint8 array
        The whole page.
    small : (h, w) uint8 array
        The window ``image[y0:, x0:]`` downsampled by ``factor``.
    x0, y0, factor : int
        Where the window starts in ``image`` and how much it was shrunk.
    short, long : float
        The anchor's bounding box sides in ``small`` pixels, shorter first (equal for a square or circle).
    share : float
        Fraction of the window's pixels that the anchor's darkest part surely exceeds.
    min_extent, max_extent, min_fill, max_fill : float
        Allowed blob area over its bounding box, and over ``short * long``.
    long_side, short_side : float
        The anchor's principal sides in ``small`` pixels (see :func:`anchor_shape`), or 0 when not checked.
    own_level : bool
        False: threshold half way between the window's darkest ``share`` and its paper (black print). True: the
        pixels darker than that threshold are set aside (black text beside a gray anchor) and the darkest
        ``share`` of the rest, the gray anchor's own level, sets it. A blob whose dark pixels are nearer the black
        than that level is black print, not the gray anchor; the shape limits keep the text's merged words and the
        bubbles' outlines out.

    Returns
    -------
    (k, 5) float64 array
        Per kept blob, in raster order of its first pixel: centroid x, y (full-resolution pixels), the square
        root of its weighted dark area, the mean gray of its dark pixels, and what cuts it (see :func:`_refine`).
    """
    rows, cols = small.shape
    counts = np.zeros(256, np.int64)
    for y in range(rows):
        for x in range(cols):
            counts[small[y, x]] += 1
    lo = _gray_level(counts, rows * cols, share)
    hi = _gray_level(counts, rows * cols, 0.9)
    if hi - lo < 50:  # no black print in this window
        return np.empty((0, 5))
    threshold = (lo + hi) / 2
    black = 0.0  # below this a blob's ink is the black print set aside (own_level), not a gray anchor
    if own_level:
        black_level = lo
        darker = 0
        for level in range(int(threshold)):
            darker += counts[level]
            counts[level] = 0
        lo = _gray_level(counts, rows * cols - darker, share * rows * cols / max(rows * cols - darker, 1))
        if hi - lo < 50:  # nothing gray enough beside the black print to be an anchor
            return np.empty((0, 5))
        threshold = (lo + hi) / 2
        black = (black_level + lo) / 2

    # Two-pass 8-connected labelling with union-find; a set's root is its smallest (first seen) label.
    labels = np.zeros((rows, cols), np.int32)
    capacity = (rows + 1) // 2 * ((cols + 1) // 2) + 2
    parent = np.empty(capacity, np.int32)
    stats = np.empty((capacity, 5), np.int64)  # min x, min y, max x, max y, area
    sums = np.zeros((capacity, 5))  # sum of x, y, x², y², xy: the blob's second moments
    count = 1
    for y in range(rows):
        for x in range(cols):
            if small[y, x] >= threshold:
                continue
            label = 0
            for dy, dx in ((-1, -1), (-1, 0), (-1, 1), (0, -1)):
                ny, nx = y + dy, x + dx
                if ny < 0 or nx < 0 or nx >= cols:
                    continue
                other = labels[ny, nx]
                if other == 0:
                    continue
                if label == 0:
                    label = other
                else:
                    a = _find_root(parent, label)
                    b = _find_root(parent, other)
                    if a < b:
                        parent[b] = a
                    elif b < a:
                        parent[a] = b
            if label == 0:
                label = count
                parent[label] = label
                stats[label, 0] = x
                stats[label, 1] = y
                stats[label, 2] = x
                stats[label, 3] = y
                stats[label, 4] = 0
                count += 1
            labels[y, x] = label
            stats[label, 0] = min(stats[label, 0], x)
            stats[label, 2] = max(stats[label, 2], x)
            stats[label, 3] = y
            stats[label, 4] += 1
            sums[label, 0] += x
            sums[label, 1] += y
            sums[label, 2] += x * x
            sums[label, 3] += y * y
            sums[label, 4] += x * y
    for label in range(1, count):
        root = _find_root(parent, label)
        if root != label:
            stats[root, 0] = min(stats[root, 0], stats[label, 0])
            stats[root, 1] = min(stats[root, 1], stats[label, 1])
            stats[root, 2] = max(stats[root, 2], stats[label, 2])
            stats[root, 3] = max(stats[root, 3], stats[label, 3])
            stats[root, 4] += stats[label, 4]
            for k in range(5):
                sums[root, k] += sums[label, k]

    out = np.empty((count, 5))
    kept = 0
    for label in range(1, count):
        if parent[label] != label:
            continue
        width = stats[label, 2] - stats[label, 0] + 1
        height = stats[label, 3] - stats[label, 1] + 1
        area = stats[label, 4]
        # Whether the blob is cut by the image border is judged at full resolution (``_refine``): at this
        # coarse scale an anchor a few pixels from the edge would look cut and a whole page be lost.
        left = stats[label, 0] * factor + x0
        top = stats[label, 1] * factor + y0
        extent = area / max(width * height, 1)
        fill = area / (short * long)
        if not (0.65 * short <= width <= 1.5 * long and 0.65 * short <= height <= 1.5 * long
                and min_extent <= extent <= max_extent and min_fill <= fill <= max_fill):
            continue
        if long_side > 0 and not _sides_agree(sums[label], area, long_side, short_side):
            continue
        refined = _refine(image, left, top, width * factor, height * factor, hi, threshold, out[kept])
        if refined and out[kept, 3] >= black:
            kept += 1
    return out[:kept]


@njit(cache=True, nogil=True)
def _sides_agree(sums, area, long_side, short_side):
    """Whether a blob's principal sides (from its pixel sums x, y, x², y², xy) are those expected, within
    ``_SIDE_TOLERANCE``: a bar of the right area but the wrong proportions, or a square for an L, is refused."""
    mx, my = sums[0] / area, sums[1] / area
    sxx = sums[2] / area - mx * mx + 1.0 / 12  # a pixel's own spread
    syy = sums[3] / area - my * my + 1.0 / 12
    sxy = sums[4] / area - mx * my
    half_trace = 0.5 * (sxx + syy)
    gap = np.sqrt(max(0.25 * (sxx - syy) ** 2 + sxy * sxy, 0.0))
    long_measured = np.sqrt(12.0 * (half_trace + gap))
    short_measured = np.sqrt(12.0 * max(half_trace - gap, 0.0))
    low, high = _SIDE_TOLERANCE
    return (low * long_side <= long_measured <= high * long_side
            and low * short_side <= short_measured <= high * short_side)


@njit(cache=True, nogil=True)
def _refine(image, left, top, width, height, paper, threshold, out):
    """Sub-pixel centroid of the blob at full resolution, weighting pixels by how dark they are.

    Writes x, y, sqrt(weight sum), the mean gray below ``threshold`` and where dark pixels (weight >= 0.5)
    lie on the edge of the padded box into ``out``: bits 1, 2, 4, 8 for the image's left, top, right and bottom
    border (the blob is cut off there), 16 for a third of the blob's width on the box's edge inside the image
    (other dark print, a black scanner background, touches it; a hair across it does not count). False when the
    blob is too faint against ``paper``.
    """
    pad = max(2, int(0.25 * max(width, height)))
    rows, cols = image.shape
    y0, x0 = max(0, top - pad), max(0, left - pad)
    y1, x1 = min(rows, top + height + pad), min(cols, left + width + pad)
    if y1 <= y0 or x1 <= x0:
        return False
    counts = np.zeros(256, np.int64)
    for y in range(y0, y1):
        for x in range(x0, x1):
            counts[image[y, x]] += 1
    ink = _gray_level(counts, (y1 - y0) * (x1 - x0), 0.05)
    span = paper - ink
    if span < 40:
        return False
    paper32 = np.float32(paper)
    span32 = np.float32(span)
    m00 = m10 = m01 = 0.0
    dark_sum = 0
    dark_count = 0
    edges = 0
    crowded = 0  # dark pixels on the box's edge inside the image: a hair or a thin line crossing gives a few
    for y in range(y0, y1):
        row_sum = row_x = 0.0
        for x in range(x0, x1):
            value = image[y, x]
            if value < threshold:
                dark_sum += value
                dark_count += 1
            weight = (paper32 - np.float32(value)) / span32
            if weight > 1:
                weight = np.float32(1.0)
            if weight < 0.25:  # ignore paper noise around the blob
                continue
            # Dark on the edge of the box: the image border cuts the blob, or something dark (a scanner's
            # black background) touches it; either way its centroid is off.
            if weight >= 0.5 and (x == x0 or y == y0 or x == x1 - 1 or y == y1 - 1):
                bits = _edge_bits(x, y, cols, rows)
                if bits:
                    edges |= bits
                else:
                    crowded += 1
            row_sum += weight
            row_x += (x - x0) * np.float64(weight)
        m00 += row_sum
        m10 += row_x
        m01 += (y - y0) * row_sum
    if m00 <= 0:
        return False
    out[0] = m10 / m00 + x0
    out[1] = m01 / m00 + y0
    out[2] = np.sqrt(m00)
    out[3] = dark_sum / dark_count if dark_count else ink
    if crowded >= max(3, min(width, height) // 3):
        edges |= 16
    out[4] = edges
    return True


@njit(cache=True, nogil=True, inline="always")
def _edge_bits(x, y, cols, rows):
    """Which image border the pixel (x, y) lies on (bits as in ``_refine``), 0 for none."""
    bits = 0
    if x == 0:
        bits |= 1
    if y == 0:
        bits |= 2
    if x == cols - 1:
        bits |= 4
    if y == rows - 1:
        bits |= 8
    return bits


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
            half = (_SEARCH_BASE_MM + _SEARCH_ROTATION * distance + max(anchor.box)) * scale
            x0, y0 = int(max(0, px - half)), int(max(0, py - half))
            x1, y1 = int(min(cols, px + half)), int(min(rows, py + half))
            key = (x0 // 8, y0 // 8, x1 // 8, y1 // 8, anchor.shape, anchor.box, anchor.arm_mm)
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
    stops after the first and never fits the others. Unless some fit has every anchor, two-anchor fits
    (:func:`_two_anchor_fits`, unchecked first guesses) come last.
    """
    shape = image.shape[:2]
    orientations = _orientations(page.width_mm, page.height_mm, shape)
    windows, px_per_mm = _search_windows(page.anchors, page.width_mm, page.height_mm, shape, tuple(orientations))
    candidates = find_anchor_candidates(image, px_per_mm, windows)
    produced = whole = False
    for fit in _registrations(candidates, page, orientations, shape, px_per_mm, max_residual_mm):
        produced, whole = True, whole or fit.anchors_found == len(page.anchors)
        yield fit
    if not produced:
        # A second, slower look: squares merged with a dark background in every window (~1.5 ms).
        candidates = find_anchor_candidates(image, px_per_mm, windows, beside_background=True)
        for fit in _registrations(candidates, page, orientations, shape, px_per_mm, max_residual_mm, rescue=True):
            whole = whole or fit.anchors_found == len(page.anchors)
            yield fit
    if not whole:  # last: two anchors (a corner cut off and another covered; three "anchors" with a stray blob)
        yield from _two_anchor_fits(candidates, page, orientations, shape, px_per_mm)


def _registrations(candidates: list[AnchorCandidate], page: ExpandedPage, orientations: list[int],
                   shape: tuple[int, int], px_per_mm: float, max_residual_mm: float, *, rescue: bool = False
                   ) -> Iterator[Registration]:
    """The fits of ``candidates`` to the page's anchors, one per orientation that fits (see iter_registrations);
    ``rescue``: see :func:`_fit`."""
    whole = [candidate for candidate in candidates if not candidate.clipped]
    # A clipped anchor's centroid is off: fit without it when three whole ones remain; otherwise move the centroid
    # of one cut by a single image border back by half the missing extent (the caller verifies such a fit
    # against the printed content).
    candidates = whole if len(whole) >= 3 else _all_uncut(candidates)
    if len(candidates) < 3:
        return
    points = np.array([[c.x, c.y] for c in candidates])
    template_points = np.array([anchor_reference_point(a) for a in page.anchors])
    tolerance = _first_search_tolerance(page, px_per_mm)
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
        yield from _fit(orientation, matched, template_points, points, candidates, px_per_mm, max_residual_mm,
                        rescue=rescue) or []


#: How far the scale of a two-anchor fit may stray from the image's nominal one (an overscan frame, a page scanned
#: at 98 %..102 %, and the paper's own fit to the frame all move it) before the pair is taken for something else.
_TWO_ANCHOR_SCALE = (0.85, 1.15)
#: How far (degrees) a two-anchor fit may turn the page beyond its orientation: a feeder's skew, not a misfit.
_TWO_ANCHOR_SKEW_DEG = 10.0
#: Two-anchor fits offered at most (each costs the caller a refit and a verification, ~2 ms).
_TWO_ANCHOR_FITS = 12


def _two_anchor_fits(candidates: list[AnchorCandidate], page: ExpandedPage, orientations: list[int],
                     shape: tuple[int, int], px_per_mm: float) -> Iterator[Registration]:
    """Similarity fits (scale, rotation, shift) on two anchors, when no fit has every anchor.

    Two anchors are left when a skewed feed cuts one corner off and another is covered or torn; three "anchors"
    when a stray blob (a printed ■, a smudge) stands in for a lost one, and the exact affine on them is wrong. Two points fix a
    similarity exactly, so nothing here can check the fit: it is only a first guess, which the caller refits to
    the printed bubble outlines and verifies on other outlines (see :func:`omr.read._refined`; a fit that does not
    verify reads as "registration unsure", every reading in doubt). Each pair of candidates is offered for each
    orientation under which its blobs lie within the first search tolerance of two different anchors, at a
    plausible scale and skew; closest to the nominal placement first, at most ``_TWO_ANCHOR_FITS`` of them (a
    stray blob in a window, a printed ■, makes wrong pairs, which the print then refuses).
    """
    candidates = _all_uncut(candidates)
    if len(candidates) < 2:
        return
    points = np.array([[c.x, c.y] for c in candidates])
    template_points = np.array([anchor_reference_point(a) for a in page.anchors])
    tolerance = _first_search_tolerance(page, px_per_mm)
    offered = []
    for orientation in orientations:
        nominal = _nominal_transform(orientation, page.width_mm, page.height_mm, shape)
        nominal_factor = complex(nominal[0, 0], nominal[1, 0])
        distances = np.linalg.norm(apply_homography(nominal, template_points)[:, None, :] - points[None, :, :],
                                   axis=2)
        near = distances <= tolerance[:, None]  # (anchors, candidates)
        for one, two in zip(*np.triu_indices(len(candidates), 1)):
            for first in np.flatnonzero(near[:, one]):
                for second in np.flatnonzero(near[:, two]):
                    if first == second:
                        continue
                    src = template_points[[first, second]]
                    factor = complex(*(points[two] - points[one])) / complex(*(src[1] - src[0]))
                    ratio = factor / nominal_factor  # scale and turn beyond the orientation, as one number
                    if not (_TWO_ANCHOR_SCALE[0] <= abs(ratio) <= _TWO_ANCHOR_SCALE[1]
                            and abs(np.degrees(np.angle(ratio))) <= _TWO_ANCHOR_SKEW_DEG):
                        continue
                    shift = complex(*points[one]) - factor * complex(*src[0])
                    similarity = np.array([[factor.real, -factor.imag, shift.real],
                                           [factor.imag, factor.real, shift.imag], [0.0, 0.0, 1.0]])
                    pair = (candidates[one], candidates[two])
                    offered.append((float(distances[first, one] + distances[second, two]), Registration(
                        similarity, orientation, 0.0, abs(factor), float(np.mean([c.ink for c in pair])), 2,
                        sum(c.clipped for c in pair))))
    offered.sort(key=lambda item: item[0])
    for _, fit in offered[:_TWO_ANCHOR_FITS]:
        yield fit


def _first_search_tolerance(page: ExpandedPage, px_per_mm: float) -> np.ndarray:
    """How far (px) each anchor may lie from where the nominal placement puts it: shift and margin, plus ~6° of
    rotation about the page centre."""
    centre_x, centre_y = page.width_mm / 2, page.height_mm / 2
    return np.array([(_SEARCH_BASE_MM + _SEARCH_ROTATION * np.hypot(a.x - centre_x, a.y - centre_y)) * px_per_mm
                     for a in page.anchors])


def _all_uncut(candidates: list[AnchorCandidate]) -> list[AnchorCandidate]:
    """Every candidate, a clipped one's centroid moved back (:func:`_uncut`) by the whole ones' median size."""
    whole = [c for c in candidates if not c.clipped]
    full = float(np.median([c.size_px for c in whole])) if whole else None
    return [_uncut(c, full or c.size_px) for c in candidates]


_BORDER_DIRECTIONS = {1: (-1.0, 0.0), 2: (0.0, -1.0), 4: (1.0, 0.0), 8: (0.0, 1.0)}


def _uncut(candidate: AnchorCandidate, full_size_px: float) -> AnchorCandidate:
    """``candidate`` with its centroid moved towards the one image border that cuts it, by half the extent cut off
    (a straight cut of a square of side ``full_size_px``: the lost share of the area times half its side)."""
    direction = _BORDER_DIRECTIONS.get(candidate.edges)
    if direction is None:
        return candidate
    lost = max(0.0, 1.0 - (candidate.size_px / full_size_px) ** 2)
    step = lost * full_size_px / 2
    return replace(candidate, x=candidate.x + direction[0] * step, y=candidate.y + direction[1] * step)


def _fit(orientation: int, matched: np.ndarray, template_points: np.ndarray, points: np.ndarray,
         candidates: list[AnchorCandidate], px_per_mm: float, max_residual_mm: float, *, rematch: bool = True,
         rescue: bool = False) -> list[Registration] | None:
    """The fit of the matched anchors (several when one of four disagrees and must be left out), or None.

    ``rescue`` (the second, slower look, when the first gave no fit): when the first match's affine leaves fewer
    than three anchors within the tight rematch, the fits on each three of them (:func:`_fits_without_one`).
    """
    if rematch:
        tight = np.full(len(template_points), 3.0 * px_per_mm)
        affine, _ = _fit_affine(template_points[matched >= 0], points[matched[matched >= 0]])
        # Second pass with the fitted affine and a tight tolerance, so a stray blob cannot stand in for an anchor.
        rematched = _match(apply_homography(affine, template_points), points, tight)
        if rescue and rematched is None and (matched >= 0).sum() > 3:
            return _fits_without_one(orientation, matched, template_points, points, candidates, px_per_mm,
                                     max_residual_mm, tight)
        matched = rematched
    # One anchor may be lost (a corner cut off by a skewed feed, a torn or covered corner): three still fix
    # an affine transform, which the verification of the fit against the print then confirms (see omr.read).
    if matched is None or (matched < 0).sum() > max(0, len(template_points) - 3):
        return None
    found = matched >= 0
    src, dst = template_points[found], points[matched[found]]
    affine, residuals = _fit_affine(src, dst)
    scale = float(np.sqrt(abs(np.linalg.det(affine[:2, :2]))))
    residual_mm = float(residuals.max() / scale)
    if residual_mm > max_residual_mm and len(src) > 3:
        # One anchor disagrees (a clipped or smudged corner, a blob standing in for it). Which one, the anchors
        # cannot tell (on a rectangle each leave-one-out fit is exact and misses its fourth alike): every fit on
        # the others is offered, and the caller picks by the printed content (see omr.read).
        fits = []
        for drop in np.flatnonzero(found):
            fewer = matched.copy()
            fewer[drop] = -1
            fit = _fit(orientation, fewer, template_points, points, candidates, px_per_mm, max_residual_mm,
                       rematch=False)
            fits.extend(fit or [])
        return fits or None
    if residual_mm > max_residual_mm:
        return None
    if len(src) >= 4:
        homography, _ = cv2.findHomography(src, dst, 0)
        if homography is None:
            return None
    else:
        homography = affine
    ink = float(np.mean([candidates[i].ink for i in matched[found]]))
    clipped = sum(candidates[i].clipped for i in matched[found])
    return [Registration(homography, orientation, residual_mm, scale, ink, len(src), clipped)]


def _fits_without_one(orientation: int, matched: np.ndarray, template_points: np.ndarray, points: np.ndarray,
                      candidates: list[AnchorCandidate], px_per_mm: float, max_residual_mm: float,
                      tight: np.ndarray) -> list[Registration] | None:
    """The fits when the first match's affine leaves fewer than three anchors within ``tight``: one blob far off
    (a printed ■ in the window of a lost anchor) pulled it. Each three of the matched blobs fix an affine that is
    matched again within ``tight``; every distinct matching is fitted and offered (the caller picks by the print)."""
    fits, seen = [], set()
    for drop in np.flatnonzero(matched >= 0):
        fewer = matched.copy()
        fewer[drop] = -1
        affine, _ = _fit_affine(template_points[fewer >= 0], points[fewer[fewer >= 0]])
        again = _match(apply_homography(affine, template_points), points, tight)
        if again is None or tuple(again) in seen:
            continue
        seen.add(tuple(again))
        fits.extend(_fit(orientation, again, template_points, points, candidates, px_per_mm, max_residual_mm,
                         rematch=False) or [])
    return fits or None


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
