"""Score analysis (成绩分析): descriptives, the four rates, ranks, percentile ranks, standard scores, 一分一段,
histograms, class-vs-grade comparison, 临界生 and multi-subject totals.

Standard definitions (``docs/statistics.md``, "Score analysis"); every function is a pure function of arrays of the
students who sat (absent and pending students are excluded by the caller and only counted):

- N = examinees who sat; mean; SD with ddof = 1 (sample SD; NaN when N < 2);
- median and quartiles: Hyndman & Fan type 7 (numpy ``linear``, R's default ``quantile``);
- score rate (得分率) = mean / full marks;
- four rates (四率): 优秀率 = share with X >= 85 % of full marks, 良好率 = X >= 70 %, 及格率 = X >= 60 %
  (each counts everyone at or above its line, so 良好率 includes the 优秀 students), 低分率 = X < 40 %;
  the cut-offs are configurable;
- ranks: competition ranking within the group (1, 2, 2, 4: ties share the best rank);
- percentile rank PR = 100 * (count below X + 0.5 * count equal to X) / N (the student counted among equals);
- z = (X - mean) / SD (ddof = 1) within the reference group, T = 50 + 10 z; z = 0 when SD = 0 (everyone at
  the mean) and NaN when N < 2;
- 一分一段表: for each score s from full marks down in steps of ``step``, the count with s <= X < s + step
  and the cumulative count with X >= s (the rank from the top of the segment's first student);
- class vs grade: mean difference = class mean - grade mean, mean ratio = class mean / grade mean;
- 临界生: students with cut - band <= X < cut for the nearest cut line above them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from analytics.groups import (group_counts, group_means, group_quantiles, group_variances, ranks_within_groups,
                              safe_divide)

__all__ = ["DEFAULT_CUTOFFS", "RATE_KEYS", "BAND_KEYS", "Descriptives", "ScoreSegments", "Histogram",
           "Borderline", "cut_lines", "describe", "four_rates", "performance_bands", "competition_ranks",
           "percentile_ranks", "standard_scores", "score_segments", "histogram", "compare_means", "borderline",
           "subject_totals"]

#: Default cut-offs of the four rates, as fractions of full marks: 优秀, 良好, 及格, 低分.
DEFAULT_CUTOFFS: tuple[float, float, float, float] = (0.85, 0.70, 0.60, 0.40)
RATE_KEYS: tuple[str, ...] = ("excellent", "good", "pass", "low")
#: Performance bands of a single score (exclusive, unlike the cumulative rates): 优秀 >= 85 %, 良好 70–85 %,
#: 及格 60–70 %, 不及格 40–60 %, 低分 < 40 %.
BAND_KEYS: tuple[str, ...] = ("excellent", "good", "pass", "fail", "low")

_EPS = 1e-9  # a score equal to a cut line (up to float noise from fractional points) reaches it


def _single(n: int) -> tuple[np.ndarray, int]:
    return np.zeros(n, np.intp), 1


def cut_lines(full_marks: float, cutoffs: Sequence[float] = DEFAULT_CUTOFFS) -> np.ndarray:
    """The four cut lines in points (优秀, 良好, 及格, 低分), rounded to 1e-6 against float noise."""
    cutoffs = _check_cutoffs(cutoffs)
    return np.round(np.asarray(cutoffs, dtype=float) * float(full_marks), 6)


def _check_cutoffs(cutoffs: Sequence[float]) -> tuple[float, ...]:
    values = tuple(float(c) for c in cutoffs)
    if len(values) != 4:
        raise ValueError(f"cut-offs: need 4 (优秀, 良好, 及格, 低分), got {len(values)}")
    if not all(0 < c <= 1 for c in values):
        raise ValueError(f"cut-offs {values}: each must be a fraction of full marks in (0, 1]")
    if not values[0] >= values[1] >= values[2] >= values[3]:
        raise ValueError(f"cut-offs {values}: must not increase (优秀 >= 良好 >= 及格 >= 低分)")
    return values


@dataclass(frozen=True)
class Descriptives:
    """Descriptive statistics per group (arrays of length G; NaN where undefined).

    ``rates`` is (G, 4): 优秀率, 良好率, 及格率, 低分率 as fractions of N.
    """

    n: np.ndarray
    mean: np.ndarray
    sd: np.ndarray
    min: np.ndarray
    max: np.ndarray
    median: np.ndarray
    q1: np.ndarray
    q3: np.ndarray
    score_rate: np.ndarray
    rates: np.ndarray


def describe(totals: np.ndarray, full_marks: float, codes: np.ndarray | None = None, n_groups: int | None = None,
             *, cutoffs: Sequence[float] = DEFAULT_CUTOFFS) -> Descriptives:
    """N, mean, SD (ddof = 1), min, max, median, quartiles (type 7), score rate and the four rates per group.

    Parameters
    ----------
    totals : ndarray, (N,)
        Scores of the students who sat.
    full_marks : float
    codes, n_groups : optional
        Group of each student (see :mod:`analytics.groups`); one group when omitted.
    cutoffs : four fractions of full marks
    """
    totals = np.asarray(totals, dtype=float)
    if codes is None:
        codes, n_groups = _single(len(totals))
    assert n_groups is not None
    n = group_counts(codes, n_groups)
    mean = group_means(totals, codes, n_groups)
    sd = np.sqrt(group_variances(totals, codes, n_groups, ddof=1, means=mean))
    # min and max are the 0 and 1 quantiles: one group-wise sort serves all five order statistics
    order = group_quantiles(totals, codes, n_groups, (0.0, 0.25, 0.5, 0.75, 1.0))
    return Descriptives(n=n, mean=mean, sd=sd, min=order[:, 0], max=order[:, 4], median=order[:, 2],
                        q1=order[:, 1], q3=order[:, 3], score_rate=mean / float(full_marks),
                        rates=four_rates(totals, full_marks, codes, n_groups, cutoffs=cutoffs))


def four_rates(totals: np.ndarray, full_marks: float, codes: np.ndarray | None = None,
               n_groups: int | None = None, *, cutoffs: Sequence[float] = DEFAULT_CUTOFFS) -> np.ndarray:
    """四率 per group, (G, 4): shares with X >= 85 %, >= 70 %, >= 60 % of full marks, and X < 40 % (by default).

    The first three are cumulative (良好率 counts the 优秀 students too). NaN for an empty group.
    """
    totals = np.asarray(totals, dtype=float)
    if codes is None:
        codes, n_groups = _single(len(totals))
    assert n_groups is not None
    lines = cut_lines(full_marks, cutoffs)
    n = group_counts(codes, n_groups)
    out = np.empty((n_groups, 4))
    for k in range(3):
        out[:, k] = safe_divide(np.bincount(codes, weights=totals >= lines[k] - _EPS, minlength=n_groups), n)
    out[:, 3] = safe_divide(np.bincount(codes, weights=totals < lines[3] - _EPS, minlength=n_groups), n)
    return out


def performance_bands(totals: np.ndarray, full_marks: float, cutoffs: Sequence[float] = DEFAULT_CUTOFFS
                      ) -> np.ndarray:
    """Each score's band as an index into :data:`BAND_KEYS` (0 优秀 ... 4 低分)."""
    totals = np.asarray(totals, dtype=float)
    lines = cut_lines(full_marks, cutoffs)
    band = np.full(len(totals), 3, np.int8)  # 不及格 unless a line says otherwise
    band[totals < lines[3] - _EPS] = 4
    for k in (2, 1, 0):  # the highest line reached wins
        band[totals >= lines[k] - _EPS] = k
    return band


def competition_ranks(totals: np.ndarray, codes: np.ndarray | None = None, n_groups: int | None = None
                      ) -> np.ndarray:
    """Rank within the group, 1 = highest, ties share the best rank (competition ranking 1, 2, 2, 4);
    equals ``scipy.stats.rankdata(-x, method="min")`` and R's ``rank(-x, ties.method = "min")``."""
    rank, _, _ = ranks_within_groups(totals, codes, n_groups)
    return rank


def percentile_ranks(totals: np.ndarray, codes: np.ndarray | None = None, n_groups: int | None = None
                     ) -> np.ndarray:
    """Percentile rank within the group: PR = 100 * (count below X + 0.5 * count equal to X) / N."""
    rank, equal, size = ranks_within_groups(totals, codes, n_groups)
    below = size - (rank - 1) - equal
    return safe_divide(100.0 * (below + 0.5 * equal), size)


def standard_scores(totals: np.ndarray, codes: np.ndarray | None = None, n_groups: int | None = None
                    ) -> tuple[np.ndarray, np.ndarray]:
    """(z, T) within the group: z = (X - mean) / SD with SD ddof = 1, T = 50 + 10 z.

    z is 0 when the group's SD is 0 (everyone at the mean) and NaN for a group of one.
    """
    totals = np.asarray(totals, dtype=float)
    if codes is None:
        codes, n_groups = _single(len(totals))
    assert n_groups is not None
    mean = group_means(totals, codes, n_groups)
    sd = np.sqrt(group_variances(totals, codes, n_groups, ddof=1, means=mean))
    deviation = totals - mean[codes]
    spread = sd[codes]
    z = np.full(len(totals), np.nan)
    np.divide(deviation, spread, out=z, where=spread > 0)
    z[spread == 0] = 0.0
    return z, 50.0 + 10.0 * z


@dataclass(frozen=True)
class ScoreSegments:
    """一分一段表 per group: ``scores`` from the top down; ``counts`` and ``cumulative`` are (G, S).

    Row s counts ``scores[s] <= X < scores[s] + step``; ``cumulative[g, s]`` = students with X >= scores[s].
    """

    scores: np.ndarray
    counts: np.ndarray
    cumulative: np.ndarray
    step: float


def score_segments(totals: np.ndarray, full_marks: float, codes: np.ndarray | None = None,
                   n_groups: int | None = None, *, step: float = 1.0) -> ScoreSegments:
    """一分一段表: count at each score segment and cumulative count from the top, for every group at once."""
    totals = np.asarray(totals, dtype=float)
    if not step > 0:
        raise ValueError(f"segment step {step:g} must be above 0")
    if codes is None:
        codes, n_groups = _single(len(totals))
    assert n_groups is not None
    n_segments = int(np.floor(full_marks / step + _EPS)) + 1
    tops = np.round((n_segments - 1 - np.arange(n_segments)) * step, 6)  # full marks (or below) down to 0
    # segment index from the top: 0 holds the highest scores
    bottom = np.floor(np.clip(totals, 0, None) / step + _EPS).astype(np.int64)
    segment = np.clip(n_segments - 1 - bottom, 0, n_segments - 1)
    counts = np.bincount(codes * n_segments + segment, minlength=n_groups * n_segments)
    counts = counts.reshape(n_groups, n_segments)
    return ScoreSegments(tops, counts, np.cumsum(counts, axis=1), float(step))


@dataclass(frozen=True)
class Histogram:
    """Score histogram per group: ``edges`` (B + 1,) and ``counts`` (G, B); bins are [a, b) except the last,
    which includes full marks."""

    edges: np.ndarray
    counts: np.ndarray


def histogram(totals: np.ndarray, full_marks: float, codes: np.ndarray | None = None, n_groups: int | None = None,
              *, bins: int = 10) -> Histogram:
    """Equal-width score histogram from 0 to full marks, for every group at once."""
    totals = np.asarray(totals, dtype=float)
    if codes is None:
        codes, n_groups = _single(len(totals))
    assert n_groups is not None
    edges = np.linspace(0.0, float(full_marks), bins + 1)
    index = np.clip(np.searchsorted(edges, totals, side="right") - 1, 0, bins - 1)
    counts = np.bincount(codes * bins + index, minlength=n_groups * bins).reshape(n_groups, bins)
    return Histogram(edges, counts)


def compare_means(means: np.ndarray, reference: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
    """Class vs grade: (mean difference = mean - reference, mean ratio = mean / reference; NaN if 0)."""
    means = np.asarray(means, dtype=float)
    return means - reference, safe_divide(means, reference)


@dataclass(frozen=True)
class Borderline:
    """临界生: per student, the cut line just above (index into the four lines, -1 if none) and the points
    still missing; ``within`` marks those inside the band."""

    line: np.ndarray
    gap: np.ndarray
    within: np.ndarray
    lines: np.ndarray
    band: float


def borderline(totals: np.ndarray, full_marks: float, *, cutoffs: Sequence[float] = DEFAULT_CUTOFFS,
               band: float = 5.0) -> Borderline:
    """Students within ``band`` points below a cut line (cut - band <= X < cut), each counted for the nearest
    line above them only."""
    totals = np.asarray(totals, dtype=float)
    if not band > 0:
        raise ValueError(f"临界 band {band:g} must be above 0 points")
    lines = cut_lines(full_marks, cutoffs)
    ascending = lines[::-1]  # 低分, 及格, 良好, 优秀
    above = np.searchsorted(ascending, totals + _EPS, side="right")  # first line strictly above X
    has_line = above < len(ascending)
    line = np.where(has_line, len(ascending) - 1 - np.minimum(above, len(ascending) - 1), -1)
    gap = np.where(has_line, lines[np.maximum(line, 0)] - totals, np.nan)
    within = has_line & (np.nan_to_num(gap, nan=np.inf) <= band + _EPS)
    return Borderline(line.astype(np.int64), gap, within, lines, float(band))


def subject_totals(scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Multi-subject 总分: (total, complete) of an (N, subjects) matrix with NaN for a missing subject; the total
    is NaN unless every subject has a score (rank only complete totals)."""
    scores = np.asarray(scores, dtype=float)
    complete = ~np.isnan(scores).any(axis=1)
    total = np.full(scores.shape[0], np.nan)
    total[complete] = scores[complete].sum(axis=1)
    return total, complete

