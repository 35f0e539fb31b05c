"""Knowledge-point diagnosis: weighted Q-matrix rates, bands, weakest points, DINA by EM, Rasch by MML, trends."""

from __future__ import annotations

import numpy as np
import pytest

from analytics.diagnosis import (attribute_profiles, blueprint_from_exam, dichotomise, fit_dina, fit_rasch,
                                 knowledge_rates, mastery_bands, trends, weakest_points)
from analytics_builders import sample_exam


def test_knowledge_rates_hand_case():
    # Q1 (2 points) on K1; Q2 (4 points) on K1 and K2 with equal weights: each gets 2 of its points
    weights = np.array([[1.0, 0.0], [0.5, 0.5]])
    rates, possible = knowledge_rates(np.array([[2.0, 2.0], [0.0, 4.0]]), np.array([2.0, 4.0]), weights)
    assert possible.tolist() == [4.0, 2.0]
    np.testing.assert_allclose(rates, [[3 / 4, 1 / 2], [2 / 4, 2 / 2]])


def test_blueprint_from_the_sample_exam_normalises_weights():
    exam = sample_exam()
    bp = blueprint_from_exam(exam, exam.question_ids)
    assert len(bp.point_ids) == 9 and bp.point_names[bp.point_ids.index("K08")] == "解析几何"
    assert bp.weights.sum(axis=1) == pytest.approx(np.ones(len(exam.question_ids)))
    j = exam.question_ids.index("Q52")  # K05 0.6, K03 0.4
    assert bp.weights[j, bp.point_ids.index("K05")] == pytest.approx(0.6)
    assert bp.weights[j, bp.point_ids.index("K03")] == pytest.approx(0.4)
    assert bp.q_matrix[j].sum() == 2


def test_mastery_bands_and_weakest_points():
    assert mastery_bands(np.array([0.8, 0.7999, 0.6, 0.59, np.nan])).tolist() == [0, 1, 1, 2, -1]
    with pytest.raises(ValueError):
        mastery_bands(np.array([0.5]), (0.5, 0.8))
    order, gaps = weakest_points(np.array([[0.9, 0.5, np.nan, 0.7]]), np.array([0.8, 0.8, 0.8, 0.6]), count=4)
    assert order.tolist() == [[1, 0, 3, 2]]
    assert gaps[0, :3].tolist() == pytest.approx([-0.3, 0.1, 0.1]) and np.isnan(gaps[0, 3])


def test_dichotomise():
    y = dichotomise(np.array([[1, 1, 6, 5.9]]), np.array([1, 2, 10, 10.0]))
    assert y.tolist() == [[1, 0, 1, 0]]


def _simulate_dina(seed: int, n: int = 2000):
    rng = np.random.default_rng(seed)
    k_points = 4
    q = []
    for t in range(k_points):  # three single-point items per point, then pairs
        q += [[int(u == t) for u in range(k_points)]] * 3
    for a in range(k_points):
        for b in range(a + 1, k_points):
            q.append([int(u in (a, b)) for u in range(k_points)])
    q = np.array(q, bool)
    alpha = rng.random((n, k_points)) < np.array([0.7, 0.6, 0.5, 0.4])
    eta = (alpha.astype(int) @ q.T.astype(int)) >= q.sum(axis=1)
    slip = rng.uniform(0.05, 0.2, len(q))
    guess = rng.uniform(0.05, 0.2, len(q))
    y = (rng.random(eta.shape) < np.where(eta, 1 - slip, guess)).astype(float)
    return y, q, alpha, slip, guess


def test_dina_recovers_slip_guess_and_mastery():
    y, q, alpha, slip, guess = _simulate_dina(7)
    fit = fit_dina(y, q)
    assert fit.converged and fit.items_used.all()
    assert np.abs(fit.slip - slip).max() <= 0.05
    assert np.abs(fit.guess - guess).max() <= 0.05
    assert ((fit.mastery > 0.5) == alpha).mean() >= 0.9
    assert fit.mastery.shape == alpha.shape and ((fit.mastery >= 0) & (fit.mastery <= 1)).all()
    profiles = attribute_profiles(q.shape[1])
    assert (profiles[fit.profile] == (fit.mastery > 0.5)).mean() > 0.95  # MAP profile agrees with marginals
    assert fit.prior.sum() == pytest.approx(1.0)


def test_dina_likelihood_never_decreases():
    y, q, *_ = _simulate_dina(8, n=800)
    fit = fit_dina(y, q, tol=1e-7)
    steps = np.diff(fit.loglik)
    assert len(fit.loglik) > 5
    assert (steps >= -1e-9 * np.abs(fit.loglik[1:])).all()


def test_dina_subsample_fit_still_scores_everyone():
    y, q, alpha, slip, _ = _simulate_dina(9, n=3000)
    fit = fit_dina(y, q, fit_max=1500, seed=3)
    assert fit.n_fit == 1500 and fit.mastery.shape == (3000, q.shape[1])
    assert np.abs(fit.slip - slip).max() <= 0.08
    assert ((fit.mastery > 0.5) == alpha).mean() >= 0.88


def test_dina_guards_degenerate_items_and_sizes():
    y, q, *_ = _simulate_dina(10, n=300)
    q = np.vstack([q, np.zeros((1, q.shape[1]), bool), np.eye(q.shape[1], dtype=bool)[:1]])
    y = np.hstack([y, np.ones((300, 1)), np.ones((300, 1))])  # an item without points; one everybody got right
    fit = fit_dina(y, q)
    assert not fit.items_used[-2] and np.isnan(fit.slip[-2]) and np.isnan(fit.guess[-2])
    assert np.isfinite(fit.slip[-1]) and 0 < fit.guess[-1] <= 1
    with pytest.raises(ValueError, match="at most 12"):
        fit_dina(np.zeros((2, 13)), np.eye(13, dtype=bool))
    with pytest.raises(ValueError, match="knowledge point"):
        fit_dina(np.zeros((2, 2)), np.zeros((2, 2), bool))


def test_rasch_recovers_theta_and_b():
    rng = np.random.default_rng(21)
    theta = rng.normal(0, 1, 3000)
    b = np.linspace(-2, 2, 60)
    y = (rng.random((3000, 60)) < 1 / (1 + np.exp(-(theta[:, None] - b)))).astype(float)
    fit = fit_rasch(y)
    assert fit.converged
    assert np.corrcoef(fit.theta, theta)[0, 1] >= 0.95
    assert np.corrcoef(fit.difficulty, b)[0, 1] >= 0.99
    assert np.abs(fit.difficulty - b).max() <= 0.25
    assert fit.sigma == pytest.approx(1.0, abs=0.1)
    assert np.isfinite(fit.theta_se).all() and (fit.theta_se > 0).all()
    assert (fit.difficulty_se > 0).all() and fit.difficulty_se.max() < 0.1


def test_rasch_handles_items_everybody_or_nobody_answers():
    rng = np.random.default_rng(2)
    y = (rng.random((200, 5)) < 0.5).astype(float)
    y[:, 0] = 1
    y[:, 1] = 0
    fit = fit_rasch(y)
    assert np.isfinite(fit.difficulty).all()
    assert fit.difficulty[0] < fit.difficulty[2:].min() and fit.difficulty[1] > fit.difficulty[2:].max()


def test_trends_hand_case():
    t = trends([np.array(["a", "b", "c"]), np.array(["b", "c", "a", "d"])],
               [np.array([90, 80, 70.0]), np.array([95, 60, 85, 50.0])], ["autumn", "spring"])
    assert t.exam_ids.tolist() == ["a", "b", "c"]
    assert t.ranks.tolist() == [[1, 2], [2, 1], [3, 3]]
    assert t.rank_change.tolist() == [-1, 1, 0]
    spring = np.array([95, 60, 85, 50.0])
    z_spring = (spring - spring.mean()) / spring.std(ddof=1)
    assert t.z[:, 1].tolist() == pytest.approx([z_spring[2], z_spring[0], z_spring[1]])
    assert t.z_change.tolist() == pytest.approx((t.z[:, 1] - t.z[:, 0]).tolist())
    with pytest.raises(ValueError):
        trends([np.array(["a"])], [np.array([1.0])], ["one"])
