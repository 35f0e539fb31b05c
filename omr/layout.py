"""What a template page looks like on paper, as a list of drawing primitives in millimetres.

Both the raster renderer (:mod:`omr.render`, used by OMR for blank-page baselines and by the simulator) and
the PDF renderer (:mod:`sample_sheets.printable`) draw this one list, so a printed sheet and a rendered PNG
agree to the geometry :mod:`omr.geometry` reports.
"""

from __future__ import annotations

from dataclasses import dataclass

from omr.template import Anchor, ExpandedPage, Guide

__all__ = ["FillRect", "FillEllipse", "FillPolygon", "StrokeRect", "StrokeEllipse", "Label", "page_primitives",
           "anchor_polygon", "identity_cell_rects", "guide_primitives", "timing_bar_rects", "LINE_MM"]

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


def _text_width_mm(text: str, size: float) -> float:
    # CJK characters are about one em wide, Latin ones about 0.6; an em is size / 0.718 (the cap height rule)
    em = size / 0.718
    return sum(em if ord(ch) > 0x2E7F else 0.6 * em for ch in text)


def _polyline(points: list[tuple[float, float]], width: float) -> list[FillPolygon]:
    """A stroked polyline as one filled quadrilateral per segment (the primitives have no open strokes)."""
    quads = []
    for (ax, ay), (bx, by) in zip(points, points[1:]):
        length = max(((bx - ax) ** 2 + (by - ay) ** 2) ** 0.5, 1e-9)
        nx, ny = -(by - ay) / length * width / 2, (bx - ax) / length * width / 2
        quads.append(FillPolygon(((ax + nx, ay + ny), (bx + nx, by + ny), (bx - nx, by - ny), (ax - nx, ay - ny))))
    return quads


def guide_primitives(guide: Guide) -> list[Primitive]:
    """The filling guide (填涂说明): a box, its title, 正确填涂 beside a filled bubble and 错误填涂 beside a
    ticked, a crossed and a dotted one. Printed, never read."""
    rx, ry = guide.bubble.width / 2, guide.bubble.height / 2
    row = guide.y + guide.h * 0.68
    size = min(2.6, guide.h * 0.2)
    items: list[Primitive] = [StrokeRect(guide.x, guide.y, guide.w, guide.h, gray=0.3),
                              Label(guide.x + 1.5, guide.y + size + 1.5, "填涂说明", size, ascii="HOW TO MARK"),
                              Label(guide.x + 1.5, row + size / 2, "正确填涂", size * 0.85, ascii="RIGHT")]
    right = guide.x + 1.5 + _text_width_mm("正确填涂", size * 0.85) + 2 + rx
    items += [FillEllipse(right, row, rx, ry),
              Label(right + rx + 3, row + size / 2, "错误填涂", size * 0.85, ascii="WRONG")]
    x = right + rx + 3 + _text_width_mm("错误填涂", size * 0.85) + 2 + rx
    pitch = guide.bubble.width + 1.6
    tick = [(x - 0.55 * rx, row), (x - 0.15 * rx, row + 0.7 * ry), (x + 0.6 * rx, row - 0.8 * ry)]
    cross = [[(x + pitch - 0.5 * rx, row - 0.7 * ry), (x + pitch + 0.5 * rx, row + 0.7 * ry)],
             [(x + pitch - 0.5 * rx, row + 0.7 * ry), (x + pitch + 0.5 * rx, row - 0.7 * ry)]]
    for k in range(3):
        items.append(StrokeEllipse(x + k * pitch, row, rx, ry))
    items += _polyline(tick, 0.35) + _polyline(cross[0], 0.35) + _polyline(cross[1], 0.35)
    items.append(FillEllipse(x + 2 * pitch, row, 0.4 * ry, 0.4 * ry))
    return items


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
    for guide in page.guides:
        items.extend(guide_primitives(guide))
    for group in page.groups:
        first = group.bubbles[0]
        if group.kind == "question":
            down = len(group.bubbles) > 1 and group.bubbles[1].x == first.x and group.bubbles[1].y > first.y
            where = (first.x, first.y - first.height / 2 - 2.2) if down else (first.x - first.width / 2 - 3.2, first.y)
            items.append(Label(*where, str(group.number), first.height * 0.6, centred=True))
        if group.caption:  # a score-box row's 十位 / 个位, right-aligned a little left of the row
            items.append(Label(first.x - first.width / 2 - 1.2 - _text_width_mm(group.caption, first.height * 0.55),
                               first.y + first.height * 0.55 / 2, group.caption, first.height * 0.55, gray=0.2))
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
