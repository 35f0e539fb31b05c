"""What people put on an answer sheet before it is scanned: fills, ticks, erasures, smudges, handwriting, labels.

Everything is drawn into the blank page render (uint8 gray, 255 = paper) at the sheet's dpi. Marks darken the
paper multiplicatively (``paper * (1 - alpha)``), so graphite over printed ink stays black. Work happens on
small patches around each mark; nothing here loops over pixels in Python.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np
import zxingcpp

from omr import code128
from omr.geometry import MM_PER_INCH
from omr.layout import timing_bar_rects
from omr.template import Bubble, ExpandedPage, Rect

__all__ = ["Tool", "TOOLS", "MARK_KINDS", "FILL_STROKES", "BubbleGeometry", "bubble_geometry", "draw_mark",
           "draw_erasure", "draw_smudge", "draw_stray_marks", "draw_handwriting", "draw_label", "bubble_ink", "forbidden_rects"]

_SHIFT = 4
_ONE = 1 << _SHIFT

#: Ways a student can mark a bubble they mean (the truth's bubble states other than erased/smudge/empty).
MARK_KINDS = ("filled", "partial", "offcentre", "tick", "cross", "faint")

#: How the pencil moves when a student fills a bubble (a ``filled`` mark): ``ellipse`` follows the printed
#: ellipse; ``scribble`` is back-and-forth strokes at a slant that ignore it; ``overshoot`` runs past the rim on
#: one side and falls short on the other; ``gaps`` leaves paper between loose strokes; ``ring`` circles the letter
#: first and then fills part of it.
FILL_STROKES = ("ellipse", "scribble", "overshoot", "gaps", "ring")


@dataclass(frozen=True)
class Tool:
    """A writing instrument: darkness of a solid stroke (0..1, as gray luma), graphite grain and stroke width."""

    name: str
    ink: tuple[float, float]
    grain: float
    stroke_mm: float


TOOLS: dict[str, Tool] = {
    "pencil": Tool("pencil", (0.52, 0.78), 0.30, 0.60),   # 2B pencil: grey, grainy, fat strokes
    "pen_black": Tool("pen_black", (0.84, 0.93), 0.05, 0.45),
    "pen_blue": Tool("pen_blue", (0.66, 0.78), 0.05, 0.45),  # blue gel pen, gray = luma of RGB ~(30, 50, 150)
    "pen_red": Tool("pen_red", (0.55, 0.66), 0.05, 0.45),    # teacher's red pen in the score boxes
}


@dataclass(frozen=True)
class BubbleGeometry:
    """Bubbles of a page in pixels at one dpi, with the free space around each (for spills that stay clear)."""

    dpi: float
    cx: np.ndarray
    cy: np.ndarray
    rx: np.ndarray
    ry: np.ndarray
    clearance_mm: np.ndarray  # gap to the nearest other bubble's bounding box


@lru_cache(maxsize=32)
def bubble_geometry(page: ExpandedPage, dpi: float) -> BubbleGeometry:
    """Pixel centres, radii and clearances of ``page.bubbles`` (cached per page and dpi)."""
    bubbles = [b for _, b in page.bubbles]
    scale = dpi / MM_PER_INCH
    x = np.array([b.x for b in bubbles])
    y = np.array([b.y for b in bubbles])
    w = np.array([b.width for b in bubbles])
    h = np.array([b.height for b in bubbles])
    gap_x = np.abs(x[:, None] - x[None, :]) - (w[:, None] + w[None, :]) / 2
    gap_y = np.abs(y[:, None] - y[None, :]) - (h[:, None] + h[None, :]) / 2
    gap = np.maximum(gap_x, gap_y)
    np.fill_diagonal(gap, np.inf)
    clearance = gap.min(axis=1) if len(bubbles) > 1 else np.full(len(bubbles), 5.0)
    return BubbleGeometry(dpi, x * scale - 0.5, y * scale - 0.5, w / 2 * scale, h / 2 * scale,
                          np.minimum(clearance, 5.0))


# ----------------------------------------------------------------------------------------------------------
# Textures and compositing


@lru_cache(maxsize=1)
def _grain_tile() -> np.ndarray:
    """Graphite texture, mean 0 and unit std: streaks along the stroke plus fine paper-tooth grain."""
    rng = np.random.default_rng(0x6A41)
    streak = cv2.GaussianBlur(rng.standard_normal((512, 512)).astype(np.float32), (0, 0), 3.0, sigmaY=0.6)
    fine = cv2.GaussianBlur(rng.standard_normal((512, 512)).astype(np.float32), (0, 0), 0.6)
    tile = streak / streak.std() + 0.8 * fine / fine.std()
    return (tile / tile.std()).astype(np.float32)


def _texture(shape: tuple[int, int], strength: float, rng: np.random.Generator) -> np.ndarray:
    tile = _grain_tile()
    h, w = shape
    oy, ox = rng.integers(0, tile.shape[0] - h), rng.integers(0, tile.shape[1] - w)
    t = 1.0 + strength * tile[oy:oy + h, ox:ox + w]
    return np.minimum(np.maximum(t, 0.0, out=t), 1.6, out=t)  # np.clip is slow on small arrays


def _compose(image: np.ndarray, x0: int, y0: int, alpha: np.ndarray) -> None:
    """Darken ``image`` under the patch ``alpha`` (0..1) whose top-left pixel is (x0, y0); clips at borders."""
    h, w = alpha.shape
    ix0, iy0 = max(x0, 0), max(y0, 0)
    ix1, iy1 = min(x0 + w, image.shape[1]), min(y0 + h, image.shape[0])
    if ix1 <= ix0 or iy1 <= iy0:
        return
    a = alpha[iy0 - y0:iy1 - y0, ix0 - x0:ix1 - x0]
    region = image[iy0:iy1, ix0:ix1]
    region[...] = (region.astype(np.float32) * (1.0 - np.minimum(a, 0.98)) + 0.5).astype(np.uint8)


def _fixed(points: np.ndarray) -> np.ndarray:
    return np.round(np.asarray(points, np.float64) * _ONE).astype(np.int32)


def _stroke_px(tool: Tool, dpi: float, rng: np.random.Generator) -> int:
    return max(1, int(round(tool.stroke_mm * rng.uniform(0.85, 1.15) * dpi / MM_PER_INCH)))


# ----------------------------------------------------------------------------------------------------------
# Marks on bubbles


def _zigzag(cx: float, cy: float, rx: float, ry: float, spacing: float, angle: float, rng: np.random.Generator,
            v_range: tuple[float, float] = (-1.0, 1.0), reach: tuple[float, float] = (0.9, 1.08),
            far: float = 1.0) -> np.ndarray:
    """Back-and-forth strokes filling an ellipse, the way students fill a bubble; points in pixels.

    Strokes turn at ``reach`` times the ellipse's half-width; on the positive side that is stretched by ``far``
    (> 1: the hand overshoots the rim on that side)."""
    v0, v1 = v_range
    rows = max(2, int(np.ceil((v1 - v0) * ry / max(spacing, 1.0))) + 1)
    v = np.linspace(v0, v1, rows) * ry + rng.normal(0, 0.12 * spacing, rows)
    half = rx * np.sqrt(np.maximum(1.0 - (v / ry) ** 2, 0.05)) * rng.uniform(*reach, rows)
    side = np.where(np.arange(rows) % 2 == 0, -1.0, far)
    u = side * half
    c, s = np.cos(angle), np.sin(angle)
    return np.stack([cx + u * c - v * s, cy + u * s + v * c], axis=1)


def _ellipse_mask(shape: tuple[int, int], cx: float, cy: float, rx: float, ry: float) -> np.ndarray:
    mask = np.zeros(shape, np.uint8)
    cv2.ellipse(mask, (int(round(cx * _ONE)), int(round(cy * _ONE))),
                (int(round(rx * _ONE)), int(round(ry * _ONE))), 0, 0, 360, 255, -1, cv2.LINE_AA, _SHIFT)
    return mask


def _fill_mask(shape, cx, cy, rx, ry, stroke, rng, *, v_range=(-1.0, 1.0), reach=(0.9, 1.08), core=True):
    mask = np.zeros(shape, np.uint8)
    if core:
        k = rng.uniform(0.9, 1.0)
        cv2.ellipse(mask, (int(round(cx * _ONE)), int(round(cy * _ONE))),
                    (int(round(rx * k * _ONE)), int(round(ry * k * _ONE))), rng.uniform(-8, 8), 0, 360, 255, -1,
                    cv2.LINE_AA, _SHIFT)
    angle = np.deg2rad(rng.normal(0, 12)) + (np.pi / 2 if rng.random() < 0.15 else 0.0)
    if abs(np.sin(angle)) > 0.5:  # vertical strokes: sweep the long axis
        points = _zigzag(cx, cy, ry, rx, stroke * 0.7, angle, rng, v_range, reach)
    else:
        points = _zigzag(cx, cy, rx, ry, stroke * 0.7, angle, rng, v_range, reach)
    cv2.polylines(mask, [_fixed(points)], False, 255, stroke, cv2.LINE_AA, _SHIFT)
    return mask


def _stroked_fill(shape, cx, cy, rx, ry, stroke, rng, style: str, overshoot_px: float) -> np.ndarray:
    """The mask of a fill whose pencil does not follow the printed ellipse (see :data:`FILL_STROKES`)."""
    mask = np.zeros(shape, np.uint8)
    if style == "scribble":  # strokes at 25-65 degrees, across whatever the slant meets; no careful core
        angle = np.deg2rad(rng.uniform(25, 65)) * (1 if rng.random() < 0.5 else -1)
        radius = np.hypot(rx, ry) / np.sqrt(2)  # a slanted sweep meets the ellipse about this wide
        points = _zigzag(cx, cy, radius, radius * 0.95, stroke * rng.uniform(0.7, 1.0), angle, rng,
                         reach=(0.8, 1.1))
    elif style == "overshoot":  # the hand swings past the rim on one side and stops short of the other
        angle = rng.uniform(0, 2 * np.pi)
        across, along = (ry, rx) if abs(np.sin(angle)) > 0.7 else (rx, ry)  # rows sweep the long axis
        points = _zigzag(cx, cy, across, along, stroke * 0.7, angle, rng, reach=(0.75, 0.95),
                         far=(across + overshoot_px) / (0.85 * across))
    elif style == "gaps":  # loose strokes with paper between them
        points = _zigzag(cx, cy, rx, ry, stroke * rng.uniform(1.2, 1.5), rng.normal(0, 0.2), rng, reach=(0.8, 1.0))
    elif style == "ring":  # a circle round the letter, then part of it filled
        grow = rng.uniform(0.95, 1.12)
        cv2.ellipse(mask, (int(round(cx * _ONE)), int(round(cy * _ONE))),
                    (int(round(rx * grow * _ONE)), int(round(ry * grow * _ONE))), rng.uniform(-10, 10), 0, 360, 255,
                    stroke, cv2.LINE_AA, _SHIFT)
        band = rng.uniform(0.45, 0.8)  # with the ring, 60-100 % of the bubble covered
        centre = rng.uniform(-(1 - band), 1 - band) * 0.8
        points = _zigzag(cx, cy, rx, ry * 0.92, stroke * 0.7, rng.normal(0, 0.15), rng,
                         v_range=(centre - band, centre + band), reach=(0.75, 0.95))
    else:
        raise ValueError(f"unknown fill stroke {style!r}; expected one of {FILL_STROKES}")
    cv2.polylines(mask, [_fixed(points)], False, 255, stroke, cv2.LINE_AA, _SHIFT)
    return mask


def draw_mark(image: np.ndarray, bubble: Bubble, dpi: float, kind: str, tool: Tool, ink: float,
              rng: np.random.Generator, *, coverage: float = 1.0, offset_mm: tuple[float, float] = (0.0, 0.0),
              spill_mm: float = 0.0, strokes: str = "ellipse") -> float:
    """Draw one intended mark of ``kind`` (see :data:`MARK_KINDS`) over ``bubble``; return the fill coverage.

    Parameters
    ----------
    image : numpy.ndarray
        Page (uint8 gray) drawn in place.
    bubble : Bubble
        The bubble, in template millimetres.
    dpi : float
        Resolution of ``image``.
    kind : str
        ``filled``, ``partial``, ``offcentre``, ``tick``, ``cross`` or ``faint``.
    tool : Tool
        Instrument (texture and stroke width).
    ink : float
        Darkness of solid strokes, 0..1.
    rng : numpy.random.Generator
        Source of stroke jitter.
    coverage : float, optional
        Target share of the bubble a ``partial`` fill covers.
    offset_mm : tuple of float, optional
        Centre offset of an ``offcentre`` fill.
    spill_mm : float, optional
        How far a ``filled`` mark runs over the printed outline on one side (with ``strokes="overshoot"``: how
        far its strokes swing past the rim).
    strokes : str, optional
        How the pencil of a ``filled`` mark moves (one of :data:`FILL_STROKES`).

    Returns
    -------
    float
        Share of the bubble interior covered by the mark (0..1; for ticks and crosses the stroke area).
    """
    scale = dpi / MM_PER_INCH
    rx, ry = bubble.width / 2 * scale, bubble.height / 2 * scale
    margin = int(np.ceil(max(rx, ry) * 0.9 + (abs(offset_mm[0]) + abs(offset_mm[1]) + spill_mm + 1.5) * scale))
    x0 = int(np.floor(bubble.x * scale - 0.5 - rx)) - margin
    y0 = int(np.floor(bubble.y * scale - 0.5 - ry)) - margin
    shape = (int(2 * ry) + 2 * margin + 2, int(2 * rx) + 2 * margin + 2)
    cx, cy = bubble.x * scale - 0.5 - x0, bubble.y * scale - 0.5 - y0
    stroke = _stroke_px(tool, dpi, rng)
    if kind == "filled" and strokes != "ellipse":
        mask = _stroked_fill(shape, cx, cy, rx, ry, stroke, rng, strokes, spill_mm * scale)
    elif kind in ("filled", "faint"):
        if strokes not in FILL_STROKES:
            raise ValueError(f"unknown fill stroke {strokes!r}; expected one of {FILL_STROKES}")
        mask = _fill_mask(shape, cx, cy, rx, ry, stroke, rng)
        if spill_mm > 0:  # a hurried fill spilling over on one side
            direction = rng.uniform(0, 2 * np.pi)
            # A smaller scribble pushed out so its far edge runs about spill_mm past the rim.
            sx, sy = np.cos(direction) * (spill_mm * scale), np.sin(direction) * (spill_mm * scale)
            extra = _fill_mask(shape, cx + sx, cy + sy, rx * 0.8, ry * 0.8, stroke, rng, core=False)
            mask = np.maximum(mask, extra)
    elif kind == "partial":
        # A lazy fill: strokes across a band of the bubble, not reaching its rim.
        band = float(np.clip(coverage, 0.2, 1.0))
        centre = rng.uniform(-(1 - band), 1 - band) * 0.8
        mask = _fill_mask(shape, cx, cy, rx, ry * 0.92, stroke, rng, core=False,
                          v_range=(centre - band, centre + band), reach=(0.7, 0.95))
    elif kind == "offcentre":
        mask = _fill_mask(shape, cx + offset_mm[0] * scale, cy + offset_mm[1] * scale, rx, ry, stroke, rng)
    elif kind in ("tick", "cross"):
        mask = np.zeros(shape, np.uint8)
        size = rng.uniform(0.9, 1.2)
        if kind == "tick":
            shape_pts = np.array([[-0.55, -0.05], [-0.15, 0.6], [0.7, -0.85]]) + rng.normal(0, 0.06, (3, 2))
            lines = [shape_pts]
        else:
            lines = [np.array([[-0.7, -0.75], [0.7, 0.75]]) + rng.normal(0, 0.06, (2, 2)),
                     np.array([[0.7, -0.75], [-0.7, 0.75]]) + rng.normal(0, 0.06, (2, 2))]
        polys = [_fixed(np.stack([cx + p[:, 0] * rx * size, cy + p[:, 1] * ry * size], axis=1)) for p in lines]
        cv2.polylines(mask, polys, False, 255, stroke, cv2.LINE_AA, _SHIFT)
    else:
        raise ValueError(f"unknown mark kind {kind!r}; expected one of {MARK_KINDS}")
    grain = tool.grain * (1.6 if kind == "faint" else 1.0)  # light pressure: more paper tooth shows
    alpha = mask.astype(np.float32) * (ink / 255.0) * _texture(shape, grain, rng)
    _compose(image, x0, y0, alpha)
    inside = _ellipse_mask(shape, cx, cy, rx, ry) > 127
    return float((mask[inside] > 127).mean())


def draw_erasure(image: np.ndarray, bubble: Bubble, dpi: float, tool: Tool, residue: float,
                 rng: np.random.Generator) -> None:
    """Grey residue of a fill rubbed out with an eraser: a smeared, patchy ghost of the old mark."""
    scale = dpi / MM_PER_INCH
    rx, ry = bubble.width / 2 * scale, bubble.height / 2 * scale
    margin = int(np.ceil(2.0 * scale))
    x0 = int(np.floor(bubble.x * scale - 0.5 - rx)) - margin
    y0 = int(np.floor(bubble.y * scale - 0.5 - ry)) - margin
    shape = (int(2 * ry) + 2 * margin + 2, int(2 * rx) + 2 * margin + 2)
    cx, cy = bubble.x * scale - 0.5 - x0, bubble.y * scale - 0.5 - y0
    mask = _fill_mask(shape, cx, cy, rx, ry, _stroke_px(tool, dpi, rng), rng).astype(np.float32)
    mask = cv2.GaussianBlur(mask, (0, 0), 0.25 * scale)  # the eraser smears graphite around
    patchy = np.maximum(_texture(shape, 0.8, rng), 0.2)
    _compose(image, x0, y0, mask * (residue / 255.0) * patchy)


def draw_smudge(image: np.ndarray, x_mm: float, y_mm: float, radius_mm: float, ink: float, dpi: float,
                rng: np.random.Generator) -> None:
    """A soft graphite smudge (a finger or the side of the hand) centred at (x_mm, y_mm)."""
    scale = dpi / MM_PER_INCH
    r = radius_mm * scale
    half = int(np.ceil(2.2 * r)) + 2
    shape = (2 * half + 1, 2 * half + 1)
    mask = np.zeros(shape, np.uint8)
    for _ in range(rng.integers(2, 5)):
        c = (half + rng.normal(0, 0.35 * r), half + rng.normal(0, 0.35 * r))
        axes = (r * rng.uniform(0.4, 1.0), r * rng.uniform(0.3, 0.8))
        cv2.ellipse(mask, (int(c[0] * _ONE), int(c[1] * _ONE)), (int(axes[0] * _ONE), int(axes[1] * _ONE)),
                    rng.uniform(0, 180), 0, 360, 255, -1, cv2.LINE_AA, _SHIFT)
    alpha = cv2.GaussianBlur(mask.astype(np.float32), (0, 0), 0.35 * r) * (ink / 255.0)
    alpha *= _texture(shape, 0.25, rng)
    x0 = int(round(x_mm * scale - 0.5)) - half
    y0 = int(round(y_mm * scale - 0.5)) - half
    _compose(image, x0, y0, alpha)


# ----------------------------------------------------------------------------------------------------------
# Marks elsewhere on the page


def forbidden_rects(page: ExpandedPage, margin_mm: float = 1.2) -> np.ndarray:
    """(n, 4) x0, y0, x1, y1 in mm that stray marks must not touch: bubbles, anchors, timing bars, identity strip,
    labels."""
    rects = []
    for _, b in page.bubbles:
        rects.append((b.x - b.width / 2, b.y - b.height / 2, b.x + b.width / 2, b.y + b.height / 2))
    for a in page.anchors:
        half_w, half_h = a.box[0] / 2 + 1, a.box[1] / 2 + 1
        rects.append((a.x - half_w, a.y - half_h, a.x + half_w, a.y + half_h))
    for x, y, w, h in timing_bar_rects(page):
        rects.append((x - 1, y - 1, x + w + 1, y + h + 1))
    strip = page.identity
    if strip is not None:
        last = strip.x + strip.pitch * (len(page.identity_bits) - 1)
        rects.append((strip.x - strip.cell, strip.y - strip.cell, last + strip.cell, strip.y + strip.cell))
    for r in page.barcodes:
        rects.append((r.x, r.y, r.x + r.w, r.y + r.h))
    out = np.array(rects, np.float64).reshape(-1, 4)
    out[:, :2] -= margin_mm
    out[:, 2:] += margin_mm
    return out


def _free(box: tuple[float, float, float, float], forbidden: np.ndarray, width: float, height: float) -> bool:
    x0, y0, x1, y1 = box
    if x0 < 3 or y0 < 3 or x1 > width - 3 or y1 > height - 3:
        return False
    hit = (forbidden[:, 0] < x1) & (forbidden[:, 2] > x0) & (forbidden[:, 1] < y1) & (forbidden[:, 3] > y0)
    return not bool(hit.any())


def draw_stray_marks(image: np.ndarray, page: ExpandedPage, dpi: float, count: int, tool: Tool, ink: float,
                     rng: np.random.Generator, *, smudges: int = 0) -> int:
    """Draft digits, doodles, dots, short strokes and smudges placed clear of every bubble; returns how many."""
    scale = dpi / MM_PER_INCH
    forbidden = forbidden_rects(page)
    drawn = 0
    for index in range(count + smudges):
        is_smudge = index >= count
        for _ in range(25):
            w_mm, h_mm = (rng.uniform(6, 14),) * 2 if is_smudge else (rng.uniform(2, 14), rng.uniform(1.5, 7))
            x, y = rng.uniform(0, page.width_mm - w_mm), rng.uniform(0, page.height_mm - h_mm)
            if _free((x, y, x + w_mm, y + h_mm), forbidden, page.width_mm, page.height_mm):
                break
        else:
            continue
        drawn += 1
        if is_smudge:
            draw_smudge(image, x + w_mm / 2, y + h_mm / 2, w_mm / 4.4, rng.uniform(0.05, 0.22), dpi, rng)
            continue
        kind = rng.choice(["digits", "line", "dot", "scribble"], p=[0.35, 0.3, 0.15, 0.2])
        shape = (int(h_mm * scale) + 4, int(w_mm * scale) + 4)
        mask = np.zeros(shape, np.uint8)
        stroke = _stroke_px(tool, dpi, rng)
        if kind == "digits":  # draft arithmetic in the margin
            text = "".join(rng.choice(list("0123456789+-=x")) for _ in range(rng.integers(2, 6)))
            font_scale = h_mm * scale / 30.0
            cv2.putText(mask, text, (2, shape[0] - 3), cv2.FONT_HERSHEY_SCRIPT_SIMPLEX, font_scale, 255,
                        max(1, stroke - 1), cv2.LINE_AA)
        elif kind == "line":
            p = np.array([[2, rng.uniform(2, shape[0] - 2)], [shape[1] - 3, rng.uniform(2, shape[0] - 2)]])
            cv2.polylines(mask, [_fixed(p)], False, 255, stroke, cv2.LINE_AA, _SHIFT)
        elif kind == "dot":
            r = rng.uniform(0.3, 0.8) * scale
            cv2.circle(mask, (int(shape[1] / 2 * _ONE), int(shape[0] / 2 * _ONE)), int(r * _ONE), 255, -1,
                       cv2.LINE_AA, _SHIFT)
        else:
            t = np.linspace(0, 1, 40)
            xs = 2 + t * (shape[1] - 5)
            ys = shape[0] / 2 + (shape[0] / 2 - 3) * np.sin(t * rng.uniform(6, 20) + rng.uniform(0, 6))
            cv2.polylines(mask, [_fixed(np.stack([xs, ys], 1))], False, 255, stroke, cv2.LINE_AA, _SHIFT)
        alpha = mask.astype(np.float32) * (ink / 255.0) * _texture(shape, tool.grain, rng)
        _compose(image, int(round(x * scale)), int(round(y * scale)), alpha)
    return drawn


def _characters(count: int, rng: np.random.Generator) -> np.ndarray:
    """Strokes of ``count`` handwritten characters, (count, 8, 3, 2) unit-box points, NaN for unused slots.

    A character is one block or two components (left-right or top-bottom, like 偏旁 + 部首); its strokes are
    horizontals, verticals, left- and right-falling strokes, dots and hooks placed in their component.
    """
    slots = 8
    n = count * slots
    kind = rng.choice(6, size=n, p=[0.34, 0.24, 0.13, 0.1, 0.12, 0.07])
    a = np.clip(rng.choice([0.15, 0.35, 0.5, 0.65, 0.85], n) + rng.normal(0, 0.04, n), 0.05, 0.95)
    b0, b1 = rng.uniform(0.0, 0.3, n), rng.uniform(0.7, 1.0, n)
    mid = (b0 + b1) / 2
    u = np.empty((n, 3))
    v = np.empty((n, 3))
    table = {
        0: ((b0, mid, b1), (a, a - 0.02, a - 0.05)),  # 横, rising slightly
        1: ((a, a, a), (b0, mid, b1)),  # 竖
        2: ((a, a - 0.1, a - 0.35), (b0, mid, b1)),  # 撇
        3: ((a - 0.25, a, a + 0.25), (b0 + 0.1, mid, b1)),  # 捺
        4: ((a, a + 0.04, a + 0.08), (a, a + 0.05, a + 0.1)),  # 点
        5: ((a, a, a - 0.15), (b0, b1, b1 - 0.12)),  # 竖钩
    }
    for k, (us, vs) in table.items():
        sel = kind == k
        for j in range(3):
            u[sel, j] = np.broadcast_to(us[j], n)[sel]
            v[sel, j] = np.broadcast_to(vs[j], n)[sel]
    points = np.clip(np.stack([u, v], axis=-1) + rng.normal(0, 0.025, (n, 3, 2)), 0.0, 1.0)
    points = points.reshape(count, slots, 3, 2)
    # Two components: squeeze each stroke into its half of the box.
    layout = rng.choice(3, size=count, p=[0.3, 0.5, 0.2])  # single, left-right, top-bottom
    split = rng.uniform(0.35, 0.5, count)
    second = rng.random((count, slots)) < 0.6
    for axis, which in ((0, 1), (1, 2)):
        sel = layout == which
        lo = np.where(second[sel], split[sel, None] + 0.05, 0.0)
        hi = np.where(second[sel], 1.0, split[sel, None])
        points[sel, :, :, axis] = lo[:, :, None] + points[sel, :, :, axis] * (hi - lo)[:, :, None]
    used = np.arange(slots)[None, :] < rng.integers(4, slots + 1, count)[:, None]
    points[~used] = np.nan
    return points


def draw_handwriting(image: np.ndarray, rect: Rect, dpi: float, tool: Tool, ink: float,
                     rng: np.random.Generator, *, char_mm: float = 4.5, fill: float = 0.8) -> None:
    """Lines of handwriting (character-like stroke groups, now and then a formula) inside a region."""
    scale = dpi / MM_PER_INCH
    line_pitch = char_mm * 1.7
    top = rect.y + (6.0 if rect.caption else 1.5)
    lines = int((rect.h - (top - rect.y) - 1.0) // line_pitch)
    indent = 8.0
    if lines < 1:  # a one-line box (the name): write beside the caption, centred vertically
        if rect.h < char_mm + 1.0:
            return
        lines, top, indent = 1, rect.y + (rect.h - char_mm) / 2, 10.0 if rect.caption else 2.0
    gray = int(round(255 * (1 - ink)))
    thickness = max(1, int(round(0.3 * scale)))
    origins: list[tuple[float, float, float]] = []
    for line in range(lines):
        y = top + line * line_pitch + rng.normal(0, 0.3)
        x = rect.x + 2.5 + (rng.uniform(0, indent) if line == 0 else rng.uniform(0, 1.5))
        end = x + (rect.x + rect.w - 2.5 - x) * min(1.0, fill * rng.uniform(0.7, 1.4))
        if rng.random() < 0.2:  # a formula line, in a handwriting-like font
            text = "".join(rng.choice(list("xyab0123456789+-=()/")) for _ in range(int((end - x) / char_mm)))
            cv2.putText(image, text, (int(x * scale), int((y + char_mm) * scale)), cv2.FONT_HERSHEY_SCRIPT_SIMPLEX,
                        char_mm * scale / 26.0, gray, thickness, cv2.LINE_AA)
            continue
        pitch = char_mm * rng.uniform(1.05, 1.2)
        for k in range(int((end - x) // pitch)):
            origins.append((x + k * pitch + rng.normal(0, 0.2), y + rng.normal(0, 0.2),
                            char_mm * rng.uniform(0.85, 1.05)))
    if not origins:
        return
    o = np.array(origins)
    strokes = _characters(len(o), rng)
    strokes[..., 0] -= 0.08 * (strokes[..., 1] - 0.5)  # a slight forward slant
    px = (o[:, None, None, :2] + strokes * o[:, None, None, 2:3]) * scale - 0.5
    px = px.reshape(-1, 3, 2)
    px = px[~np.isnan(px).any(axis=(1, 2))]
    polys = list(np.ascontiguousarray(_fixed(px)))
    cv2.polylines(image, polys, False, gray, thickness, cv2.LINE_AA, _SHIFT)


# ----------------------------------------------------------------------------------------------------------
# The student label (考生条形码 sticker)


def draw_label(image: np.ndarray, rect: Rect, dpi: float, text: str, rng: np.random.Generator,
               skew_deg: float = 0.0, module_mm: float | None = None) -> None:
    """Stick a printed label carrying ``text`` (the region's symbology, digits below) into the barcode region;
    ``module_mm``: the narrow bar of a linear code (default: drawn, see below).

    Code 128 comes from yuejuan's encoder and QR from OpenCV's; Code 39, PDF417 and DataMatrix from zxing-cpp's
    writer."""
    scale = dpi / MM_PER_INCH
    linear = rect.symbology not in ("qr", "pdf417", "datamatrix")
    if not linear:
        if rect.symbology == "qr":
            matrix = cv2.QRCodeEncoder.create().encode(text) < 128  # 2-module quiet zone included
        else:
            matrix = np.pad(_zxing_modules(text, rect.symbology), 2)
        module_mm = min(0.9, (min(rect.w, rect.h) - 12) / (max(matrix.shape) + 2))
        code_w, code_h = matrix.shape[1] * module_mm, matrix.shape[0] * module_mm
        label_w, label_h = code_w + 4, code_h + 8
    else:
        modules = code128.encode(text) if rect.symbology in (None, "code128") else np.pad(
            _zxing_modules(text, rect.symbology), code128.QUIET_MODULES)
        # >= 2 px per module at 150 dpi; Code 39 is longer, so its narrow bars are thinner to fit the region.
        if module_mm is None:
            module_mm = rng.uniform(0.36, 0.42) if rect.symbology in (None, "code128") else rng.uniform(0.25, 0.3)
        code_w, code_h = len(modules) * module_mm, min(12.0, rect.h - 12)
        label_w, label_h = code_w + 4, code_h + 9
    label_w, label_h = min(label_w, rect.w - 2), min(label_h, rect.h - 2)
    lw, lh = int(np.ceil(label_w * scale)), int(np.ceil(label_h * scale))
    label = np.full((lh, lw), 255, np.uint8)
    cv2.rectangle(label, (0, 0), (lw - 1, lh - 1), 222, 1)  # the sticker's edge casts a faint line
    ox, oy = (label_w - code_w) / 2 * scale, 2.0 * scale
    if not linear:
        coverage = _area_resample(matrix.astype(np.float32), module_mm * scale, ox, oy, lh, lw)
    else:
        row = code128.render_modules(modules, module_mm * scale, ox, lw)
        coverage = np.zeros((lh, lw), np.float32)
        coverage[int(oy):int(oy + code_h * scale)] = row
    label = (label * (1.0 - 0.9 * np.clip(coverage, 0, 1))).astype(np.uint8)
    font_scale = 2.4 * scale / 22.0
    (tw, _), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, font_scale, 1)
    cv2.putText(label, text, (int((lw - tw) / 2), int(lh - 1.6 * scale)), cv2.FONT_HERSHEY_SIMPLEX, font_scale,
                30, max(1, int(round(0.2 * scale))), cv2.LINE_AA)
    # Place it somewhere in the region, a little crooked, and paste it with its own alpha.
    free_x, free_y = max(0.0, rect.w - label_w - 2), max(0.0, rect.h - label_h - 2)
    cx = (rect.x + 1 + rng.uniform(0.2, 0.8) * free_x + label_w / 2) * scale - 0.5
    cy = (rect.y + 1 + rng.uniform(0.2, 0.8) * free_y + label_h / 2) * scale - 0.5
    matrix2 = cv2.getRotationMatrix2D(((lw - 1) / 2, (lh - 1) / 2), skew_deg, 1.0)
    half = int(np.ceil(np.hypot(lw, lh) / 2)) + 2
    x0, y0 = int(round(cx)) - half, int(round(cy)) - half
    matrix2[:, 2] += np.array([cx - x0 - (lw - 1) / 2, cy - y0 - (lh - 1) / 2])
    size = (2 * half + 1, 2 * half + 1)
    warped = cv2.warpAffine(label, matrix2, size, flags=cv2.INTER_LINEAR, borderValue=255)
    alpha = cv2.warpAffine(np.full((lh, lw), 255, np.uint8), matrix2, size, flags=cv2.INTER_LINEAR, borderValue=0)
    ys, xs = slice(max(y0, 0), min(y0 + size[1], image.shape[0])), slice(max(x0, 0), min(x0 + size[0], image.shape[1]))
    sub = (slice(ys.start - y0, ys.stop - y0), slice(xs.start - x0, xs.stop - x0))
    a = alpha[sub].astype(np.float32) / 255.0
    region = image[ys, xs]
    region[...] = (region * (1 - a) + warped[sub] * a + 0.5).astype(np.uint8)


def _zxing_modules(text: str, symbology: str) -> np.ndarray:
    """Modules (True = ink, no quiet zone) of zxing-cpp's symbol: a row for Code 39, the matrix for 2-D codes."""
    formats = {"code39": zxingcpp.BarcodeFormat.Code39, "pdf417": zxingcpp.BarcodeFormat.PDF417,
               "datamatrix": zxingcpp.BarcodeFormat.DataMatrix}
    image = np.asarray(zxingcpp.create_barcode(text, formats[symbology]).to_image(scale=1, add_quiet_zones=False))
    return image[0] < 128 if symbology == "code39" else image < 128


def _area_resample(matrix: np.ndarray, module_px: float, ox: float, oy: float, rows: int, cols: int,
                   module_py: float | None = None) -> np.ndarray:
    """Exact area-weighted rendering of a module matrix: coverage = R @ M @ C^T with 1-D overlap matrices.

    Modules are ``module_px`` wide and ``module_py`` (default: as wide) tall."""
    def overlap(n_px: int, n_mod: int, offset: float, pitch: float) -> np.ndarray:
        edges = np.arange(n_px + 1, dtype=np.float64)[:, None]
        starts = offset + np.arange(n_mod)[None, :] * pitch
        lo = np.maximum(edges[:-1], starts)
        hi = np.minimum(edges[1:], starts + pitch)
        return np.clip(hi - lo, 0, None)
    r = overlap(rows, matrix.shape[0], oy, module_px if module_py is None else module_py)
    c = overlap(cols, matrix.shape[1], ox, module_px)
    return (r @ matrix.astype(np.float64) @ c.T).astype(np.float32)


def scanned_label(modules: np.ndarray, module_mm: float, dpi: float, rng: np.random.Generator, *,
                  height_mm: float = 10.0, quiet_mm: float = 3.0, blur_px: float = 0.8, noise: float = 4.0,
                  skew_deg: float = 0.0) -> np.ndarray:
    """A printed barcode on its own, as a scanner at ``dpi`` sees it: area-sampled modules, skew, blur, noise.

    Parameters
    ----------
    modules : numpy.ndarray
        Bools, True = ink: 1-D for a linear symbol (bars ``height_mm`` tall), 2-D for a stacked or matrix one.
    module_mm : float
        Printed module width.
    dpi : float
        Scanner resolution.
    rng : numpy.random.Generator
        Sub-pixel placement and noise.
    height_mm, quiet_mm, blur_px, noise, skew_deg : float, optional
        Bar height (linear symbols), white margin on every side, Gaussian blur sigma in pixels, noise sigma in
        gray levels, rotation in degrees.

    Returns
    -------
    numpy.ndarray
        uint8 gray image, dark symbol on light paper.
    """
    scale = dpi / MM_PER_INCH
    matrix = np.asarray(modules, dtype=bool)
    module_px = module_mm * scale
    module_py = height_mm * scale if matrix.ndim == 1 else module_px
    matrix = np.atleast_2d(matrix)
    quiet = quiet_mm * scale
    rows = int(np.ceil(2 * quiet + matrix.shape[0] * module_py))
    cols = int(np.ceil(2 * quiet + matrix.shape[1] * module_px))
    ox, oy = quiet + rng.uniform(0, 1), quiet + rng.uniform(0, 1)
    coverage = _area_resample(matrix, module_px, ox, oy, rows, cols, module_py)
    image = 245.0 - 215.0 * np.clip(coverage, 0, 1)
    if skew_deg:
        turn = cv2.getRotationMatrix2D(((cols - 1) / 2, (rows - 1) / 2), skew_deg, 1.0)
        image = cv2.warpAffine(image, turn, (cols, rows), flags=cv2.INTER_LINEAR, borderValue=245.0)
    if blur_px:
        image = cv2.GaussianBlur(image, (0, 0), blur_px)
    image = image + rng.normal(0.0, noise, image.shape)
    return np.clip(image, 0, 255).astype(np.uint8)


# ----------------------------------------------------------------------------------------------------------
# Measuring what was drawn


def bubble_ink(blank: np.ndarray, marked: np.ndarray, geometry: BubbleGeometry, inner: float = 0.6) -> np.ndarray:
    """Mean darkening (0..1) that marks add inside each bubble's inner box (``inner`` x its radii).

    Printed outline and label cancel out (they are in both images), so the value measures pencil, pen,
    residue and smudges only.
    """
    hx = np.maximum(1, np.floor(geometry.rx * inner)).astype(int)
    hy = np.maximum(1, np.floor(geometry.ry * inner)).astype(int)
    cx, cy = np.round(geometry.cx).astype(int), np.round(geometry.cy).astype(int)
    out = np.zeros(len(cx))
    for size in set(zip(hx.tolist(), hy.tolist())):  # one gather per bubble size
        sel = np.flatnonzero((hx == size[0]) & (hy == size[1]))
        rows = cy[sel, None, None] + np.arange(-size[1], size[1] + 1)[None, :, None]
        cols = cx[sel, None, None] + np.arange(-size[0], size[0] + 1)[None, None, :]
        diff = blank[rows, cols].astype(np.int16) - marked[rows, cols]
        out[sel] = np.clip(diff, 0, None).mean(axis=(1, 2)) / 255.0
    return out
