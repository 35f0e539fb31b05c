"""Corner anchors of a blank scan, the page size they imply, and the page warped upright into millimetres.

The four corner anchors are the solid marks (a square, a rect, a circle or an L, told apart by how they fill their
box and which of its corners they leave empty) nearest to each corner of the image, leaving out the bars of timing
tracks (three or more of one size in a line at one pitch). Their spacing and the scan's dpi give the page size (A4, A3, Letter, 8K, 16K, portrait or landscape); the
anchors are then given millimetre positions on that page and a perspective transform maps the scan onto an
upright raster of ``WORK_PX_PER_MM`` pixels per millimetre, where bubbles are looked for.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from omr.geometry import MM_PER_INCH
from omr.template import PAGE_SIZES_MM

__all__ = ["LearnError", "FoundAnchor", "PageFrame", "find_page_frame", "warp_to_mm", "ink_levels",
           "WORK_PX_PER_MM", "NOMINAL_PAGES_MM"]

#: Resolution of the upright working raster, pixels per millimetre (~203 dpi).
WORK_PX_PER_MM = 8.0

#: Page sizes a blank scan is matched against (portrait width, height in mm); landscape is tried too.
NOMINAL_PAGES_MM: dict[str, tuple[float, float]] = {**PAGE_SIZES_MM, "Letter": (215.9, 279.4)}

_ANCHOR_MM = (2.0, 20.0)  # a square's side or a circle's diameter, as the template schema allows
_BOX_MM = (1.5, 40.0)  # a rect's or an L's width and height, as the schema allows
_MIN_SOLID_FILL = 0.9  # a square or rect's area / its box (blur rounds its corners a little)
_CIRCLE_FILL = (0.68, 0.9)  # pi/4 = 0.785
_L_ARM = (0.1, 0.6)  # an L's arm width / its shorter side, as the schema allows
_L_ON_ARMS = 0.95  # share of an L's pixels within its arms (a glyph's strokes wander off them)
_L_MIN_SIDE_PX = 6  # an L narrower than this many pixels cannot be told from a glyph
_CORNER = 0.75  # a box's corner patch: beyond this share of its half-sides (a circle leaves it empty)
_CENTRE_TOLERANCE_MM = 4.0
_SCANNER_DPIS = (100, 150, 200, 300, 400, 600)  # anchors this close to symmetric on the page are taken as symmetric


class LearnError(ValueError):
    """A blank scan from which no template can be drafted, with the reason."""


@dataclass(frozen=True)
class FoundAnchor:
    """One corner anchor: its box centre in image pixels, shape, size in mm and (for an L) its elbow and arm."""

    corner: str  # which page corner it marks: tl, tr, bl, br
    x_px: float
    y_px: float
    width_mm: float  # of its bounding box (a circle's diameter)
    height_mm: float
    shape: str  # square, circle, rect, l_corner
    elbow: str  # tl, tr, bl, br (meaningful for l_corner)
    arm_mm: float = 0.0  # an L's arm width

    @property
    def size_mm(self) -> float:
        """A square's side or a circle's diameter (the mean side of any other shape)."""
        return (self.width_mm + self.height_mm) / 2


@dataclass(frozen=True)
class PageFrame:
    """Where the page is in the scan: page size, anchors in mm, and the map from image pixels to page mm."""

    page_size: str | None  # a named size, or None for a custom one
    width_mm: float
    height_mm: float
    anchors: tuple[FoundAnchor, ...]
    anchors_mm: tuple[tuple[float, float], ...]  # (x, y) of each anchor's box centre, same order
    image_to_mm: np.ndarray  # 3x3 homography
    px_per_mm: float  # of the scan


def ink_levels(image: np.ndarray) -> tuple[float, float]:
    """(paper, ink) gray levels of a blank page: its median and its darkest 0.1 % (solid print)."""
    histogram = np.bincount(image.ravel(), minlength=256).cumsum()
    total = histogram[-1]
    paper = float(np.searchsorted(histogram, 0.5 * total))
    ink = float(np.searchsorted(histogram, 0.001 * total))
    if paper - ink < 40:
        raise LearnError("the image has no dark print (paper and darkest ink differ by less than 40 gray levels)")
    return paper, ink


@dataclass(frozen=True)
class _Blob:
    """A solid mark in image pixels: box centre, box sides (upright), shape, elbow, arm width."""

    x: float
    y: float
    width: float
    height: float
    shape: str
    elbow: str = "tl"
    arm: float = 0.0


def shrink_to_area(width: float, height: float, area: float) -> tuple[float, float]:
    """A solid box's sides from its pixel box and area: blur and pixel edges widen both sides of the box alike,
    while the area counted at a mid-gray threshold is the printed one; so ``(width - d) * (height - d) = area``."""
    total = width + height
    d = (total - np.sqrt(max(0.0, total * total - 4 * (width * height - area)))) / 2
    return width - d, height - d


def _l_sides(width: float, height: float, arm: float, area: float) -> tuple[float, float, float]:
    """An L's sides and arm at the print's edge from its pixel box and measured arm, which blur widens alike by
    some ``d``: the ``d`` at which ``a * (w + h) - a**2`` of the narrowed sides equals the counted area."""
    def printed(d: float) -> float:
        a = arm - d
        return a * (width - d + height - d) - a * a
    low, high = -arm / 2, arm / 2  # printed() falls as d grows
    for _ in range(40):
        middle = (low + high) / 2
        low, high = (middle, high) if printed(middle) > area else (low, middle)
    d = (low + high) / 2
    return width - d, height - d, arm - d


def _turn(points: np.ndarray, centre: np.ndarray, angle: float) -> np.ndarray:
    cos, sin = np.cos(-angle), np.sin(-angle)
    relative = points - centre
    return np.column_stack([relative[:, 0] * cos - relative[:, 1] * sin, relative[:, 0] * sin + relative[:, 1] * cos])


def _upright(points: np.ndarray) -> tuple[np.ndarray, tuple[float, float], float]:
    """Points turned about their centre so that the mark stands upright (a scan's skew is small): (points
    relative to the centre, centre, angle turned in radians). Of the minimum-area box's angle and the principal
    axis (which a thin bar's pixel staircase leaves clearer), the one giving the smaller pixel box wins."""
    rect = cv2.minAreaRect(points.astype(np.float32))
    corners = cv2.boxPoints(rect)
    edges = [corners[(i + 1) % 4] - corners[i] for i in range(4)]
    # The box edge nearest to horizontal gives the skew, in (-45, 45] degrees.
    angles = [min((float(np.arctan2(e[1], e[0])) for e in edges), key=lambda a: abs(np.sin(a)) + (np.cos(a) < 0))]
    centre = points.mean(axis=0)
    spread = np.cov((points - centre).T)
    principal = 0.5 * float(np.arctan2(2 * spread[0, 1], spread[0, 0] - spread[1, 1]))
    angles.append((principal + np.pi / 4) % (np.pi / 2) - np.pi / 4)  # the same axis, folded into (-45, 45]
    best = None
    for angle in angles:
        turned = _turn(points, centre, angle)
        box = np.prod(turned.max(axis=0) - turned.min(axis=0) + 1)
        if best is None or box < best[0]:
            best = (box, turned, angle)
    _, turned, angle = best
    return turned, (float(centre[0]), float(centre[1])), angle


def classify_solid(points: np.ndarray) -> _Blob | None:
    """A solid mark's shape from its pixels ((x, y) rows): a square or rect fills its box (an L at most 84 %, a
    circle 79 %), a circle leaves its four corners empty, an L only the corner opposite its elbow; anything
    else is None.

    Sizes are at the print's edge: the pixel box shrunk to the counted area (:func:`shrink_to_area`), a
    circle's diameter from its area, an L's sides and arm from its box and its arms' measured thickness,
    narrowed alike until ``a * (w + h) - a**2`` is its area (:func:`_l_sides`).
    """
    turned, (cx, cy), angle = _upright(points)
    low, high = turned.min(axis=0), turned.max(axis=0)
    width, height = float(high[0] - low[0] + 1), float(high[1] - low[1] + 1)  # pixel centres to pixel edges
    area = float(len(points))
    half = np.array([width / 2, height / 2])
    # The box's centre in the turned frame, and each pixel's share of the half-sides from it.
    middle = (low + high) / 2
    share = (turned - middle) / np.maximum(half - 0.5, 0.5)
    patch = float((1 - _CORNER) ** 2 * width * height / 4)  # pixels in a full corner patch
    full = {}
    for name, (sx, sy) in {"tl": (-1, -1), "tr": (1, -1), "bl": (-1, 1), "br": (1, 1)}.items():
        inside = (share[:, 0] * sx > _CORNER) & (share[:, 1] * sy > _CORNER)
        full[name] = np.count_nonzero(inside) >= 0.5 * patch
    # Back to image coordinates: the box centre turned back.
    cos, sin = np.cos(angle), np.sin(angle)
    x, y = cx + middle[0] * cos - middle[1] * sin, cy + middle[0] * sin + middle[1] * cos
    fill = area / (width * height)
    if fill >= _MIN_SOLID_FILL:  # whatever its corners (a thin bar's pixel staircase thins two of them)
        side_w, side_h = shrink_to_area(width, height, area)
        square = max(side_w, side_h) <= 1.15 * min(side_w, side_h)
        return _Blob(x, y, side_w, side_h, "square" if square else "rect")
    if not any(full.values()) and _CIRCLE_FILL[0] <= fill <= _CIRCLE_FILL[1] and max(width, height) <= 1.15 * min(
            width, height):
        diameter = float(np.sqrt(4 * area / np.pi))
        return _Blob(x, y, diameter, diameter, "circle")
    empty = [name for name, is_full in full.items() if not is_full]
    if len(empty) == 1 and min(width, height) >= _L_MIN_SIDE_PX:
        elbow = {"tl": "br", "tr": "bl", "bl": "tr", "br": "tl"}[empty[0]]
        # Distances from the elbow's two outer sides: an L's pixels lie within an arm's width of one of them.
        from_x = (turned[:, 0] - low[0]) if elbow[1] == "l" else (high[0] - turned[:, 0])
        from_y = (turned[:, 1] - low[1]) if elbow[0] == "t" else (high[1] - turned[:, 1])
        # Each arm's thickness where it runs alone (beyond 60 % of the other side), in pixels per column or row.
        far_x, far_y = from_x > 0.6 * (width - 1), from_y > 0.6 * (height - 1)
        columns, rows = np.unique(np.round(from_x[far_x])).size, np.unique(np.round(from_y[far_y])).size
        if columns and rows:
            measured = (np.count_nonzero(far_x) / columns + np.count_nonzero(far_y) / rows) / 2
            on_arms = np.mean((from_x < measured + 0.5) | (from_y < measured + 0.5))
            side_w, side_h, arm = _l_sides(width, height, measured, area)
            if _L_ARM[0] <= arm / min(side_w, side_h) <= _L_ARM[1] and on_arms >= _L_ON_ARMS:
                return _Blob(x, y, side_w, side_h, "l_corner", elbow, arm)
    return None


def _solid_blobs(mask: np.ndarray, px_per_mm: tuple[float, float]) -> list[_Blob]:
    """Solid marks of anchor size (squares, rects, circles, L-corners), in image pixels."""
    shortest, longest = _BOX_MM[0] * px_per_mm[0] * 0.8, _BOX_MM[1] * px_per_mm[1] * 1.15
    least = _ANCHOR_MM[0] * px_per_mm[0] * 0.8
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    blobs = []
    for index in range(1, count):
        left, top, width, height, area = stats[index]
        if not (least <= max(width, height) <= longest * 1.1 and min(width, height) >= shortest * 0.9):
            continue
        if area < 0.15 * width * height:
            continue  # a frame or a line drawing, not a solid mark
        points = np.column_stack(np.nonzero(labels[top:top + height, left:left + width] == index)[::-1])
        blob = classify_solid(points.astype(np.float64) + [left, top])
        if blob is None or not (least <= max(blob.width, blob.height) <= longest
                                and min(blob.width, blob.height) >= shortest):
            continue
        if blob.shape in ("square", "circle") and max(blob.width, blob.height) > _ANCHOR_MM[1] * px_per_mm[1] * 1.15:
            continue
        if blob.shape == "l_corner" and min(blob.width, blob.height) < least:
            continue  # smaller than an L anchor may be: a glyph such as L
        blobs.append(blob)
    return blobs


def in_series(blobs: list[_Blob], tolerance: float) -> set[int]:
    """Indices of the blobs that are bars of a timing track: three or more marks of one size in a row or a column
    at one pitch (within ``tolerance`` pixels), which are never the corner anchors."""
    if len(blobs) < 3:
        return set()
    centres = np.array([(b.x, b.y) for b in blobs])
    sizes = np.array([(b.width, b.height) for b in blobs])
    members: set[int] = set()
    for i in range(len(blobs)):
        similar = np.nonzero(np.all(np.abs(sizes - sizes[i]) <= tolerance, axis=1))[0]
        similar = similar[similar != i]
        steps = centres[i] - centres[similar]
        similar = similar[np.min(np.abs(steps), axis=1) <= tolerance]  # along a row or a column
        if len(similar) < 2:
            continue
        # The middle of three: a similar mark one step beyond it on the other side.
        mirrored = 2 * centres[i] - centres[similar]
        distance = np.hypot(*(mirrored[:, None, :] - centres[None, similar, :]).transpose(2, 0, 1))
        before, after = np.nonzero(distance <= tolerance)
        for b, a in zip(before, after):
            members.update((i, int(similar[b]), int(similar[a])))
    return members


def _pick_corners(blobs: list[_Blob], shape: tuple[int, int], tolerance: float) -> list[tuple[str, _Blob]]:
    """The solid mark nearest each corner of the image, timing-track bars left out."""
    rows, cols = shape
    bars = in_series(blobs, tolerance)
    candidates = [blob for index, blob in enumerate(blobs) if index not in bars]
    corners = {"tl": (0.0, 0.0), "tr": (cols - 1.0, 0.0), "bl": (0.0, rows - 1.0), "br": (cols - 1.0, rows - 1.0)}
    picked = []
    for name, (x, y) in corners.items():
        inside = [b for b in candidates
                  if (b.x < cols / 2) == (name[1] == "l") and (b.y < rows / 2) == (name[0] == "t")]
        if inside:
            picked.append((name, min(inside, key=lambda b: np.hypot(b.x - x, b.y - y))))
    return picked


def _scanner_dpi(px_per_mm: float) -> float:
    """The dpi of a scan whose file does not say: the nearest resolution scanners use when the image size is
    within 5 % of it (a scan is the page plus a few millimetres of overscan), else the image size's own."""
    estimate = px_per_mm * MM_PER_INCH
    nearest = min(_SCANNER_DPIS, key=lambda dpi: abs(dpi - estimate))
    return float(nearest) if abs(nearest - estimate) <= 0.05 * nearest else estimate


def _page_candidates() -> list[tuple[str, float, float]]:
    out = []
    for name, (w, h) in NOMINAL_PAGES_MM.items():
        out.append((name, w, h))
        out.append((f"{name} landscape", h, w))
    return out


def _choose_page(spacing_px: tuple[float, float], shape: tuple[int, int], dpi: float | None
                 ) -> tuple[str, float, float, float]:
    """(name, width mm, height mm, px per mm) of the nominal page that fits the anchors' spacing and the scan."""
    rows, cols = shape
    best: tuple[float, tuple[str, float, float, float]] | None = None
    for name, width, height in _page_candidates():
        unusual = False
        if dpi:
            px_per_mm = dpi / MM_PER_INCH
        else:
            # A4, A3 and 8K share one aspect: without a dpi, the size read at a resolution scanners use wins.
            resolution = _scanner_dpi((cols / width + rows / height) / 2)
            unusual = resolution not in _SCANNER_DPIS
            px_per_mm = resolution / MM_PER_INCH
        spacing_w, spacing_h = spacing_px[0] / px_per_mm, spacing_px[1] / px_per_mm
        margin_w, margin_h = (width - spacing_w) / 2, (height - spacing_h) / 2
        if not (1.0 <= margin_w <= 45.0 and 1.0 <= margin_h <= 45.0):
            continue
        # The scan is the paper plus at most a little overscan: its size in mm should match the page.
        misfit = abs(cols / px_per_mm - width) + abs(rows / px_per_mm - height) + (1000.0 if unusual else 0.0)
        if best is None or misfit < best[0]:
            best = (misfit, (name, width, height, px_per_mm))
    if best is None or best[0] % 1000.0 > 0.12 * (best[1][1] + best[1][2]):
        size = f"{cols}x{rows} px" + (f" at {dpi:g} dpi" if dpi else "")
        raise LearnError(f"the corner anchors' spacing fits no page size of {', '.join(NOMINAL_PAGES_MM)} "
                         f"({size}); is the scan cropped or its dpi wrong?")
    return best[1]


def find_page_frame(image: np.ndarray, dpi: float | None) -> PageFrame:
    """Find the four corner anchors of a blank scan and the page they frame.

    Parameters
    ----------
    image : (rows, cols) uint8 array
        The scan, 255 = paper, roughly upright (a few degrees of skew are fine).
    dpi : float or None
        The scan's resolution when the file records it; otherwise it is inferred from the page size.

    Returns
    -------
    PageFrame

    Raises
    ------
    LearnError
        When fewer than four corner anchors are found or their spacing fits no page size.
    """
    paper, ink = ink_levels(image)
    mask = (image < (paper + ink) / 2).astype(np.uint8)
    rows, cols = image.shape
    if dpi:
        guess = (dpi / MM_PER_INCH, dpi / MM_PER_INCH)
    else:  # anywhere between an A3 and a 16K page across the image
        guess = (min(rows, cols) / 297.0, min(rows, cols) / 184.0)
    picked = _pick_corners(_solid_blobs(mask, guess), image.shape, tolerance=0.6 * guess[0])
    if len(picked) < 4:
        found = ", ".join(name for name, _ in picked) or "none"
        raise LearnError(f"found {len(picked)} of 4 corner anchors (solid squares, circles or L-marks of "
                         f"{_ANCHOR_MM[0]:g}-{_ANCHOR_MM[1]:g} mm near each corner; found: {found})")
    centres = {name: np.array([blob.x, blob.y]) for name, blob in picked}
    spacing = (float(np.linalg.norm(centres["tr"] - centres["tl"]) + np.linalg.norm(centres["br"] - centres["bl"])) / 2,
               float(np.linalg.norm(centres["bl"] - centres["tl"]) + np.linalg.norm(centres["br"] - centres["tr"])) / 2)
    name, width, height, px_per_mm = _choose_page(spacing, image.shape, dpi)
    spacing_w, spacing_h = round(spacing[0] / px_per_mm, 1), round(spacing[1] / px_per_mm, 1)
    # Where the anchors sit on the paper: symmetric when the scan shows them nearly so (which cancels a
    # feeder's shift), else as measured with the paper assumed centred in the scan. The anchors' mean is
    # compared with the image centre: a skew about the centre leaves it in place.
    mean = np.mean([centres[c] for c in centres], axis=0)
    offset_x, offset_y = (mean[0] - (cols - 1) / 2) / px_per_mm, (mean[1] - (rows - 1) / 2) / px_per_mm
    left, top = (width - spacing_w) / 2, (height - spacing_h) / 2
    if abs(offset_x) > _CENTRE_TOLERANCE_MM:
        left += offset_x
    if abs(offset_y) > _CENTRE_TOLERANCE_MM:
        top += offset_y
    left, top = round(left, 1), round(top, 1)
    order = ("tl", "tr", "bl", "br")
    targets = {"tl": (left, top), "tr": (left + spacing_w, top), "bl": (left, top + spacing_h),
               "br": (left + spacing_w, top + spacing_h)}
    blobs = dict(picked)
    anchors = tuple(_found_anchor(corner, blobs[corner], px_per_mm) for corner in order)
    source = np.array([centres[c] for c in order], np.float32)
    target = np.array([targets[c] for c in order], np.float32)
    matrix = cv2.getPerspectiveTransform(source, target)
    named = None if name.endswith("landscape") or name == "Letter" else name
    return PageFrame(named, width, height, anchors, tuple(targets[c] for c in order), matrix, px_per_mm)


def _found_anchor(corner: str, blob: _Blob, px_per_mm: float) -> FoundAnchor:
    """An anchor in mm, sides to a tenth as the schema bounds them (an L's arm within its allowed share)."""
    low, high = _BOX_MM if blob.shape in ("rect", "l_corner") else _ANCHOR_MM
    width, height = (float(np.clip(round(side / px_per_mm, 1), low, high)) for side in (blob.width, blob.height))
    if blob.shape in ("square", "circle"):
        width = height = float(np.clip(round((blob.width + blob.height) / 2 / px_per_mm, 1), *_ANCHOR_MM))
    arm = 0.0
    if blob.shape == "l_corner":
        arm = float(np.clip(round(blob.arm / px_per_mm, 1), _L_ARM[0] * min(width, height),
                            _L_ARM[1] * min(width, height)))
    return FoundAnchor(corner, blob.x, blob.y, width, height, blob.shape, blob.elbow, arm)


def warp_to_mm(image: np.ndarray, frame: PageFrame) -> np.ndarray:
    """The page upright at ``WORK_PX_PER_MM``: pixel (c, r) has its centre at ((c + 0.5) / s, (r + 0.5) / s) mm."""
    scale = WORK_PX_PER_MM
    to_work = np.array([[scale, 0, -0.5], [0, scale, -0.5], [0, 0, 1]], np.float64) @ frame.image_to_mm
    size = (int(round(frame.width_mm * scale)), int(round(frame.height_mm * scale)))
    return cv2.warpPerspective(image, to_work, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
