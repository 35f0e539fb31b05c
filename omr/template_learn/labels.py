"""What a run of bubbles is labelled: the same label repeated (a grid row) or a sequence (A B C D, 0 1 2 ...).

Scanned label patches are compared with each other (the same glyph printed twice correlates highly in any
font) and with reference glyphs set in the CJK font and OpenCV's Hershey font, for a few label sequences
answer cards use. Nothing here is a general OCR: it only chooses between those sequences.
"""

from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from omr.render import cjk_font_path
from omr.template_learn.bubbles import normalise_glyph

__all__ = ["same_labels", "read_sequence", "read_numbers", "sequence_score", "repeats_across", "sequences", "LETTERS",
           "ALPHABET", "DIGITS"]

LETTERS = "ABCDEFGHIJ"  # options of a choice question (at most 10)
ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"  # labels of a grid may run on
DIGITS = "0123456789"
_SAME = 0.7  # correlation of two prints of one glyph (different glyphs stay well below)
_NUMBERS = range(10, 100)  # question numbers a chooser's label may print (22, 23)


def same_labels(glyphs: list[np.ndarray | None]) -> bool:
    """True when every bubble of a run carries one label (or none); False for a sequence of labels.

    Labels are the same when consecutive ones correlate as two prints of one glyph do, unless the run (every
    bubble labelled) matches one of the :func:`sequences` better still: at high resolution A B C D, sharp and
    alike in outline, correlate nearly as much, but each matches its own letter better."""
    present = [g for g in glyphs if g is not None]
    if len(present) < 2:
        return len(present) == 0
    scores = [float(np.sum(a * b)) for a, b in zip(present, present[1:])]
    alike = float(np.median(scores))
    if len(present) == len(glyphs):
        best = max((sequence_score(glyphs, candidate) for candidate in sequences(len(glyphs))), default=0.0)
        if best > alike:
            return False
    return alike >= _SAME


@lru_cache(maxsize=256)
def _reference(char: str) -> tuple[np.ndarray, ...]:
    """Normalised patches of ``char`` in the fonts labels are printed in (as PNG renders and PDFs draw them)."""
    patches = []
    image = np.zeros((60, 60), np.uint8)
    cv2.putText(image, char, (10, 45), cv2.FONT_HERSHEY_SIMPLEX, 1.4, 255, 3, cv2.LINE_AA)
    patches.append(image)
    for path in filter(None, [cjk_font_path()]):
        canvas = Image.new("L", (80, 80), 0)
        ImageDraw.Draw(canvas).text((10, 60), char, fill=255, font=ImageFont.truetype(str(path), 48), anchor="ls")
        patches.append(np.asarray(canvas))
    out = []
    for patch in patches:
        rows, cols = np.nonzero(patch > 100)
        if len(rows):
            normalised = normalise_glyph((patch[rows.min():rows.max() + 1, cols.min():cols.max() + 1] > 100)
                                         .astype(np.float32))
            if normalised is not None:
                out.append(normalised)
    return tuple(out)


def _match(glyph: np.ndarray | None, char: str) -> float:
    if glyph is None:
        return 0.0
    return max((float(np.sum(glyph * ref)) for ref in _reference(char)), default=0.0)


def sequence_score(glyphs: list[np.ndarray | None], sequence: str | list[str]) -> float:
    """Mean correlation of label patches with the reference glyphs of ``sequence`` (one label each: a character,
    or a string such as ``22``); about 0.6 or more for a real match, 0 for patches without a label."""
    return float(np.mean([_match(glyph, char) for glyph, char in zip(glyphs, sequence, strict=True)]))


def read_sequence(runs: list[list[np.ndarray | None]]) -> str:
    """The label sequence that answer cards print (see :func:`sequences`) matching several runs of label
    patches best, all runs read as one (a column of questions shares its options). Letters when no patch
    carries a label; "" when no sequence has that many labels."""
    candidates = sequences(len(runs[0]))
    if not candidates:
        return ""
    scores = [sum(sequence_score(glyphs, candidate) for glyphs in runs) for candidate in candidates]
    return candidates[int(np.argmax(scores))]


def read_numbers(glyphs: list[np.ndarray | None]) -> list[int] | None:
    """The two-digit numbers a run's labels print, each read as its best match among 10 to 99 (a 选考题 chooser
    labels its bubbles with the numbers of optional questions, which come last, in increasing order: 22, 23), or
    None when a label is missing, when the numbers read do not increase, or when the run matches a label sequence
    of :func:`sequences` better (a score row 0 1 2 ...: a single character matches no two-digit number well, nor a
    two-digit number any single character). A comparison of two readings, not a threshold; a chooser of
    questions under 10 is not told from a score row."""
    if len(glyphs) < 2 or any(glyph is None for glyph in glyphs):
        return None
    numbers = [max(_NUMBERS, key=lambda n: _match(glyph, str(n))) for glyph in glyphs]
    if any(later <= earlier for earlier, later in zip(numbers, numbers[1:])):
        return None  # a chooser prints distinct question numbers in increasing order (noise reads at random)
    as_numbers = sequence_score(glyphs, [str(n) for n in numbers])
    as_sequence = max((sequence_score(glyphs, candidate) for candidate in sequences(len(glyphs))), default=0.0)
    return numbers if as_numbers > as_sequence else None


def repeats_across(rows: list[list[np.ndarray | None]]) -> bool:
    """True when labels repeat along the rows and change down the columns (a grid: row 3 says 3 3 3 ...);
    False when they change along the rows (a column of questions: A B C D in every row). Judged over the
    whole block, so one poorly printed glyph does not decide it; a block without labels counts as a grid."""
    along = [_correlation(a, b) for row in rows for a, b in zip(row, row[1:])]
    down = [_correlation(a, b) for upper, lower in zip(rows, rows[1:]) for a, b in zip(upper, lower)]
    along, down = [v for v in along if v is not None], [v for v in down if v is not None]
    if not along or not down:
        return True
    return float(np.mean(along)) > float(np.mean(down))


def _correlation(a: np.ndarray | None, b: np.ndarray | None) -> float | None:
    return None if a is None or b is None else float(np.sum(a * b))


def sequences(count: int) -> list[str]:
    """Label sequences of ``count`` bubbles that answer cards print (none for more than 36)."""
    out = [ALPHABET[:count]] if count <= len(ALPHABET) else []
    if count <= len(DIGITS):
        out.append(DIGITS[:count])
    if 2 <= count <= 9:
        out.append(DIGITS[1:count + 1])
    if count == 2:
        out.extend(["TF", "√×", "YN"])
    if len(DIGITS) < count <= len(DIGITS + ALPHABET):
        out.append((DIGITS + ALPHABET)[:count])
    return out
