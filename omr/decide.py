"""Decide, from measured mark strengths, which bubbles are filled, and how sure that is.

A bubble is *filled*, *empty* or *uncertain*. The thresholds adapt per page: the page's own mark level (the
median strength of its clearly filled bubbles) lowers the fill threshold on a page of light pencil, but never
below the profile's floor; the empty ceiling is fixed. Anything between is uncertain and its group is flagged,
never guessed, with two exceptions that match how a careful person reads: in a single-choice question (or a
score box), a light smudge beside one clearly dominant mark is erasure residue; and a lone mark, the only
non-empty bubble of its question, that stands clearly above this page's empty bubbles is an answer, even when it
is lighter than the writer's other marks (but not so light that it may be an erased answer). The options of a
multi-select question are chosen one by one, so each light option there is read like a lone mark.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from omr.profile import ScannerProfile

__all__ = ["EMPTY", "FILLED", "UNCERTAIN", "PageThresholds", "page_thresholds", "empty_level", "classify_bubbles",
           "GroupDecision", "decide_groups", "group_outcomes", "mark_strength", "lone_mark_min"]

EMPTY, FILLED, UNCERTAIN = 0, 1, 2


@dataclass(frozen=True)
class PageThresholds:
    empty_max: float
    filled_min: float | np.ndarray  # per bubble when writers differ
    mark_level: float  # median strength of the page's confident marks (or the profile default)
    measured_level: bool  # whether mark_level came from this page
    writer_level: float | np.ndarray | None = None  # per bubble: its writer's mark level (None: mark_level)


def mark_strength(inner_mean: np.ndarray, blank_darkness: np.ndarray, paper: float, ink: float) -> np.ndarray:
    """Darkness added by the student, 0 (as printed) .. 1 (solid ink), per bubble.

    ``darkness = (paper - inner_mean) / (paper - ink)``; the printed outline and label already make an empty
    bubble ``blank_darkness`` dark, so ``strength = (darkness - blank) / (1 - blank)``.
    """
    span = max(paper - ink, 1.0)
    darkness = (paper - inner_mean) / span
    return (darkness - blank_darkness) / np.maximum(1.0 - blank_darkness, 0.05)


def empty_level(strength: np.ndarray, label_index: np.ndarray, group_starts: np.ndarray | None = None,
                single_select: np.ndarray | None = None, *, percentile: float = 30.0, min_count: int = 8,
                floor: float = -0.05, ceiling: float = 0.3, margin: float = 0.15, rare_max: float = 0.15,
                clear_sigmas: float = 8.0, structural_percentile: float = 50.0) -> np.ndarray:
    """How dark an empty bubble reads on this page beyond its blank print, per bubble.

    Blur, the scanner's tone curve and the print itself (a bolder font, thicker outlines) change how dark the
    printed outline and label read, compared with the sharp blank render the baselines come from, and a letter
    with more ink (B) changes more than one with less (I). Bubbles of one printed kind (``label_index``: label,
    size and shape) read alike when empty, so the value at the ``percentile``'s rank among their strengths (nearest
    rank) is that kind's own level.

    *Which* of a kind's bubbles count: with ``group_starts`` and ``single_select`` given, each single-choice
    group's darkest bubble (its one answer) is left out, so a kind's level comes from bubbles that are empty by the
    sheet's own structure (*structural* empties), even when a student answered A throughout; their
    ``structural_percentile`` (the median: no marks left to keep clear of) is the kind's level. A kind with at least
    ``min_count`` of them is *measured*; otherwise a kind seen ``min_count`` times takes the percentile over all
    its bubbles (the kind's low percentile is then a mark when most of them are marked: see below).

    The kinds' levels give the page's *reference*, the median of the measured kinds' own levels (else of the kinds
    seen ``min_count`` times). A kind's own level is trusted up to ``reference + max(margin, reference)`` (the
    print and the scanner raise every kind together, a letter with more ink more); above that it is a mark and the
    kind takes the reference. Kinds seen fewer than ``min_count`` times (the proctor's one absence bubble, a few
    true/false options) take the reference, but at most ``rare_max``: an unlabelled bubble does not darken with
    its neighbours' letters. Levels never go below ``floor``.

    The reference is held to ``ceiling`` (0.3: above what the boldest print makes a 5 mm ellipse read at 200 dpi,
    0.27, and below a light mark) unless this page shows it is its print: small bubbles at a low resolution read
    their label and outline much darker (2.8 mm circles at 150 dpi with a bolder font: 0.45 .. 0.65), and then
    their structural empties say so, *and* at least ``min_count`` single-choice answers stand above their own
    kind's level by ``clear_sigmas`` robust standard deviations of the structural empties about theirs. A page
    whose every bubble is marked (or blank under very dark print) shows no such answers, and its level stays
    within ``ceiling``: its marks still read as marks.
    """
    if strength.size == 0:
        return np.zeros(0)
    kinds = int(label_index.max()) + 1
    counts = np.bincount(label_index, minlength=kinds)
    own = _kind_percentile(strength, label_index, kinds, percentile)
    reliable = counts >= min_count
    measured = np.zeros(kinds, bool)
    reference = None
    if group_starts is not None and single_select is not None:
        answer = _single_answers(strength, group_starts, single_select)
        structural = _in_single_groups(group_starts, single_select) & ~answer
        measured = np.bincount(label_index[structural], minlength=kinds) >= min_count
        if measured.any():
            structural_own = _kind_percentile(strength[structural], label_index[structural], kinds,
                                              structural_percentile)
            structural_own = np.where(measured, structural_own, own)
            reference = float(max(np.median(structural_own[measured]), floor))
            if reference <= ceiling or _answers_stand_out(strength, label_index, structural_own, structural, answer,
                                                          min_count, clear_sigmas):
                own = structural_own
            else:  # nothing on the page says its print reads that dark: the level stays within the ceiling
                measured[:] = False
                reference = None
    if reference is None and reliable.any():
        reference = float(np.clip(np.median(own[reliable]), floor, ceiling))
    elif reference is None:
        reference = float(np.clip(np.percentile(strength, percentile), floor, rare_max))
    known = reliable | measured
    trusted = known & (own <= reference + max(margin, reference))
    levels = np.where(trusted, np.maximum(own, floor), np.where(known, reference, min(reference, rare_max)))
    return levels[label_index]


def _kind_percentile(strength: np.ndarray, label_index: np.ndarray, kinds: int, percentile: float) -> np.ndarray:
    """Per kind, the value at the ``percentile``'s rank among that kind's sorted strengths (nearest rank); NaN for
    a kind with none."""
    order = np.lexsort((strength, label_index))
    counts = np.bincount(label_index, minlength=kinds)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    ranks = starts + np.floor(percentile / 100.0 * np.maximum(counts - 1, 0)).astype(np.int64)
    values = strength[order][np.minimum(ranks, max(len(order) - 1, 0))] if len(order) else np.zeros(kinds)
    return np.where(counts > 0, values, np.nan)


def _in_single_groups(group_starts: np.ndarray, single_select: np.ndarray) -> np.ndarray:
    """Per bubble: whether it lies in a single-choice group of two or more bubbles."""
    sizes = np.diff(group_starts)
    return np.repeat(single_select & (sizes >= 2), sizes)


def _single_answers(strength: np.ndarray, group_starts: np.ndarray, single_select: np.ndarray) -> np.ndarray:
    """Per bubble: whether it is the darkest of a single-choice group of two or more bubbles (the first, on ties)."""
    sizes = np.diff(group_starts)
    starts = group_starts[:-1]
    out = np.zeros(strength.shape, bool)
    chosen = single_select & (sizes >= 2)
    if not chosen.any():
        return out
    top = np.maximum.reduceat(strength, starts)
    is_top = strength == np.repeat(top, sizes)
    first = np.maximum.reduceat(np.where(is_top, -np.arange(strength.size), -strength.size), starts)
    out[-first[chosen]] = True
    return out


def _answers_stand_out(strength: np.ndarray, label_index: np.ndarray, own: np.ndarray, structural: np.ndarray,
                       answer: np.ndarray, min_count: int, sigmas: float) -> bool:
    """Whether at least ``min_count`` single-choice answers stand ``sigmas`` robust standard deviations above their
    kind's level (``own``), the spread being that of the structural empties about their kinds' levels: the lower
    half's median absolute deviation, scaled to a normal sigma (as :func:`lone_mark_min`)."""
    residual = strength[structural] - own[label_index[structural]]
    below = -residual[residual <= 0]
    if below.size == 0:
        return False
    spread = 1.4826 * float(np.median(below))
    above = strength[answer] - own[label_index[answer]]
    return int(np.count_nonzero(above > sigmas * max(spread, 1e-3))) >= min_count


def _level(strength: np.ndarray, profile: ScannerProfile) -> float | None:
    confident = strength[strength >= profile.filled_floor]
    return float(np.median(confident)) if confident.size >= profile.min_marks_for_level else None


def page_thresholds(strength: np.ndarray, profile: ScannerProfile, writer_index: np.ndarray | None = None
                    ) -> PageThresholds:
    """Fill and empty thresholds for one page, from the profile and the page's own mark levels.

    Each writer (``writer_index``: the student, the teacher filling score boxes, the proctor) presses their own
    pencil, so each gets their own level when they made enough confident marks, else the page's, else the
    profile's default. The fill threshold is ``relative_filled * level``, kept within
    [``filled_floor``, ``filled_min``].
    """
    page_level = _level(strength, profile)
    level = page_level if page_level is not None else profile.default_mark_level
    if writer_index is None:
        levels: float | np.ndarray = level
    else:
        per_writer = np.full(int(writer_index.max()) + 1 if writer_index.size else 1, level)
        for writer in np.unique(writer_index):
            own = _level(strength[writer_index == writer], profile)
            if own is not None:
                per_writer[writer] = own
        levels = per_writer[writer_index]
    filled_min = np.minimum(profile.filled_min, np.maximum(profile.filled_floor, profile.relative_filled * levels))
    if np.ndim(filled_min) == 0:
        filled_min = float(filled_min)
    return PageThresholds(profile.empty_max, filled_min, level, page_level is not None, levels)


def lone_mark_min(empty_strength: np.ndarray, profile: ScannerProfile) -> float | None:
    """The strength above which a lone mark is read as filled on this page, or None when it cannot be measured.

    ``empty_strength`` holds the strengths of the page's bubbles that are empty by every account (at or below
    ``empty_max``). Their centre is the median and their spread the robust standard deviation of the lower half,
    ``1.4826 * median(centre - s)`` over ``s <= centre`` (the median absolute deviation, scaled to a normal
    sigma): the lower half is touched neither by faint marks nor by the ``empty_max`` cut. The limit is
    ``centre + lone_sigmas * spread``, and never below ``residue_max``: a mark as light as erasure residue may be
    an answer rubbed out and left blank.
    """
    if empty_strength.size < profile.lone_min_empties:
        return None
    centre = float(np.median(empty_strength))
    below = centre - empty_strength[empty_strength <= centre]
    spread = 1.4826 * float(np.median(below))
    return max(profile.residue_max, centre + profile.lone_sigmas * spread)


def _dominant_units(strength: np.ndarray, state: np.ndarray, residue_unit: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Per bubble: the strength of its residue unit's darkest bubble (0 outside units), and whether that unit
    holds a clearly filled bubble."""
    in_unit = residue_unit >= 0
    unit_top = np.full(int(residue_unit.max()) + 1 if in_unit.any() else 1, -np.inf)
    unit_clear = np.zeros(unit_top.size, bool)
    np.maximum.at(unit_top, residue_unit[in_unit], strength[in_unit])
    np.logical_or.at(unit_clear, residue_unit[in_unit], state[in_unit] == FILLED)
    unit = np.maximum(residue_unit, 0)
    return np.where(in_unit, unit_top[unit], 0.0), in_unit & unit_clear[unit]


def classify_bubbles(strength: np.ndarray, thresholds: PageThresholds, group_starts: np.ndarray,
                     single_select: np.ndarray, profile: ScannerProfile,
                     residue_unit: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per bubble: state (EMPTY, FILLED, UNCERTAIN) and margin (> 0 outside the uncertain band, < 0 inside it).

    Absolute thresholds first. A group with nothing filled is held to ``blank_trace``: its light mark may be a
    faint answer. Then, within a *residue unit* (by default each single-choice group; a score box is one unit
    for all its rows) whose darkest bubble ``top`` is clearly filled, a light bubble at most
    ``residue_ratio * top`` and ``residue_max`` is the residue of a changed answer (empty). Last, in a
    single-choice group a filled bubble lighter than ``multiple_ratio * top`` is uncertain, since one of the two
    may be a poorly erased mark.

    A *lone* light mark, the only bubble not empty in a group with nothing filled, is filled when at least
    :func:`lone_mark_min` (measured on this page's empty bubbles) and ``lone_ratio`` times its writer's mark level
    (lighter, it may be an answer rubbed out); below that it stays uncertain. A one-bubble group (a proctor's
    absence mark, a half-point box) is read the same way: the page and the writer say what its mark is. Each
    light option of a multi-select question is held to the same two limits, beside darker options or not, since
    options are chosen independently (two light marks in a single-choice question stay uncertain: which one?).
    Both stay uncertain when no darker than the erasure residue this page shows beside dominant marks (bubbles
    neither empty nor filled nor their own group's darkest, under ``multiple_ratio`` of their unit's clearly
    filled top; the second darkest, as one alone may be a light double mark): where the eraser left that much,
    a light mark may be another answer rubbed out.

    Parameters
    ----------
    strength : (n,) float array
        Mark strength per bubble (see :func:`mark_strength`), less its empty level.
    thresholds : PageThresholds
        This page's thresholds and writer levels (:func:`page_thresholds`).
    group_starts : (groups + 1,) int array
        Index of each group's first bubble, then ``n``.
    single_select : (groups,) bool array
        True for single-choice groups (questions, 考号 columns, score digits, one-bubble marks).
    profile : ScannerProfile
        Decision parameters.
    residue_unit : (n,) int array, optional
        Each bubble's residue unit, numbered from 0 (-1: none); by default each single-choice group.

    Returns
    -------
    state : (n,) int8 array
        EMPTY, FILLED or UNCERTAIN per bubble.
    margin : (n,) float array
        Distance from the nearest limit, in units of the room on that side; negative for uncertain bubbles.
    """
    filled_min = thresholds.filled_min
    state = np.full(strength.shape, UNCERTAIN, np.int8)
    state[strength <= thresholds.empty_max] = EMPTY
    state[strength >= filled_min] = FILLED
    # Margins are in units of the room each side has, so that a blank bubble (strength 0) is as sure as a
    # solid mark: empty margins scale by empty_max, filled ones by the filled threshold's distance from 1.
    margin = np.where(
        state == FILLED, (strength - filled_min) / np.maximum(1.0 - filled_min, 0.05),
        np.where(state == EMPTY, (thresholds.empty_max - strength) / max(thresholds.empty_max, 0.01),
                 -np.minimum(strength - thresholds.empty_max, filled_min - strength)),
    )
    sizes = np.diff(group_starts)
    starts = group_starts[:-1]
    lone_min = lone_mark_min(strength[state == EMPTY], profile)
    nothing_filled = np.repeat(np.add.reduceat((state == FILLED).astype(np.int32), starts) == 0, sizes)
    trace = nothing_filled & (state == EMPTY) & (strength > profile.blank_trace)
    state[trace] = UNCERTAIN
    margin[trace] = (profile.blank_trace - strength)[trace]
    single = np.repeat(single_select, sizes)
    group_top = np.repeat(np.maximum.reduceat(strength, starts), sizes)
    if residue_unit is None:
        residue_unit = np.where(single, np.repeat(np.arange(len(sizes)), sizes), -1)
    if lone_min is not None:
        one_mark = np.repeat(np.add.reduceat((state != EMPTY).astype(np.int32), starts) == 1, sizes)
        writer_level = thresholds.mark_level if thresholds.writer_level is None else thresholds.writer_level
        lone_limit = np.maximum(lone_min, profile.lone_ratio * writer_level)
        # This page's own erasures: bubbles beside a dominant mark, neither empty nor filled (a filled one is a
        # double mark) nor the darkest of their own group (a score box's other row). A light mark no darker than
        # the second darkest of them may be one more answer rubbed out (one alone may be a light double mark).
        top, dominant = _dominant_units(strength, state, residue_unit)
        seen = np.sort(strength[dominant & (state == UNCERTAIN) & (strength < profile.multiple_ratio * top)
                                & (strength < group_top)])
        page_residue = float(seen[-2]) if seen.size >= 2 else -np.inf
        # Options of a multi-select question are chosen independently: each light one is read like a lone mark.
        light = ((state == UNCERTAIN) & ((nothing_filled & one_mark) | ~single) & (strength >= lone_limit)
                 & (strength > page_residue))
        state[light] = FILLED
        margin[light] = ((strength - lone_limit) / np.maximum(1.0 - lone_limit, 0.05))[light]

    top, dominant = _dominant_units(strength, state, residue_unit)
    residue_limit = np.minimum(profile.residue_max, profile.residue_ratio * top)
    residue = dominant & (state == UNCERTAIN) & (strength <= residue_limit)
    state[residue] = EMPTY
    margin[residue] = ((residue_limit - strength) / np.maximum(residue_limit, 0.01))[residue]

    unequal = single & (state == FILLED) & (strength < profile.multiple_ratio * group_top)
    state[unequal] = UNCERTAIN
    margin[unequal] = (strength - profile.multiple_ratio * group_top)[unequal]
    return state, margin


@dataclass(frozen=True)
class GroupDecision:
    """Per group (question, id column, score digit, mark): what is marked, a status and a confidence."""

    marked: np.ndarray  # bool per bubble of the group: read as filled (uncertain ones excluded)
    uncertain: np.ndarray  # bool per bubble: neither clearly filled nor clearly empty
    status: str  # ok | blank | multiple | uncertain
    confidence: float


_STATUS_NAMES = ("ok", "blank", "multiple", "uncertain")


def group_outcomes(state: np.ndarray, margin: np.ndarray, group_starts: np.ndarray, selects: np.ndarray,
                   confidence_span: float) -> tuple[np.ndarray, np.ndarray, list[str], list[float]]:
    """The arrays behind :func:`decide_groups`, without one object per group.

    Returns
    -------
    filled, uncertain : (n,) bool arrays
        Per bubble: read as filled (uncertain ones excluded); neither clearly filled nor clearly empty.
    statuses : list of str
        Per group: ok | blank | multiple | uncertain.
    confidences : list of float
        Per group, rounded to 3 decimals.
    """
    filled = state == FILLED
    unsure = state == UNCERTAIN
    starts = group_starts[:-1]
    filled_count = np.add.reduceat(filled.astype(np.int32), starts)
    unsure_count = np.add.reduceat(unsure.astype(np.int32), starts)
    smallest = np.minimum.reduceat(margin, starts)
    raw = 0.5 + 0.5 * smallest / confidence_span
    code = np.where(unsure_count > 0, 3, np.where(filled_count == 0, 1, np.where((filled_count > 1) & selects, 2, 0)))
    confidence = np.where(unsure_count > 0, np.clip(raw, 0.0, 0.49), np.clip(raw, 0.5, 1.0)).round(3)
    return filled, unsure, [_STATUS_NAMES[c] for c in code.tolist()], confidence.tolist()


def decide_groups(state: np.ndarray, margin: np.ndarray, group_starts: np.ndarray, selects: np.ndarray,
                  confidence_span: float) -> list[GroupDecision]:
    """Turn bubble states into group decisions.

    ``group_starts`` holds the index of each group's first bubble (plus the total at the end); ``selects`` is a
    bool array, True for single-select groups. A single-select group with two or more filled bubbles is
    ``multiple``; any uncertain bubble makes the group ``uncertain``. Confidence is 0.5 + 0.5 * (smallest
    margin / span), clipped to [0.5, 1] for decided groups and to [0, 0.49] for uncertain ones.
    """
    filled, unsure, statuses, confidences = group_outcomes(state, margin, group_starts, selects, confidence_span)
    bounds = group_starts.tolist()
    return [GroupDecision(filled[a:b], unsure[a:b], status, confidence)
            for a, b, status, confidence in zip(bounds[:-1], bounds[1:], statuses, confidences)]
