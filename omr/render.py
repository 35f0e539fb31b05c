"""Raster rendering of a blank template page (grayscale, 255 = paper, 0 = black ink).

OMR renders each page once per dpi to learn how dark every *empty* bubble prints (outline and label), and the
simulator draws marks on top of it.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from omr.geometry import MM_PER_INCH, page_shape_px
from omr.layout import (FillEllipse, FillPolygon, FillRect, Label, StrokeEllipse, StrokeRect,
                        page_primitives)
from omr.template import ExpandedPage

__all__ = ["render_page", "render_page_cached", "cjk_font_candidates", "cjk_font_path", "cjk_font"]

_SHIFT = 4  # OpenCV sub-pixel bits: coordinates are multiplied by 16
_FONT = cv2.FONT_HERSHEY_SIMPLEX
_FONT_CAP_HEIGHT = 22.0  # Hershey simplex cap height in pixels at fontScale 1


_LATIN_CAP_HEIGHT = 0.718  # em fraction the PDF sizes text by (Helvetica's cap height), kept for the CJK font

# Font files worth trying, best first (the Makefile installs fonts-wqy-microhei). OpenType/CFF collections are
# listed for the PDF renderer, which skips those reportlab cannot embed.
_CJK_FONT_FILES = (
    "wqy-microhei.ttc", "wqy-zenhei.ttc", "DroidSansFallbackFull.ttf", "DroidSansFallback.ttf",
    "NotoSansSC-Regular.ttf", "NotoSansCJKsc-Regular.ttf", "NotoSansCJK-Regular.ttc",
    "msyh.ttc", "msyh.ttf", "simhei.ttf", "simsun.ttc", "Deng.ttf", "arialuni.ttf", "Arial Unicode.ttf",
    "STHeiti Light.ttc", "Hiragino Sans GB.ttc",
)
_FONT_DIRS = (
    "/usr/share/fonts", "/usr/local/share/fonts", "~/.local/share/fonts", "~/.fonts",
    "/Library/Fonts", "/System/Library/Fonts", "~/Library/Fonts", "C:/Windows/Fonts",
)


def cjk_font_candidates() -> list[Path]:
    """CJK font files on this machine, best first (``YUEJUAN_CJK_FONT`` names one explicitly)."""
    explicit = os.environ.get("YUEJUAN_CJK_FONT")
    found: list[Path] = [Path(explicit)] if explicit else []
    wanted = {name.lower(): rank for rank, name in enumerate(_CJK_FONT_FILES)}
    hits: list[tuple[int, Path]] = []
    for directory in _FONT_DIRS:
        root = Path(directory).expanduser()
        if not root.is_dir():
            continue
        for folder, _, files in os.walk(root):
            for name in files:
                rank = wanted.get(name.lower())
                if rank is not None:
                    hits.append((rank, Path(folder) / name))
    return found + [path for _, path in sorted(hits)]


@lru_cache(maxsize=1)
def cjk_font_path() -> Path | None:
    """The first CJK font Pillow can open, or None (PNG text then falls back to its ASCII alternative)."""
    for path in cjk_font_candidates():
        try:
            font = ImageFont.truetype(str(path), 20)
        except OSError:
            continue
        # A font without Chinese draws 答 as its missing-glyph box, the same as an unassigned character.
        if np.asarray(font.getmask("答")).tobytes() != np.asarray(font.getmask("\uffff")).tobytes():
            return path
    return None


@lru_cache(maxsize=64)
def cjk_font(em_px: int) -> ImageFont.FreeTypeFont:
    """The CJK font at ``em_px`` pixels (cached: labels, overlays and notes ask for a few sizes again and again);
    only call it when :func:`cjk_font_path` found one."""
    path = cjk_font_path()
    assert path is not None
    return ImageFont.truetype(str(path), em_px)


@lru_cache(maxsize=4096)
def _glyphs(text: str, em_px: int) -> tuple[np.ndarray, int, int, int]:
    """Coverage (uint8, 255 = ink) of ``text`` set in the CJK font, its left/top offset from the pen position
    on the baseline, and its advance width; cached because every page repeats the same few labels."""
    font = cjk_font(em_px)
    left, top, right, bottom = font.getbbox(text, anchor="ls")
    width, height = max(1, right - left), max(1, bottom - top)
    canvas = Image.new("L", (width, height), 0)
    ImageDraw.Draw(canvas).text((-left, -top), text, fill=255, font=font, anchor="ls")
    coverage = np.asarray(canvas, np.uint8)
    coverage.setflags(write=False)
    return coverage, left, top, int(round(font.getlength(text)))


def _draw_cjk(image: np.ndarray, label: Label, scale: float) -> None:
    """Draw ``label`` as the PDF does: one em for the whole label, Latin capitals ``size`` mm tall."""
    em_px = max(4, int(round(label.size * scale / _LATIN_CAP_HEIGHT)))
    coverage, left, top, advance = _glyphs(label.text, em_px)
    if label.centred:  # baseline half a cap height below the centre, as in the PDF
        pen_x, pen_y = label.x * scale - advance / 2, (label.y + label.size / 2) * scale
    else:
        pen_x, pen_y = label.x * scale, label.y * scale
    x0, y0 = int(round(pen_x)) + left, int(round(pen_y)) + top
    rows, cols = coverage.shape
    top_clip, left_clip = max(0, -y0), max(0, -x0)
    bottom, right = min(image.shape[0], y0 + rows), min(image.shape[1], x0 + cols)
    if bottom <= y0 + top_clip or right <= x0 + left_clip:
        return
    alpha = coverage[top_clip:bottom - y0, left_clip:right - x0].astype(np.float32) / 255.0
    target = image[y0 + top_clip:bottom, x0 + left_clip:right]
    ink = label.gray * 255.0
    target[...] = np.round(target * (1.0 - alpha) + ink * alpha).astype(np.uint8)


def _fixed(value: float) -> int:
    return int(round(value * (1 << _SHIFT)))


def _ascii(label: Label) -> str:
    if label.ascii is not None:
        return label.ascii
    return "".join(ch for ch in label.text if ord(ch) < 128).strip()


def render_page(page: ExpandedPage, dpi: float) -> np.ndarray:
    """Render ``page`` at ``dpi`` as a uint8 grayscale image of the page's physical size.

    Text that is not ASCII is set in the CJK font the PDF uses (:func:`cjk_font_path`); only on a machine
    without one is it drawn from its ``ascii`` alternative. ASCII text is drawn with OpenCV's Hershey font.
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
            _fill_polygon(image, [edge_px(x, y) for x, y in item.points], int(round(item.gray * 255)))
        elif isinstance(item, FillEllipse):
            cv2.ellipse(image, px(item.cx, item.cy), (_fixed(item.rx * scale), _fixed(item.ry * scale)), 0, 0, 360,
                        int(round(item.gray * 255)), -1, cv2.LINE_AA, _SHIFT)
        elif isinstance(item, StrokeEllipse):
            thickness = max(1, int(round(item.width * scale)))
            cv2.ellipse(image, px(item.cx, item.cy), (_fixed(item.rx * scale), _fixed(item.ry * scale)), 0, 0, 360,
                        int(item.gray * 255), thickness, cv2.LINE_AA, _SHIFT)
        elif isinstance(item, StrokeRect):
            thickness = max(1, int(round(item.width * scale)))
            _stroke_rect(image, item, scale, thickness)
        elif isinstance(item, Label):
            if not item.text.isascii() and item.text.strip() and cjk_font_path() is not None:
                _draw_cjk(image, item, scale)
                continue
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


def _fill_polygon(image: np.ndarray, points: list[list[int]], color: int = 0) -> None:
    cv2.fillPoly(image, [np.array(points, np.int32)], color, cv2.LINE_AA, _SHIFT)


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
