"""Timing tracks (同步头): correct bubble positions row by row from the bars printed along the margins.

A page's global fit (anchors, refined on the printed outlines, see :mod:`omr.refine`) is one homography. Paper
stretch and a scanner whose feed speed drifts move rows against each other in ways no homography follows: the
late rows of a long page can sit a millimetre from where the fit puts them. A timing track is a row or column of
short black bars, one per bubble row (``left``/``right`` tracks) or column (``top``/``bottom``); each bar is
found near where the global fit predicts it (:func:`locate_bars`: a box search and a darkness-weighted
sub-pixel centroid, in Numba), its offset from the prediction taken back to template millimetres, checked
against its neighbours (a smudged, torn or missing bar must not pull its row), and the offsets of the bars kept
are interpolated along the track (:func:`track_offsets`) and added to every bubble's template position before
the global fit maps it into the image.

Row tracks give each row its offset (across the page between a left and a right track); column tracks give each
column its horizontal offset. With both, rows take their vertical offset from the row tracks and columns their
horizontal one from the column tracks. A track with too few bars found is not used, and the page says so.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Callable

import numpy as np
from numba import njit

from omr.register import apply_homography, homography_jacobians
from omr.template import TimingTrack

if TYPE_CHECKING:
    from omr.read import PreparedPage

__all__ = ["TrackReading", "locate_bars", "read_track", "track_offsets", "timing_corrected", "tracked_page",
           "track_note", "TRACKS_DISAGREE"]

_ACROSS_MM = 3.0  # how far across its track a bar is looked for from where the global fit puts it
_ALONG_MM = 3.0  # and along it (at most: less than half the gap to the next bar, so that one cannot be taken)
_RING_MM = 0.6  # the paper frame around a bar that must stay light
_SEARCH_PX_PER_MM = 4.0  # resolution bars are searched at (their centroid is taken at full resolution)
_MIN_INSIDE = 0.55  # a bar's box must be at least this dark on average (0 paper .. 1 ink)
_MAX_RING = 0.35  # and the frame around it at most this dark
_MIN_CONTRAST = 40.0  # gray levels between ink and paper in the search window
_NEIGHBOURS = 3  # bars each side a bar is checked against
_AGREE_MM = 0.25  # a bar further than this from what its neighbours say is not used
_MIN_SHARE = 0.5  # of a track's bars must be found and agree for the track to be used (and at least 3)

TRACKS_DISAGREE = "timing tracks disagree with the printed bubbles, positions from the anchors' fit"


@dataclass(frozen=True)
class TrackReading:
    """One timing track as found on a page.

    ``bars_mm`` are the printed bar centres; ``offsets_mm`` how far each bar was found from there, in template mm
    under the global fit (NaN where not found); ``used`` which bars were found and agree with their neighbours.
    """

    track: TimingTrack
    bars_mm: np.ndarray  # (n, 2)
    offsets_mm: np.ndarray  # (n, 2)
    used: np.ndarray  # (n,) bool

    @property
    def usable(self) -> bool:
        """Whether enough bars were found to correct the rows (or columns) by."""
        return int(self.used.sum()) >= max(3, int(np.ceil(_MIN_SHARE * len(self.used))))

    @property
    def along(self) -> np.ndarray:
        """Position of every bar along the track, mm (y for a left/right track, x for a top/bottom one)."""
        return self.bars_mm[:, 1] if self.track.runs_down else self.bars_mm[:, 0]


@njit(cache=True, nogil=True)
def _levels(values):
    """Paper (90th percentile) and ink (3rd percentile) gray levels of a window's (binned) pixels."""
    counts = np.zeros(256, np.int64)
    for value in values.ravel():
        counts[int(value)] += 1
    total = values.size
    running, ink, paper = 0, -1, 255
    for level in range(256):
        running += counts[level]
        if ink < 0 and running >= 0.03 * total:
            ink = level
        if running >= 0.9 * total:
            paper = level
            break
    return float(paper), float(ink)


@njit(cache=True, nogil=True)
def _locate_bars_kernel(image, centres, half, radius, ring, factor, min_contrast, out):
    """For each bar the box position, within ``radius`` px of its predicted centre, that is darkest inside and
    lightest in a frame ``ring`` px wide around it, then the darkness-weighted centroid there.

    The search runs on every ``factor``-th pixel each way (about 4 px/mm is plenty to place a bar's box, and a page
    is smooth at that scale: 1-bit pages are blurred before reading); the centroid is taken at full resolution.

    Parameters
    ----------
    image : (rows, cols) uint8 array
    centres, half, radius : (n, 2) float64 arrays
        Predicted centre, the bar's half extent (an upright box around the turned bar) and the search reach, px.
    ring : float
        Width of the paper frame around the box, px.
    factor : int
        Sampling step of the search, px.
    min_contrast : float
        Gray levels ink and paper must differ by in the window.
    out : (n, 5) float64 array
        Written: centroid x, y, mean darkness inside the box, mean darkness of the frame, and 1.0 when the best
        box lies on the edge of the search (the bar may be further away); NaN x when nothing qualifies.
    """
    rows, cols = image.shape
    f = factor
    for i in range(centres.shape[0]):
        out[i, 0] = np.nan
        hx, hy = int(np.ceil(half[i, 0] / f)), int(np.ceil(half[i, 1] / f))
        rx, ry = int(np.ceil(radius[i, 0] / f)), int(np.ceil(radius[i, 1] / f))
        rb = max(1, int(round(ring / f)))
        cx, cy = int(round(centres[i, 0])), int(round(centres[i, 1]))
        reach_x, reach_y = hx + rx + rb, hy + ry + rb
        w, h = 2 * reach_x + 1, 2 * reach_y + 1
        x0, y0 = cx - reach_x * f - (f - 1) // 2, cy - reach_y * f - (f - 1) // 2
        if x0 < 0 or y0 < 0 or x0 + w * f > cols or y0 + h * f > rows:
            continue
        blocks = np.empty((h, w))
        for v in range(h):
            for u in range(w):
                blocks[v, u] = image[y0 + v * f + f // 2, x0 + u * f + f // 2]
        paper, ink = _levels(blocks)
        if paper - ink < min_contrast:
            continue
        span = paper - ink
        # Integral image of darkness (0 paper .. 1 ink) over the blocks.
        integral = np.zeros((h + 1, w + 1))
        for v in range(h):
            row = 0.0
            for u in range(w):
                row += min(max((paper - blocks[v, u]) / span, 0.0), 1.0)
                integral[v + 1, u + 1] = integral[v, u + 1] + row
        inner_area = (2 * hx + 1) * (2 * hy + 1)
        outer_area = (2 * hx + 2 * rb + 1) * (2 * hy + 2 * rb + 1)
        best, bx, by, best_inside, best_ring = -1e9, 0, 0, 0.0, 0.0
        for dy in range(-ry, ry + 1):
            for dx in range(-rx, rx + 1):
                left, top = rb + rx + dx, rb + ry + dy  # the box [left, right) x [top, bottom) in blocks
                right, bottom = left + 2 * hx + 1, top + 2 * hy + 1
                inside = integral[bottom, right] - integral[top, right] - integral[bottom, left] + integral[top, left]
                outer = (integral[bottom + rb, right + rb] - integral[top - rb, right + rb]
                         - integral[bottom + rb, left - rb] + integral[top - rb, left - rb])
                inside_mean = inside / inner_area
                ring_mean = (outer - inside) / (outer_area - inner_area)
                if inside_mean - ring_mean > best:
                    best, bx, by, best_inside, best_ring = inside_mean - ring_mean, dx, dy, inside_mean, ring_mean
        # Sub-pixel centre at full resolution: darkness-weighted centroid over the box and a block beyond it
        # (paper noise ignored).
        px, py = cx + bx * f, cy + by * f
        reach_x, reach_y = int(np.ceil(half[i, 0])) + f + 1, int(np.ceil(half[i, 1])) + f + 1
        m00 = m10 = m01 = 0.0
        for y in range(max(0, py - reach_y), min(rows, py + reach_y + 1)):
            for x in range(max(0, px - reach_x), min(cols, px + reach_x + 1)):
                weight = min((paper - image[y, x]) / span, 1.0)
                if weight < 0.25:
                    continue
                m00 += weight
                m10 += weight * x
                m01 += weight * y
        if m00 <= 0:
            continue
        out[i, 0] = m10 / m00
        out[i, 1] = m01 / m00
        out[i, 2] = best_inside
        out[i, 3] = best_ring
        out[i, 4] = 1.0 if abs(bx) >= rx or abs(by) >= ry else 0.0


def locate_bars(image: np.ndarray, page_to_image: np.ndarray, track: TimingTrack) -> tuple[np.ndarray, np.ndarray]:
    """Where each bar of ``track`` is in ``image``, looked for near where ``page_to_image`` puts it.

    Returns
    -------
    found_px : (n, 2) float64 array
        Sub-pixel bar centres, NaN where no bar qualifies (too light, paper frame not clear, on the search edge).
    predicted_px : (n, 2) float64 array
        Where the global fit puts them.
    """
    bars_mm = np.array(track.bar_centres(), np.float64)
    predicted = apply_homography(page_to_image, bars_mm)
    jacobians = np.abs(homography_jacobians(page_to_image, bars_mm))
    size = np.array([track.bar_width / 2, track.bar_height / 2])
    along = min(_ALONG_MM, track.pitch / 2 - (track.bar_height if track.runs_down else track.bar_width) / 2 - 0.3)
    reach = np.array([_ACROSS_MM, along] if track.runs_down else [along, _ACROSS_MM])
    px_per_mm = float(np.sqrt(abs(np.linalg.det(homography_jacobians(page_to_image, bars_mm[:1])[0]))))
    out = np.empty((len(bars_mm), 5))
    factor = max(1, int(round(px_per_mm / _SEARCH_PX_PER_MM)))
    _locate_bars_kernel(np.ascontiguousarray(image), np.ascontiguousarray(predicted), jacobians @ size,
                        jacobians @ reach, _RING_MM * px_per_mm, factor, _MIN_CONTRAST, out)
    good = (np.isfinite(out[:, 0]) & (out[:, 2] >= _MIN_INSIDE) & (out[:, 3] <= _MAX_RING) & (out[:, 4] == 0))
    found = np.where(good[:, None], out[:, :2], np.nan)
    return found, predicted


@njit(cache=True, nogil=True)
def _agreeing(along, offsets, found, neighbours, tolerance):
    """Which found bars agree with their neighbours: each bar's offset against what the found bars within
    ``neighbours`` places either side predict (their offsets carried to it along the median slope of their pairs,
    a Theil-Sen line, so a steady drift is followed and one bad bar among them is outvoted), per coordinate."""
    n = along.shape[0]
    keep = np.zeros(n, np.bool_)
    for i in range(n):
        if not found[i]:
            continue
        near = [j for j in range(max(0, i - neighbours), min(n, i + neighbours + 1)) if j != i and found[j]]
        if len(near) < 2:
            continue
        agree = True
        for axis in range(2):
            slopes = []
            for a in range(len(near)):
                for b in range(a + 1, len(near)):
                    ja, jb = near[a], near[b]
                    slopes.append((offsets[jb, axis] - offsets[ja, axis]) / (along[jb] - along[ja]))
            slope = np.median(np.array(slopes))
            guesses = np.array([offsets[j, axis] + slope * (along[i] - along[j]) for j in near])
            if abs(offsets[i, axis] - np.median(guesses)) > tolerance:
                agree = False
        keep[i] = agree
    return keep


def read_track(image: np.ndarray, page_to_image: np.ndarray, track: TimingTrack) -> TrackReading:
    """Find the bars of ``track`` and how far each lies from where ``page_to_image`` puts it (template mm)."""
    bars_mm = np.array(track.bar_centres(), np.float64)
    found_px, _ = locate_bars(image, page_to_image, track)
    found = np.isfinite(found_px[:, 0])
    offsets = np.full_like(bars_mm, np.nan)
    if found.any():
        back = np.linalg.inv(page_to_image)
        offsets[found] = apply_homography(back, found_px[found]) - bars_mm[found]
    along = bars_mm[:, 1] if track.runs_down else bars_mm[:, 0]
    used = _agreeing(along, np.nan_to_num(offsets), found, _NEIGHBOURS, _AGREE_MM)
    return TrackReading(track, bars_mm, offsets, used)


def _along_offsets(reading: TrackReading, positions: np.ndarray) -> np.ndarray:
    """(n, 2) offsets at ``positions`` along the track: interpolated between the bars used, constant beyond."""
    along, used = reading.along, reading.used
    return np.stack([np.interp(positions, along[used], reading.offsets_mm[used, axis]) for axis in range(2)], axis=1)


def _across(readings: list[TrackReading], points_mm: np.ndarray, along_axis: int) -> np.ndarray | None:
    """Offsets of ``points_mm`` from tracks of one direction: each track's along its length, blended linearly
    between two tracks across the page (by the points' position between them), constant beyond them."""
    if not readings:
        return None
    across_axis = 1 - along_axis
    readings = sorted(readings, key=lambda r: float(np.mean(r.bars_mm[:, across_axis])))
    first, last = readings[0], readings[-1]
    near = _along_offsets(first, points_mm[:, along_axis])
    if last is first:
        return near
    far = _along_offsets(last, points_mm[:, along_axis])
    a, b = float(np.mean(first.bars_mm[:, across_axis])), float(np.mean(last.bars_mm[:, across_axis]))
    share = np.clip((points_mm[:, across_axis] - a) / (b - a), 0.0, 1.0)[:, None]
    return near * (1 - share) + far * share


def track_offsets(readings: list[TrackReading], points_mm: np.ndarray) -> np.ndarray:
    """(n, 2) template-mm corrections of ``points_mm`` from the usable tracks (zero without any).

    Row tracks (left/right) give every point the offset of its row, blended between a left and a right track;
    column tracks (top/bottom) that of its column. With both, the rows give the offset and the columns add, across
    the page only, what the rows do not already say where the column tracks run (their horizontal offset less the
    rows' there), so a drift along the feed and a stretch across it are both followed and neither counted twice.
    The vertical part is left to the rows: a column track lies beyond the first row, where the rows' offsets are
    only carried over, and its vertical offset would move every row by the drift between it and the first row.
    """
    points = np.asarray(points_mm, np.float64)
    usable = [reading for reading in readings if reading.usable]
    row_tracks = [r for r in usable if r.track.runs_down]
    column_tracks = [r for r in usable if not r.track.runs_down]
    rows = _across(row_tracks, points, 1)
    if not column_tracks:
        return rows if rows is not None else np.zeros_like(points)
    if rows is None:
        return _across(column_tracks, points, 0)
    missed = [replace(reading, offsets_mm=(reading.offsets_mm - _across(row_tracks, reading.bars_mm, 1)) * [1, 0])
              for reading in column_tracks]
    return rows + _across(missed, points, 0)


def track_note(reading: TrackReading) -> str:
    """The review reason of a track too few of whose bars were found (in Chinese by :mod:`omr.reason_text`)."""
    name = reading.track.id or reading.track.side
    return (f"timing track {name}: only {int(reading.used.sum())} of {len(reading.used)} bars usable, "
            "positions from the anchors' fit")


def timing_corrected(image: np.ndarray, page: "PreparedPage", page_to_image: np.ndarray
                     ) -> tuple["PreparedPage", list[str]]:
    """``page`` with every bubble's template position corrected by the page's timing tracks, and a note for each
    track that could not be used where no other track of its direction serves (``page`` itself when it has no
    tracks or none is usable)."""
    timing = page.expanded.timing
    if not timing:
        return page, []
    readings = [read_track(image, page_to_image, track) for track in timing]
    # A lost track matters when no other track of its direction remains: its rows (or columns) then keep the
    # global fit's positions. (A track cut off by the image edge beside a whole one on the other margin does not.)
    usable_directions = {reading.track.runs_down for reading in readings if reading.usable}
    notes = [track_note(reading) for reading in readings if reading.track.runs_down not in usable_directions]
    if not usable_directions:
        return page, notes
    return replace(page, centres_mm=page.centres_mm + track_offsets(readings, page.centres_mm)), notes


def tracked_page(image: np.ndarray, page: "PreparedPage", page_to_image: np.ndarray, verified: bool,
                 verify: Callable[["PreparedPage"], bool]) -> tuple["PreparedPage", bool, list[str]]:
    """The page to measure, whether its positions are verified, and the notes for review.

    The track-corrected page (:func:`timing_corrected`) is kept when ``verify`` finds the printed outlines where
    it puts them, or when the global fit was not verified either (every reading then stays unsure). When the
    global fit was verified and the corrected page is not, the bars lie where the print does not (a track printed
    out of place, print taken for bars): the global fit's positions are read, and the page says so.
    """
    moved, notes = timing_corrected(image, page, page_to_image)
    if moved is page:
        return page, verified, notes
    if verify(moved):
        return moved, True, notes
    if not verified:
        return moved, False, notes
    return page, True, [*notes, TRACKS_DISAGREE]
