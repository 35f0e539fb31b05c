"""Printed bubbles on an upright blank page: closed outlines (ellipses, circles, rectangles) and bracket pairs.

A bubble is an outline of bubble size (2-12 mm wide, 1.5-12 mm tall, as templates allow) around a hole that
fills most of it, or a ``[`` and a ``]`` of one height facing each other (drafted as a rectangle: templates
have no bracket shape); a filled blob, a region's frame or a glyph with a small counter is not one. Whatever is dark
inside the hole is the bubble's printed label, kept as a small normalised patch for :mod:`.labels`.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from omr.template_learn.anchors import WORK_PX_PER_MM

__all__ = ["FoundBubble", "find_bubbles", "outline_mask", "outline_shape", "GLYPH_SIDE"]

#: Side of the square patch a label glyph is normalised to.
GLYPH_SIDE = 16

_WIDTH_MM, _HEIGHT_MM = (2.0, 12.0), (1.5, 12.0)
_MIN_HOLE_SHARE = 0.35  # hole area / outline area: a thin ring around a large hole
_MIN_GLYPH_PX = 6
_ELLIPSE_TOLERANCE = 0.12  # outline points' normalised radius: 1 on an ellipse, up to sqrt(2) on a box
_RECT_TOLERANCE_PX = 1.5
_CLEAR_MM = (0.2, 1.0)  # the band outside an outline looked at for other strokes (bubbles stand further apart)
_MAX_BAND_INK = 0.25  # ink share of that band: at most 0.11 beside bundled cards' bubbles, 0.47 around the 口 in 同


@dataclass(frozen=True)
class FoundBubble:
    """A bubble in page millimetres: centre, size (at the stroke's middle), shape and label patch."""

    x: float
    y: float
    width: float
    height: float
    shape: str  # ellipse or rect
    glyph: np.ndarray | None  # (GLYPH_SIDE, GLYPH_SIDE) float32, zero mean, unit norm; None when empty


def _glyph_patch(dark: np.ndarray) -> np.ndarray | None:
    rows, cols = np.nonzero(dark)
    if len(rows) < _MIN_GLYPH_PX:
        return None
    crop = dark[rows.min():rows.max() + 1, cols.min():cols.max() + 1].astype(np.float32)
    return normalise_glyph(crop)


def normalise_glyph(crop: np.ndarray) -> np.ndarray | None:
    """A glyph's ink (1 = ink) centred in a square of ``GLYPH_SIDE``, aspect kept, zero mean and unit norm."""
    height, width = crop.shape
    side = max(height, width)
    square = np.zeros((side, side), np.float32)
    top, left = (side - height) // 2, (side - width) // 2
    square[top:top + height, left:left + width] = crop
    patch = cv2.resize(square, (GLYPH_SIDE, GLYPH_SIDE), interpolation=cv2.INTER_AREA)
    patch = cv2.GaussianBlur(patch, (0, 0), 1.0)  # tolerance for a pixel's shift between two prints
    patch -= patch.mean()
    norm = float(np.linalg.norm(patch))
    return patch / norm if norm > 1e-6 else None


def outline_shape(contour: np.ndarray, left: int, top: int, width: int, height: int) -> str | None:
    """``ellipse`` when every outline point lies on the ellipse inscribed in its box, ``rect`` when every point
    lies on the box's edges, else None."""
    points = contour[:, 0, :].astype(np.float64)
    half_w, half_h = (width - 1) / 2, (height - 1) / 2
    dx, dy = points[:, 0] - (left + half_w), points[:, 1] - (top + half_h)
    radius = np.hypot(dx / max(half_w, 1.0), dy / max(half_h, 1.0))
    if np.max(np.abs(radius - 1.0)) <= _ELLIPSE_TOLERANCE:
        return "ellipse"
    to_edge = np.minimum(half_w - np.abs(dx), half_h - np.abs(dy))
    if np.max(to_edge) <= _RECT_TOLERANCE_PX:
        return "rect"
    return None


def outline_mask(page: np.ndarray, paper: float, ink: float) -> np.ndarray:
    """1 where a page raster is printed, 0 on paper: thin outlines blur to mid gray at low dpi, so the threshold
    lies nearer the paper than the ink, to keep them closed."""
    return (page < paper - 0.3 * (paper - ink)).astype(np.uint8)


def find_bubbles(page: np.ndarray, paper: float, ink: float) -> list[FoundBubble]:
    """Every bubble outline on an upright page raster (see :func:`.anchors.warp_to_mm`).

    Parameters
    ----------
    page : (rows, cols) uint8 array
        The page at ``WORK_PX_PER_MM``.
    paper, ink : float
        Gray levels of paper and solid print on this scan.

    Returns
    -------
    list of FoundBubble
        In page millimetres, in no particular order.
    """
    scale = WORK_PX_PER_MM
    mask = outline_mask(page, paper, ink)
    contours, hierarchy = cv2.findContours(mask, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_NONE)
    if hierarchy is None:
        return []
    hierarchy = hierarchy[0]
    boxes: list[tuple[int, int, int, int, str]] = []
    for index, contour in enumerate(contours):
        if hierarchy[index][3] != -1:  # a hole, not an outline
            continue
        left, top, width, height = cv2.boundingRect(contour)
        if not (_WIDTH_MM[0] * scale <= width <= (_WIDTH_MM[1] + 0.5) * scale
                and _HEIGHT_MM[0] * scale <= height <= (_HEIGHT_MM[1] + 0.5) * scale):
            continue
        outer_area = cv2.contourArea(contour)
        holes = []
        child = hierarchy[index][2]
        while child != -1:
            holes.append((cv2.contourArea(contours[child]), child))
            child = hierarchy[child][0]
        large = [hole for area, hole in holes if area > 0.1 * outer_area]
        if not large or sum(area for area, _ in holes) < _MIN_HOLE_SHARE * outer_area:
            continue
        if width < 0.9 * height:
            continue  # bubbles are round or wide; a tall ring is a digit 0 or a letter O of printed text
        shape = outline_shape(contour, left, top, width, height)
        if shape is None:
            continue  # neither an ellipse nor a rectangle: a glyph with a large counter
        if len(large) > (2 if shape == "ellipse" else 1):
            continue  # strokes across the inside: a glyph such as 四 or 日, or a crossed-out example ⊗, not a ring
        # A label touching a small ring splits its hole (B touching top and bottom leaves two): the holes
        # together must still fill the ring, unlike a glyph's counter.
        hole_left, hole_top, hole_right, hole_bottom = _union_box([cv2.boundingRect(contours[h]) for h in large])
        if hole_right - hole_left < 0.6 * width or hole_bottom - hole_top < 0.5 * height:
            continue  # a glyph's counter, not a ring around a label
        boxes.append((left, top, width, height, shape))
    boxes.extend(_bracket_pairs(contours, hierarchy, scale))
    boxes = [box for box in boxes if _clear_around(mask, box[:4])]
    if not boxes:
        return []
    strokes = []
    for left, top, width, height, shape in boxes:
        # The outline is what reaches the box's edge (a label touching it counts too: the median copes).
        _, labels = cv2.connectedComponents(mask[top:top + height, left:left + width], connectivity=8)
        edge = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
        strokes.append(_stroke(int((np.isin(labels, edge) & (labels > 0)).sum()), width, height, shape))
    # One pen drew every outline.
    stroke = float(np.median(strokes))
    found = []
    for left, top, width, height, shape in boxes:
        found.append(FoundBubble(x=(left + width / 2) / scale, y=(top + height / 2) / scale,
                                 width=(width - stroke) / scale, height=(height - stroke) / scale, shape=shape,
                                 glyph=_label(mask[top:top + height, left:left + width], stroke, shape)))
    return found


def _clear_around(mask: np.ndarray, box: tuple[int, int, int, int]) -> bool:
    """True when a band just outside the outline is mostly paper: a printed bubble stands clear, while a closed
    part of a glyph (the 口 in 同) has the glyph's other strokes a stroke's width away on most sides."""
    left, top, width, height = box
    near, far = int(round(_CLEAR_MM[0] * WORK_PX_PER_MM)), int(round(_CLEAR_MM[1] * WORK_PX_PER_MM))
    rows, cols = mask.shape
    outer = mask[max(0, top - far):min(rows, top + height + far), max(0, left - far):min(cols, left + width + far)]
    inner = mask[max(0, top - near):min(rows, top + height + near), max(0, left - near):min(cols, left + width + near)]
    band_px = outer.size - inner.size
    return band_px <= 0 or (int(outer.sum()) - int(inner.sum())) <= _MAX_BAND_INK * band_px


def _union_box(boxes: list[tuple[int, int, int, int]]) -> tuple[int, int, int, int]:
    """(left, top, right, bottom) of the union of (left, top, width, height) boxes."""
    return (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[0] + b[2] for b in boxes),
            max(b[1] + b[3] for b in boxes))


def _bracket_side(contour: np.ndarray, left: int, top: int, width: int, height: int) -> str | None:
    """``[`` or ``]`` when the outline is a square bracket of bubble height, else None."""
    if not (_HEIGHT_MM[0] * WORK_PX_PER_MM <= height <= _HEIGHT_MM[1] * WORK_PX_PER_MM) or width > 0.6 * height:
        return None
    shape = np.zeros((height, width), np.uint8)
    cv2.drawContours(shape, [contour - [left, top]], -1, 1, thickness=-1)
    third = max(1, width // 3)
    arms, middle = slice(0, max(1, height // 5)), slice(int(0.3 * height), int(0.7 * height) + 1)
    bottom = slice(height - max(1, height // 5), height)
    for side, spine, open_side in (("[", slice(0, third), slice(width - third, width)),
                                   ("]", slice(width - third, width), slice(0, third))):
        if (shape[:, spine].any(axis=1).mean() >= 0.9 and not shape[middle, open_side].any()
                and shape[arms, open_side].any() and shape[bottom, open_side].any()):
            return side
    return None


def _bracket_pairs(contours, hierarchy, scale: float) -> list[tuple[int, int, int, int, str]]:
    """Boxes of bracket bubbles (``[ A ]``): a ``[`` and the nearest ``]`` to its right of the same height,
    drafted as rectangles (templates have no bracket shape)."""
    sides: dict[str, list[tuple[int, int, int, int]]] = {"[": [], "]": []}
    for index, contour in enumerate(contours):
        if hierarchy[index][3] != -1 or hierarchy[index][2] != -1:  # a hole, or an outline with holes
            continue
        box = cv2.boundingRect(contour)
        side = _bracket_side(contour, *box)
        if side is not None:
            sides[side].append(box)
    pairs = []
    tolerance = 0.4 * scale
    for left, top, width, height in sides["["]:
        partners = [(l2 - left, l2, w2) for l2, t2, w2, h2 in sides["]"]
                    if abs(t2 - top) <= tolerance and abs(h2 - height) <= tolerance
                    and 0 < l2 + w2 - left <= (_WIDTH_MM[1] + 0.5) * scale and l2 > left + width]
        if partners:
            _, right_left, right_width = min(partners)
            total = right_left + right_width - left
            if total >= _WIDTH_MM[0] * scale:
                pairs.append((left, top, total, height, "rect"))
    return pairs


def _inside(height: int, width: int, shape: str, margin: float) -> np.ndarray:
    """1 inside a bubble's crop ``margin`` pixels within its outer edge (an ellipse or a box), else 0."""
    inside = np.zeros((height, width), np.uint8)
    axes = (int(width / 2 - margin), int(height / 2 - margin))
    if min(axes) > 0:
        if shape == "ellipse":
            cv2.ellipse(inside, (width // 2, height // 2), axes, 0, 0, 360, 1, -1)
        else:
            inside[height // 2 - axes[1]:height // 2 + axes[1] + 1, width // 2 - axes[0]:width // 2 + axes[0] + 1] = 1
    return inside > 0


def _label(crop: np.ndarray, stroke: float, shape: str) -> np.ndarray | None:
    """The label patch of one bubble: the dark parts clear of the ring, or when the label touches the ring
    (the ring's ink then reaches a stroke's width into the hole, or what is clear of it is a sliver), whatever is
    dark inside the ring's inner edge: a 22 whose 2 touches the ring is read whole, not as its other 2."""
    height, width = crop.shape
    _, labels = cv2.connectedComponents(crop, connectivity=8)
    edge = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    ring = (labels > 0) & np.isin(labels, edge)
    free = (labels > 0) & ~ring
    rows = np.nonzero(free.any(axis=1))[0]
    touches = bool((ring & _inside(height, width, shape, 2 * stroke + 2)).any())
    if not touches and len(rows) and rows[-1] - rows[0] + 1 >= 0.3 * (height - 2 * stroke):
        return _glyph_patch(free)
    return _glyph_patch((crop > 0) & _inside(height, width, shape, stroke + 1))


def _stroke(ring_px: int, width: int, height: int, shape: str) -> float:
    """Stroke width of an outline of ``ring_px`` pixels whose outer box is ``width`` x ``height``.

    An elliptical ring of outer semi-axes a, b and width s covers pi * (s * (a + b) - s**2); a rectangular one
    2 * s * (w + h) - 4 * s**2. Solved for s.
    """
    if shape == "ellipse":
        half_sum = (width + height) / 2
        return max(0.0, (half_sum - np.sqrt(max(0.0, half_sum ** 2 - 4 * ring_px / np.pi))) / 2)
    full_sum = width + height
    return max(0.0, (full_sum - np.sqrt(max(0.0, full_sum ** 2 - 4 * ring_px))) / 4)
