"""The filling guide (填涂说明) on an upright blank page: printed examples of how to mark, never read.

A blank answer card prints no filled bubble but one: the 正确填涂 example. So a solid ellipse of bubble size (not
a corner anchor) is that example, and the outlines of its size on its row to its right are the 错误填涂 examples
(a tick ✓, a cross ⊗, a dot ⊙ drawn inside an outline: marks, not labels; the convention on Chinese cards is the
right way first, then the wrong ways). They are a ``guide``, never bubbles to read.

When a printed frame holds the filled example (the guide's box, which the template's ``guide`` draws), the examples
are the outlines on its row inside the frame, and the box is drafted as the ``guide`` field. Without a frame they
are the first run of outlines on the row within ``_REACH`` bubble widths to the right (room for a label such as
错误填涂 between), and no ``guide`` field is drafted (its box is not printed). Examples printed on a line below the
filled one are not recognised.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from omr.template_learn.anchors import WORK_PX_PER_MM
from omr.template_learn.bubbles import FoundBubble, outline_mask, outline_shape

__all__ = ["FoundGuide", "find_guides"]

_WIDTH_MM, _HEIGHT_MM = (2.0, 12.0), (1.5, 12.0)  # bubble sizes the template schema allows
_MIN_FILL = 0.9  # ink share of the inscribed ellipse: a solid blob, not an outline or a glyph
_SIZE_MM = 0.6  # an example outline is the filled example's size within this
_REACH = 10.0  # in bubble widths: how far right of the filled example the wrong-way examples may start
_MAX_GAP = 2.2  # in bubble widths: a larger gap ends the run of examples
_ANCHOR_MM = 3.0  # a solid ellipse this near a corner anchor's centre is that anchor (a circle)
_BOX_W, _BOX_H = (60.0, 200.0), (12.0, 60.0)  # guide boxes the template schema allows


@dataclass(frozen=True)
class FoundGuide:
    """A filling guide: its box (None when no frame is printed around it), the examples' bubble size and the
    printed outlines that are its examples (page millimetres)."""

    box: tuple[float, float, float, float] | None  # x, y (top-left), w, h at the frame's stroke middle
    width: float
    height: float
    examples: tuple[FoundBubble, ...]


def _solid_ellipses(mask: np.ndarray, contours, hierarchy) -> list[tuple[float, float, float, float]]:
    """(x, y, width, height) in mm of every solid ellipse of bubble size."""
    scale = WORK_PX_PER_MM
    found = []
    for index, contour in enumerate(contours):
        if hierarchy[index][3] != -1:
            continue
        left, top, width, height = cv2.boundingRect(contour)
        if not (_WIDTH_MM[0] * scale <= width <= _WIDTH_MM[1] * scale
                and _HEIGHT_MM[0] * scale <= height <= _HEIGHT_MM[1] * scale) or width < 0.9 * height:
            continue
        if outline_shape(contour, left, top, width, height) != "ellipse":
            continue
        inscribed = np.zeros((height, width), np.uint8)
        cv2.ellipse(inscribed, (width // 2, height // 2), (max(1, width // 2 - 1), max(1, height // 2 - 1)),
                    0, 0, 360, 1, -1)
        crop = mask[top:top + height, left:left + width]
        if crop[inscribed > 0].mean() >= _MIN_FILL:
            found.append(((left + width / 2) / scale, (top + height / 2) / scale, width / scale, height / scale))
    return found


def _frame_around(x: float, y: float, contours, hierarchy) -> tuple[float, float, float, float] | None:
    """The smallest printed rectangular frame of a guide box's size around (x, y) mm, at its stroke middle."""
    scale = WORK_PX_PER_MM
    best = None
    for index, contour in enumerate(contours):
        parent = hierarchy[index][3]
        if parent == -1:
            continue  # not a hole
        left, top, width, height = cv2.boundingRect(contour)
        if not (left < x * scale < left + width and top < y * scale < top + height):
            continue
        if cv2.contourArea(contour) < 0.9 * width * height:
            continue  # not a rectangle's inside
        o_left, o_top, o_width, o_height = cv2.boundingRect(contours[parent])
        box = ((left + o_left) / 2 / scale, (top + o_top) / 2 / scale, (width + o_width) / 2 / scale,
               (height + o_height) / 2 / scale)
        if (_BOX_W[0] - 1 <= box[2] <= _BOX_W[1] + 1 and _BOX_H[0] - 1 <= box[3] <= _BOX_H[1] + 1
                and (best is None or box[2] * box[3] < best[2] * best[3])):
            best = box
    return best


def _examples(filled: tuple[float, float, float, float], bubbles: list[FoundBubble],
              box: tuple[float, float, float, float] | None) -> list[FoundBubble]:
    x, y, width, height = filled
    on_row = sorted((b for b in bubbles if abs(b.y - y) <= max(0.6, 0.25 * height) and b.x > x
                     and abs(b.width - width) <= _SIZE_MM and abs(b.height - height) <= _SIZE_MM),
                    key=lambda b: b.x)
    if box is not None:
        left, top, w, h = box
        return [b for b in on_row if left < b.x < left + w and top < b.y < top + h]
    run: list[FoundBubble] = []
    for bubble in on_row:
        previous = run[-1].x if run else x
        if bubble.x - previous > (_REACH if not run else _MAX_GAP) * width:
            break
        run.append(bubble)
    return run


def find_guides(page: np.ndarray, paper: float, ink: float, bubbles: list[FoundBubble],
                anchors_mm: list[tuple[float, float]]) -> tuple[list[FoundGuide], list[FoundBubble]]:
    """The filling guides of an upright page raster, and the bubbles that are not their examples.

    Parameters
    ----------
    page : (rows, cols) uint8 array
        The page at ``WORK_PX_PER_MM`` (see :func:`.anchors.warp_to_mm`).
    paper, ink : float
        Gray levels of paper and solid print on this scan.
    bubbles : list of FoundBubble
        The page's printed outlines (:func:`.bubbles.find_bubbles`).
    anchors_mm : list of (x, y)
        Centres of the corner anchors (a circle anchor is solid too).

    Returns
    -------
    guides : list of FoundGuide
    bubbles : list of FoundBubble
        ``bubbles`` without the guides' examples.
    """
    mask = outline_mask(page, paper, ink)
    contours, hierarchy = cv2.findContours(mask, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    if hierarchy is None:
        return [], bubbles
    hierarchy = hierarchy[0]
    guides = []
    taken: set[int] = set()
    for filled in _solid_ellipses(mask, contours, hierarchy):
        x, y = filled[:2]
        if any(np.hypot(x - ax, y - ay) <= _ANCHOR_MM for ax, ay in anchors_mm):
            continue
        box = _frame_around(x, y, contours, hierarchy)
        examples = [b for b in _examples(filled, bubbles, box) if id(b) not in taken]
        if box is None and not examples:
            continue  # a solid ellipse alone, neither framed nor beside examples: not recognised as a guide
        taken.update(id(b) for b in examples)
        # The examples' outlines measure at their stroke's middle, as bubbles do; the filled one only outside.
        width = float(np.median([b.width for b in examples])) if examples else filled[2]
        height = float(np.median([b.height for b in examples])) if examples else filled[3]
        guides.append(FoundGuide(box, width, height, tuple(examples)))
    return guides, [b for b in bubbles if id(b) not in taken]
