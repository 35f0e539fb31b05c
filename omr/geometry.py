"""Millimetre template coordinates to pixels of a page rendered at a given dpi.

Pixel convention (NumPy/OpenCV): the centre of pixel ``image[r, c]`` is at ``(x=c, y=r)``. A point ``mm``
millimetres from the page's left edge is therefore at ``mm * dpi / 25.4 - 0.5`` pixels.
"""

from __future__ import annotations

import numpy as np

from omr.layout import identity_cell_rects
from omr.template import ExpandedPage, Template, expand_page

__all__ = ["MM_PER_INCH", "mm_to_px", "page_shape_px", "page_geometry", "template_geometry"]

MM_PER_INCH = 25.4


def mm_to_px(mm: float | np.ndarray, dpi: float) -> float | np.ndarray:
    """Pixel coordinate (centre convention above) of a position ``mm`` millimetres from the page edge."""
    return mm * (dpi / MM_PER_INCH) - 0.5


def page_shape_px(width_mm: float, height_mm: float, dpi: float) -> tuple[int, int]:
    """(rows, columns) of a page rendered at ``dpi``."""
    return (int(round(height_mm * dpi / MM_PER_INCH)), int(round(width_mm * dpi / MM_PER_INCH)))


def page_geometry(page: ExpandedPage, dpi: float) -> dict:
    """Every anchor, bubble, identity cell, region and timing bar of a page in pixels at ``dpi``, as plain JSON
    data."""
    scale = dpi / MM_PER_INCH
    rows, cols = page_shape_px(page.width_mm, page.height_mm, dpi)

    def point(x: float, y: float) -> list[float]:
        return [round(float(mm_to_px(x, dpi)), 2), round(float(mm_to_px(y, dpi)), 2)]

    def rect(x: float, y: float, w: float, h: float) -> dict:
        return {"x": round(x * scale, 2), "y": round(y * scale, 2), "w": round(w * scale, 2), "h": round(h * scale, 2)}

    bubbles = []
    for group, bubble in page.bubbles:
        bubbles.append({
            "group": group.id, "field": group.field_id, "kind": group.kind, "label": bubble.label,
            "center": point(bubble.x, bubble.y),
            "radius": [round(bubble.width / 2 * scale, 2), round(bubble.height / 2 * scale, 2)],
            "radius_px": round(min(bubble.width, bubble.height) / 2 * scale, 2),
        })
    return {
        "page": page.page,
        "dpi": dpi,
        "size_px": [cols, rows],
        "anchors": [
            {"id": a.id, "shape": a.shape, "center": point(a.x, a.y), "size": round(a.size * scale, 2),
             "box": [round(a.box[0] * scale, 2), round(a.box[1] * scale, 2)]}
            for a in page.anchors
        ],
        "identity": [
            {"bit": bit, **rect(x, y, w, h)} for bit, (x, y, w, h) in zip(page.identity_bits, identity_cell_rects(page))
        ],
        "bubbles": bubbles,
        "regions": [{"id": r.id, "question": r.question, **rect(r.x, r.y, r.w, r.h)} for r in page.regions],
        "barcodes": [{"id": r.id, "symbology": r.symbology, **rect(r.x, r.y, r.w, r.h)} for r in page.barcodes],
        "timing": [{"id": track.id, "side": track.side,
                    "bars": [rect(x - track.bar_width / 2, y - track.bar_height / 2, track.bar_width, track.bar_height)
                             for x, y in track.bar_centres()]} for track in page.timing],
    }


def template_geometry(template: Template, dpi: float) -> dict:
    """Geometry of every page of ``template`` at ``dpi`` (see :func:`page_geometry`)."""
    return {
        "template": template.id,
        "code": template.identity_code,
        "page_mm": list(template.page_mm),
        "pages": [page_geometry(expand_page(template, n), dpi) for n in range(1, len(template.pages) + 1)],
    }
