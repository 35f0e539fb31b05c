"""Timing tracks (同步头) of an upright blank page: rows or columns of short solid bars along the margins.

A track is three or more solid bars of one size in a column (a ``left`` or ``right`` track, one bar per bubble
row) or a row (``top`` or ``bottom``, one bar per bubble column) at one pitch, lying between the page's edge and
its bubbles. Corner anchors and the identity strip's cells are solid too and are left out first. A track's
first bar and pitch are a least-squares fit over all its bars; a bar's size is its pixel box shrunk to its
counted area (:func:`.anchors.shrink_to_area`), the median over the track.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from omr.template import IDENTITY_BITS
from omr.template_learn.anchors import WORK_PX_PER_MM, FoundAnchor, shrink_to_area
from omr.template_learn.bubbles import FoundBubble
from omr.template_learn.identity import FoundIdentity

__all__ = ["FoundTrack", "find_tracks"]

_BAR_MM = (0.8, 20.0)  # a bar's sides, as the template schema allows
_SOLID_FILL = 0.8  # a bar's area / its pixel box
_SAME_MM = 0.4  # bars of one track differ in size and line by less than this
_PITCH_MM = 0.4  # gaps of one track differ by less than this
_MIN_BARS = 3  # as the template schema allows


@dataclass(frozen=True)
class FoundTrack:
    """A timing track in page millimetres, as the template's ``TimingTrack`` has it."""

    side: str  # left, right, top, bottom
    x: float  # first bar's centre
    y: float
    count: int
    pitch: float
    bar_width: float
    bar_height: float


@dataclass(frozen=True)
class _Bar:
    x: float
    y: float
    width: float
    height: float


def _bars(page: np.ndarray, paper: float, ink: float) -> list[_Bar]:
    scale = WORK_PX_PER_MM
    mask = (page < (paper + ink) / 2).astype(np.uint8)
    count, _, stats, centroids = cv2.connectedComponentsWithStats(mask, connectivity=8)
    bars = []
    for index in range(1, count):
        _, _, width, height, area = stats[index]
        if area < _SOLID_FILL * width * height or not _BAR_MM[0] * scale <= min(width, height):
            continue
        if max(width, height) > _BAR_MM[1] * scale:
            continue
        side_w, side_h = shrink_to_area(float(width), float(height), float(area))
        bars.append(_Bar(float(centroids[index][0] + 0.5) / scale, float(centroids[index][1] + 0.5) / scale,
                         side_w / scale, side_h / scale))
    return bars


def _outside(bar: _Bar, boxes: list[tuple[float, float, float, float]]) -> bool:
    return all(not (left - 0.5 <= bar.x <= right + 0.5 and top - 0.5 <= bar.y <= bottom + 0.5)
               for left, top, right, bottom in boxes)


def _runs(bars: list[_Bar], down: bool) -> list[list[_Bar]]:
    """Bars in one column (``down``) or row, of one size, split where the pitch changes; three or more."""
    across = (lambda b: b.x) if down else (lambda b: b.y)
    along = (lambda b: b.y) if down else (lambda b: b.x)
    lines: list[list[_Bar]] = []
    for bar in sorted(bars, key=across):
        for line in lines:
            first = line[0]
            if (abs(across(bar) - across(first)) <= _SAME_MM and abs(bar.width - first.width) <= _SAME_MM
                    and abs(bar.height - first.height) <= _SAME_MM):
                line.append(bar)
                break
        else:
            lines.append([bar])
    runs = []
    for line in lines:
        line.sort(key=along)
        current = line[:1]
        for bar in line[1:]:
            gap = along(bar) - along(current[-1])
            if len(current) > 1 and abs(gap - (along(current[1]) - along(current[0]))) > _PITCH_MM:
                if len(current) >= _MIN_BARS:
                    runs.append(current)
                    current = []
                else:  # too short to be a track: its last bar may start one
                    current = current[-1:]
            current.append(bar)
        if len(current) >= _MIN_BARS:
            runs.append(current)
    return runs


def _track(run: list[_Bar], down: bool, page_mm: tuple[float, float]) -> FoundTrack:
    along = np.array([b.y if down else b.x for b in run])
    index = np.arange(len(run))
    pitch, start = np.polyfit(index, along, 1)
    across = float(np.mean([b.x if down else b.y for b in run]))
    if down:
        side = "left" if across < page_mm[0] / 2 else "right"
        x, y = across, float(start)
    else:
        side = "top" if across < page_mm[1] / 2 else "bottom"
        x, y = float(start), across
    return FoundTrack(side, x, y, len(run), float(pitch), float(np.median([b.width for b in run])),
                      float(np.median([b.height for b in run])))


def _between_edge_and(track: FoundTrack, run: list[_Bar], bubble: FoundBubble) -> bool:
    """True when ``bubble`` lies between the track and its page edge, alongside it: then the bars are no
    timing track, which runs along the margin outside every bubble."""
    if track.side in ("left", "right"):
        alongside = run[0].y - track.pitch / 2 <= bubble.y <= run[-1].y + track.pitch / 2
        return alongside and (bubble.x < track.x if track.side == "left" else bubble.x > track.x)
    alongside = run[0].x - track.pitch / 2 <= bubble.x <= run[-1].x + track.pitch / 2
    return alongside and (bubble.y < track.y if track.side == "top" else bubble.y > track.y)


def find_tracks(page: np.ndarray, paper: float, ink: float, anchors: tuple[FoundAnchor, ...],
                anchors_mm: tuple[tuple[float, float], ...], identity: FoundIdentity | None,
                bubbles: list[FoundBubble]) -> list[FoundTrack]:
    """Every timing track of an upright page raster (see :func:`.anchors.warp_to_mm`).

    Parameters
    ----------
    page : (rows, cols) uint8 array
        The page at ``WORK_PX_PER_MM``.
    paper, ink : float
        Gray levels of paper and solid print on this scan.
    anchors : tuple of FoundAnchor
        The corner anchors (left out), with ``anchors_mm`` their centres in mm.
    anchors_mm : tuple of (x, y)
    identity : FoundIdentity or None
        The identity strip when the page has one (its cells are left out).
    bubbles : list of FoundBubble
        The page's bubbles: none lies between a track and its page edge.

    Returns
    -------
    list of FoundTrack
        Left, right, top and bottom tracks, in that order.
    """
    boxes = [(x - a.width_mm / 2, y - a.height_mm / 2, x + a.width_mm / 2, y + a.height_mm / 2)
             for a, (x, y) in zip(anchors, anchors_mm)]
    if identity is not None:
        boxes.append((identity.x - identity.pitch / 2, identity.y - identity.cell,
                      identity.x + (IDENTITY_BITS - 0.5) * identity.pitch, identity.y + identity.cell))
    bars = [bar for bar in _bars(page, paper, ink) if _outside(bar, boxes)]
    page_mm = (page.shape[1] / WORK_PX_PER_MM, page.shape[0] / WORK_PX_PER_MM)
    tracks = []
    for down in (True, False):
        for run in _runs(bars, down):
            track = _track(run, down, page_mm)
            if not any(_between_edge_and(track, run, bubble) for bubble in bubbles):
                tracks.append(track)
    order = ("left", "right", "top", "bottom")
    return sorted(tracks, key=lambda t: (order.index(t.side), t.x, t.y))
