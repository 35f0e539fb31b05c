"""Corner anchors of a blank scan, the page size they imply, and the page warped upright into millimetres.

The four corner anchors are the solid blobs (a square, a circle or an L) nearest to each corner of the image.
Their spacing and the scan's dpi give the page size (A4, A3, Letter, 8K, 16K, portrait or landscape); the
anchors are then given millimetre positions on that page and a perspective transform maps the scan onto an
upright raster of ``WORK_PX_PER_MM`` pixels per millimetre, where bubbles are looked for.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from omr.geometry import MM_PER_INCH
from omr.template import PAGE_SIZES_MM

__all__ = ["LearnError", "FoundAnchor", "PageFrame", "find_page_frame", "warp_to_mm", "ink_levels",
           "WORK_PX_PER_MM", "NOMINAL_PAGES_MM"]

#: Resolution of the upright working raster, pixels per millimetre (~203 dpi).
WORK_PX_PER_MM = 8.0

#: Page sizes a blank scan is matched against (portrait width, height in mm); landscape is tried too.
NOMINAL_PAGES_MM: dict[str, tuple[float, float]] = {**PAGE_SIZES_MM, "Letter": (215.9, 279.4)}

_ANCHOR_MM = (2.0, 20.0)  # anchor sides the template schema allows
_SQUARE_FILL, _CIRCLE_FILL = 0.9, 0.68  # blob area / its rotated box: square ~1, circle pi/4, L 5/9
_MIN_SOLID_FILL = 0.45
_SHAPE_FILL = {"square": 1.0, "circle": np.pi / 4, "l_corner": 5 / 9}  # printed area / side²
_CENTRE_TOLERANCE_MM = 4.0
_SCANNER_DPIS = (100, 150, 200, 300, 400, 600)  # anchors this close to symmetric on the page are taken as symmetric


class LearnError(ValueError):
    """A blank scan from which no template can be drafted, with the reason."""


@dataclass(frozen=True)
class FoundAnchor:
    """One corner anchor: its box centre in image pixels, shape, side in mm and (for an L) its elbow corner."""

    corner: str  # which page corner it marks: tl, tr, bl, br
    x_px: float
    y_px: float
    size_mm: float
    shape: str  # square, circle, l_corner
    elbow: str  # tl, tr, bl, br (meaningful for l_corner)


@dataclass(frozen=True)
class PageFrame:
    """Where the page is in the scan: page size, anchors in mm, and the map from image pixels to page mm."""

    page_size: str | None  # a named size, or None for a custom one
    width_mm: float
    height_mm: float
    anchors: tuple[FoundAnchor, ...]
    anchors_mm: tuple[tuple[float, float], ...]  # (x, y) of each anchor's box centre, same order
    image_to_mm: np.ndarray  # 3x3 homography
    px_per_mm: float  # of the scan


def ink_levels(image: np.ndarray) -> tuple[float, float]:
    """(paper, ink) gray levels of a blank page: its median and its darkest 0.1 % (solid print)."""
    histogram = np.bincount(image.ravel(), minlength=256).cumsum()
    total = histogram[-1]
    paper = float(np.searchsorted(histogram, 0.5 * total))
    ink = float(np.searchsorted(histogram, 0.001 * total))
    if paper - ink < 40:
        raise LearnError("the image has no dark print (paper and darkest ink differ by less than 40 gray levels)")
    return paper, ink


def _solid_blobs(mask: np.ndarray, px_per_mm: tuple[float, float]) -> list[tuple[float, float, float, str, str]]:
    """Solid blobs of anchor size: (centre x, centre y, side px, shape, elbow corner)."""
    low, high = _ANCHOR_MM[0] * px_per_mm[0] * 0.8, _ANCHOR_MM[1] * px_per_mm[1] * 1.15
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    blobs = []
    for index in range(1, count):
        left, top, width, height, area = stats[index]
        if not (low <= max(width, height) <= high * 1.5) or area < low * low * 0.4:
            continue
        points = np.column_stack(np.nonzero(labels[top:top + height, left:left + width] == index)[::-1])
        (cx, cy), (side_a, side_b), _ = cv2.minAreaRect(points.astype(np.float32))
        side_a, side_b = side_a + 1, side_b + 1  # pixel centres to pixel edges
        if not (low <= max(side_a, side_b) <= high) or max(side_a, side_b) > 1.3 * min(side_a, side_b):
            continue
        fill = area / (side_a * side_b)
        if fill < _MIN_SOLID_FILL or fill > 1.25:
            continue
        shape = "square" if fill >= _SQUARE_FILL else "circle" if fill >= _CIRCLE_FILL else "l_corner"
        mean_x, mean_y = points[:, 0].mean(), points[:, 1].mean()
        cx, cy = cx + left, cy + top
        # An L's mass leans towards its elbow.
        elbow = ("t" if mean_y + top < cy else "b") + ("l" if mean_x + left < cx else "r")
        # The side from the blob's area (exact at a mid-gray threshold, unlike its pixel box under skew).
        blobs.append((cx, cy, float(np.sqrt(area / _SHAPE_FILL[shape])), shape, elbow))
    return blobs


def _pick_corners(blobs: list, shape: tuple[int, int]) -> list[tuple[str, tuple]]:
    rows, cols = shape
    corners = {"tl": (0.0, 0.0), "tr": (cols - 1.0, 0.0), "bl": (0.0, rows - 1.0), "br": (cols - 1.0, rows - 1.0)}
    picked = []
    for name, (x, y) in corners.items():
        inside = [b for b in blobs if (b[0] < cols / 2) == (name[1] == "l") and (b[1] < rows / 2) == (name[0] == "t")]
        if inside:
            picked.append((name, min(inside, key=lambda b: np.hypot(b[0] - x, b[1] - y))))
    return picked


def _scanner_dpi(px_per_mm: float) -> float:
    """The dpi of a scan whose file does not say: the nearest resolution scanners use when the image size is
    within 5 % of it (a scan is the page plus a few millimetres of overscan), else the image size's own."""
    estimate = px_per_mm * MM_PER_INCH
    nearest = min(_SCANNER_DPIS, key=lambda dpi: abs(dpi - estimate))
    return float(nearest) if abs(nearest - estimate) <= 0.05 * nearest else estimate


def _page_candidates() -> list[tuple[str, float, float]]:
    out = []
    for name, (w, h) in NOMINAL_PAGES_MM.items():
        out.append((name, w, h))
        out.append((f"{name} landscape", h, w))
    return out


def _choose_page(spacing_px: tuple[float, float], shape: tuple[int, int], dpi: float | None
                 ) -> tuple[str, float, float, float]:
    """(name, width mm, height mm, px per mm) of the nominal page that fits the anchors' spacing and the scan."""
    rows, cols = shape
    best: tuple[float, tuple[str, float, float, float]] | None = None
    for name, width, height in _page_candidates():
        unusual = False
        if dpi:
            px_per_mm = dpi / MM_PER_INCH
        else:
            # A4, A3 and 8K share one aspect: without a dpi, the size read at a resolution scanners use wins.
            resolution = _scanner_dpi((cols / width + rows / height) / 2)
            unusual = resolution not in _SCANNER_DPIS
            px_per_mm = resolution / MM_PER_INCH
        spacing_w, spacing_h = spacing_px[0] / px_per_mm, spacing_px[1] / px_per_mm
        margin_w, margin_h = (width - spacing_w) / 2, (height - spacing_h) / 2
        if not (1.0 <= margin_w <= 45.0 and 1.0 <= margin_h <= 45.0):
            continue
        # The scan is the paper plus at most a little overscan: its size in mm should match the page.
        misfit = abs(cols / px_per_mm - width) + abs(rows / px_per_mm - height) + (1000.0 if unusual else 0.0)
        if best is None or misfit < best[0]:
            best = (misfit, (name, width, height, px_per_mm))
    if best is None or best[0] % 1000.0 > 0.12 * (best[1][1] + best[1][2]):
        size = f"{cols}x{rows} px" + (f" at {dpi:g} dpi" if dpi else "")
        raise LearnError(f"the corner anchors' spacing fits no page size of {', '.join(NOMINAL_PAGES_MM)} "
                         f"({size}); is the scan cropped or its dpi wrong?")
    return best[1]


def find_page_frame(image: np.ndarray, dpi: float | None) -> PageFrame:
    """Find the four corner anchors of a blank scan and the page they frame.

    Parameters
    ----------
    image : (rows, cols) uint8 array
        The scan, 255 = paper, roughly upright (a few degrees of skew are fine).
    dpi : float or None
        The scan's resolution when the file records it; otherwise it is inferred from the page size.

    Returns
    -------
    PageFrame

    Raises
    ------
    LearnError
        When fewer than four corner anchors are found or their spacing fits no page size.
    """
    paper, ink = ink_levels(image)
    mask = (image < (paper + ink) / 2).astype(np.uint8)
    rows, cols = image.shape
    if dpi:
        guess = (dpi / MM_PER_INCH, dpi / MM_PER_INCH)
    else:  # anywhere between an A3 and a 16K page across the image
        guess = (min(rows, cols) / 297.0, min(rows, cols) / 184.0)
    picked = _pick_corners(_solid_blobs(mask, guess), image.shape)
    if len(picked) < 4:
        found = ", ".join(name for name, _ in picked) or "none"
        raise LearnError(f"found {len(picked)} of 4 corner anchors (solid squares, circles or L-marks of "
                         f"{_ANCHOR_MM[0]:g}-{_ANCHOR_MM[1]:g} mm near each corner; found: {found})")
    centres = {name: np.array(blob[:2]) for name, blob in picked}
    spacing = (float(np.linalg.norm(centres["tr"] - centres["tl"]) + np.linalg.norm(centres["br"] - centres["bl"])) / 2,
               float(np.linalg.norm(centres["bl"] - centres["tl"]) + np.linalg.norm(centres["br"] - centres["tr"])) / 2)
    name, width, height, px_per_mm = _choose_page(spacing, image.shape, dpi)
    spacing_w, spacing_h = round(spacing[0] / px_per_mm, 1), round(spacing[1] / px_per_mm, 1)
    # Where the anchors sit on the paper: symmetric when the scan shows them nearly so (which cancels a
    # feeder's shift), else as measured with the paper assumed centred in the scan. The anchors' mean is
    # compared with the image centre: a skew about the centre leaves it in place.
    mean = np.mean([centres[c] for c in centres], axis=0)
    offset_x, offset_y = (mean[0] - (cols - 1) / 2) / px_per_mm, (mean[1] - (rows - 1) / 2) / px_per_mm
    left, top = (width - spacing_w) / 2, (height - spacing_h) / 2
    if abs(offset_x) > _CENTRE_TOLERANCE_MM:
        left += offset_x
    if abs(offset_y) > _CENTRE_TOLERANCE_MM:
        top += offset_y
    left, top = round(left, 1), round(top, 1)
    order = ("tl", "tr", "bl", "br")
    targets = {"tl": (left, top), "tr": (left + spacing_w, top), "bl": (left, top + spacing_h),
               "br": (left + spacing_w, top + spacing_h)}
    blobs = dict(picked)
    anchors = tuple(
        FoundAnchor(corner, float(blobs[corner][0]), float(blobs[corner][1]),
                    float(np.clip(round(blobs[corner][2] / px_per_mm, 1), *_ANCHOR_MM)), blobs[corner][3],
                    blobs[corner][4])
        for corner in order
    )
    source = np.array([centres[c] for c in order], np.float32)
    target = np.array([targets[c] for c in order], np.float32)
    matrix = cv2.getPerspectiveTransform(source, target)
    named = None if name.endswith("landscape") or name == "Letter" else name
    return PageFrame(named, width, height, anchors, tuple(targets[c] for c in order), matrix, px_per_mm)


def warp_to_mm(image: np.ndarray, frame: PageFrame) -> np.ndarray:
    """The page upright at ``WORK_PX_PER_MM``: pixel (c, r) has its centre at ((c + 0.5) / s, (r + 0.5) / s) mm."""
    scale = WORK_PX_PER_MM
    to_work = np.array([[scale, 0, -0.5], [0, scale, -0.5], [0, 0, 1]], np.float64) @ frame.image_to_mm
    size = (int(round(frame.width_mm * scale)), int(round(frame.height_mm * scale)))
    return cv2.warpPerspective(image, to_work, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
