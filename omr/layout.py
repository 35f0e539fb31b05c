"""What a template page looks like on paper, as a list of drawing primitives in millimetres.

Both the raster renderer (:mod:`omr.render`, used by OMR for blank-page baselines and by the simulator) and
the PDF renderer (:mod:`sample_sheets.printable`) draw this one list, so a printed sheet and a rendered PNG
agree to the geometry :mod:`omr.geometry` reports.
"""

from __future__ import annotations

from dataclasses import dataclass

from omr.template import Anchor, ExpandedPage

__all__ = ["FillRect", "FillEllipse", "FillPolygon", "StrokeRect", "StrokeEllipse", "Label", "page_primitives",
           "anchor_polygon", "identity_cell_rects", "timing_bar_rects", "LINE_MM"]

#: Stroke width of printed outlines (bubbles, regions), mm.
LINE_MM = 0.25


@dataclass(frozen=True)
class FillRect:
    x: float
    y: float
    w: float
    h: float


@dataclass(frozen=True)
class FillEllipse:
    cx: float
    cy: float
    rx: float
    ry: float
    gray: float = 0.0  # 0 black .. 1 white (an anchor printed at a tone)


@dataclass(frozen=True)
class FillPolygon:
    points: tuple[tuple[float, float], ...]
    gray: float = 0.0


@dataclass(frozen=True)
class StrokeRect:
    x: float
    y: float
    w: float
    h: float
    width: float = LINE_MM
    dashed: bool = False
    gray: float = 0.0  # 0 black .. 1 white


@dataclass(frozen=True)
class StrokeEllipse:
    cx: float
    cy: float
    rx: float
    ry: float
    width: float = LINE_MM
    gray: float = 0.0


@dataclass(frozen=True)
class Label:
    """Text whose box is centred on (cx, cy) when ``centred``, else starting at (x, baseline y)."""

    x: float
    y: float
    text: str
    size: float  # cap height, mm
    ascii: str | None = None
    centred: bool = False
    gray: float = 0.0


Primitive = FillRect | FillEllipse | FillPolygon | StrokeRect | StrokeEllipse | Label


def anchor_polygon(anchor: Anchor) -> tuple[tuple[float, float], ...]:
    """The filled outline of an anchor in mm: a square or rectangle, or an L with arms ``anchor.arm_mm`` wide."""
    width, height = anchor.box
    x0, y0, x1, y1 = anchor.x - width / 2, anchor.y - height / 2, anchor.x + width / 2, anchor.y + height / 2
    if anchor.shape in ("square", "rect"):
        return ((x0, y0), (x1, y0), (x1, y1), (x0, y1))
    if anchor.shape == "l_corner":
        arm = anchor.arm_mm
        # An L with its elbow in the top-left corner (offsets in mm from it), then mirrored to the requested corner.
        base = [(0, 0), (width, 0), (width, arm), (arm, arm), (arm, height), (0, height)]
        flip_x = anchor.corner in ("tr", "br")
        flip_y = anchor.corner in ("bl", "br")
        return tuple((x1 - u if flip_x else x0 + u, y1 - v if flip_y else y0 + v) for u, v in base)
    raise ValueError(f"anchor {anchor.id}: polygon asked for shape {anchor.shape}")


def timing_bar_rects(page: ExpandedPage) -> list[tuple[float, float, float, float]]:
    """(x, y, w, h) in mm of every timing-track bar (同步头) on the page, track after track."""
    return [(x - track.bar_width / 2, y - track.bar_height / 2, track.bar_width, track.bar_height)
            for track in page.timing for x, y in track.bar_centres()]


def identity_cell_rects(page: ExpandedPage) -> list[tuple[float, float, float, float]]:
    """(x, y, w, h) in mm of every identity cell, filled or not (none on a page without an identity strip)."""
    strip = page.identity
    if strip is None:
        return []
    half = strip.cell / 2
    return [(strip.x + i * strip.pitch - half, strip.y - half, strip.cell, strip.cell)
            for i in range(len(page.identity_bits))]


def page_primitives(page: ExpandedPage) -> list[Primitive]:
    """Everything printed on ``page``, in drawing order."""
    items: list[Primitive] = []
    for anchor in page.anchors:
        if anchor.shape == "circle":
            items.append(FillEllipse(anchor.x, anchor.y, anchor.size / 2, anchor.size / 2, gray=1.0 - anchor.tone))
        else:
            items.append(FillPolygon(anchor_polygon(anchor), gray=1.0 - anchor.tone))
    items.extend(FillRect(*bar) for bar in timing_bar_rects(page))
    for bit, (x, y, w, h) in zip(page.identity_bits, identity_cell_rects(page)):
        if bit:
            items.append(FillRect(x, y, w, h))
    for rect in page.regions:
        items.append(StrokeRect(rect.x, rect.y, rect.w, rect.h))
        if rect.caption:
            items.append(Label(rect.x + 1.5, rect.y + 4.0, rect.caption, 2.6))
    for rect in page.barcodes:
        items.append(StrokeRect(rect.x, rect.y, rect.w, rect.h, dashed=True, gray=0.35))
        items.append(Label(rect.x + rect.w / 2, rect.y + rect.h / 2, "贴条形码区", 3.0,
                           ascii="BARCODE", centred=True, gray=0.6))
    for group in page.groups:
        if group.kind == "question":
            first = group.bubbles[0]
            items.append(Label(first.x - first.width / 2 - 3.2, first.y, str(group.number), first.height * 0.6,
                               centred=True))
        for bubble in group.bubbles:
            rx, ry = bubble.width / 2, bubble.height / 2
            if bubble.shape == "ellipse":
                items.append(StrokeEllipse(bubble.x, bubble.y, rx, ry))
            else:
                items.append(StrokeRect(bubble.x - rx, bubble.y - ry, bubble.width, bubble.height))
            if bubble.show_label:
                items.append(Label(bubble.x, bubble.y, bubble.label, bubble.height * 0.55,
                                   ascii=".5" if bubble.label == "½" else None, centred=True, gray=0.3))
    for text in page.texts:
        items.append(Label(text.x, text.y, text.text, text.size, ascii=text.ascii))
    return items
