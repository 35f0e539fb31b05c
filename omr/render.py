"""Raster rendering of a blank template page (grayscale, 255 = paper, 0 = black ink).

OMR renders each page once per dpi to learn how dark every *empty* bubble prints (outline and label), and the
simulator draws marks on top of it.
"""

from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np

from omr.geometry import MM_PER_INCH, page_shape_px
from omr.layout import (FillEllipse, FillPolygon, FillRect, Label, StrokeEllipse, StrokeRect,
                        page_primitives)
from omr.template import ExpandedPage

__all__ = ["render_page", "render_page_cached"]

_SHIFT = 4  # OpenCV sub-pixel bits: coordinates are multiplied by 16
_FONT = cv2.FONT_HERSHEY_SIMPLEX
_FONT_CAP_HEIGHT = 22.0  # Hershey simplex cap height in pixels at fontScale 1


def _fixed(value: float) -> int:
    return int(round(value * (1 << _SHIFT)))


def _ascii(label: Label) -> str:
    if label.ascii is not None:
        return label.ascii
    return "".join(ch for ch in label.text if ord(ch) < 128).strip()


def render_page(page: ExpandedPage, dpi: float) -> np.ndarray:
    """Render ``page`` at ``dpi`` as a uint8 grayscale image of the page's physical size.

    Text that is not ASCII is drawn from its ``ascii`` alternative (the PDF renderer draws the real text).
    """
    scale = dpi / MM_PER_INCH
    rows, cols = page_shape_px(page.width_mm, page.height_mm, dpi)
    image = np.full((rows, cols), 255, np.uint8)

    def px(x: float, y: float) -> tuple[int, int]:
        return _fixed(x * scale - 0.5), _fixed(y * scale - 0.5)

    def edge_px(x: float, y: float) -> list[int]:
        # Polygon vertices lie on pixel edges: an edge at mm position e is at e*scale - 0.5 in centre units.
        return [_fixed(x * scale - 0.5), _fixed(y * scale - 0.5)]

    for item in page_primitives(page):
        if isinstance(item, FillRect):
            corners = [(item.x, item.y), (item.x + item.w, item.y), (item.x + item.w, item.y + item.h),
                       (item.x, item.y + item.h)]
            _fill_polygon(image, [edge_px(x, y) for x, y in corners])
        elif isinstance(item, FillPolygon):
            _fill_polygon(image, [edge_px(x, y) for x, y in item.points])
        elif isinstance(item, FillEllipse):
            cv2.ellipse(image, px(item.cx, item.cy), (_fixed(item.rx * scale), _fixed(item.ry * scale)), 0, 0, 360,
                        0, -1, cv2.LINE_AA, _SHIFT)
        elif isinstance(item, StrokeEllipse):
            thickness = max(1, int(round(item.width * scale)))
            cv2.ellipse(image, px(item.cx, item.cy), (_fixed(item.rx * scale), _fixed(item.ry * scale)), 0, 0, 360,
                        int(item.gray * 255), thickness, cv2.LINE_AA, _SHIFT)
        elif isinstance(item, StrokeRect):
            thickness = max(1, int(round(item.width * scale)))
            _stroke_rect(image, item, scale, thickness)
        elif isinstance(item, Label):
            text = _ascii(item)
            if not text:
                continue
            font_scale = item.size * scale / _FONT_CAP_HEIGHT
            stroke = max(1, int(round(font_scale * 1.6)))
            (width, height), _ = cv2.getTextSize(text, _FONT, font_scale, stroke)
            if item.centred:
                origin = (int(round(item.x * scale - width / 2)), int(round(item.y * scale + height / 2)))
            else:
                origin = (int(round(item.x * scale)), int(round(item.y * scale)))
            cv2.putText(image, text, origin, _FONT, font_scale, int(item.gray * 255), stroke, cv2.LINE_AA)
    return image


def _fill_polygon(image: np.ndarray, points: list[list[int]]) -> None:
    cv2.fillPoly(image, [np.array(points, np.int32)], 0, cv2.LINE_AA, _SHIFT)


def _stroke_rect(image: np.ndarray, item: StrokeRect, scale: float, thickness: int) -> None:
    x0, y0 = item.x * scale - 0.5, item.y * scale - 0.5
    x1, y1 = (item.x + item.w) * scale - 0.5, (item.y + item.h) * scale - 0.5
    color = int(item.gray * 255)
    segments = [((x0, y0), (x1, y0)), ((x1, y0), (x1, y1)), ((x1, y1), (x0, y1)), ((x0, y1), (x0, y0))]
    for (ax, ay), (bx, by) in segments:
        if not item.dashed:
            cv2.line(image, (_fixed(ax), _fixed(ay)), (_fixed(bx), _fixed(by)), color, thickness, cv2.LINE_AA, _SHIFT)
            continue
        length = float(np.hypot(bx - ax, by - ay))
        dash = 2.0 * scale
        for start in np.arange(0.0, length, 2 * dash):
            t0, t1 = start / length, min(start + dash, length) / length
            p0 = (_fixed(ax + (bx - ax) * t0), _fixed(ay + (by - ay) * t0))
            p1 = (_fixed(ax + (bx - ax) * t1), _fixed(ay + (by - ay) * t1))
            cv2.line(image, p0, p1, color, thickness, cv2.LINE_AA, _SHIFT)


@lru_cache(maxsize=16)
def render_page_cached(page: ExpandedPage, dpi: float) -> np.ndarray:
    """:func:`render_page`, cached per (page, dpi); the returned array is read-only."""
    image = render_page(page, dpi)
    image.setflags(write=False)
    return image
