"""Decide, from measured mark strengths, which bubbles are filled, and how sure that is.

A bubble is *filled*, *empty* or *uncertain*. The thresholds adapt per page: the page's own mark level (the
median strength of its clearly filled bubbles) lowers the fill threshold on a page of light pencil, but never
below the profile's floor, and the empty ceiling never moves, so erasure residue, dust and bleed-through do not
become marks. Anything between is uncertain and its group is flagged, never guessed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from omr.profile import ScannerProfile

__all__ = ["EMPTY", "FILLED", "UNCERTAIN", "PageThresholds", "page_thresholds", "classify_bubbles",
           "GroupDecision", "decide_groups", "mark_strength"]

EMPTY, FILLED, UNCERTAIN = 0, 1, 2


@dataclass(frozen=True)
class PageThresholds:
    empty_max: float
    filled_min: float
    mark_level: float  # median strength of the page's confident marks (or the profile default)
    measured_level: bool  # whether mark_level came from this page


def mark_strength(inner_mean: np.ndarray, blank_darkness: np.ndarray, paper: float, ink: float) -> np.ndarray:
    """Darkness added by the student, 0 (as printed) .. 1 (solid ink), per bubble.

    ``darkness = (paper - inner_mean) / (paper - ink)``; the printed outline and label already make an empty
    bubble ``blank_darkness`` dark, so ``strength = (darkness - blank) / (1 - blank)``.
    """
    span = max(paper - ink, 1.0)
    darkness = (paper - inner_mean) / span
    return (darkness - blank_darkness) / np.maximum(1.0 - blank_darkness, 0.05)


def page_thresholds(strength: np.ndarray, profile: ScannerProfile) -> PageThresholds:
    """Fill and empty thresholds for one page, from the profile and the page's own mark level."""
    confident = strength[strength >= profile.filled_floor]
    if confident.size >= profile.min_marks_for_level:
        level, measured = float(np.median(confident)), True
    else:
        level, measured = profile.default_mark_level, False
    filled_min = min(profile.filled_min, max(profile.filled_floor, profile.relative_filled * level))
    return PageThresholds(profile.empty_max, filled_min, level, measured)


def classify_bubbles(strength: np.ndarray, thresholds: PageThresholds, group_starts: np.ndarray,
                     single_select: np.ndarray, profile: ScannerProfile) -> tuple[np.ndarray, np.ndarray]:
    """Per bubble: state (EMPTY, FILLED, UNCERTAIN) and margin (distance from the uncertain band, < 0 inside it).

    Absolute thresholds first; then, within single-choice groups, a filled bubble much lighter than the group's
    darkest (``< multiple_ratio * top``) is uncertain, since one of the two may be a poorly erased mark. A light
    mark beside a dark one is *not* dismissed as erasure residue: it may be a second, faint answer, so it stays
    uncertain unless it is below ``empty_max`` like any empty bubble.
    """
    state = np.full(strength.shape, UNCERTAIN, np.int8)
    state[strength <= thresholds.empty_max] = EMPTY
    state[strength >= thresholds.filled_min] = FILLED
    margin = np.where(
        state == FILLED, strength - thresholds.filled_min,
        np.where(state == EMPTY, thresholds.empty_max - strength,
                 -np.minimum(strength - thresholds.empty_max, thresholds.filled_min - strength)),
    )
    sizes = np.diff(group_starts)
    top = np.repeat(np.maximum.reduceat(strength, group_starts[:-1]), sizes)
    single = np.repeat(single_select, sizes)
    unequal = single & (state == FILLED) & (strength < profile.multiple_ratio * top)
    state[unequal] = UNCERTAIN
    margin[unequal] = (strength - profile.multiple_ratio * top)[unequal]
    return state, margin


@dataclass(frozen=True)
class GroupDecision:
    """Per group (question, id column, score digit, mark): what is marked, a status and a confidence."""

    marked: np.ndarray  # bool per bubble of the group: read as filled (uncertain ones excluded)
    uncertain: np.ndarray  # bool per bubble: neither clearly filled nor clearly empty
    status: str  # ok | blank | multiple | uncertain
    confidence: float


def decide_groups(state: np.ndarray, margin: np.ndarray, group_starts: np.ndarray, selects: np.ndarray,
                  confidence_span: float) -> list[GroupDecision]:
    """Turn bubble states into group decisions.

    ``group_starts`` holds the index of each group's first bubble (plus the total at the end); ``selects`` is a
    bool array, True for single-select groups. A single-select group with two or more filled bubbles is
    ``multiple``; any uncertain bubble makes the group ``uncertain``. Confidence is 0.5 + 0.5 * (smallest
    margin / span), clipped to [0.5, 1] for decided groups and to [0, 0.49] for uncertain ones.
    """
    filled = state == FILLED
    unsure = state == UNCERTAIN
    starts = group_starts[:-1]
    filled_count = np.add.reduceat(filled.astype(np.int32), starts)
    unsure_count = np.add.reduceat(unsure.astype(np.int32), starts)
    smallest = np.minimum.reduceat(margin, starts)
    raw = 0.5 + 0.5 * smallest / confidence_span
    status = np.where(unsure_count > 0, "uncertain",
                      np.where(filled_count == 0, "blank",
                               np.where((filled_count > 1) & selects, "multiple", "ok")))
    confidence = np.where(unsure_count > 0, np.clip(raw, 0.0, 0.49), np.clip(raw, 0.5, 1.0)).round(3)
    return [
        GroupDecision(filled[a:b], unsure[a:b], str(st), float(conf))
        for a, b, st, conf in zip(group_starts[:-1], group_starts[1:], status.tolist(), confidence.tolist())
    ]
