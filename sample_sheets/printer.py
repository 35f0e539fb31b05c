"""The printer: how a blank answer sheet comes out of a school's printer, before anyone marks it.

The sheet is rendered from its template (:func:`omr.render.render_page`) and then printed the ways schools print
it: "fit to page" shrinks the content about the page centre (the paper keeps its size), a bolder font thickens
the labels and text, a heavier line setting thickens the bubble outlines, and a colour or toner-saving print
makes the anchors gray. :func:`printed_layout` is the page as printed (every position and size moved by the print
scale), so that marks land in the printed bubbles and the simulator's truth stays right; :func:`print_page` gives
its pixels and :func:`print_transform` the map from template pixels to printed pixels.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache

import cv2
import numpy as np

from omr.geometry import MM_PER_INCH, page_shape_px
from omr.layout import LINE_MM, Label, anchor_polygon, page_primitives
from omr.render import render_page
from omr.template import ExpandedPage

__all__ = ["PrintParams", "printed_layout", "print_transform", "print_page", "print_page_cached"]

_AA_PX = 1.5  # anti-aliased edges reach this far beyond a drawn shape


@dataclass(frozen=True)
class PrintParams:
    """What the printer did to the blank sheet; the defaults print it exactly as rendered.

    Attributes
    ----------
    scale : float
        "Fit to page": content scaled about the page centre (0.96 is a common driver setting).
    bold_mm : float
        Extra stroke width of labels and text (a bolder font), mm.
    outline_mm : float
        Extra stroke width of the bubble outlines, mm.
    anchor_tone : float
        Darkness of the anchors' ink, 1 = solid black, 0.6 = a 60 % gray.
    """

    scale: float = 1.0
    bold_mm: float = 0.0
    outline_mm: float = 0.0
    anchor_tone: float = 1.0

    def __post_init__(self) -> None:
        if not 0.5 <= self.scale <= 1.1:
            raise ValueError(f"print scale {self.scale} outside 0.5 .. 1.1")
        if not (0.0 <= self.bold_mm <= 1.0 and 0.0 <= self.outline_mm <= 1.0):
            raise ValueError("bold_mm and outline_mm must lie in 0 .. 1 mm")
        if not 0.0 < self.anchor_tone <= 1.0:
            raise ValueError(f"anchor_tone {self.anchor_tone} outside (0, 1]")


def printed_layout(page: ExpandedPage, scale: float) -> ExpandedPage:
    """``page`` as printed at ``scale`` about its centre: every position and size moved, the paper unchanged."""
    if scale == 1.0:
        return page
    cx, cy = page.width_mm / 2, page.height_mm / 2

    def at(x: float, y: float) -> tuple[float, float]:
        return cx + scale * (x - cx), cy + scale * (y - cy)

    def moved(item, size_fields: tuple[str, ...]):
        x, y = at(item.x, item.y)
        sizes = {name: getattr(item, name) * scale for name in size_fields}
        if hasattr(item, "model_copy"):  # template models (anchors, identity strip, texts) are pydantic
            return item.model_copy(update={"x": x, "y": y, **sizes})
        return replace(item, x=x, y=y, **sizes)

    def anchor_sizes(anchor) -> tuple[str, ...]:  # a rect's or an L's own sides and arm, when given
        return ("size", *(name for name in ("width", "height", "arm") if getattr(anchor, name) is not None))

    groups = tuple(replace(g, bubbles=tuple(moved(b, ("width", "height")) for b in g.bubbles)) for g in page.groups)
    return replace(
        page, anchors=tuple(moved(a, anchor_sizes(a)) for a in page.anchors),
        timing=tuple(moved(t, ("pitch", "bar_width", "bar_height")) for t in page.timing),
        identity=moved(page.identity, ("cell", "pitch")), groups=groups,
        regions=tuple(moved(r, ("w", "h")) for r in page.regions),
        barcodes=tuple(moved(r, ("w", "h")) for r in page.barcodes),
        texts=tuple(moved(t, ("size",)) for t in page.texts),
    )


def print_transform(page: ExpandedPage, dpi: float, scale: float) -> np.ndarray:
    """3x3 map from template pixels (at ``dpi``) to pixels of the page printed at ``scale``.

    A point ``mm`` from the edge sits at pixel ``mm * dpi / 25.4 - 0.5``, so scaling about the page centre
    ``c`` mm is ``p' = scale * p + (1 - scale) * (c * dpi / 25.4 - 0.5)`` on each axis.
    """
    px_per_mm = dpi / MM_PER_INCH
    ox = (1 - scale) * (page.width_mm / 2 * px_per_mm - 0.5)
    oy = (1 - scale) * (page.height_mm / 2 * px_per_mm - 0.5)
    return np.array([[scale, 0.0, ox], [0.0, scale, oy], [0.0, 0.0, 1.0]])


def print_page(page: ExpandedPage, dpi: float, params: PrintParams) -> np.ndarray:
    """The blank sheet as printed, uint8 gray (255 = paper) at ``dpi``, the page's physical size.

    Content is rendered at the print scale (sharp, as a printer draws it, not resampled), then bolder labels and
    thicker outlines spread each kind of ink by half the extra width on each side, and the anchors take
    ``anchor_tone`` of their ink.
    """
    printed = printed_layout(page, params.scale)
    image = render_page(printed, dpi)
    px_per_mm = dpi / MM_PER_INCH
    shape = page_shape_px(page.width_mm, page.height_mm, dpi)
    thicker = [image]
    if params.outline_mm > 0 or params.bold_mm > 0:
        outlines = _outline_mask(printed, px_per_mm, shape)
    if params.outline_mm > 0:
        thicker.append(_spread(np.where(outlines, image, 255).astype(np.uint8), params.outline_mm * px_per_mm / 2))
    if params.bold_mm > 0:
        labels = _label_mask(printed, px_per_mm, shape) & ~outlines
        thicker.append(_spread(np.where(labels, image, 255).astype(np.uint8), params.bold_mm * px_per_mm / 2))
    if len(thicker) > 1:
        image = np.minimum.reduce(thicker)
    if params.anchor_tone < 1.0:
        anchors = _anchor_mask(printed, px_per_mm, shape)
        ink = 255.0 - image[anchors].astype(np.float64)
        image[anchors] = np.round(255.0 - params.anchor_tone * ink).astype(np.uint8)
    return image


@lru_cache(maxsize=16)
def print_page_cached(page: ExpandedPage, dpi: float, params: PrintParams) -> np.ndarray:
    """:func:`print_page`, cached per (page, dpi, params); the returned array is read-only."""
    image = print_page(page, dpi, params)
    image.setflags(write=False)
    return image


def _spread(layer: np.ndarray, radius_px: float) -> np.ndarray:
    """Ink of ``layer`` (255 elsewhere) grown by ``radius_px`` on every side, with anti-aliased edges.

    The ink's edge lies half a pixel beyond the centres of its pixels darker than mid-gray; grown by ``radius``,
    a pixel whose centre is ``d`` from the nearest such centre is covered ``clip(radius + 1 - d, 0, 1)``.
    """
    ink = (layer < 128).astype(np.uint8)
    if not ink.any():
        return layer
    distance = cv2.distanceTransform(1 - ink, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    cover = np.clip(radius_px + 1.0 - distance, 0.0, 1.0)
    return np.minimum(layer, np.round(255.0 * (1.0 - cover)).astype(np.uint8))


def _outline_mask(page: ExpandedPage, px_per_mm: float, shape: tuple[int, int]) -> np.ndarray:
    """Pixels of the printed bubble outlines (with their anti-aliased edges)."""
    mask = np.zeros(shape, np.uint8)
    band = max(1, int(round(LINE_MM * px_per_mm + 2 * _AA_PX)))
    for _, bubble in page.bubbles:
        cx, cy = bubble.x * px_per_mm - 0.5, bubble.y * px_per_mm - 0.5
        rx, ry = bubble.width / 2 * px_per_mm, bubble.height / 2 * px_per_mm
        if bubble.shape == "ellipse":
            cv2.ellipse(mask, (_fixed(cx), _fixed(cy)), (_fixed(rx), _fixed(ry)), 0, 0, 360, 1, band, cv2.LINE_8, 4)
        else:
            cv2.rectangle(mask, (_fixed(cx - rx), _fixed(cy - ry)), (_fixed(cx + rx), _fixed(cy + ry)), 1, band,
                          cv2.LINE_8, 4)
    return mask.astype(bool)


def _label_mask(page: ExpandedPage, px_per_mm: float, shape: tuple[int, int]) -> np.ndarray:
    """A box around every printed label and text, generous enough for any of the raster font's letters."""
    mask = np.zeros(shape, np.uint8)
    pad = _AA_PX / px_per_mm
    for item in page_primitives(page):
        if not isinstance(item, Label):
            continue
        chars = max(1, len(item.ascii if item.ascii is not None else item.text))
        width = chars * item.size * 1.1
        if item.centred:
            x0, x1 = item.x - width / 2 - pad, item.x + width / 2 + pad
            y0, y1 = item.y - 0.7 * item.size - pad, item.y + 0.7 * item.size + pad
        else:  # (x, y) is the left end of the baseline
            x0, x1 = item.x - pad, item.x + width + pad
            y0, y1 = item.y - 1.3 * item.size - pad, item.y + 0.5 * item.size + pad
        cv2.rectangle(mask, (int(x0 * px_per_mm), int(y0 * px_per_mm)), (int(x1 * px_per_mm), int(y1 * px_per_mm)),
                      1, -1)
    return mask.astype(bool)


def _anchor_mask(page: ExpandedPage, px_per_mm: float, shape: tuple[int, int]) -> np.ndarray:
    """Pixels of the printed anchors (with their anti-aliased edges)."""
    mask = np.zeros(shape, np.uint8)
    for anchor in page.anchors:
        if anchor.shape == "circle":
            cv2.circle(mask, (_fixed(anchor.x * px_per_mm - 0.5), _fixed(anchor.y * px_per_mm - 0.5)),
                       _fixed(anchor.size / 2 * px_per_mm + _AA_PX), 1, -1, cv2.LINE_8, 4)
        else:
            points = np.array([[_fixed(x * px_per_mm - 0.5), _fixed(y * px_per_mm - 0.5)]
                               for x, y in anchor_polygon(anchor)], np.int32)
            cv2.fillPoly(mask, [points], 1, cv2.LINE_8, 4)
    grow = int(np.ceil(_AA_PX))
    mask = cv2.dilate(mask, np.ones((2 * grow + 1, 2 * grow + 1), np.uint8))
    return mask.astype(bool)


def _fixed(value: float) -> int:
    return int(round(value * 16))  # OpenCV sub-pixel coordinates with 4 fractional bits
