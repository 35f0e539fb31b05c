"""Grouped statistics without per-student Python loops: labels -> integer codes, then ``np.bincount`` and sorts.

Every function takes ``codes`` (int, one per student, ``0 .. n_groups-1``) and ``n_groups``, so one call
computes a statistic for every class (or school) at once. Empty groups and groups too small for a statistic
give NaN, computed without dividing by zero (the test suite turns numpy's RuntimeWarnings into errors).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

__all__ = ["Groups", "group_by", "group_counts", "group_sums", "group_means", "group_variances",
           "group_extrema", "group_quantiles", "sort_within_groups", "ranks_within_groups", "safe_divide"]


@dataclass(frozen=True)
class Groups:
    """Students grouped by a label.

    Attributes
    ----------
    labels : ndarray of object, (G,)
        Distinct labels, sorted.
    codes : ndarray of intp, (N,)
        Each student's group, an index into ``labels``.
    """

    labels: np.ndarray
    codes: np.ndarray

    @property
    def n_groups(self) -> int:
        return len(self.labels)

    def counts(self) -> np.ndarray:
        """Students per group."""
        return group_counts(self.codes, self.n_groups)

    def subset(self, mask: np.ndarray) -> "Groups":
        """The same labels for the students in ``mask`` (groups may become empty)."""
        return Groups(self.labels, self.codes[mask])


def _factorize(values: Sequence | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(sorted distinct labels as str, codes): one dict pass instead of sorting N strings (np.unique on text is
    several times slower for 500,000 students)."""
    index: dict = {}
    items = values.tolist() if isinstance(values, np.ndarray) else list(values)
    codes = np.fromiter((index.setdefault(v, len(index)) for v in items), np.intp, len(items))
    labels = np.array([str(v) for v in index], dtype=object)
    order = np.argsort(labels.astype(str), kind="stable")
    rank = np.empty(len(order), np.intp)
    rank[order] = np.arange(len(order))
    return labels[order], rank[codes]


def group_by(values: Sequence | np.ndarray, *keys: Sequence | np.ndarray) -> Groups:
    """Group students by a label, or by several labels together (e.g. school and class).

    Labels are compared as text and sorted; with several keys the label of a group is the tuple of its keys'
    values.
    """
    columns = [values, *keys]
    parts = [_factorize([str(v) for v in (c.tolist() if isinstance(c, np.ndarray) else c)]) for c in columns]
    if len(parts) == 1:
        return Groups(parts[0][0], parts[0][1])
    combined = np.zeros(len(parts[0][1]), np.int64)
    for uniques, codes in parts:
        combined = combined * len(uniques) + codes
    distinct, codes = np.unique(combined, return_inverse=True)
    labels = np.empty(len(distinct), dtype=object)
    rest = distinct.copy()
    pieces = []
    for uniques, _ in reversed(parts):
        pieces.append(uniques[rest % len(uniques)])
        rest //= len(uniques)
    pieces.reverse()
    labels[:] = list(zip(*(p.tolist() for p in pieces)))
    return Groups(labels, codes.astype(np.intp).ravel())


def safe_divide(numerator: np.ndarray | float, denominator: np.ndarray | float) -> np.ndarray:
    """``numerator / denominator`` with NaN where the denominator is 0 (no warning)."""
    num = np.asarray(numerator, dtype=float)
    den = np.asarray(denominator, dtype=float)
    num, den = np.broadcast_arrays(num, den)
    out = np.full(num.shape, np.nan)
    np.divide(num, den, out=out, where=den != 0)
    return out


def group_counts(codes: np.ndarray, n_groups: int) -> np.ndarray:
    """Members per group."""
    return np.bincount(codes, minlength=n_groups).astype(np.int64)


def group_sums(values: np.ndarray, codes: np.ndarray, n_groups: int) -> np.ndarray:
    """Sum of ``values`` per group; ``values`` may be (N,) or (N, k) (then (G, k))."""
    values = np.asarray(values, dtype=float)
    if values.ndim == 1:
        return np.bincount(codes, weights=values, minlength=n_groups)
    # A sparse (G, N) indicator times the (N, k) matrix: one pass over the data, ~10x a flattened bincount.
    from scipy import sparse

    indicator = sparse.csr_matrix((np.ones(len(codes)), (codes, np.arange(len(codes)))),
                                  shape=(n_groups, len(codes)))
    return np.asarray(indicator @ values)


def group_means(values: np.ndarray, codes: np.ndarray, n_groups: int) -> np.ndarray:
    """Mean per group (NaN for an empty group)."""
    counts = group_counts(codes, n_groups)
    sums = group_sums(values, codes, n_groups)
    return safe_divide(sums, counts if sums.ndim == 1 else counts[:, None])


def group_variances(values: np.ndarray, codes: np.ndarray, n_groups: int, ddof: int = 1,
                    means: np.ndarray | None = None) -> np.ndarray:
    """Variance per group with ``ddof`` (two-pass: deviations from the group mean); NaN when n <= ddof."""
    values = np.asarray(values, dtype=float)
    if means is None:
        means = group_means(values, codes, n_groups)
    deviations = values - means[codes]
    squares = group_sums(deviations * deviations, codes, n_groups)
    counts = group_counts(codes, n_groups) - ddof
    counts = np.where(counts > 0, counts, 0)
    return safe_divide(squares, counts if squares.ndim == 1 else counts[:, None])


def sort_within_groups(values: np.ndarray, codes: np.ndarray, n_groups: int, *, descending: bool = False
                       ) -> tuple[np.ndarray, np.ndarray]:
    """(order, starts): ``values[order]`` is sorted by group, then by value; group g occupies
    ``order[starts[g]:starts[g + 1]]``."""
    key = -values if descending else values
    order = np.lexsort((key, codes))
    starts = np.zeros(n_groups + 1, np.int64)
    np.cumsum(group_counts(codes, n_groups), out=starts[1:])
    return order, starts


def group_extrema(values: np.ndarray, codes: np.ndarray, n_groups: int) -> tuple[np.ndarray, np.ndarray]:
    """(min, max) per group, NaN for an empty group."""
    lo = np.full(n_groups, np.inf)
    hi = np.full(n_groups, -np.inf)
    if len(values):
        # ufunc.at is slow on large inputs; reduceat over group-sorted values is one vectorised pass
        order = np.argsort(codes, kind="stable")
        present, starts = np.unique(codes[order], return_index=True)
        lo[present] = np.minimum.reduceat(values[order], starts)
        hi[present] = np.maximum.reduceat(values[order], starts)
    lo[~np.isfinite(lo)] = np.nan
    hi[~np.isfinite(hi)] = np.nan
    return lo, hi


def group_quantiles(values: np.ndarray, codes: np.ndarray, n_groups: int, probabilities: Sequence[float],
                    sorted_index: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """Quantiles per group, (G, len(probabilities)): Hyndman & Fan type 7, numpy's ``linear`` method and R's
    default ``quantile(type = 7)``: ``h = (n - 1) p``, ``x[floor h] + (h - floor h) (x[floor h + 1] - x[floor h])``.
    NaN for empty groups."""
    order, starts = sorted_index if sorted_index is not None else sort_within_groups(values, codes, n_groups)
    ordered = np.asarray(values, dtype=float)[order]
    counts = np.diff(starts)
    out = np.full((n_groups, len(probabilities)), np.nan)
    present = counts > 0
    if not present.any():
        return out
    n = counts[present]
    first = starts[:-1][present]
    for k, p in enumerate(probabilities):
        h = (n - 1) * float(p)
        lo = np.floor(h).astype(np.int64)
        hi = np.minimum(lo + 1, n - 1)
        frac = h - lo
        a, b = ordered[first + lo], ordered[first + hi]
        out[present, k] = a + frac * (b - a)
    return out


def ranks_within_groups(values: np.ndarray, codes: np.ndarray | None = None, n_groups: int | None = None
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Competition ranks (1 = highest; ties share the best rank: 1, 2, 2, 4), ties counted and group sizes.

    Returns
    -------
    rank : ndarray of int64, (N,)
        1 + number of group members with a strictly higher value (``scipy.stats.rankdata(-x, method="min")``).
    equal : ndarray of int64, (N,)
        Group members with the same value, the student included.
    size : ndarray of int64, (N,)
        Size of the student's group.

    Values are rounded to 1e-6 first, so that sums of fractional points that differ only by floating-point
    noise tie.
    """
    values = np.round(np.asarray(values, dtype=float), 6)
    n = len(values)
    if codes is None:
        codes, n_groups = np.zeros(n, np.intp), 1
    assert n_groups is not None
    rank = np.zeros(n, np.int64)
    equal = np.zeros(n, np.int64)
    size = np.zeros(n, np.int64)
    if n == 0:
        return rank, equal, size
    order, starts = sort_within_groups(values, codes, n_groups, descending=True)
    sv, sc = values[order], codes[order]
    index = np.arange(n)
    new_group = np.ones(n, bool)
    new_group[1:] = sc[1:] != sc[:-1]
    new_value = new_group.copy()
    new_value[1:] |= sv[1:] != sv[:-1]
    run_start = np.maximum.accumulate(np.where(new_value, index, 0))
    group_start = np.maximum.accumulate(np.where(new_group, index, 0))
    run_id = np.cumsum(new_value) - 1
    run_length = np.bincount(run_id)
    rank[order] = run_start - group_start + 1
    equal[order] = run_length[run_id]
    size[order] = np.diff(starts)[sc]
    return rank, equal, size
