"""Written (polytomous) questions in item analysis: the score distribution and Masters' partial credit model.

Definitions (docs/statistics.md, "Polytomous items"): an item's difficulty is P_j = mean / m_j and its
discrimination the corrected item–total correlation, as for every item (:mod:`analytics.items`). The partial credit
model (PCM, Masters 1982) gives each score category x = 0..m of item j the probability

    P(X_j = x | θ) = exp(Σ_{h=1..x} (θ − δ_jh)) / Σ_{y=0..m} exp(Σ_{h=1..y} (θ − δ_jh)),

with step difficulties δ_jh; a 0/1 item is the Rasch model. Scores are mapped to categories by their observed
distinct values in order (a score nobody reached is not a category, so every δ is estimable; half-point scores
are categories too). Fitted by marginal maximum likelihood, EM over a fixed quadrature grid on [−6, 6] with
θ ~ N(0, σ²), σ estimated; the raw category sum is sufficient for θ, so the E-step runs over raw sums, not
students. θ is the EAP estimate with its posterior SD; each δ's standard error comes from the expected
information. Reported per item: the location (mean δ, the item's overall difficulty on the θ scale) and the δs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["PCMFit", "fit_pcm", "score_categories", "score_distribution"]


@dataclass(frozen=True)
class PCMFit:
    """A partial credit model fitted by MML-EM.

    Attributes
    ----------
    levels : list of ndarray
        Per item, the scores its categories stand for (ascending).
    thresholds, thresholds_se : list of ndarray
        Per item, δ_j1..δ_jm and their standard errors.
    location : ndarray, (k,)
        Mean δ per item.
    theta, theta_se : ndarray, (N,)
    sigma : float
    loglik : list of float
    iterations : int
    converged : bool
    """

    levels: list[np.ndarray]
    thresholds: list[np.ndarray]
    thresholds_se: list[np.ndarray]
    location: np.ndarray
    theta: np.ndarray
    theta_se: np.ndarray
    sigma: float
    loglik: list[float]
    iterations: int
    converged: bool


def score_categories(scores: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    """(categories (N, k) int, levels per item): each score replaced by the rank of its value among the item's
    observed distinct scores."""
    scores = np.asarray(scores, dtype=float)
    categories = np.zeros(scores.shape, np.int64)
    levels = []
    for j in range(scores.shape[1]):
        values, codes = np.unique(np.round(scores[:, j], 6), return_inverse=True)
        categories[:, j] = codes.ravel()
        levels.append(values)
    return categories, levels


def score_distribution(scores: np.ndarray) -> list[dict[float, int]]:
    """Per item, {score: students} over the scores that occur (a written question's 得分分布)."""
    categories, levels = score_categories(scores)
    return [dict(zip(levels[j].tolist(), np.bincount(categories[:, j], minlength=len(levels[j])).tolist()))
            for j in range(len(levels))]


def _cumulative(grid: np.ndarray, delta: np.ndarray) -> np.ndarray:
    """(Q, m + 1): Σ_{h<=x} (θ_q − δ_h) for every category x (0 for x = 0)."""
    steps = grid[:, None] - delta[None, :]
    return np.concatenate([np.zeros((len(grid), 1)), np.cumsum(steps, axis=1)], axis=1)


def _tails(grid: np.ndarray, delta: np.ndarray) -> np.ndarray:
    """(Q, m): P(X >= h | θ_q) for h = 1..m."""
    cumulative = _cumulative(grid, delta)
    p = np.exp(cumulative - np.logaddexp.reduce(cumulative, axis=1, keepdims=True))
    return p[:, ::-1].cumsum(axis=1)[:, ::-1][:, 1:]


def _information(expected_nodes: np.ndarray, tail: np.ndarray) -> np.ndarray:
    """(m, m) expected information of an item's δs: Σ_q n_q Cov(1[X >= h], 1[X >= g] | θ_q)."""
    m = tail.shape[1]
    upper = np.maximum.outer(np.arange(m), np.arange(m))  # 1[X >= h]·1[X >= g] = 1[X >= max(h, g)]
    return np.einsum("q,qhg->hg", expected_nodes, tail[:, upper] - tail[:, :, None] * tail[:, None, :])


def _posterior(grid: np.ndarray, deltas: list[np.ndarray], sigma: float, max_raw: int
               ) -> tuple[np.ndarray, np.ndarray]:
    """(posterior over the nodes per raw sum (S, Q), log Σ_q w_q exp(s θ_q − log normaliser(θ_q)) per raw sum).

    For the PCM a student's likelihood is exp(s θ − Σ_j Σ_{h<=x_j} δ_jh) / Π_j normaliser_j(θ): it depends on the
    responses through the raw sum s only (up to a factor free of θ)."""
    log_w = -0.5 * (grid / sigma) ** 2
    log_w -= np.logaddexp.reduce(log_w)
    log_norm = sum(np.logaddexp.reduce(_cumulative(grid, delta), axis=1) for delta in deltas)
    log_joint = np.arange(max_raw + 1)[:, None] * grid[None, :] - log_norm[None, :] + log_w[None, :]
    scale = np.logaddexp.reduce(log_joint, axis=1, keepdims=True)
    return np.exp(log_joint - scale), scale.ravel()


def fit_pcm(scores: np.ndarray, *, nodes: int = 61, max_iter: int = 500, tol: float = 1e-5) -> PCMFit:
    """Fit the partial credit model to an (N, k) matrix of item scores (students who sat; no NaN).

    Items whose students all scored alike carry no information and are refused (ValueError), as are empty inputs.
    Each M-step is a few Newton steps per item on its expected complete-data log-likelihood (concave in δ).
    """
    categories, levels = score_categories(scores)
    n, k = categories.shape
    if n == 0 or k == 0:
        raise ValueError("the partial credit model needs at least one student and one item")
    flat = [j for j, values in enumerate(levels) if len(values) < 2]
    if flat:
        raise ValueError(f"items {', '.join(map(str, flat))} have one score only: nothing to fit")
    grid = np.linspace(-6.0, 6.0, nodes)
    raw = categories.sum(axis=1)
    max_raw = int(sum(len(values) - 1 for values in levels))
    raw_counts = np.bincount(raw, minlength=max_raw + 1).astype(np.float64)
    category_counts = [np.bincount(categories[:, j], minlength=len(levels[j])).astype(np.float64) for j in range(k)]
    # students with raw sum s in category x of item j: the E-step's sufficient statistics, (S, m + 1) per item
    by_raw = [np.zeros((max_raw + 1, len(values))) for values in levels]
    for j in range(k):
        np.add.at(by_raw[j], (raw, categories[:, j]), 1.0)
    # start: adjacent-category logits of the observed counts
    deltas = [-np.log((counts[1:] + 0.5) / (counts[:-1] + 0.5)) for counts in category_counts]
    sigma, history, converged = 1.0, [], False
    for _ in range(max_iter):
        posterior, scale = _posterior(grid, deltas, sigma, max_raw)
        history.append(float(raw_counts @ scale) - sum(
            float(counts @ np.concatenate([[0.0], np.cumsum(delta)])) for counts, delta in zip(category_counts, deltas)))
        expected_nodes = raw_counts @ posterior
        new_deltas = []
        for j in range(k):
            observed = posterior.T @ by_raw[j]  # expected students per node and category, (Q, m + 1)
            reached = observed[:, ::-1].cumsum(axis=1)[:, ::-1][:, 1:].sum(axis=0)  # expected count of X >= h
            delta = deltas[j].copy()
            for _step in range(25):
                tail = _tails(grid, delta)
                gradient = reached - expected_nodes @ tail  # ∂/∂δ_h of the expected log-likelihood, times −1
                step = np.linalg.lstsq(_information(expected_nodes, tail), -gradient, rcond=None)[0]
                step = np.clip(step, -1.0, 1.0)
                delta = np.clip(delta + step, -10.0, 10.0)
                if np.abs(step).max() < 1e-10:
                    break
            new_deltas.append(delta)
        new_sigma = float(np.sqrt(max((expected_nodes @ grid ** 2) / n, 1e-4)))
        change = max(max(float(np.abs(a - b).max()) for a, b in zip(new_deltas, deltas)), abs(new_sigma - sigma))
        deltas, sigma = new_deltas, new_sigma
        if change < tol:
            converged = True
            break
    posterior, _ = _posterior(grid, deltas, sigma, max_raw)
    eap = posterior @ grid
    psd = np.sqrt(np.maximum(posterior @ grid ** 2 - eap ** 2, 0.0))
    expected_nodes = raw_counts @ posterior
    ses = []
    for delta in deltas:
        information = _information(expected_nodes, _tails(grid, delta))
        try:
            ses.append(np.sqrt(np.diag(np.linalg.inv(information))))
        except np.linalg.LinAlgError:
            ses.append(np.full(len(delta), np.nan))
    return PCMFit(levels, deltas, ses, np.array([float(d.mean()) for d in deltas]), eap[raw], psd[raw], sigma,
                  history, len(history), converged)
