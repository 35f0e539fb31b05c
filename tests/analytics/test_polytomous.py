"""Written questions: the score distribution and the partial credit model (Masters), checked by recovering the
step difficulties of simulated answers and against the Rasch fit on 0/1 items."""

from __future__ import annotations

import numpy as np
import pytest

from analytics.diagnosis import fit_rasch
from analytics.polytomous import fit_pcm, score_categories, score_distribution

TRUE_STEPS = [np.array([-1.0, 0.0, 1.0]), np.array([0.5]), np.array([-0.5, 0.8]), np.array([-1.5, -0.5, 0.5, 1.5])]


def _answers(rng, n=3000, sigma=1.2):
    theta = rng.normal(0.0, sigma, n)
    columns = []
    for steps in TRUE_STEPS:
        cumulative = np.concatenate([np.zeros((n, 1)), np.cumsum(theta[:, None] - steps[None, :], axis=1)], axis=1)
        p = np.exp(cumulative - cumulative.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        columns.append((p.cumsum(axis=1) < rng.random((n, 1))).sum(axis=1))
    return np.array(columns, float).T


def test_step_difficulties_are_recovered_within_their_standard_errors():
    fit = fit_pcm(_answers(np.random.default_rng(0)))
    assert fit.converged and np.all(np.diff(fit.loglik) > -1e-6)  # EM never lowers the likelihood
    z = np.concatenate([(est - true) / se for est, true, se in zip(fit.thresholds, TRUE_STEPS, fit.thresholds_se)])
    assert np.all(np.abs(z) < 3.5), z
    assert abs(fit.sigma - 1.2) < 0.1
    np.testing.assert_allclose(fit.location, [s.mean() for s in TRUE_STEPS], atol=0.15)


def test_on_zero_one_items_it_is_the_rasch_model():
    rng = np.random.default_rng(1)
    theta = rng.normal(0, 1, 2000)
    b = np.linspace(-1.5, 1.5, 8)
    y = (rng.random((2000, 8)) < 1 / (1 + np.exp(-(theta[:, None] - b)))).astype(float)
    pcm, rasch = fit_pcm(y, tol=1e-8), fit_rasch(y, tol=1e-8)
    np.testing.assert_allclose(np.concatenate(pcm.thresholds), rasch.difficulty, atol=2e-3)
    np.testing.assert_allclose(pcm.theta, rasch.theta, atol=2e-3)


def test_half_points_and_unreached_scores_make_categories_of_what_occurs():
    scores = np.array([[0, 0.5], [2, 1.5], [2, 0.5], [6, 1.5]], float)
    categories, levels = score_categories(scores)
    assert [v.tolist() for v in levels] == [[0.0, 2.0, 6.0], [0.5, 1.5]]
    assert categories.tolist() == [[0, 0], [1, 1], [1, 0], [2, 1]]
    assert score_distribution(scores) == [{0.0: 1, 2.0: 2, 6.0: 1}, {0.5: 2, 1.5: 2}]


def test_an_item_everyone_scored_alike_is_refused():
    with pytest.raises(ValueError, match="one score only"):
        fit_pcm(np.array([[1.0, 2.0], [0.0, 2.0], [1.0, 2.0]]))
