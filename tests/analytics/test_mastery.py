"""Mastery a teacher can trust: DINA only where it fits (item RMSEA), never contradicting the rate silently, and a
shrunken rate with its credible interval otherwise."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from analytics.diagnosis import DINA_RMSEA_GOOD, dina_item_rmsea, fit_dina
from analytics.mastery import MASTERY_SOURCES, contradicts, shrunk_rates, trusted_mastery

K, ITEMS, N = 4, 20, 1500


def _q(rng, per_item):
    q = np.zeros((ITEMS, K), bool)
    for j in range(ITEMS):
        q[j, rng.choice(K, per_item, replace=False)] = True
    return q


def _elsewhere(rng, q):
    """A Q-matrix whose questions each test one point that ``q`` does not name for them."""
    true = np.zeros_like(q)
    for j in range(ITEMS):
        true[j, rng.choice(np.flatnonzero(~q[j]))] = True
    return true


def _answers(rng, q_true, rule):
    alpha = rng.random((N, K)) < 0.5
    have = alpha.astype(int) @ q_true.T.astype(int)
    eta = have >= (q_true.sum(axis=1) if rule == "all" else 1)
    slip, guess = rng.uniform(0.05, 0.15, ITEMS), rng.uniform(0.05, 0.15, ITEMS)
    return (rng.random((N, ITEMS)) < np.where(eta, 1 - slip, guess)).astype(np.uint8)


def _rates(y, q):
    weights = q / q.sum(axis=1, keepdims=True)
    return (y @ weights) / weights.sum(axis=0), weights.sum(axis=0)


@pytest.mark.parametrize("rule, q_shift, fits", [
    ("all", False, True),    # answers made by DINA itself: the model fits
    ("any", False, False),   # compensatory answers (any one point suffices, DINO): DINA does not fit
    ("all", True, False),    # the blueprint names other points than the questions test
])
def test_the_fit_check_switches_dina_off_when_the_model_does_not_fit(rule, q_shift, fits):
    rng = np.random.default_rng(11)
    q = _q(rng, 2)
    y = _answers(rng, _elsewhere(rng, q) if q_shift else q, rule)
    fit = fit_dina(y, q)
    rmsea = dina_item_rmsea(y, q, fit)
    rates, attempted = _rates(y, q)
    mastery = trusted_mastery(rates, attempted, np.zeros(N, np.intp), 1, fit, rmsea)
    assert mastery.dina_used is fits, f"mean item RMSEA {mastery.rmsea:.3f}"
    assert (mastery.rmsea <= DINA_RMSEA_GOOD) is fits
    shown = np.array(MASTERY_SOURCES)[mastery.source]
    assert set(np.unique(shown)) <= ({"dina", "rate_conflict"} if fits else {"rate"})


def test_no_cell_shows_a_dina_figure_that_contradicts_its_rate():
    rng = np.random.default_rng(5)
    q = _q(rng, 1)
    y = _answers(rng, q, "all")
    fit = fit_dina(y, q)
    rates, attempted = _rates(y, q)
    mastery = trusted_mastery(rates, attempted, np.zeros(N, np.intp), 1, fit, dina_item_rmsea(y, q, fit))
    assert mastery.dina_used
    from_dina = mastery.source == MASTERY_SOURCES.index("dina")
    assert not contradicts(mastery.value, rates)[from_dina].any()
    conflict = mastery.source == MASTERY_SOURCES.index("rate_conflict")
    assert np.array_equal(conflict, contradicts(fit.mastery, rates))
    assert np.isfinite(mastery.low[conflict]).all()


def test_shrunken_rate_is_the_beta_binomial_posterior_with_the_class_prior():
    rng = np.random.default_rng(2)
    attempted = np.array([2.0, 12.0])
    true = rng.beta(6, 4, (40, 2))
    rates = rng.binomial(attempted.astype(int), true) / attempted
    value, low, high = shrunk_rates(rates, attempted, np.zeros(40, np.intp), 1, level=0.9)
    # The class prior by the method of moments, then the posterior of one student by hand.
    t, i = 1, 7
    mu, var, n = rates[:, t].mean(), rates[:, t].var(ddof=1), attempted[t]
    rho = np.clip((var * n / (mu * (1 - mu)) - 1) / (n - 1), 1 / 51, 1 - 1e-6)
    a, b = mu * (1 / rho - 1), (1 - mu) * (1 / rho - 1)
    posterior = stats.beta(a + rates[i, t] * n, b + n - rates[i, t] * n)
    assert value[i, t] == pytest.approx(posterior.mean())
    assert (low[i, t], high[i, t]) == pytest.approx(posterior.ppf([0.05, 0.95]))
    # Two questions say less than twelve: the first point is pulled harder toward the class.
    pull = np.abs(value - rates) / np.maximum(np.abs(rates - rates.mean(axis=0)), 1e-9)
    assert np.median(pull[:, 0]) > np.median(pull[:, 1])
    assert np.all((low <= value) & (value <= high))


def test_small_classes_borrow_the_prior_of_everyone_and_nan_rates_stay_nan():
    rates = np.array([[0.2, np.nan], [0.9, np.nan], [0.5, np.nan], [0.7, np.nan], [0.6, np.nan],
                      [0.8, np.nan], [0.4, np.nan]])
    codes = np.array([0, 0, 0, 0, 0, 1, 1])  # class 1 has two students: too few for its own prior
    value, low, high = shrunk_rates(rates, np.array([5.0, 5.0]), codes, 2)
    assert np.isnan(value[:, 1]).all() and np.isnan(low[:, 1]).all()
    assert np.isfinite(value[:, 0]).all()
