"""Score analysis against hand-computed cases and independent formulas (scipy's rankdata, numpy's quantile)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import rankdata

from analytics.scores import (borderline, compare_means, competition_ranks, cut_lines, describe, four_rates,
                              histogram, percentile_ranks, performance_bands, score_segments, standard_scores,
                              subject_totals)


def test_describe_hand_case():
    d = describe(np.array([10, 20, 20, 30, 40.0]), 50)
    assert d.n.tolist() == [5]
    assert d.mean[0] == pytest.approx(24.0)
    assert d.sd[0] == pytest.approx(math.sqrt(130.0))  # Σ(x - 24)² = 520, / (5 - 1)
    assert (d.min[0], d.max[0], d.median[0], d.q1[0], d.q3[0]) == (10, 40, 20, 20, 30)
    assert d.score_rate[0] == pytest.approx(0.48)
    # lines 42.5 / 35 / 30 / 20: nobody excellent, 40 good, 30 and 40 pass, 10 low
    assert d.rates[0].tolist() == pytest.approx([0.0, 0.2, 0.4, 0.2])


def test_describe_groups_match_separate_calls_and_handle_empty_and_single_groups():
    rng = np.random.default_rng(3)
    totals = rng.integers(0, 101, 200).astype(float)
    codes = rng.integers(0, 3, 200)
    codes[0], totals[0] = 4, 55.0  # group 4 has one student; group 3 none
    d = describe(totals, 100, codes, 5)
    for g in (0, 1, 2):
        x = totals[codes == g]
        assert d.n[g] == len(x)
        assert d.mean[g] == pytest.approx(x.mean())
        assert d.sd[g] == pytest.approx(x.std(ddof=1))
        assert [d.q1[g], d.median[g], d.q3[g]] == pytest.approx(np.quantile(x, [0.25, 0.5, 0.75]))
        assert (d.min[g], d.max[g]) == (x.min(), x.max())
    assert d.n[3] == 0 and np.isnan([d.mean[3], d.sd[3], d.median[3], d.min[3], *d.rates[3]]).all()
    assert d.n[4] == 1 and d.mean[4] == 55 and np.isnan(d.sd[4]) and d.median[4] == 55


def test_four_rates_cut_lines_are_inclusive_and_low_is_strict():
    totals = np.array([102, 101.9, 84, 72, 71.5, 48, 47.9])
    rates = four_rates(totals, 120)[0] * len(totals)
    assert cut_lines(120).tolist() == [102, 84, 72, 48]
    assert rates.tolist() == pytest.approx([1, 3, 4, 1])


@pytest.mark.parametrize("cutoffs", [(0.85, 0.7, 0.6), (0.6, 0.7, 0.8, 0.4), (0.85, 0.7, 0.6, 0), (1.2, 0.7, 0.6, 0.4)])
def test_bad_cutoffs_are_refused(cutoffs):
    with pytest.raises(ValueError, match="cut-offs"):
        cut_lines(100, cutoffs)


def test_performance_bands():
    bands = performance_bands(np.array([85, 84.9, 70, 60, 59, 40, 39.9]), 100)
    assert bands.tolist() == [0, 1, 1, 2, 3, 3, 4]


def test_competition_ranks_with_ties_hand_case():
    assert competition_ranks(np.array([90, 85, 85, 70, 90, 60.0])).tolist() == [1, 3, 3, 5, 1, 6]


def test_ranks_match_scipy_rankdata_min_within_groups():
    rng = np.random.default_rng(11)
    totals = rng.integers(0, 30, 500).astype(float) / 2  # half points, many ties
    codes = rng.integers(0, 7, 500)
    ranks = competition_ranks(totals, codes, 7)
    for g in range(7):
        member = codes == g
        assert ranks[member].tolist() == rankdata(-totals[member], method="min").astype(int).tolist()


def test_float_noise_still_ties():
    assert competition_ranks(np.array([0.1 + 0.2, 0.3, 0.2])).tolist() == [1, 1, 3]


def test_percentile_rank_hand_case_and_formula():
    pr = percentile_ranks(np.array([90, 85, 85, 70.0]))
    assert pr.tolist() == pytest.approx([87.5, 50.0, 50.0, 12.5])
    rng = np.random.default_rng(2)
    x = rng.integers(0, 20, 300).astype(float)
    expected = [100 * ((x < v).sum() + 0.5 * (x == v).sum()) / len(x) for v in x]
    assert percentile_ranks(x) == pytest.approx(expected)


def test_standard_scores():
    z, t = standard_scores(np.array([1.0, 2, 3]))
    assert z.tolist() == pytest.approx([-1, 0, 1]) and t.tolist() == pytest.approx([40, 50, 60])
    z, t = standard_scores(np.array([5.0, 5, 7]), np.array([0, 0, 1]), 2)
    assert z[:2].tolist() == [0.0, 0.0]  # SD 0: everyone at the mean
    assert np.isnan(z[2]) and np.isnan(t[2])  # a group of one
    x = np.random.default_rng(4).normal(60, 12, 100)
    assert standard_scores(x)[0] == pytest.approx((x - x.mean()) / x.std(ddof=1))


def test_score_segments_hand_case():
    seg = score_segments(np.array([120, 119.5, 100, 100, 0.0]), 120)
    assert len(seg.scores) == 121 and seg.scores[0] == 120 and seg.scores[-1] == 0
    counts = dict(zip(seg.scores.tolist(), seg.counts[0].tolist()))
    assert counts[120] == 1 and counts[119] == 1 and counts[100] == 2 and counts[0] == 1
    assert sum(seg.counts[0]) == 5
    cumulative = dict(zip(seg.scores.tolist(), seg.cumulative[0].tolist()))
    assert cumulative[120] == 1 and cumulative[119] == 2 and cumulative[101] == 2 and cumulative[100] == 4
    assert cumulative[0] == 5


def test_score_segments_cumulative_is_count_at_or_above():
    rng = np.random.default_rng(8)
    totals = rng.integers(0, 41, 300) / 2.0
    codes = rng.integers(0, 3, 300)
    seg = score_segments(totals, 20, codes, 3, step=2)
    for g in range(3):
        x = totals[codes == g]
        assert seg.cumulative[g].tolist() == [(x >= s).sum() for s in seg.scores]


def test_histogram_last_bin_holds_full_marks():
    h = histogram(np.array([0, 11.9, 12, 119, 120.0]), 120, bins=10)
    assert h.edges[0] == 0 and h.edges[-1] == 120
    assert h.counts[0].tolist() == [2, 1, 0, 0, 0, 0, 0, 0, 0, 2]


def test_compare_means():
    diff, ratio = compare_means(np.array([70.0, 80.0]), 75.0)
    assert diff.tolist() == [-5, 5] and ratio.tolist() == pytest.approx([70 / 75, 80 / 75])
    assert np.isnan(compare_means(np.array([1.0]), 0.0)[1][0])


def test_borderline_nearest_line_above_within_band():
    near = borderline(np.array([84, 79, 65, 59.5, 54, 39, 30, 90, 100.0]), 100, band=5)
    assert near.lines.tolist() == [85, 70, 60, 40]
    assert near.line.tolist() == [0, 0, 1, 2, 2, 3, 3, -1, -1]
    assert near.gap[:7].tolist() == pytest.approx([1, 6, 5, 0.5, 6, 1, 10])
    assert np.isnan(near.gap[7:]).all()
    assert near.within.tolist() == [True, False, True, True, False, True, False, False, False]
    with pytest.raises(ValueError, match="band"):
        borderline(np.array([1.0]), 100, band=0)


def test_subject_totals_need_every_subject():
    total, complete = subject_totals(np.array([[50, 60], [40, np.nan], [70, 30.0]]))
    assert complete.tolist() == [True, False, True]
    assert total[0] == 110 and np.isnan(total[1]) and total[2] == 100
