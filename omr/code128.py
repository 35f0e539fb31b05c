"""Code 128 barcodes: encode text to modules, decode a scanline or an upright crop of a label.

OpenCV's ``cv2.barcode`` detector reads EAN/UPC only, so the student labels (考生条形码) printed in Code 128 are
read here. Decoding is built to fail closed: every character must match its bar/space pattern clearly, the
start and stop patterns and quiet zones must be present and the mod-103 checksum must agree, otherwise the
answer is ``None``, never a guess.

Widths are compared through *edge-to-similar-edge* distances (bar+space pairs), which do not change when ink
spread or blur makes every bar wider and every space narrower by the same amount.
"""

from __future__ import annotations

from collections import Counter

import cv2
import numpy as np

__all__ = ["encode", "codewords", "render_modules", "decode_scanline", "decode_region", "region_readings",
           "QUIET_MODULES"]

#: Quiet zone added on each side by :func:`encode`, in modules (the standard asks for 10).
QUIET_MODULES = 10

# Bar/space widths (modules) of symbol values 0..106; 106 (stop) has a 7th element, a 2-module bar.
_PATTERNS_TEXT = (
    "212222 222122 222221 121223 121322 131222 122213 122312 132212 221213 "
    "221312 231212 112232 122132 122231 113222 123122 123221 223211 221132 "
    "221231 213212 223112 312131 311222 321122 321221 312212 322112 322211 "
    "212123 212321 232121 111323 131123 131321 112313 132113 132311 211313 "
    "231113 231311 112133 112331 132131 113123 113321 133121 313121 211331 "
    "231131 213113 213311 213131 311123 311321 331121 312113 312311 332111 "
    "314111 221411 431111 111224 111422 121124 121421 141122 141221 112214 "
    "112412 122114 122411 142112 142211 241211 221114 413111 241112 134111 "
    "111242 121142 121241 114212 124112 124211 411212 421112 421211 212141 "
    "214121 412121 111143 111341 131141 114113 114311 411113 411311 113141 "
    "114131 311141 411131 211412 211214 211232 2331112"
)
PATTERNS: tuple[tuple[int, ...], ...] = tuple(tuple(int(c) for c in p) for p in _PATTERNS_TEXT.split())

_START_A, _START_B, _START_C, _STOP = 103, 104, 105, 106
_SHIFT, _CODE_C, _CODE_B, _CODE_A, _FNC1 = 98, 99, 100, 101, 102

_WIDTHS = np.array([p[:6] for p in PATTERNS], dtype=np.float64)  # (107, 6)
_EDGES = _WIDTHS[:, :-1] + _WIDTHS[:, 1:]  # (107, 5) edge-to-similar-edge distances


def codewords(text: str) -> list[int]:
    """Symbol values for ``text`` (start code, data, checksum; without stop), using code sets B and C.

    Runs of four or more digits go into code set C (two digits per symbol); everything else into code set B.

    Parameters
    ----------
    text : str
        Printable ASCII (space to ``~``), at least one character.

    Returns
    -------
    list of int
        Start code, data symbols and the mod-103 checksum.

    Raises
    ------
    ValueError
        If ``text`` is empty or holds characters code set B cannot encode.
    """
    if not text:
        raise ValueError("cannot encode an empty string in Code 128")
    bad = [ch for ch in text if not 32 <= ord(ch) <= 126]
    if bad:
        raise ValueError(f"Code 128 set B/C cannot encode {bad[0]!r}")
    values: list[int] = []
    mode = None
    i, n = 0, len(text)
    while i < n:
        run = 0
        while i + run < n and text[i + run].isdigit():
            run += 1
        # Code C pays off for 4+ digits (or a string made only of an even number of digits, e.g. "42").
        if run >= 4 or (run == n and run % 2 == 0):
            if run % 2:  # odd run: one digit in set B first
                if mode != "B":
                    values.append(_START_B if mode is None else _CODE_B)
                    mode = "B"
                values.append(ord(text[i]) - 32)
                i += 1
                run -= 1
            if mode != "C":
                values.append(_START_C if mode is None else _CODE_C)
                mode = "C"
            for k in range(i, i + run, 2):
                values.append(int(text[k:k + 2]))
            i += run
        else:
            if mode != "B":
                values.append(_START_B if mode is None else _CODE_B)
                mode = "B"
            values.append(ord(text[i]) - 32)
            i += 1
    checksum = (values[0] + sum(k * v for k, v in enumerate(values[1:], start=1))) % 103
    return values + [checksum]


def encode(text: str, quiet: int = QUIET_MODULES) -> np.ndarray:
    """Modules of the Code 128 symbol for ``text``: True for a bar, with ``quiet`` empty modules each side.

    Parameters
    ----------
    text : str
        Printable ASCII; digit runs are packed with code set C.
    quiet : int, optional
        Quiet-zone width in modules on each side.

    Returns
    -------
    numpy.ndarray
        1-D bool array, ``11 * (symbols) + 13 + 2 * quiet`` modules long.
    """
    widths: list[int] = []
    for value in codewords(text) + [_STOP]:
        widths.extend(PATTERNS[value])
    bars = np.repeat(np.arange(len(widths)) % 2 == 0, widths)
    pad = np.zeros(quiet, dtype=bool)
    return np.concatenate([pad, bars, pad])


def render_modules(modules: np.ndarray, module_px: float, offset_px: float = 0.0,
                   length_px: int | None = None) -> np.ndarray:
    """Ink coverage (0..1) of each pixel of a scanline crossing ``modules``, with exact area sampling.

    Parameters
    ----------
    modules : numpy.ndarray
        1-D bools (True = bar), e.g. from :func:`encode`.
    module_px : float
        Module width in pixels (any positive real; fractional widths are anti-aliased).
    offset_px : float, optional
        Where the first module starts, in pixels from the left edge of pixel 0.
    length_px : int, optional
        Pixels in the result; by default just enough to hold the symbol.

    Returns
    -------
    numpy.ndarray
        float32 coverage per pixel, 1 where a pixel lies entirely on a bar.
    """
    modules = np.asarray(modules, dtype=bool)
    if length_px is None:
        length_px = int(np.ceil(offset_px + len(modules) * module_px))
    # Cumulative ink up to each module boundary, interpolated at pixel edges.
    boundaries = offset_px + np.arange(len(modules) + 1) * module_px
    cumulative = np.concatenate([[0.0], np.cumsum(modules * module_px)])
    edges = np.arange(length_px + 1, dtype=np.float64)
    ink = np.interp(edges, boundaries, cumulative)
    return np.diff(ink).astype(np.float32)


# ----------------------------------------------------------------------------------------------------------
# Decoding


def _runs(profile: np.ndarray, threshold: np.ndarray | float) -> tuple[np.ndarray, bool]:
    """Widths of alternating dark/light runs, edges located to sub-pixel precision.

    Returns the widths (from the first edge to the last) and whether the first run is dark.
    """
    d = profile - threshold
    dark = d < 0
    flips = np.flatnonzero(dark[1:] != dark[:-1])
    if len(flips) < 8:
        return np.empty(0), True
    a, b = d[flips], d[flips + 1]
    edges = flips + a / (a - b)  # linear interpolation of the threshold crossing
    # runs: [left margin], run between consecutive edges..., [right margin]
    widths = np.concatenate([[edges[0] + 0.5], np.diff(edges), [len(profile) - 0.5 - edges[-1]]])
    return widths, bool(dark[0])


def _match(widths: np.ndarray) -> tuple[int, float]:
    """Best symbol for 6 element widths and a confidence margin (second-best minus best distance)."""
    total = widths.sum()
    if total <= 0:
        return -1, 0.0
    n = widths * (11.0 / total)
    e = n[:-1] + n[1:]
    dist = ((_EDGES - e) ** 2).sum(axis=1) + 0.5 * ((_WIDTHS - n) ** 2).sum(axis=1)
    order = np.argpartition(dist, 2)[:2]
    best, second = (order if dist[order[0]] <= dist[order[1]] else order[::-1])
    return int(best), float(dist[second] - dist[best]) if dist[best] < 1.0 else -1.0


def _decode_runs(widths: np.ndarray, first_dark: bool) -> str | None:
    """Decode a sequence of alternating run widths; try every dark run as a possible start code."""
    count = len(widths)
    dark_offset = 0 if first_dark else 1
    for start in range(dark_offset, count - 6 * 3, 2):
        block = widths[start:start + 6]
        value, margin = _match(block)
        if value not in (_START_A, _START_B, _START_C) or margin < 0.5:
            continue
        module = block.sum() / 11.0
        # Quiet zone before the start code (or the crop's edge, which the margin run accounts for).
        if start > 0 and widths[start - 1] < 4.0 * module:
            continue
        result = _decode_from(widths, start, module)
        if result is not None:
            return result
    return None


def _decode_from(widths: np.ndarray, start: int, module: float) -> str | None:
    values: list[int] = []
    pos = start
    while pos + 7 <= len(widths):
        block = widths[pos:pos + 6]
        width = block.sum()
        if not 0.75 * 11 * module < width < 1.33 * 11 * module:
            return None
        value, margin = _match(block)
        if value < 0 or margin < 0.5:
            return None
        module = 0.7 * module + 0.3 * width / 11.0  # follow slow drift (perspective, curl)
        if value == _STOP:
            last_bar = widths[pos + 6] / module
            after = widths[pos + 7] if pos + 7 < len(widths) else 0.0
            if not 1.3 < last_bar < 2.9:
                return None
            if pos + 7 < len(widths) - 1 and after < 4.0 * module:
                return None  # no quiet zone: this was not the end of a symbol
            if pos + 7 == len(widths) - 1 and after < 1.0 * module:
                return None
            return _interpret(values)
        values.append(value)
        pos += 6
    return None


def _interpret(values: list[int]) -> str | None:
    """Text of start code + data + checksum, or None when the checksum or code-set logic disagrees."""
    if len(values) < 3 or values[0] not in (_START_A, _START_B, _START_C):
        return None
    *body, check = values
    if (body[0] + sum(k * v for k, v in enumerate(body[1:], start=1))) % 103 != check:
        return None
    mode = {_START_A: "A", _START_B: "B", _START_C: "C"}[body[0]]
    out: list[str] = []
    shift = False
    for value in body[1:]:
        if value >= _START_A:
            return None
        current = ("B" if mode == "A" else "A") if shift else mode
        shift = False
        if current == "C":
            if value < 100:
                out.append(f"{value:02d}")
            elif value == _CODE_B:
                mode = "B"
            elif value == _CODE_A:
                mode = "A"
            elif value != _FNC1:
                return None
            continue
        if value < 64 or (current == "B" and value < 96):
            out.append(chr(value + 32))
        elif current == "A" and value < 96:
            out.append(chr(value - 64))
        elif value == _SHIFT:
            shift = True
        elif value == _CODE_C:
            mode = "C"
        elif value == _CODE_B and current == "A":
            mode = "B"
        elif value == _CODE_A and current == "B":
            mode = "A"
        # FNC1..FNC4 carry no text here
    text = "".join(out)
    return text or None


def _thresholds(profile: np.ndarray) -> list[np.ndarray | float]:
    lo, hi = np.percentile(profile, [3, 97])
    if hi - lo < 20:  # no contrast: nothing printed here
        return []
    found: list[np.ndarray | float] = [float((lo + hi) / 2)]
    # Local mid-level between running min and max: follows uneven lighting and narrow, blurred spaces.
    row = profile.astype(np.float32)[None, :]
    for window in (9, 21):
        kernel = np.ones((1, window), np.uint8)
        local_max = cv2.dilate(row, kernel)[0]
        local_min = cv2.erode(row, kernel)[0]
        mid = (local_max + local_min) / 2
        # Where the window sees no bar, fall back to the global level so paper noise is not read as edges.
        flat = (local_max - local_min) < 0.3 * (hi - lo)
        found.append(np.where(flat, (lo + hi) / 2, mid))
    return found


def decode_scanline(profile: np.ndarray) -> str | None:
    """Decode one scanline (gray levels, dark bars on light paper) of a Code 128 symbol.

    Parameters
    ----------
    profile : numpy.ndarray
        1-D gray profile across the symbol, or a 2-D band of rows (averaged into one profile). The symbol
        may run either way (a label upside down reads right to left).

    Returns
    -------
    str or None
        The text, only when start, stop, quiet zones, every character and the checksum all agree.
    """
    p = np.asarray(profile, dtype=np.float64)
    if p.ndim == 2:
        p = p.mean(axis=0)
    if p.ndim != 1 or len(p) < 40:
        return None
    for threshold in _thresholds(p):
        widths, first_dark = _runs(p, threshold)
        if len(widths) < 6 * 3 + 7:
            continue
        text = _decode_runs(widths, first_dark)
        if text is None:  # right to left: runs alternate, so the last run is dark iff first_dark and count odd
            last_dark = first_dark if len(widths) % 2 == 1 else not first_dark
            text = _decode_runs(widths[::-1].copy(), last_dark)
        if text is not None:
            return text
    return None


def _scan_rows(gray: np.ndarray, lines: int, band: int, enough: int, confirms: str | None = None) -> list[str]:
    """Decoded texts of up to ``lines`` scanlines, middle first; stops once ``enough`` of them agree, or at the
    first that reads exactly ``confirms`` (a text known independently)."""
    rows = gray.shape[0]
    centres = np.linspace(0.1 * rows, 0.9 * rows, lines)
    centres = centres[np.argsort(np.abs(centres - rows / 2), kind="stable")]  # the label's middle first
    found: list[str] = []
    for centre in centres:
        r0 = int(max(0, round(centre) - band // 2))
        text = decode_scanline(gray[r0:r0 + band])
        if text is not None:
            found.append(text)
            if len(set(found)) > 1 or len(found) >= enough or (len(found) == 1 and text == confirms):
                break
    return found


def region_readings(gray_image: np.ndarray, *, lines: int = 15, enough: int = 3, confirms: str | None = None
                    ) -> Counter[str]:
    """The checksum-valid scanline readings of a roughly upright crop, counted by text.

    Several horizontal scanlines (each a band of 3 rows) are decoded; if none reads, the crop is smoothed
    (for dithered or noisy 1-bit scans) and tilted by a few degrees. The first attempt with any reading gives
    the answer: one text (the symbol), several (scanlines disagree) or none (nothing readable).

    Parameters
    ----------
    gray_image : numpy.ndarray
        2-D gray crop (uint8 or float, dark bars on light paper); colour images are converted to gray.
    lines : int, optional
        Scanlines per attempt.
    enough : int, optional
        Agreeing scanlines after which an attempt stops (a disagreement stops it at once).
    confirms : str, optional
        A text read independently (the 考号 grid): a first checksum-valid scanline reading exactly it is enough.

    Returns
    -------
    collections.Counter
        Scanlines per decoded text; empty when no scanline reads.
    """
    gray = np.asarray(gray_image)
    if gray.ndim == 3:
        gray = cv2.cvtColor(gray.astype(np.uint8), cv2.COLOR_BGR2GRAY)
    if gray.ndim != 2 or min(gray.shape) < 8:
        return Counter()
    gray = gray.astype(np.float32)
    attempts = [lambda: gray, lambda: cv2.GaussianBlur(gray, (0, 0), 1.0)]
    for angle in (2.5, -2.5, 5.0, -5.0):
        attempts.append(lambda angle=angle: _rotated(cv2.GaussianBlur(gray, (0, 0), 0.7), angle))
    for attempt in attempts:
        found = _scan_rows(attempt(), lines, 3, enough, confirms)
        if found:
            return Counter(found)
    return Counter()


def decode_region(gray_image: np.ndarray, *, lines: int = 15, enough: int = 3, confirms: str | None = None
                  ) -> str | None:
    """Read a Code 128 symbol from a roughly upright crop (a label region after page registration).

    A result is returned only when the readings of :func:`region_readings` agree: if two scanlines decode to
    different texts, the answer is ``None``; parameters as there.

    Returns
    -------
    str or None
        The decoded text, or None when no scanline reads or the scanlines disagree.
    """
    votes = region_readings(gray_image, lines=lines, enough=enough, confirms=confirms)
    return next(iter(votes)) if len(votes) == 1 else None  # disagreeing scanlines: refuse rather than guess


def _rotated(gray: np.ndarray, angle: float) -> np.ndarray:
    rows, cols = gray.shape
    matrix = cv2.getRotationMatrix2D(((cols - 1) / 2, (rows - 1) / 2), angle, 1.0)
    return cv2.warpAffine(gray, matrix, (cols, rows), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
