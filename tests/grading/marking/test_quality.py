"""Supervision figures and the 自评 schedule."""

from __future__ import annotations

import statistics

import pytest

from grading.marking import agreement_rate, marker_figures, self_check_due, self_check_pick, self_consistency


def test_marker_figures_against_the_pooled_group():
    scores = {"a": [2, 4, 6], "b": [8, 8, 8, 8], "c": [5]}
    figures = marker_figures(scores)
    pooled = [2, 4, 6, 8, 8, 8, 8, 5]
    assert figures["a"].mean == pytest.approx(4)
    assert figures["a"].spread == pytest.approx(statistics.stdev([2, 4, 6]))
    assert figures["a"].mean_vs_group == pytest.approx(4 - statistics.mean(pooled))
    assert figures["a"].spread_vs_group == pytest.approx(statistics.stdev([2, 4, 6]) / statistics.stdev(pooled))
    assert figures["b"].spread == 0 and figures["b"].spread_vs_group == 0
    assert figures["c"].spread is None and figures["c"].spread_vs_group is None and figures["c"].count == 1


def test_agreement_and_self_consistency():
    assert agreement_rate([], 1) is None
    assert agreement_rate([(3, 4), (3, 5), (0, 0), (10, 2)], 1) == 0.5
    assert self_consistency([], 1) == (None, None)
    assert self_consistency([(3, 3), (4, 7)], 1) == (0.5, 1.5)


def test_self_checks_follow_the_rate_after_a_gap():
    assert not self_check_due(100, 0, 0)
    assert not self_check_due(4, 0, 0.5)
    assert self_check_due(10, 0, 0.1)
    assert not self_check_due(10, 1, 0.1)
    assert not self_check_due(19, 1, 0.1) and self_check_due(20, 1, 0.1)


def test_self_check_pick_is_one_of_the_candidates_and_spreads():
    assert self_check_pick([], 3) is None
    picks = {self_check_pick(list(range(10)), k) for k in range(10)}
    assert picks == set(range(10))
