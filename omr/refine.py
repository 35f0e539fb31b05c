"""Refine a page's fit from its printed content: find printed outlines near where the fit puts them, refit.

The anchors fix a transform from four (or three) points in the corners; paper stretch, keystone under a
three-anchor affine fit, or an anchor centre pulled off by a cut, a dark background or a smudge then shift the
rows far from them. :func:`locate_outlines` looks for each reference outline (the printed ellipse of a bubble) by a
small local search around its predicted place, and :func:`refine_transform` fits a homography to the outlines found
(least squares, trimming outliers); when many were not found, it searches again, narrowly, under that
refit.

When a scan has lost the thin outlines (a 1-bit threshold scan keeps bold print only), :func:`print_agrees` verifies a
fit on patches of bold print instead, each located by normalised cross-correlation.

The fit takes any set of printed reference points with known template positions (``fit_points``): timing marks
(同步头), once templates carry them, can be located by their own search and fitted the same way. The refined
transform is not trusted by itself: the caller verifies it on *other* printed outlines (see
:func:`omr.read.fit_verified`).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from numba import njit

from omr.register import apply_homography, homography_jacobians
from omr.template import ExpandedPage

__all__ = ["locate_outlines", "fit_points", "refine_transform", "PrintPatches", "print_patches", "print_agrees",
           "warp_rect"]

_RING_RADII = (0.6, 1.0, 1.4)  # inside the outline, on it, outside it (fraction of the semi-axes)
_RING_COUNT = 16  # samples per ring
_ANGLES = 2 * np.pi * (np.arange(_RING_COUNT) + 0.5) / _RING_COUNT
_RING_UNIT = np.asarray(_RING_RADII)[:, None, None] * np.stack([np.cos(_ANGLES), np.sin(_ANGLES)], axis=1)  # (3, k, 2)
_WIDE_MM = 1.6  # first search: how far (mm) an outline may lie from where the anchors put it
_NARROW_MM = 0.45  # second search, under the first refit
_MIN_POINTS = 12  # outlines needed to refit (spread over the page, see ``_spread``)
_INLIER_MM = 0.3  # an outline further than this from the refit is an outlier
_MIN_SCORE_SHARE = 0.45  # an outline counts when its contrast is at least this share of the page's median one


def _ring_offsets(matrix: np.ndarray, centres_mm: np.ndarray, semi_mm: np.ndarray) -> np.ndarray:
    """(n, 3, k, 2) pixel offsets from each centre of the inner, outline and outer ring samples."""
    local_x = (_RING_UNIT[:, :, 0] * semi_mm[:, 0, None, None])[..., None]  # (n, 3, k, 1) mm
    local_y = (_RING_UNIT[:, :, 1] * semi_mm[:, 1, None, None])[..., None]
    jacobians = homography_jacobians(matrix, centres_mm)[:, None, None]  # (n, 1, 1, 2, 2)
    return local_x * jacobians[..., 0] + local_y * jacobians[..., 1]


@njit(cache=True, nogil=True)
def _ring_score(image, cx, cy, offsets, dx, dy):
    """Mean of (inner + outer) / 2 - outline over the ring samples at centre + (dx, dy); nearest pixel."""
    rows, cols = image.shape
    k = offsets.shape[1]
    total = 0.0
    for j in range(k):
        xi = int(cx + dx + offsets[0, j, 0] + 0.5)
        yi = int(cy + dy + offsets[0, j, 1] + 0.5)
        xo = int(cx + dx + offsets[2, j, 0] + 0.5)
        yo = int(cy + dy + offsets[2, j, 1] + 0.5)
        x = int(cx + dx + offsets[1, j, 0] + 0.5)
        y = int(cy + dy + offsets[1, j, 1] + 0.5)
        if min(xi, xo, x) < 0 or min(yi, yo, y) < 0 or max(xi, xo, x) >= cols or max(yi, yo, y) >= rows:
            return -1e9
        total += 0.5 * (np.float64(image[yi, xi]) + np.float64(image[yo, xo])) - np.float64(image[y, x])
    return total / k


@njit(cache=True, nogil=True)
def _search_kernel(image, centres, offsets, radius, step, out):
    """For each point the shift (within ``radius`` px) that best puts its outline rings on dark print.

    A coarse grid (``step`` px) is searched first, then the eight neighbours of the best at half the step, and so
    on down to one pixel; the peak is then located to a fraction of a pixel by a parabola through its neighbours.
    Writes x, y (found centre), the peak score and 1.0 when the peak lies on the edge of the searched square (the
    outline may be further away) into ``out``.
    """
    for i in range(centres.shape[0]):
        cx, cy = centres[i, 0], centres[i, 1]
        best, bx, by = -1e9, 0, 0
        for dy in range(-(radius // step) * step, radius + 1, step):
            for dx in range(-(radius // step) * step, radius + 1, step):
                score = _ring_score(image, cx, cy, offsets[i], dx, dy)
                if score > best:
                    best, bx, by = score, dx, dy
        stride = step
        while stride > 1:
            stride = (stride + 1) // 2
            gx, gy = bx, by
            for dy in (gy - stride, gy, gy + stride):
                for dx in (gx - stride, gx, gx + stride):
                    if (dx == gx and dy == gy) or abs(dx) > radius or abs(dy) > radius:
                        continue
                    score = _ring_score(image, cx, cy, offsets[i], dx, dy)
                    if score > best:
                        best, bx, by = score, dx, dy
        fx, fy = float(bx), float(by)
        if abs(bx) < radius:
            left = _ring_score(image, cx, cy, offsets[i], bx - 1, by)
            right = _ring_score(image, cx, cy, offsets[i], bx + 1, by)
            curve = left - 2 * best + right
            if curve < 0:
                fx += min(0.5, max(-0.5, 0.5 * (left - right) / curve))
        if abs(by) < radius:
            up = _ring_score(image, cx, cy, offsets[i], bx, by - 1)
            down = _ring_score(image, cx, cy, offsets[i], bx, by + 1)
            curve = up - 2 * best + down
            if curve < 0:
                fy += min(0.5, max(-0.5, 0.5 * (up - down) / curve))
        out[i, 0] = cx + fx
        out[i, 1] = cy + fy
        out[i, 2] = best
        out[i, 3] = 1.0 if abs(bx) >= radius or abs(by) >= radius else 0.0


def locate_outlines(image: np.ndarray, matrix: np.ndarray, centres_mm: np.ndarray, semi_mm: np.ndarray,
                    radius_mm: float) -> np.ndarray:
    """Where each printed elliptical outline really is, searched within ``radius_mm`` of where ``matrix`` puts it.

    Parameters
    ----------
    image : (rows, cols) uint8 array
        The page.
    matrix : (3, 3) array
        Template mm -> image pixels.
    centres_mm, semi_mm : (n, 2) arrays
        The outlines' centres and semi-axes in template mm.
    radius_mm : float
        How far to search, in template mm.

    Returns
    -------
    (n, 4) float64 array
        Found centre x, y (pixels), the outline's contrast there (gray levels the outline is darker than the
        mean of the paper just inside and outside it) and 1.0 when the best place lies on the search border.
    """
    centres_px = np.ascontiguousarray(apply_homography(matrix, centres_mm))
    px_per_mm = float(np.sqrt(abs(np.linalg.det(homography_jacobians(matrix, centres_mm[:1])[0]))))
    radius = max(1, int(np.ceil(radius_mm * px_per_mm)))
    step = max(1, int(round(0.5 * px_per_mm)))  # coarse grid: no wider than a blurred outline's response
    out = np.empty((len(centres_mm), 4))
    _search_kernel(np.ascontiguousarray(image), centres_px, _ring_offsets(matrix, centres_mm, semi_mm), radius, step,
                   out)
    return out


def _spread(points_mm: np.ndarray) -> bool:
    """Whether the points span the page in both directions (a fit from one corner extrapolates badly)."""
    if len(points_mm) < _MIN_POINTS:
        return False
    extent = np.ptp(points_mm, axis=0)
    return bool(extent.min() > 0.3 * extent.max())


def _homography_lstsq(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares homography (direct linear transform with h33 = 1) on centred, scaled coordinates."""
    def normaliser(points: np.ndarray) -> np.ndarray:
        centre = points.mean(axis=0)
        scale = np.sqrt(2) / max(float(np.linalg.norm(points - centre, axis=1).mean()), 1e-9)
        return np.array([[scale, 0, -scale * centre[0]], [0, scale, -scale * centre[1]], [0, 0, 1.0]])

    to_src, to_dst = normaliser(src), normaliser(dst)
    x, y = (src @ to_src[:2, :2].T + to_src[:2, 2]).T
    u, v = (dst @ to_dst[:2, :2].T + to_dst[:2, 2]).T
    one, zero = np.ones_like(x), np.zeros_like(x)
    design = np.concatenate([np.stack([x, y, one, zero, zero, zero, -u * x, -u * y], axis=1),
                             np.stack([zero, zero, zero, x, y, one, -v * x, -v * y], axis=1)])
    # Normal equations: the coordinates are normalised, so they are well conditioned (and ten times cheaper
    # than a general least-squares solver on a small system).
    solution = np.linalg.solve(design.T @ design, design.T @ np.concatenate([u, v]))
    normalised = np.append(solution, 1.0).reshape(3, 3)
    matrix = np.linalg.solve(to_dst, normalised @ to_src)
    return matrix / matrix[2, 2]


def fit_points(points_mm: np.ndarray, found_px: np.ndarray, px_per_mm: float) -> np.ndarray | None:
    """A homography (template mm -> pixels) robustly fitted to reference points, or None when too few agree.

    Any printed reference points serve: bubble outlines today, timing marks once a template has them. Outliers
    (a mark hiding an outline, a point that locked onto neighbouring print) are trimmed: a least-squares fit to
    all, then to those within three median residuals, then to those within ``_INLIER_MM`` of that fit. What is
    kept must be at least half the points, at least ``_MIN_POINTS`` and spread over the page. (Outliers cannot lie
    far off: every point was searched for within a few millimetres, so trimming needs no random sampling.)
    """
    src = np.asarray(points_mm, np.float64)
    dst = np.asarray(found_px, np.float64)
    if not _spread(src):
        return None
    keep = np.ones(len(src), bool)
    limit = _INLIER_MM * px_per_mm
    for last in (False, True):
        matrix = _homography_lstsq(src[keep], dst[keep])
        residuals = np.linalg.norm(apply_homography(matrix, src) - dst, axis=1)
        keep = residuals <= (limit if last else max(limit, 3 * float(np.median(residuals[keep]))))
        if keep.sum() < max(_MIN_POINTS, 0.5 * len(src)) or not _spread(src[keep]):
            return None
    return _homography_lstsq(src[keep], dst[keep])


def _found(located: np.ndarray) -> np.ndarray:
    """Which located outlines count: inside the search, and with a contrast near the page's typical one."""
    inside = located[:, 3] == 0
    scores = located[:, 2]
    if not inside.any():
        return inside
    typical = float(np.median(scores[inside]))
    return inside & (scores >= _MIN_SCORE_SHARE * typical) & (typical > 0)


def refine_transform(image: np.ndarray, matrix: np.ndarray, centres_mm: np.ndarray, semi_mm: np.ndarray
                     ) -> np.ndarray | None:
    """``matrix`` (template mm -> pixels) refitted to the printed outlines at ``centres_mm``, or None.

    A wide search under the anchors' fit, a robust refit, then a narrow search under that refit and a final one,
    so outlines beyond the wide search (a far corner under a keystone) are found on the second pass.
    """
    px_per_mm = float(np.sqrt(abs(np.linalg.det(homography_jacobians(matrix, centres_mm[:1])[0]))))
    located = locate_outlines(image, matrix, centres_mm, semi_mm, _WIDE_MM)
    found = _found(located)
    refit = fit_points(centres_mm[found], located[found, :2], px_per_mm)
    if refit is None or found.mean() > 0.9:
        return refit
    # Many outlines were not found near the anchors' fit: look again under the refit (a far corner under a
    # keystone, a wrong anchor's corner), then fit to all that are found.
    located = locate_outlines(image, refit, centres_mm, semi_mm, _NARROW_MM)
    found = _found(located)
    return fit_points(centres_mm[found], located[found, :2], px_per_mm)


def warp_rect(image: np.ndarray, page_to_image: np.ndarray, x: float, y: float, w: float, h: float,
              px_per_mm: float) -> np.ndarray:
    """The template rectangle (mm) cut out of the image, upright, at ``px_per_mm``."""
    width, height = max(1, int(round(w * px_per_mm))), max(1, int(round(h * px_per_mm)))
    # output pixel (u, v) centre -> template mm -> image pixel
    to_mm = np.array([[1 / px_per_mm, 0, x + 0.5 / px_per_mm], [0, 1 / px_per_mm, y + 0.5 / px_per_mm], [0, 0, 1]])
    return cv2.warpPerspective(image, page_to_image @ to_mm, (width, height),
                               flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REPLICATE)


# ----------------------------------------------------------------------------------------------------------
# Bold print: what a 1-bit *threshold* scan keeps when it erases the thin bubble outlines

_BOLD_MM = 0.25  # strokes at least this wide count as bold print (the CJK headings in the real font: ~0.3 mm)
_PATCH_MM = 6.0  # side of a patch of bold print
_PATCH_MARGIN_MM = 1.2  # how far around its place a patch is looked for
_PATCH_CELL_MM = 30.0  # at most one patch per cell of this size
_PATCH_PX_PER_MM = 4.0  # resolution patches are compared at (about 100 dpi)
_MIN_MATCH = 0.5  # normalised cross-correlation a patch must reach to count as found
_PATCH_AGREE_MM = 0.35  # a patch found within this of where the fit puts it agrees


@dataclass(frozen=True)
class PrintPatches:
    """Patches of a template page's bold print (headings, question numbers), clear of bubbles, writing areas,
    labels and anchors, as rendered at ``_PATCH_PX_PER_MM``."""

    centres_mm: np.ndarray  # (p, 2)
    templates: tuple[np.ndarray, ...]  # (side, side) float32 each: bold print only, 0 ink .. 255 paper


def print_patches(blank: np.ndarray, px_per_mm: float, page: ExpandedPage) -> PrintPatches:
    """Choose the page's bold-print patches from its blank render ``blank`` (at ``px_per_mm``).

    Only strokes at least ``_BOLD_MM`` wide are kept (a morphological opening of the ink), so the patches hold what
    a threshold scan that lost the outlines still shows; in each ``_PATCH_CELL_MM`` cell the patch with the most
    bold ink is taken, when it holds between 8 and 60 % ink (text, not a solid block).
    """
    radius = max(1, int(round(_BOLD_MM / 2 * px_per_mm)))
    disk = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    bold = cv2.morphologyEx((blank < 128).astype(np.uint8), cv2.MORPH_OPEN, disk)
    integral = cv2.integral(bold).astype(np.float64)
    half = _PATCH_MM / 2
    reach = half + _PATCH_MARGIN_MM
    # Candidate centres on a 1 mm grid: the bold-ink share of the patch around each, from the integral image.
    xs = np.arange(reach, page.width_mm - reach, 1.0)
    ys = np.arange(reach, page.height_mm - reach, 1.0)
    x0, x1 = np.round((xs - half) * px_per_mm).astype(int), np.round((xs + half) * px_per_mm).astype(int)
    y0 = np.round((ys - half) * px_per_mm).astype(int)[:, None]
    y1 = np.round((ys + half) * px_per_mm).astype(int)[:, None]
    ink = (integral[y1, x1] - integral[y0, x1] - integral[y1, x0] + integral[y0, x0]) / ((x1 - x0) * (y1 - y0))
    # A patch starts where a line of print starts (paper for 2 mm to its left): glyphs further along a line sit
    # where the renderer's advance widths put them, which vary with the resolution a page is rendered at.
    left = np.maximum(x0 - int(round(2 * px_per_mm)), 0)
    ink_left = integral[y1, x0] - integral[y0, x0] - integral[y1, left] + integral[y0, left]
    # Clear of bubbles (marks), writing areas, labels and anchors by the search margin.
    clear = np.ones(ink.shape, bool)
    keep_out = [(b.x - b.width / 2, b.y - b.height / 2, b.width, b.height) for _, b in page.bubbles]
    keep_out += [(r.x, r.y, r.w, r.h) for r in (*page.regions, *page.barcodes)]
    keep_out += [(a.x - a.box[0], a.y - a.box[1], 2 * a.box[0], 2 * a.box[1]) for a in page.anchors]
    for x, y, w, h in keep_out:
        rows = (ys > y - reach) & (ys < y + h + reach)
        clear[rows[:, None] & (xs > x - reach) & (xs < x + w + reach)] = False
    score = np.where(clear & (ink >= 0.08) & (ink <= 0.6) & (ink_left == 0), ink, 0.0)
    best: dict[tuple[int, int], tuple[float, float, float]] = {}
    for row, col in zip(*np.nonzero(score)):
        x, y, value = float(xs[col]), float(ys[row]), float(score[row, col])
        cell = (int(x // _PATCH_CELL_MM), int(y // _PATCH_CELL_MM))
        if value > best.get(cell, (0.0, 0.0, 0.0))[2]:
            best[cell] = (x, y, value)
    side = int(round(_PATCH_MM * _PATCH_PX_PER_MM))
    paper = np.where(bold > 0, 0, 255).astype(np.uint8)
    centres, templates = [], []
    for x, y, _ in best.values():
        x0, y0, x1, y1 = (int(round(v * px_per_mm)) for v in (x - half, y - half, x + half, y + half))
        templates.append(cv2.resize(paper[y0:y1, x0:x1], (side, side), interpolation=cv2.INTER_AREA).astype(np.float32))
        centres.append((x, y))
    return PrintPatches(np.array(centres, np.float64).reshape(-1, 2), tuple(templates))


def _peak_offset(response: np.ndarray, at: tuple[int, int]) -> tuple[float, float]:
    """Sub-pixel position of the maximum ``at`` (x, y) of a correlation map (a parabola through its neighbours)."""
    x, y = at
    offset = []
    for axis, (before, after) in enumerate(((response[y, x - 1] if x > 0 else None,
                                             response[y, x + 1] if x + 1 < response.shape[1] else None),
                                            (response[y - 1, x] if y > 0 else None,
                                             response[y + 1, x] if y + 1 < response.shape[0] else None))):
        centre = float(response[y, x])
        if before is None or after is None or before - 2 * centre + after >= 0:
            offset.append(float((x, y)[axis]))
            continue
        offset.append((x, y)[axis] + 0.5 * float(before - after) / float(before - 2 * centre + after))
    return offset[0], offset[1]


def print_agrees(image: np.ndarray, matrix: np.ndarray, patches: PrintPatches, page_mm: tuple[float, float]) -> bool:
    """Whether the page's bold print lies where ``matrix`` puts it: enough patches found by normalised
    cross-correlation, spread over the page, and at least 80 % of them within ``_PATCH_AGREE_MM`` of their place.

    The check for pages whose bubble outlines are gone (a 1-bit threshold scan keeps bold print only): it measures
    each patch's displacement on this page, so it needs no contrast level learnt elsewhere.
    """
    found, moved = [], []
    for centre, template in zip(patches.centres_mm, patches.templates):
        corner = centre - _PATCH_MM / 2 - _PATCH_MARGIN_MM
        window = warp_rect(image, matrix, corner[0], corner[1], _PATCH_MM + 2 * _PATCH_MARGIN_MM,
                           _PATCH_MM + 2 * _PATCH_MARGIN_MM, _PATCH_PX_PER_MM).astype(np.float32)
        response = cv2.matchTemplate(window, template, cv2.TM_CCOEFF_NORMED)
        _, peak, _, at = cv2.minMaxLoc(response)
        if not np.isfinite(peak) or peak < _MIN_MATCH:
            continue
        x, y = _peak_offset(response, at)
        found.append(centre)
        moved.append(np.hypot(x - _PATCH_MARGIN_MM * _PATCH_PX_PER_MM, y - _PATCH_MARGIN_MM * _PATCH_PX_PER_MM)
                     / _PATCH_PX_PER_MM)
    if len(found) < 6:
        return False
    extent = np.ptp(np.array(found), axis=0)
    if extent[0] < 0.3 * page_mm[0] or extent[1] < 0.4 * page_mm[1]:
        return False
    return bool(np.mean(np.array(moved) <= _PATCH_AGREE_MM) >= 0.8)
