"""Item and test analysis (试卷分析): difficulty, discrimination, item–total correlations, options and distractors,
Ebel bands, Cronbach's α, α if item deleted, SEM and the difficulty mix.

Standard definitions (``docs/statistics.md``, "Item and test analysis"), N = examinees who sat, x_ij the score
of student i on item j with full marks m_j, X_i the total over the items analysed:

- difficulty P_j = mean_i(x_ij) / m_j (for 0/1 items the proportion correct; higher = easier). Bands:
  P > 0.7 easy, 0.4 <= P <= 0.7 medium, P < 0.4 hard. (Some Chinese texts call 1 - P the 难度系数: these
  reports do not.)
- discrimination D_j (upper–lower 27 %): students ordered by total, highest first, ties kept in input order
  (a stable sort, as R's ``order``); the upper and lower groups are the first and last
  n_g = floor(0.27 N + 0.5) students; D_j = (mean item score in upper - mean in lower) / m_j.
  Ebel's bands: >= 0.40 very good, 0.30–0.39 good, 0.20–0.29 acceptable (revise), < 0.20 poor.
- point-biserial / item–total correlation r_j = Pearson corr(x_.j, X); corrected item–total correlation
  corr(x_.j, X - x_.j). These are mirt::itemstats' ``total.r`` and ``total.r_if_rm``. NaN when an item or the
  total has no variance.
- Cronbach's α = k / (k - 1) * (1 - sum_j var(x_.j) / var(X)), sample variances (ddof = 1); for 0/1 items this is
  KR-20 (ltm::cronbach.alpha, mirt::itemstats ``alpha``); α if item deleted: the same over the other k - 1 items
  (mirt's ``alpha_if_rm``).
- SEM = SD(X) * sqrt(1 - α), SD with ddof = 1 (mirt's ``SEM.alpha``).
- 选考题 (optional questions, choose 1 of N): a student who did not choose a question has no score on it (NaN).
  Its statistics are taken over its takers: mean, SD, P and r over the students who answered it, D from the
  takers within the upper and lower groups (formed by total over everyone), and X the total over the items each
  student answered. In α each optional group counts as one item: k is the number of items a student answers
  and each question's variance is weighted by its share of takers (the usual reduction of a test with choice to
  its common length; an approximation, as α assumes everyone answered the same items).
- Distractors: per option, the share choosing it overall and in the upper/lower 27 %; a distractor (an option in
  no accepted answer) is non-functioning if chosen by < 5 % of examinees and suspect if the upper group picks it
  more often than the lower group.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from analytics.groups import safe_divide

__all__ = ["EBEL_KEYS", "DIFFICULTY_KEYS", "UPPER_LOWER_FRACTION", "NON_FUNCTIONING_SHARE", "ItemStats",
           "PaperStats", "OptionStats", "upper_lower_groups", "item_analysis", "paper_analysis", "cronbach_alpha",
           "ebel_bands", "difficulty_bands", "option_analysis", "masks_from_letters"]

EBEL_KEYS: tuple[str, ...] = ("very_good", "good", "acceptable", "poor")
DIFFICULTY_KEYS: tuple[str, ...] = ("easy", "medium", "hard")
UPPER_LOWER_FRACTION = 0.27
NON_FUNCTIONING_SHARE = 0.05
_CHUNK = 1 << 16  # rows per pass when centring: bounds the temporary at 64k x items


def upper_lower_groups(totals: np.ndarray, fraction: float = UPPER_LOWER_FRACTION
                       ) -> tuple[np.ndarray, np.ndarray]:
    """Boolean masks of the upper and lower ``fraction`` of students by total.

    n_g = floor(fraction * N + 0.5) (at least 1 when N >= 2); ties at a group boundary are broken by input order
    (stable sort, highest first), as R's ``order(-total)``. Both masks are empty for N < 2.
    """
    totals = np.asarray(totals, dtype=float)
    n = len(totals)
    upper = np.zeros(n, bool)
    lower = np.zeros(n, bool)
    if n < 2:
        return upper, lower
    size = max(1, int(np.floor(fraction * n + 0.5)))
    size = min(size, n // 2)
    order = np.argsort(-totals, kind="stable")
    upper[order[:size]] = True
    lower[order[n - size:]] = True
    return upper, lower


@dataclass(frozen=True)
class ItemStats:
    """Per-item statistics (arrays of length k, NaN where undefined).

    Attributes
    ----------
    item_ids : tuple of str
    points : m_j
    n : examinees
    mean, sd : item score mean and SD (ddof = 1)
    difficulty : P_j = mean / m_j
    upper_mean, lower_mean : mean item score in the upper / lower 27 %
    discrimination : D_j
    total_r : corr(x_j, X) (point-biserial for 0/1 items)
    total_r_if_rm : corr(x_j, X - x_j)
    alpha_if_rm : α of the other k - 1 items
    ebel : index into :data:`EBEL_KEYS` (-1 where D is NaN)
    difficulty_band : index into :data:`DIFFICULTY_KEYS`
    takers : students each item's statistics are over (选考题: those who chose it); None when all ``n``
    """

    item_ids: tuple[str, ...]
    points: np.ndarray
    n: int
    mean: np.ndarray
    sd: np.ndarray
    difficulty: np.ndarray
    upper_mean: np.ndarray
    lower_mean: np.ndarray
    discrimination: np.ndarray
    total_r: np.ndarray
    total_r_if_rm: np.ndarray
    alpha_if_rm: np.ndarray
    ebel: np.ndarray
    difficulty_band: np.ndarray
    takers: np.ndarray | None = None  # per item, the students who answered it (选考题); None: all n

    def takers_of(self, j: int) -> int:
        """How many students item ``j``'s statistics are over."""
        return self.n if self.takers is None else int(self.takers[j])


@dataclass(frozen=True)
class PaperStats:
    """Whole-test statistics: N, k, total mean and SD (ddof = 1), Cronbach's α, SEM, mean P and D and the
    difficulty mix (items and points per band of :data:`DIFFICULTY_KEYS`)."""

    n: int
    k: int
    full_marks: float
    mean: float
    sd: float
    alpha: float
    sem: float
    mean_difficulty: float
    mean_discrimination: float
    difficulty_mix: dict[str, int] = field(default_factory=dict)
    difficulty_points: dict[str, float] = field(default_factory=dict)
    ebel_mix: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class _Moments:
    mean: np.ndarray
    var: np.ndarray
    cov_total: np.ndarray
    total_mean: float
    total_var: float


def _moments(scores: np.ndarray, totals: np.ndarray) -> _Moments:
    """Item means, variances and covariances with the total (ddof = 1), centred in chunks (two passes) so that
    large N stays accurate without a full centred copy."""
    n, k = scores.shape
    mean = scores.mean(axis=0) if n else np.full(k, np.nan)
    total_mean = float(totals.mean()) if n else np.nan
    squares = np.zeros(k)
    cross = np.zeros(k)
    total_squares = 0.0
    for start in range(0, n, _CHUNK):
        block = scores[start:start + _CHUNK] - mean
        centred_total = totals[start:start + _CHUNK] - total_mean
        squares += np.einsum("ij,ij->j", block, block)
        cross += centred_total @ block
        total_squares += float(centred_total @ centred_total)
    dof = n - 1
    if dof < 1:
        nan = np.full(k, np.nan)
        return _Moments(mean, nan, nan.copy(), total_mean, np.nan)
    return _Moments(mean, squares / dof, cross / dof, total_mean, total_squares / dof)


def _correlation(cov: np.ndarray, var_a: np.ndarray, var_b: np.ndarray | float) -> np.ndarray:
    # Pearson r from moments; NaN (not a division warning) when either side is constant
    var_a, var_b = np.broadcast_arrays(np.asarray(var_a, float), np.asarray(var_b, float))
    ok = np.isfinite(var_a) & np.isfinite(var_b) & (var_a > 1e-12) & (var_b > 1e-12)
    out = np.full(np.shape(cov), np.nan)
    np.divide(cov, np.sqrt(np.where(ok, var_a * var_b, 1.0)), out=out, where=ok)
    return np.clip(out, -1.0, 1.0)


def _alpha(k: int, item_var_sum: np.ndarray | float, total_var: np.ndarray | float) -> np.ndarray:
    # α = k/(k-1) (1 - Σ var_j / var X); undefined for k < 2 or a constant total
    total_var = np.asarray(total_var, dtype=float)
    if k < 2:
        return np.full(total_var.shape, np.nan)
    return k / (k - 1) * (1.0 - safe_divide(item_var_sum, np.where(total_var > 1e-12, total_var, 0.0)))


def cronbach_alpha(scores: np.ndarray) -> float:
    """Cronbach's α of an (N, k) score matrix: k/(k-1) * (1 - sum var(x_j) / var(X)), ddof = 1 (KR-20 for 0/1
    items). NaN when k < 2, N < 2 or the total is constant."""
    scores = np.asarray(scores, dtype=float)
    moments = _moments(scores, scores.sum(axis=1))
    return float(_alpha(scores.shape[1], moments.var.sum(), moments.total_var))


def ebel_bands(discrimination: np.ndarray) -> np.ndarray:
    """Ebel's band of each D as an index into :data:`EBEL_KEYS` (-1 for NaN): >= 0.40, 0.30–0.39, 0.20–0.29,
    < 0.20 (D rounded to 1e-9 so that 0.3 computed as 0.2999999 is 'good')."""
    d = np.asarray(discrimination, dtype=float)
    band = np.full(d.shape, -1, np.int8)
    finite = np.isfinite(d)
    rounded = np.round(np.where(finite, d, 0.0), 9)
    band[finite] = 3
    for index, line in ((2, 0.20), (1, 0.30), (0, 0.40)):
        band[finite & (rounded >= line)] = index
    return band


def difficulty_bands(difficulty: np.ndarray) -> np.ndarray:
    """P > 0.7 easy (0), 0.4 <= P <= 0.7 medium (1), P < 0.4 hard (2); -1 for NaN."""
    p = np.round(np.asarray(difficulty, dtype=float), 9)
    band = np.full(p.shape, -1, np.int8)
    finite = np.isfinite(p)
    band[finite & (p > 0.7)] = 0
    band[finite & (p <= 0.7) & (p >= 0.4)] = 1
    band[finite & (p < 0.4)] = 2
    return band


def item_analysis(scores: np.ndarray, points: Sequence[float], item_ids: Sequence[str] | None = None, *,
                  fraction: float = UPPER_LOWER_FRACTION, not_taken: bool = False) -> ItemStats:
    """Per-item statistics of an (N, k) matrix of item scores (students who sat; no NaN).

    The total is the row sum over the k items given (leave void questions out before calling). With
    ``not_taken``, NaN marks an optional question (选考题) the student did not choose: that item's statistics are
    over its takers (see the module docstring).
    """
    scores = np.asarray(scores, dtype=float)
    if scores.ndim != 2:
        raise ValueError("item scores must be a students x items matrix")
    if np.isnan(scores).any():
        if not_taken:
            return _taker_item_analysis(scores, np.asarray(points, dtype=float), item_ids, fraction)
        raise ValueError("item scores contain NaN: pass only graded students and non-void items")
    n, k = scores.shape
    points = np.asarray(points, dtype=float)
    if points.shape != (k,):
        raise ValueError(f"{len(points)} full-mark values for {k} items")
    item_ids = tuple(item_ids) if item_ids is not None else tuple(f"Q{j + 1}" for j in range(k))
    totals = scores.sum(axis=1)
    m = _moments(scores, totals)
    upper, lower = upper_lower_groups(totals, fraction)
    if upper.any():
        upper_mean = scores[upper].mean(axis=0)
        lower_mean = scores[lower].mean(axis=0)
    else:
        upper_mean = lower_mean = np.full(k, np.nan)
    total_r = _correlation(m.cov_total, m.var, m.total_var)
    # X - x_j: cov(x, X - x) = cov(x, X) - var(x); var(X - x) = var(X) - 2 cov(x, X) + var(x)
    rest_var = m.total_var - 2 * m.cov_total + m.var
    total_r_if_rm = _correlation(m.cov_total - m.var, m.var, rest_var)
    alpha_if_rm = _alpha(k - 1, m.var.sum() - m.var, rest_var) if k >= 3 else np.full(k, np.nan)
    difficulty = m.mean / points
    discrimination = (upper_mean - lower_mean) / points
    return ItemStats(item_ids=item_ids, points=points, n=n, mean=m.mean, sd=np.sqrt(m.var),
                     difficulty=difficulty, upper_mean=upper_mean, lower_mean=lower_mean,
                     discrimination=discrimination, total_r=total_r, total_r_if_rm=total_r_if_rm,
                     alpha_if_rm=alpha_if_rm, ebel=ebel_bands(discrimination),
                     difficulty_band=difficulty_bands(difficulty))


def _taker_item_analysis(scores: np.ndarray, points: np.ndarray, item_ids: Sequence[str] | None,
                         fraction: float) -> ItemStats:
    """:func:`item_analysis` where NaN marks an item a student did not take: every moment over its takers."""
    n, k = scores.shape
    if points.shape != (k,):
        raise ValueError(f"{len(points)} full-mark values for {k} items")
    item_ids = tuple(item_ids) if item_ids is not None else tuple(f"Q{j + 1}" for j in range(k))
    taken = np.isfinite(scores)
    x = np.where(taken, scores, 0.0)
    totals = x.sum(axis=1)
    count = taken.sum(axis=0)

    def taker_mean(values: np.ndarray) -> np.ndarray:  # per item: the mean of (n, k) values over its takers
        return safe_divide(np.where(taken, values, 0.0).sum(axis=0), count.astype(float))

    mean = taker_mean(x)
    total_mean = taker_mean(np.broadcast_to(totals[:, None], (n, k)))
    dx = np.where(taken, x - mean, 0.0)
    dt = np.where(taken, totals[:, None] - total_mean, 0.0)
    dof = np.where(count > 1, count - 1, np.nan)
    var = (dx * dx).sum(axis=0) / dof
    cov_total = (dx * dt).sum(axis=0) / dof
    total_var = (dt * dt).sum(axis=0) / dof
    upper, lower = upper_lower_groups(totals, fraction)
    upper_mean = safe_divide(np.where(taken & upper[:, None], x, 0.0).sum(axis=0),
                             (taken & upper[:, None]).sum(axis=0).astype(float))
    lower_mean = safe_divide(np.where(taken & lower[:, None], x, 0.0).sum(axis=0),
                             (taken & lower[:, None]).sum(axis=0).astype(float))
    rest_var = total_var - 2 * cov_total + var
    share = count / max(n, 1)
    k_answered = int(round(float(np.median(taken.sum(axis=1))))) if n else k
    weighted = float(np.nansum(share * var))
    alpha_if_rm = _alpha(k_answered - 1, weighted - share * var, rest_var) if k_answered >= 3 else np.full(k, np.nan)
    difficulty = mean / points
    discrimination = (upper_mean - lower_mean) / points
    return ItemStats(item_ids=item_ids, points=points, n=n, mean=mean, sd=np.sqrt(var), difficulty=difficulty,
                     upper_mean=upper_mean, lower_mean=lower_mean, discrimination=discrimination,
                     total_r=_correlation(cov_total, var, total_var),
                     total_r_if_rm=_correlation(cov_total - var, var, rest_var), alpha_if_rm=alpha_if_rm,
                     ebel=ebel_bands(discrimination), difficulty_band=difficulty_bands(difficulty), takers=count)


def paper_analysis(scores: np.ndarray, points: Sequence[float], items: ItemStats | None = None) -> PaperStats:
    """Cronbach's α, SEM = SD * sqrt(1 - α), total mean/SD and the difficulty mix of an (N, k) score matrix (NaN:
    an optional question not chosen, as in :func:`item_analysis`; full marks then count each group once)."""
    scores = np.asarray(scores, dtype=float)
    points = np.asarray(points, dtype=float)
    taken = np.isfinite(scores)
    items = items or item_analysis(scores, points, not_taken=not taken.all())
    n, k = scores.shape
    totals = np.where(taken, scores, 0.0).sum(axis=1)
    total_var = float(np.var(totals, ddof=1)) if n >= 2 else np.nan
    share = taken.mean(axis=0) if n else np.ones(k)
    k_answered = int(round(float(np.median(taken.sum(axis=1))))) if n else k
    alpha = float(_alpha(k_answered, float(np.nansum(share * items.sd ** 2)), total_var)) if n >= 2 else np.nan
    sd = float(np.sqrt(total_var)) if n >= 2 else np.nan
    sem = sd * float(np.sqrt(1.0 - alpha)) if np.isfinite(alpha) and alpha <= 1 else np.nan
    bands = items.difficulty_band
    mix = {key: int((bands == b).sum()) for b, key in enumerate(DIFFICULTY_KEYS)}
    mix_points = {key: float(points[bands == b].sum()) for b, key in enumerate(DIFFICULTY_KEYS)}
    ebel = {key: int((items.ebel == b).sum()) for b, key in enumerate(EBEL_KEYS)}
    finite_d = items.discrimination[np.isfinite(items.discrimination)]
    full_marks = float(points.sum()) if taken.all() else float((share * points).sum())
    return PaperStats(n=n, k=k, full_marks=full_marks, mean=float(totals.mean()) if n else np.nan, sd=sd,
                     alpha=alpha, sem=sem,
                     mean_difficulty=float(totals.mean() / full_marks) if n else np.nan,
                     mean_discrimination=float(finite_d.mean()) if finite_d.size else np.nan,
                     difficulty_mix=mix, difficulty_points=mix_points, ebel_mix=ebel)


# ----------------------------------------------------------------------------------------------------------
# Options and distractors


@dataclass(frozen=True)
class OptionStats:
    """One choice question's options: shares choosing each option (a multi-select answer counts for every
    option marked), blank shares, and the distractor verdicts.

    ``overall``, ``upper``, ``lower`` are per option (in ``options`` order) fractions of the group;
    ``blank_*`` the share that marked nothing; ``multiple`` the share marking two or more options.
    """

    item_id: str
    options: str
    keyed: str
    overall: np.ndarray
    upper: np.ndarray
    lower: np.ndarray
    blank: float
    blank_upper: float
    blank_lower: float
    multiple: float
    non_functioning: str
    suspect: str


def masks_from_letters(texts: Sequence[str] | np.ndarray, options: str) -> np.ndarray:
    """Option bitmasks (bit k = ``options[k]``) of response texts such as ``'AC'``, ``'?B'`` (uncertain) or
    ``'E*'`` (a mark outside the options, ignored); computed once per distinct text."""
    texts = np.asarray(texts, dtype=object).astype(str)
    distinct, inverse = np.unique(texts, return_inverse=True)
    masks = np.zeros(len(distinct), np.uint16)
    for index, text in enumerate(distinct.tolist()):
        mask = 0
        for letter in text.upper():
            position = options.find(letter)
            if position >= 0:
                mask |= 1 << position
        masks[index] = mask
    return masks[inverse]


def option_analysis(masks: np.ndarray, options: Sequence[str], keys: Sequence[str], upper: np.ndarray,
                    lower: np.ndarray, item_ids: Sequence[str], *, threshold: float = NON_FUNCTIONING_SHARE
                    ) -> list[OptionStats]:
    """Option frequencies and distractor verdicts for the choice questions.

    Parameters
    ----------
    masks : ndarray of int, (N, q)
        Options marked by each student on each choice question (bitmask; 0 = blank).
    options : q strings
        Option letters of each question.
    keys : q strings
        Letters in any accepted answer (not distractors).
    upper, lower : boolean masks (N,)
        The upper and lower 27 % (:func:`upper_lower_groups`).
    item_ids : q strings
    threshold : float
        A distractor chosen by fewer than this share of examinees is non-functioning.
    """
    masks = np.asarray(masks)
    n = masks.shape[0]
    n_upper, n_lower = int(upper.sum()), int(lower.sum())
    out = []
    for j, (letters, key, qid) in enumerate(zip(options, keys, item_ids)):
        size = 1 << len(letters)
        column = masks[:, j].astype(np.intp)
        # counts per option mask, then per option: one bincount per group instead of one pass per option
        tallies = [np.bincount(column, minlength=size), np.bincount(column[upper], minlength=size),
                   np.bincount(column[lower], minlength=size)]
        bits = (np.arange(size)[:, None] >> np.arange(len(letters))) & 1  # (size, options)
        popcount = bits.sum(axis=1)
        overall, up, low = (safe_divide(t @ bits, total) for t, total in zip(tallies, (n, n_upper, n_lower)))
        blank = [float(safe_divide(t[0], total)) for t, total in zip(tallies, (n, n_upper, n_lower))]
        multiple = float(safe_divide(tallies[0][popcount >= 2].sum(), n))
        distractors = [k for k, letter in enumerate(letters) if letter not in key]
        dead = "".join(letters[k] for k in distractors if np.isfinite(overall[k]) and overall[k] < threshold)
        suspect = "".join(letters[k] for k in distractors if n_upper and up[k] > low[k])
        out.append(OptionStats(qid, letters, key, overall, up, low, blank[0], blank[1], blank[2], multiple,
                               dead, suspect))
    return out
