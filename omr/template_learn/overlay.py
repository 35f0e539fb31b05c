"""An overlay PNG of a draft on its scan: anchors, timing bars, identity cells, every drafted bubble and its group."""

from __future__ import annotations

import copy

import cv2
import numpy as np

from omr.layout import timing_bar_rects
from omr.template import expand_page, parse_template
from omr.template_learn.anchors import PageFrame

__all__ = ["draw_overlay"]

_ANCHOR, _BUBBLE, _TEXT, _IDENTITY = (0, 160, 0), (0, 0, 230), (200, 60, 0), (200, 0, 200)


def _drawable(draft: dict, page: int) -> dict:
    """A one-page copy of the draft that the schema accepts, for drawing only."""
    single = copy.deepcopy(draft)
    single["pages"] = [single["pages"][page - 1]]
    single.pop("code", None)
    return single


def draw_overlay(image: np.ndarray, frame: PageFrame, draft: dict, page: int) -> np.ndarray:
    """The scan in colour with the draft of page ``page`` (1-based) drawn where it maps.

    Parameters
    ----------
    image : (rows, cols) uint8 array
        The scan the draft was learned from.
    frame : PageFrame
        Its frame (image pixels to page mm).
    draft : dict
        The draft template JSON.
    page : int
        Which page of the draft ``image`` is.
    """
    expanded = expand_page(parse_template(_drawable(draft, page)), 1)
    to_image = np.linalg.inv(frame.image_to_mm)
    px_per_mm = frame.px_per_mm
    canvas = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    canvas = cv2.addWeighted(canvas, 0.6, np.full_like(canvas, 255), 0.4, 0)  # fade the scan under the drawing

    def point(x: float, y: float) -> tuple[int, int]:
        mapped = to_image @ np.array([x, y, 1.0])
        return int(round(mapped[0] / mapped[2])), int(round(mapped[1] / mapped[2]))

    thickness = max(1, int(round(0.3 * px_per_mm)))
    for anchor in expanded.anchors:
        half_w, half_h = anchor.box[0] / 2, anchor.box[1] / 2
        cv2.rectangle(canvas, point(anchor.x - half_w, anchor.y - half_h), point(anchor.x + half_w, anchor.y + half_h),
                      _ANCHOR, thickness)
    for x, y, w, h in timing_bar_rects(expanded):
        cv2.rectangle(canvas, point(x, y), point(x + w, y + h), _ANCHOR, thickness)
    strip = draft["pages"][page - 1].get("identity")
    if strip is not None:
        for i, bit in enumerate(expanded.identity_bits):
            x, half = strip["x"] + i * strip["pitch"], strip["cell"] / 2
            cv2.rectangle(canvas, point(x - half, strip["y"] - half), point(x + half, strip["y"] + half), _IDENTITY,
                          thickness if bit else 1)
    font_scale = 0.06 * px_per_mm
    named: set[str] = set()
    for group in expanded.groups:
        for bubble in group.bubbles:
            centre = point(bubble.x, bubble.y)
            axes = (max(1, int(round(bubble.width / 2 * px_per_mm))), max(1, int(round(bubble.height / 2 * px_per_mm))))
            cv2.ellipse(canvas, centre, axes, 0, 0, 360, _BUBBLE, thickness, cv2.LINE_AA)
        # A question is named by its number; a grid or score box once, by its field id.
        name = group.id if group.kind in ("question", "mark") else group.field_id
        if name in named:
            continue
        named.add(name)
        first = group.bubbles[0]
        cv2.putText(canvas, name, point(first.x - first.width / 2, first.y - first.height / 2 - 0.4),
                    cv2.FONT_HERSHEY_SIMPLEX, font_scale, _TEXT, max(1, thickness // 2), cv2.LINE_AA)
    return canvas
