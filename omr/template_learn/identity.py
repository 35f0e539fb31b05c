"""yuejuan's page-identity strip on a blank scan: a row of solid squares on a fixed pitch that decodes.

Only the strip's 1-bits are printed. A row of equal solid squares whose gaps are whole multiples of one pitch,
read as 19 cells from its first square, must pass :func:`omr.template.decode_identity` (start, stop and CRC-4
bits); that gives the template code and page number, so a strip is never guessed.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from omr.template import IDENTITY_BITS, decode_identity
from omr.template_learn.anchors import WORK_PX_PER_MM

__all__ = ["FoundIdentity", "find_identity"]

_CELL_MM = (1.5, 8.0)  # cell sides the template schema allows
_ROW_MM = 0.5


@dataclass(frozen=True)
class FoundIdentity:
    x: float  # centre of the first (start) cell, mm
    y: float
    cell: float
    pitch: float
    code: int
    page: int


def _squares(page: np.ndarray, paper: float, ink: float) -> list[tuple[float, float, float]]:
    scale = WORK_PX_PER_MM
    mask = (page < (paper + ink) / 2).astype(np.uint8)
    count, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    out = []
    for left, top, width, height, area in stats[1:count]:
        side = (width + height) / 2
        if not (_CELL_MM[0] * scale * 0.8 <= side <= _CELL_MM[1] * scale * 1.1):
            continue
        if abs(width - height) > 0.15 * side or area < 0.85 * width * height:
            continue
        out.append(((left + width / 2) / scale, (top + height / 2) / scale, side / scale))
    return out


def _decode_row(cells: list[tuple[float, float, float]]) -> FoundIdentity | None:
    cells = sorted(cells)
    gaps = np.diff([c[0] for c in cells])
    cell = float(np.median([c[2] for c in cells]))
    for divisor in range(1, 5):
        pitch = float(gaps.min()) / divisor
        if pitch < cell * 1.05:
            break
        steps = np.round(gaps / pitch)
        pitch = float(gaps.sum() / steps.sum())  # refined over the whole row
        if np.any(np.abs(gaps / pitch - steps) > 0.15):
            continue
        positions = np.concatenate([[0], np.cumsum(np.round(steps))]).astype(int)
        if positions[-1] >= IDENTITY_BITS:
            continue
        bits = [0] * IDENTITY_BITS
        for position in positions:
            bits[position] = 1
        decoded = decode_identity(bits)
        if decoded is None:
            continue
        # Refine the pitch over the whole row.
        xs = np.array([c[0] for c in cells])
        slope, origin = np.polyfit(positions, xs, 1) if len(cells) > 2 else (pitch, xs[0])
        return FoundIdentity(float(origin), float(np.mean([c[1] for c in cells])), cell, float(slope), *decoded)
    return None


def find_identity(page: np.ndarray, paper: float, ink: float,
                  anchors_mm: tuple[tuple[float, float], ...]) -> FoundIdentity | None:
    """The identity strip of an upright page raster, or None when the page carries none that decodes."""
    squares = [s for s in _squares(page, paper, ink)
               if min(np.hypot(s[0] - ax, s[1] - ay) for ax, ay in anchors_mm) > s[2]]
    rows: list[list[tuple[float, float, float]]] = []
    for square in sorted(squares, key=lambda s: s[1]):
        if rows and square[1] - rows[-1][0][1] <= _ROW_MM and abs(square[2] - rows[-1][0][2]) < 0.5:
            rows[-1].append(square)
        else:
            rows.append([square])
    for row in rows:
        if len(row) >= 2:
            found = _decode_row(row)
            if found is not None:
                return found
    return None
