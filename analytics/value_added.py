"""Value-added (增值评价) of classes and teachers: how far their students' current scores lie above what the same
students' prior scores predict.

The standard definition (docs/statistics.md, "Value-added"): regress the current score on the prior score over the
whole grade (or city), ``current = a + b * prior + e`` by ordinary least squares; a group's (class's or teacher's)
raw value-added is the mean residual of its students, with standard error ``SE = sigma_e / sqrt(n)``
(``sigma_e`` the residual standard deviation of the regression, ddof = 2). Raw means of small classes swing most,
so each is shrunk toward 0 by the empirical-Bayes factor ``lambda = n / (n + sigma_e**2 / sigma_u**2)``, where
``sigma_u**2``, the variance of the true group effects, is estimated by the method of moments (the variance of the
raw group means less their mean sampling variance, floored at 0). The shrunken estimate is ``lambda * raw`` with
the normal posterior interval ``lambda * raw ± z * sqrt(lambda) * SE``. Groups with fewer than ``min_n`` linked
students are listed but not shown (``shown`` False): their figure would mostly be noise.
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import NormalDist
from typing import Sequence

import numpy as np

from analytics.groups import group_by, group_counts, group_means

__all__ = ["ValueAdded", "value_added", "MIN_LINKED"]

#: Fewest linked students for a group's value-added to be shown (a common floor in school accountability reports).
MIN_LINKED = 10


@dataclass(frozen=True)
class ValueAdded:
    """Value-added per group, in the order of ``groups`` (sorted labels).

    Attributes
    ----------
    groups : tuple of str, (G,)
    n : ndarray of int, (G,)
        Students with both scores in the group.
    raw, se : ndarray, (G,)
        Mean residual and its standard error ``sigma_e / sqrt(n)``.
    shrinkage : ndarray, (G,)
        Empirical-Bayes factor ``lambda`` (0 = all noise, 1 = taken as measured).
    estimate, low, high : ndarray, (G,)
        Shrunken value-added and its interval at ``level``.
    shown : ndarray of bool, (G,)
        ``n >= min_n``.
    intercept, slope : float
        The grade's regression of current on prior score.
    residual_sd, between_sd : float
        ``sigma_e`` and the estimated ``sigma_u`` (0 when the groups differ no more than chance would make them).
    linked : int
        Students with both scores (the regression's sample).
    level : float
    min_n : int
    """

    groups: tuple[str, ...]
    n: np.ndarray
    raw: np.ndarray
    se: np.ndarray
    shrinkage: np.ndarray
    estimate: np.ndarray
    low: np.ndarray
    high: np.ndarray
    shown: np.ndarray
    intercept: float
    slope: float
    residual_sd: float
    between_sd: float
    linked: int
    level: float
    min_n: int


def value_added(prior: np.ndarray, current: np.ndarray, groups: Sequence[str] | np.ndarray, *,
                min_n: int = MIN_LINKED, level: float = 0.95) -> ValueAdded:
    """Value-added of each group from students' prior and current scores (see the module docstring).

    Parameters
    ----------
    prior, current : array_like, (N,)
        Each student's prior and current score (or z-score); NaN where the student has no such score. Only students
        with both take part.
    groups : sequence of str, (N,)
        Each student's class or teacher; ``""`` leaves the student out of every group (but in the regression).
    min_n : int
        Fewest linked students for a group to be shown.
    level : float
        Interval coverage, e.g. 0.95.

    Raises
    ------
    ValueError
        When the arrays differ in length, or fewer than three students have both scores or the prior scores do not
        vary (no regression can be fitted).
    """
    prior = np.asarray(prior, dtype=float)
    current = np.asarray(current, dtype=float)
    labels = np.asarray(groups, dtype=object).astype(str)
    if not len(prior) == len(current) == len(labels):
        raise ValueError(f"prior ({len(prior)}), current ({len(current)}) and groups ({len(labels)}) differ in length")
    if not 0 < level < 1 or min_n < 1:
        raise ValueError("value_added needs 0 < level < 1 and min_n >= 1")
    both = np.isfinite(prior) & np.isfinite(current)
    x, y = prior[both], current[both]
    if len(x) < 3 or np.ptp(x) == 0:
        raise ValueError(f"value-added needs three or more students with varying prior scores; {len(x)} linked")
    slope, intercept = np.polyfit(x, y, 1)
    residual = y - (intercept + slope * x)
    residual_sd = float(np.sqrt(residual @ residual / (len(x) - 2)))

    member = labels[both] != ""
    grouped = group_by(labels[both][member])
    n_groups = grouped.n_groups
    n = group_counts(grouped.codes, n_groups)
    raw = group_means(residual[member], grouped.codes, n_groups)
    se = residual_sd / np.sqrt(np.maximum(n, 1))
    between_var = _between_variance(raw, se)
    if between_var > 0:
        shrinkage = n / (n + residual_sd ** 2 / between_var)
    else:
        shrinkage = np.zeros(n_groups)
    estimate = shrinkage * raw
    half = NormalDist().inv_cdf(0.5 + level / 2) * np.sqrt(shrinkage) * se
    return ValueAdded(tuple(grouped.labels.tolist()), n, raw, se, shrinkage, estimate, estimate - half,
                      estimate + half, n >= min_n, float(intercept), float(slope), residual_sd,
                      float(np.sqrt(between_var)), int(len(x)), float(level), int(min_n))


def _between_variance(raw: np.ndarray, se: np.ndarray) -> float:
    """Method-of-moments estimate of the true groups' variance: the raw means' variance (ddof = 1) less their mean
    sampling variance, floored at 0; 0 with fewer than two groups."""
    if len(raw) < 2:
        return 0.0
    return max(0.0, float(np.var(raw, ddof=1) - np.mean(se ** 2)))
