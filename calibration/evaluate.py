"""Re-run OMR's decision on labelled pages under a profile, and count what it gets wrong or flags.

The decision is :mod:`omr.decide`'s, called as :func:`omr.read.read_page` calls it, on the measurements a
:class:`~calibration.labels.LabelledPage` keeps; only the profile (thresholds, print baseline) changes.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Sequence

import numpy as np

from calibration.labels import LabelledPage
from omr.decide import classify_bubbles, empty_level, group_outcomes, mark_strength, page_thresholds
from omr.profile import ScannerProfile

__all__ = ["Score", "decide_page", "page_baseline", "paired_changes", "score_pages"]

_SURE = ("ok", "blank", "multiple")  # as sample_sheets.evaluate: a clear double mark is read, not guessed


@dataclass(frozen=True)
class Score:
    """How a profile reads a set of labelled groups.

    ``flag_rate`` is flagged / questions (groups a person labelled); ``wrong_sure`` counts clear groups read as
    sure (ok, blank or multiple) whose marks differ from the label: the error that must stay zero;
    ``ambiguous_wrong`` the same on groups a careful person could hesitate over.
    """

    questions: int
    flagged: int
    wrong_sure: int
    ambiguous_wrong: int = 0

    @property
    def flag_rate(self) -> float:
        return self.flagged / self.questions if self.questions else 0.0

    def to_dict(self) -> dict:
        return {**asdict(self), "flag_rate": round(self.flag_rate, 6)}


def page_baseline(page: LabelledPage, profile: ScannerProfile) -> np.ndarray:
    """The print baseline the reader would use for ``page`` under ``profile``: the profile's learned one for this
    template layout and page, else the one the page was measured with."""
    entry = profile.print_baselines.get(page.template_id)
    if entry is not None and entry["layout"] == page.layout and page.page <= len(entry["pages"]):
        learned = np.asarray(entry["pages"][page.page - 1], np.float64)
        if learned.shape == page.baseline.shape:
            return learned
    return page.baseline


def decide_page(page: LabelledPage, profile: ScannerProfile, *, margin: float = 0.0) -> tuple[np.ndarray, list[str]]:
    """Per bubble read as filled, and per group the status, as ``read_page`` would decide under ``profile``.

    ``margin`` > 0 tests robustness: every labelled empty bubble reads ``margin`` darker and every labelled mark
    ``margin`` lighter than measured (a scan a little worse than the ones learned from).
    """
    strength = mark_strength(page.inner_mean, page_baseline(page, profile), page.paper, page.ink)
    strength = strength - empty_level(strength, page.label_index, page.group_starts, page.single_select)
    if margin:
        in_labelled = np.repeat(page.labelled, np.diff(page.group_starts))
        strength = strength + margin * in_labelled * np.where(page.truth > 0, -1.0, 1.0)
    thresholds = page_thresholds(strength, profile, page.writer_index)
    state, bubble_margin = classify_bubbles(strength, thresholds, page.group_starts, page.single_select, profile,
                                            page.residue_unit)
    filled, _, statuses, _ = group_outcomes(state, bubble_margin, page.group_starts, page.single_select,
                                            profile.confidence_span)
    return filled, statuses


def _outcomes(page: LabelledPage, profile: ScannerProfile, margin: float = 0.0) -> np.ndarray:
    """Per labelled group of ``page``: 0 read sure and right, 1 flagged, 2 read wrong but sure."""
    filled, statuses = decide_page(page, profile, margin=margin)
    group_right = np.logical_and.reduceat(filled.astype(np.int8) == page.truth, page.group_starts[:-1])
    sure = np.array([status in _SURE for status in statuses])
    return np.where(~sure, 1, np.where(group_right, 0, 2))[page.labelled]


def score_pages(pages: Sequence[LabelledPage], profile: ScannerProfile, *, margin: float = 0.0) -> Score:
    """Flagged and wrong-but-sure labelled groups over ``pages`` under ``profile`` (see :func:`decide_page`)."""
    questions = flagged = wrong = ambiguous_wrong = 0
    for page in pages:
        outcome = _outcomes(page, profile, margin)
        ambiguous = page.ambiguous[page.labelled]
        questions += len(outcome)
        flagged += int(np.count_nonzero(outcome == 1))
        wrong += int(np.count_nonzero((outcome == 2) & ~ambiguous))
        ambiguous_wrong += int(np.count_nonzero((outcome == 2) & ambiguous))
    return Score(questions, flagged, wrong, ambiguous_wrong)


def paired_changes(pages: Sequence[LabelledPage], before: ScannerProfile, after: ScannerProfile) -> tuple[int, int]:
    """(groups flagged under ``before`` read sure and right under ``after``, groups the other way round): the
    discordant pairs of McNemar's test on the same labelled groups."""
    better = worse = 0
    for page in pages:
        old, new = _outcomes(page, before), _outcomes(page, after)
        better += int(np.count_nonzero((old == 1) & (new == 0)))
        worse += int(np.count_nonzero((old == 0) & (new == 1)))
    return better, worse
