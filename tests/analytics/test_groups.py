"""Grouped reductions against per-group numpy computations."""

from __future__ import annotations

import numpy as np
import pytest

from analytics.groups import (group_by, group_extrema, group_means, group_quantiles, group_sums, group_variances,
                              ranks_within_groups, safe_divide)


def test_group_by_one_and_two_keys():
    g = group_by(["b", "a", "b", "c"])
    assert g.labels.tolist() == ["a", "b", "c"] and g.codes.tolist() == [1, 0, 1, 2]
    g = group_by(["s1", "s1", "s2", "s2", "s1"], ["1班", "2班", "1班", "1班", "1班"])
    assert g.labels.tolist() == [("s1", "1班"), ("s1", "2班"), ("s2", "1班")]
    assert g.codes.tolist() == [0, 1, 2, 2, 0]
    assert g.counts().tolist() == [2, 1, 2]


def test_group_sums_and_means_one_and_two_dimensional():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(50, 3))
    codes = rng.integers(0, 4, 50)
    codes[codes == 2] = 3  # group 2 empty
    sums = group_sums(x, codes, 4)
    means = group_means(x[:, 0], codes, 4)
    for g in (0, 1, 3):
        assert sums[g] == pytest.approx(x[codes == g].sum(axis=0))
        assert means[g] == pytest.approx(x[codes == g, 0].mean())
    assert sums[2].tolist() == [0, 0, 0] and np.isnan(means[2])
    variances = group_variances(x[:, 1], codes, 4)
    assert variances[0] == pytest.approx(x[codes == 0, 1].var(ddof=1)) and np.isnan(variances[2])


def test_extrema_and_quantiles():
    values = np.array([3.0, 1, 4, 1, 5, 9, 2, 6])
    codes = np.array([0, 0, 0, 1, 1, 1, 1, 0])
    lo, hi = group_extrema(values, codes, 3)
    assert lo[:2].tolist() == [1, 1] and hi[:2].tolist() == [6, 9] and np.isnan([lo[2], hi[2]]).all()
    q = group_quantiles(values, codes, 3, (0.1, 0.5, 0.9))
    for g in (0, 1):
        assert q[g] == pytest.approx(np.quantile(values[codes == g], [0.1, 0.5, 0.9]))
    assert np.isnan(q[2]).all()


def test_ranks_within_groups_counts():
    rank, equal, size = ranks_within_groups(np.array([5, 7, 7, 1, 7.0]), np.array([0, 0, 0, 1, 1]), 2)
    assert rank.tolist() == [3, 1, 1, 2, 1]
    assert equal.tolist() == [1, 2, 2, 1, 1]
    assert size.tolist() == [3, 3, 3, 2, 2]


def test_safe_divide_gives_nan_without_warning():
    assert np.isnan(safe_divide(np.array([1.0, 0.0]), np.array([0.0, 0.0]))).all()
