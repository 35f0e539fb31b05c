"""Item and test analysis: hand cases, independent formulas, and the base-R reference (mirt/ltm definitions).

``reference/reference.json`` is written by ``reference/make_reference.R``: base R implementing the
mirt::itemstats and ltm::cronbach.alpha definitions (not mirt itself, which cannot be installed here), run once
on the fixed data sets beside it.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from analytics.items import (cronbach_alpha, difficulty_bands, ebel_bands, item_analysis, masks_from_letters,
                             option_analysis, paper_analysis, upper_lower_groups)
from analytics.scores import competition_ranks, percentile_ranks, standard_scores

REFERENCE = Path(__file__).parent / "reference"
R_TOLERANCE = 1e-6  # the brief asks 1e-3; R's figures are printed to 12 significant digits


def _dataset(name: str) -> tuple[np.ndarray, np.ndarray]:
    with open(REFERENCE / f"{name}.csv", newline="") as handle:
        rows = list(csv.reader(handle))[1:]
    with open(REFERENCE / "points.csv", newline="") as handle:
        points = [float(r["points"]) for r in csv.DictReader(handle) if r["dataset"] == name]
    return np.array(rows, dtype=float), np.array(points)


REF = json.loads((REFERENCE / "reference.json").read_text(encoding="utf-8"))


def _close(ours, theirs, tol=R_TOLERANCE):
    ours = np.atleast_1d(np.asarray(ours, dtype=float))
    theirs = np.array([np.nan if v is None else v for v in np.atleast_1d(theirs)], dtype=float)
    assert ours.shape == theirs.shape
    assert np.array_equal(np.isnan(ours), np.isnan(theirs)), (ours, theirs)
    finite = ~np.isnan(theirs)
    assert np.abs(ours[finite] - theirs[finite]).max(initial=0) <= tol, (ours, theirs)


@pytest.mark.parametrize("name", ["binary", "polytomous", "constant"])
def test_item_statistics_agree_with_the_r_reference(name):
    x, points = _dataset(name)
    ref = REF[name]
    stats = item_analysis(x, points)
    test = paper_analysis(x, points, stats)
    for ours, key in ((stats.mean, "mean"), (stats.sd, "sd"), (stats.difficulty, "difficulty"),
                      (stats.discrimination, "discrimination"), (stats.total_r, "total_r"),
                      (stats.total_r_if_rm, "total_r_if_rm"), (stats.alpha_if_rm, "alpha_if_rm")):
        _close(ours, ref[key])
    _close(test.alpha, ref["alpha"])
    _close(test.sem, ref["sem"])
    _close(test.mean, ref["total_mean"])
    _close(test.sd, ref["total_sd"])


@pytest.mark.parametrize("name", ["binary", "polytomous"])
def test_score_statistics_agree_with_the_r_reference(name):
    x, _ = _dataset(name)
    totals = x.sum(axis=1)
    ref = REF[name]
    assert competition_ranks(totals).tolist() == [int(v) for v in ref["rank"]]
    _close(percentile_ranks(totals), ref["percentile_rank"])
    _close(standard_scores(totals)[0], ref["z"])
    _close(np.quantile(totals, [0.25, 0.5, 0.75]), ref["quartiles"])


def test_alpha_equals_kr20_for_binary_items():
    x, _ = _dataset("binary")
    k = x.shape[1]
    p = x.mean(axis=0)
    kr20 = k / (k - 1) * (1 - (p * (1 - p)).sum() / x.sum(axis=1).var(ddof=0))
    assert cronbach_alpha(x) == pytest.approx(kr20, abs=1e-12)


@pytest.mark.parametrize("name", ["binary", "polytomous"])
def test_alpha_equals_the_covariance_matrix_form(name):
    x, _ = _dataset(name)
    c = np.cov(x, rowvar=False)
    k = c.shape[0]
    assert cronbach_alpha(x) == pytest.approx(k / (k - 1) * (1 - np.trace(c) / c.sum()), abs=1e-12)


def test_alpha_if_deleted_is_alpha_of_the_rest():
    x, points = _dataset("polytomous")
    stats = item_analysis(x, points)
    for j in range(x.shape[1]):
        assert stats.alpha_if_rm[j] == pytest.approx(cronbach_alpha(np.delete(x, j, axis=1)), abs=1e-12)


def test_point_biserial_closed_form_and_corrected_correlation():
    x, points = _dataset("binary")
    stats = item_analysis(x, points)
    total = x.sum(axis=1)
    for j in range(x.shape[1]):
        p = x[:, j].mean()
        m1, m0 = total[x[:, j] == 1].mean(), total[x[:, j] == 0].mean()
        closed = (m1 - m0) / total.std(ddof=0) * np.sqrt(p * (1 - p))
        assert stats.total_r[j] == pytest.approx(closed, abs=1e-12)
        assert stats.total_r_if_rm[j] == pytest.approx(np.corrcoef(x[:, j], total - x[:, j])[0, 1], abs=1e-12)


def test_difficulty_and_discrimination_hand_case():
    # 10 students: n_g = floor(0.27 * 10 + 0.5) = 3; totals 9..0 make the groups the first and last three
    item = np.array([2, 2, 1, 2, 0, 1, 0, 0, 1, 0.0])
    other = np.array([7, 6, 6, 4, 5, 3, 3, 2, 0, 0.0])  # totals = 9 8 7 6 5 4 3 2 1 0
    x = np.stack([item, other], axis=1)
    stats = item_analysis(x, [2, 10])
    assert stats.difficulty[0] == pytest.approx(item.mean() / 2)
    assert stats.upper_mean[0] == pytest.approx(5 / 3) and stats.lower_mean[0] == pytest.approx(1 / 3)
    assert stats.discrimination[0] == pytest.approx((5 / 3 - 1 / 3) / 2)


def test_upper_lower_groups_break_ties_by_input_order():
    upper, lower = upper_lower_groups(np.array([5, 5, 5, 5, 1, 1, 1, 1, 3, 3.0]))  # n_g = 3
    assert np.flatnonzero(upper).tolist() == [0, 1, 2]
    assert np.flatnonzero(lower).tolist() == [5, 6, 7]
    up, low = upper_lower_groups(np.array([1.0]))
    assert not up.any() and not low.any()


def test_constant_item_gives_nan_correlations_without_warnings():
    x, points = _dataset("constant")
    stats = item_analysis(x, points)
    assert np.isnan(stats.total_r[2]) and np.isnan(stats.total_r_if_rm[2])
    assert stats.difficulty[2] == 1.0 and stats.discrimination[2] == 0.0


def test_many_students_take_the_chunked_path():
    rng = np.random.default_rng(1)
    x = rng.integers(0, 3, size=(70_000, 4)).astype(float)
    stats = item_analysis(x, [2, 2, 2, 2])
    total = x.sum(axis=1)
    assert stats.sd == pytest.approx(x.std(axis=0, ddof=1), rel=1e-12)
    assert stats.total_r[0] == pytest.approx(np.corrcoef(x[:, 0], total)[0, 1], rel=1e-10)


def test_nan_scores_are_refused():
    with pytest.raises(ValueError, match="NaN"):
        item_analysis(np.array([[1.0, np.nan]]), [1, 1])


def test_ebel_and_difficulty_bands():
    assert ebel_bands(np.array([0.4, 0.39, 0.3, 0.2999999999, 0.2, 0.19, np.nan])).tolist() == [0, 1, 1, 1, 2, 3,
                                                                                                 -1]
    assert difficulty_bands(np.array([0.71, 0.7, 0.4, 0.39, np.nan])).tolist() == [0, 1, 1, 2, -1]


def test_paper_statistics_difficulty_mix():
    x, points = _dataset("polytomous")
    test = paper_analysis(x, points)
    stats = item_analysis(x, points)
    assert sum(test.difficulty_mix.values()) == len(points)
    assert test.difficulty_points["easy"] == pytest.approx(points[stats.difficulty > 0.7].sum())
    assert test.sem == pytest.approx(test.sd * np.sqrt(1 - test.alpha))
    assert test.mean_difficulty == pytest.approx(x.sum(axis=1).mean() / points.sum())


def test_masks_from_letters():
    assert masks_from_letters(["AC", "?B", "E*", "", "ca"], "ABCD").tolist() == [5, 2, 0, 0, 5]


def test_option_analysis_hand_case():
    # 10 students, key A; upper = first 3, lower = last 3 (set directly)
    letters = ["A", "A", "B", "A", "A", "B", "C", "B", "C", "AB"]
    masks = masks_from_letters(letters, "ABCD")[:, None]
    upper = np.zeros(10, bool)
    upper[:3] = True
    lower = np.zeros(10, bool)
    lower[7:] = True
    (o,) = option_analysis(masks, ["ABCD"], ["A"], upper, lower, ["Q1"])
    assert o.overall.tolist() == pytest.approx([0.5, 0.4, 0.2, 0.0])  # 'AB' counts for A and for B
    assert o.upper.tolist() == pytest.approx([2 / 3, 1 / 3, 0, 0])
    assert o.lower.tolist() == pytest.approx([1 / 3, 2 / 3, 1 / 3, 0])
    assert o.multiple == pytest.approx(0.1) and o.blank == 0
    assert o.non_functioning == "D"  # chosen by nobody (< 5 %)
    assert o.suspect == ""  # B and C attract the lower group more
    (o,) = option_analysis(masks, ["ABCD"], ["A"], lower, upper, ["Q1"])  # groups swapped: B attracts the upper
    assert o.suspect == "BC"
