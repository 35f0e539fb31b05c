"""The mastery figure a teacher reads beside each knowledge-point rate, and why it can be trusted.

Two sources (docs/statistics.md, "Knowledge-point diagnosis"):

- **DINA**, shown only where the model fits the data: the mean item-level RMSEA over the items it used
  (:func:`analytics.diagnosis.dina_item_rmsea`, R's ``CDM::itemfit.rmsea``) at most
  :data:`~analytics.diagnosis.DINA_RMSEA_GOOD` (0.05, Kunina-Habenicht, Rupp & Wilhelm 2012). Even then a cell
  whose DINA probability contradicts the student's own rate (below 0.2 at a rate of 60 % or more, above 0.8 at a
  rate under 40 %) shows the rate-based figure instead, marked as such: DINA judges by which questions were right,
  all or nothing, and a teacher must never read "0 % mastered" beside "62 % scored" without the reason.
- **The shrunken rate** otherwise: a beta-binomial posterior mean ``(a + correct) / (a + b + attempted)`` with its
  credible interval, ``a, b`` estimated from the student's class on that point by the method of moments
  (empirical Bayes); a point assessed by few questions is pulled toward the class, one assessed by many keeps the
  student's own rate. ``attempted`` counts the questions on the point (by their weights in the Q-matrix) and
  ``correct = rate * attempted``: partial credit is a fractional success.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import betaincinv

from analytics.diagnosis import DINA_RMSEA_GOOD, DinaFit
from analytics.groups import group_counts, group_means, group_variances

__all__ = ["Mastery", "MASTERY_SOURCES", "shrunk_rates", "trusted_mastery", "contradicts"]

#: Where each cell's figure comes from: the fitted DINA model, the shrunken rate (DINA off or not fitted), or the
#: shrunken rate because the DINA figure contradicted the rate.
MASTERY_SOURCES = ("dina", "rate", "rate_conflict")
_MIN_GROUP = 5  # fewer students in a class: its prior comes from the whole input instead
_MAX_PRIOR_WEIGHT = 50.0  # a + b at most: with no spread beyond chance the class prior weighs 50 questions, not ∞


@dataclass(frozen=True)
class Mastery:
    """Per student and point: the figure shown, its interval (NaN for DINA cells) and its source.

    ``dina_used`` says whether the model passed its fit test; ``rmsea`` is the mean item RMSEA (NaN when DINA was
    not fitted); ``level`` the credible interval's coverage.
    """

    value: np.ndarray
    low: np.ndarray
    high: np.ndarray
    source: np.ndarray
    dina_used: bool
    rmsea: float
    level: float


def contradicts(probability: np.ndarray, rate: np.ndarray) -> np.ndarray:
    """A DINA probability a teacher would read as contradicting the rate beside it."""
    return ((probability < 0.2) & (rate >= 0.6)) | ((probability > 0.8) & (rate < 0.4))


def shrunk_rates(rates: np.ndarray, attempted: np.ndarray, codes: np.ndarray, n_groups: int, *,
                 level: float = 0.9) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(posterior mean, low, high), each (N, K): beta-binomial empirical-Bayes shrinkage of each student's rate
    toward their group's (see the module docstring); NaN where the rate is NaN.

    The group prior on point t has mean mu (the group's mean rate) and ``a + b = 1/rho - 1``, where the
    intra-class correlation rho solves ``var(rate) = mu (1 - mu) / n * (1 + (n - 1) rho)`` for the group's
    variance of rates (method of moments, n = ``attempted``); rho is kept in [1/(1 + 50), 1).
    """
    rates = np.asarray(rates, dtype=float)
    n = np.asarray(attempted, dtype=float)
    finite = np.isfinite(rates)
    filled = np.where(finite, rates, 0.0)
    mean, var = np.full(rates.shape, np.nan), np.full(rates.shape, np.nan)
    for t in range(rates.shape[1]):  # per point: only the students with a rate on it count
        rows = np.flatnonzero(finite[:, t])
        if len(rows) == 0:
            continue
        group = codes[rows]
        counts = group_counts(group, n_groups)
        point_mean = group_means(rates[rows, t], group, n_groups)
        point_var = group_variances(rates[rows, t], group, n_groups, ddof=1, means=point_mean)
        small = counts[group] < _MIN_GROUP  # too few in the class to estimate its spread: everyone's instead
        mean[rows, t] = np.where(small, rates[rows, t].mean(), point_mean[group])
        var[rows, t] = np.where(small, np.var(rates[rows, t], ddof=1) if len(rows) > 1 else np.nan,
                                point_var[group])
    mu = np.clip(mean, 1e-3, 1 - 1e-3)
    trials = np.maximum(n, 1e-9)[None, :]
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = (var * trials / (mu * (1 - mu)) - 1.0) / np.maximum(trials - 1.0, 1e-9)
    rho = np.clip(np.nan_to_num(rho, nan=1.0), 1.0 / (1.0 + _MAX_PRIOR_WEIGHT), 1.0 - 1e-6)
    weight = 1.0 / rho - 1.0
    a, b = mu * weight, (1 - mu) * weight
    correct = filled * trials
    post_a, post_b = a + correct, b + trials - correct
    value = post_a / (post_a + post_b)
    tail = (1.0 - level) / 2
    low = betaincinv(post_a, post_b, tail)
    high = betaincinv(post_a, post_b, 1.0 - tail)
    for array in (value, low, high):
        array[~finite] = np.nan
    return value, low, high


def trusted_mastery(rates: np.ndarray, attempted: np.ndarray, codes: np.ndarray, n_groups: int,
                    dina: DinaFit | None, rmsea: np.ndarray | None, *, level: float = 0.9) -> Mastery:
    """The figure to show per student and point (module docstring): DINA where it fits and agrees with the rate,
    the shrunken rate elsewhere."""
    value, low, high = shrunk_rates(rates, attempted, codes, n_groups, level=level)
    source = np.full(value.shape, MASTERY_SOURCES.index("rate"), np.int8)
    mean_rmsea = float(np.nanmean(rmsea)) if rmsea is not None and np.isfinite(rmsea).any() else float("nan")
    used = dina is not None and np.isfinite(mean_rmsea) and mean_rmsea <= DINA_RMSEA_GOOD
    if used:
        conflict = contradicts(dina.mastery, np.asarray(rates, dtype=float))
        take = ~conflict & np.isfinite(rates)
        value = np.where(take, dina.mastery, value)
        low, high = np.where(take, np.nan, low), np.where(take, np.nan, high)
        source = np.where(take, MASTERY_SOURCES.index("dina"), np.where(conflict, MASTERY_SOURCES.index(
            "rate_conflict"), source)).astype(np.int8)
    return Mastery(value, low, high, source, bool(used), mean_rmsea, level)
