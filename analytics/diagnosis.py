"""Knowledge-point diagnosis (知识点诊断): score rates through the weighted Q-matrix, mastery bands, weakest points
against the grade, a DINA cognitive-diagnosis model fitted by EM, Rasch abilities, and trends across exams.

Definitions (``docs/statistics.md``, "Knowledge-point diagnosis"):

- Weighted Q-matrix: the blueprint (双向细目表) gives each question its knowledge points with weights; a
  question's weights are normalised to sum to 1, so question j contributes ``A_jt = w_jt / sum_t w_jt`` of its
  points m_j and of its score x_ij to point t. Knowledge-point score rate of student i on point t:
  ``r_it = sum_j A_jt x_ij / sum_j A_jt m_j``; a group's rate is the mean of its students' rates (the same as
  pooling, since every student has the same denominator).
- Mastery bands: 已掌握 (mastered) r >= 0.80, 基本掌握 (partly) 0.60 <= r < 0.80, 待加强 (not yet) r < 0.60
  (configurable).
- Weakest points: the points with the lowest gap r_it - r_grade,t (the grade's rate on the point).
- DINA: items are dichotomised (correct when the score reaches ``correct_at`` = 60 % of the item's points, i.e.
  full marks for 1-point items); q_jt = 1 when question j assesses point t; η_ij = 1 when student i masters every
  point item j requires; P(correct) = (1 - s_j)^η_ij · g_j^(1 - η_ij). Fitted by EM over the 2^K attribute
  profiles with an unrestricted profile distribution; reports each student's posterior probability of mastering
  each point (marginal of the posterior over profiles) and s_j, g_j per item.
- Rasch: P(correct) = 1 / (1 + exp(-(θ_i - b_j))), fitted by marginal maximum likelihood (EM over a fixed
  quadrature grid, θ ~ N(0, σ²) with σ estimated); θ is the EAP estimate with its posterior SD as the standard
  error (mirt's default ``fscores``), b's standard error from the expected item information.
- Trends: for the students present in every exam, the competition rank and z-score (ddof = 1) within each exam
  and their change from the first exam to the last (rank change > 0 = moved up).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from analytics.groups import group_means, safe_divide
from analytics.scores import competition_ranks, standard_scores

__all__ = ["MASTERY_KEYS", "DEFAULT_MASTERY", "Blueprint", "blueprint_from_exam", "knowledge_rates",
           "mastery_bands", "weakest_points", "dichotomise", "DinaFit", "fit_dina", "dina_posterior",
           "attribute_profiles", "RaschFit", "fit_rasch", "Trend", "trends", "MAX_DINA_POINTS",
           "group_knowledge_rates", "dina_item_rmsea", "DINA_RMSEA_GOOD"]

MASTERY_KEYS: tuple[str, ...] = ("mastered", "partly", "not_yet")
DEFAULT_MASTERY: tuple[float, float] = (0.80, 0.60)
MAX_DINA_POINTS = 12  # 2^12 profiles; beyond that DINA's profile space is too large to enumerate
_PROB_FLOOR = 1e-4  # slip/guess kept in [1e-4, 1 - 1e-4]: log-likelihood stays finite for degenerate items


# ----------------------------------------------------------------------------------------------------------
# Blueprint and score rates


@dataclass(frozen=True)
class Blueprint:
    """Question -> knowledge point weights for the analysed items.

    Attributes
    ----------
    point_ids, point_names : K strings, in first-seen order
    weights : ndarray, (k, K)
        A_jt: each row sums to 1 over the question's points (0 for a question without points).
    """

    point_ids: tuple[str, ...]
    point_names: tuple[str, ...]
    weights: np.ndarray

    @property
    def q_matrix(self) -> np.ndarray:
        """Binary Q-matrix, (k, K): question j assesses point t."""
        return self.weights > 0


def blueprint_from_exam(exam, item_ids: Sequence[str]) -> Blueprint:
    """The weighted Q-matrix of ``item_ids`` from a :class:`grading.exam.Exam`'s knowledge points."""
    ids: list[str] = []
    names: dict[str, str] = {}
    for q in exam.questions:
        for kp in q.knowledge_points:
            if kp.id not in names:
                ids.append(kp.id)
            names[kp.id] = names.get(kp.id) or kp.name
    column = {kp: t for t, kp in enumerate(ids)}
    weights = np.zeros((len(item_ids), len(ids)))
    for j, qid in enumerate(item_ids):
        q = exam.question(qid)
        total = sum(kp.weight for kp in q.knowledge_points)
        for kp in q.knowledge_points:
            weights[j, column[kp.id]] = kp.weight / total
    return Blueprint(tuple(ids), tuple(names[i] or i for i in ids), weights)


def knowledge_rates(scores: np.ndarray, points: np.ndarray, weights: np.ndarray, taken: np.ndarray | None = None
                    ) -> tuple[np.ndarray, np.ndarray]:
    """(rates (N, K), possible points (K,)): r_it = sum_j A_jt x_ij / sum_j A_jt m_j (NaN for a point with no
    points). With ``taken`` (N, k), the sums run over the items each student answered (a 选考题 not chosen, NaN
    in ``scores``, neither earns nor offers points)."""
    scores = np.asarray(scores, dtype=float)
    possible = np.asarray(points, dtype=float) @ weights
    if taken is not None:
        offered = (taken * np.asarray(points, dtype=float)[None, :]) @ weights
        return safe_divide(np.where(taken, scores, 0.0) @ weights, offered), possible
    earned = scores @ weights
    return safe_divide(earned, possible[None, :]), possible


def mastery_bands(rates: np.ndarray, thresholds: Sequence[float] = DEFAULT_MASTERY) -> np.ndarray:
    """Index into :data:`MASTERY_KEYS`: 0 when rate >= thresholds[0], 1 when >= thresholds[1], else 2 (-1 NaN)."""
    high, low = (float(t) for t in thresholds)
    if not 0 <= low <= high <= 1:
        raise ValueError(f"mastery thresholds {high:g}, {low:g}: need 0 <= low <= high <= 1")
    r = np.round(np.asarray(rates, dtype=float), 9)
    band = np.full(r.shape, -1, np.int8)
    finite = np.isfinite(r)
    band[finite] = 2
    band[finite & (r >= low)] = 1
    band[finite & (r >= high)] = 0
    return band


def weakest_points(rates: np.ndarray, reference: np.ndarray, count: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """(indices (n, count), gaps (n, count)): each row's ``count`` points with the lowest rate - reference,
    lowest first; gap < 0 means below the reference (the grade). Points with NaN rates come last."""
    rates = np.atleast_2d(np.asarray(rates, dtype=float))
    gaps = rates - np.asarray(reference, dtype=float)[None, :]
    count = min(count, gaps.shape[1])
    key = np.where(np.isnan(gaps), np.inf, gaps)
    order = np.argsort(key, axis=1, kind="stable")[:, :count]
    return order, np.take_along_axis(gaps, order, axis=1)


def dichotomise(scores: np.ndarray, points: np.ndarray, correct_at: float = 0.6) -> np.ndarray:
    """0/1 responses (uint8): 1 when an item's score reaches ``correct_at`` of its points (1-point items:
    correct)."""
    points = np.asarray(points, dtype=float)
    return (np.asarray(scores, dtype=float) >= correct_at * points - 1e-9).view(np.uint8)


# ----------------------------------------------------------------------------------------------------------
# DINA


def attribute_profiles(k: int) -> np.ndarray:
    """All 2^K attribute profiles as a (2^K, K) 0/1 array; profile l masters point t when bit t of l is set."""
    return ((np.arange(1 << k)[:, None] >> np.arange(k)) & 1).astype(np.float64)


@dataclass(frozen=True)
class DinaFit:
    """A fitted DINA model.

    Attributes
    ----------
    slip, guess : ndarray, (k,)
        s_j and g_j (NaN for items left out: no knowledge point).
    items_used : ndarray of bool, (k,)
    prior : ndarray, (2^K,)
        Estimated share of each attribute profile.
    mastery : ndarray, (N, K)
        Posterior probability that each student masters each point.
    profile : ndarray of int, (N,)
        Most probable profile (bit t = point t mastered).
    loglik : list of float
        Marginal log-likelihood of the fitting sample at each EM iteration (non-decreasing).
    iterations, converged, n_fit
        EM iterations, whether the tolerance was met, students the item parameters were fitted on.
    """

    slip: np.ndarray
    guess: np.ndarray
    items_used: np.ndarray
    prior: np.ndarray
    mastery: np.ndarray
    profile: np.ndarray
    loglik: list[float]
    iterations: int
    converged: bool
    n_fit: int


class _DinaDesign:
    """What the E-step needs once: the profiles and η for each distinct Q-matrix row.

    Items that require the same points have the same η column, so the likelihood is accumulated per distinct
    row: an (n, u) x (u, L) product instead of (n, k) x (k, L).
    """

    def __init__(self, q: np.ndarray):
        self.k_points = q.shape[1]
        self.profiles = attribute_profiles(self.k_points)
        rows, row_of_item = np.unique(q.astype(np.int8), axis=0, return_inverse=True)
        self.row_of_item = np.asarray(row_of_item).ravel()
        need = rows.sum(axis=1)
        self.eta = (self.profiles @ rows.T.astype(np.float64) >= need - 0.5).astype(np.float64)  # (L, u)
        self.merge = np.zeros((q.shape[0], rows.shape[0]))
        self.merge[np.arange(q.shape[0]), self.row_of_item] = 1.0
        ones = np.ones((len(self.profiles), 1))
        # a column of ones appended: one product gives both the weighted sums and the row totals
        self.eta_sum = np.hstack([self.eta, ones])
        self.profiles_sum = np.hstack([self.profiles, ones])
        self._cast: dict = {}

    def cast(self, name: str, dtype) -> np.ndarray:
        key = (name, np.dtype(dtype).str)
        if key not in self._cast:
            self._cast[key] = np.ascontiguousarray(getattr(self, name).T if name == "eta" else getattr(self, name),
                                                   dtype=dtype)
        return self._cast[key]

    def weights(self, y: np.ndarray, slip: np.ndarray, guess: np.ndarray, log_prior: np.ndarray,
                dtype=np.float64) -> tuple[np.ndarray, np.ndarray]:
        """(w (n, L), offset (n,)): unnormalised posterior weights over profiles and their log scale, so that
        P(α_l | y_i) = w_il / Σ_l w_il and log P(y_i) = offset_i + log Σ_l w_il.

        log P(y_i, α_l) = Σ_j log P(y_ij | η_lj = 0) + Σ_j η_lj · lift_ij + log π_l, where lift_ij is what
        switching item j to η = 1 adds; computed in place on one (n, L) buffer (cache-sized blocks).
        """
        log_g, log_1g = np.log(guess), np.log1p(-guess)
        log_s, log_1s = np.log(slip), np.log1p(-slip)
        base = y @ (log_g - log_1g) + log_1g.sum()
        lift = y * (log_1s - log_g + log_1g - log_s) + (log_s - log_1g)
        joint = (lift @ self.merge).astype(dtype, copy=False) @ self.cast("eta", dtype)
        joint += log_prior.astype(dtype, copy=False)[None, :]
        top = joint.max(axis=1)
        joint -= top[:, None]
        # weights below e^-80 (float32) / e^-700 (float64) are 0 for every purpose, but as subnormal numbers they
        # would slow the exponentials and products down several times
        np.maximum(joint, -80.0 if joint.dtype == np.float32 else -700.0, out=joint)
        np.exp(joint, out=joint)
        return joint, base + top


_BLOCK = 2048  # students per E-step block: the (block, 2^K) buffer stays in cache


def _normalise_rows(log_joint: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(posterior, log marginal) from log joint probabilities, by log-sum-exp per row."""
    top = log_joint.max(axis=1, keepdims=True)
    weights = np.exp(log_joint - top)
    total = weights.sum(axis=1, keepdims=True)
    return weights / total, (top + np.log(total)).ravel()


def _log_prior(prior: np.ndarray) -> np.ndarray:
    out = np.full(prior.shape, -np.inf)
    np.log(prior, out=out, where=prior > 0)
    return out


def _dina_e_step(y: np.ndarray, design: _DinaDesign, slip: np.ndarray, guess: np.ndarray, prior: np.ndarray
                 ) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
    """Sufficient statistics of one E-step: (log-likelihood, I1 (k,), R1 (k,), expected profile counts (L,)).

    I1_j = Σ_i P(η_ij = 1 | y_i) and R1_j = Σ_i y_ij P(η_ij = 1 | y_i).
    """
    log_prior = _log_prior(prior)
    u = design.eta.shape[1]
    loglik, profile_counts = 0.0, np.zeros(len(prior))
    h_sum, yh = np.zeros(u), np.zeros((y.shape[1], u))
    for start in range(0, y.shape[0], _BLOCK):
        block = y[start:start + _BLOCK].astype(np.float64)
        w, offset = design.weights(block, slip, guess, log_prior)
        sums = w @ design.eta_sum  # Σ_l w η (per distinct Q row) and Σ_l w in the last column
        total = sums[:, -1]
        loglik += float((offset + np.log(total)).sum())
        profile_counts += (1.0 / total) @ w
        h = sums[:, :-1] / total[:, None]  # P(η = 1 | y) per distinct Q row, (n, u)
        h_sum += h.sum(axis=0)
        yh += block.T @ h
    rows = design.row_of_item
    return loglik, h_sum[rows], yh[np.arange(y.shape[1]), rows], profile_counts


def fit_dina(responses: np.ndarray, q: np.ndarray, *, max_iter: int = 500, tol: float = 1e-4,
             fit_max: int = 10000, seed: int = 0) -> DinaFit:
    """Fit a DINA model by EM over all 2^K attribute profiles.

    Parameters
    ----------
    responses : ndarray, (N, k)
        0/1 item responses (:func:`dichotomise`).
    q : ndarray of bool, (k, K)
        Q-matrix; items with no point are left out (``items_used``).
    max_iter, tol : EM stops when no slip or guess moves by more than ``tol`` in an iteration.
    fit_max : int
        Item parameters and the profile distribution are fitted on at most this many students (a seeded random
        sample); every student's posterior is then computed under them, so 500,000 students cost one E-step.
    seed : int

    Notes
    -----
    Each EM step maximises the expected complete-data log-likelihood exactly (s_j = 1 - R1_j / I1_j,
    g_j = R0_j / I0_j, π = mean posterior), with s and g kept in [1e-4, 1 - 1e-4] (a 1-D concave maximum
    clipped to an interval is still the constrained maximum), so the log-likelihood never decreases.
    """
    y_all = np.asarray(responses)
    if y_all.dtype.kind == "b":
        y_all = y_all.view(np.uint8)
    q = np.asarray(q, dtype=bool)
    n, k = y_all.shape
    if q.shape[0] != k:
        raise ValueError(f"Q-matrix has {q.shape[0]} rows for {k} items")
    if q.shape[1] > MAX_DINA_POINTS:
        raise ValueError(f"DINA over {q.shape[1]} knowledge points needs 2^{q.shape[1]} profiles: at most "
                         f"{MAX_DINA_POINTS} points")
    used = q.any(axis=1) if q.shape[1] else np.zeros(k, bool)
    if not used.any():
        raise ValueError("DINA needs at least one question with a knowledge point")
    if n == 0:
        raise ValueError("DINA needs at least one student")
    design = _DinaDesign(q[used])
    y_used = y_all if used.all() else y_all[:, used]  # 0/1 kept compact; blocks become float when used
    fit_rows = np.arange(n) if n <= fit_max else np.sort(np.random.default_rng(seed).choice(n, fit_max, False))
    y = y_used[fit_rows].astype(np.float64)
    n_fit = len(fit_rows)
    n_profiles = design.profiles.shape[0]
    slip = np.full(y.shape[1], 0.2)
    guess = np.full(y.shape[1], 0.2)
    prior = np.full(n_profiles, 1.0 / n_profiles)
    history: list[float] = []
    converged = False
    item_correct = y.sum(axis=0)
    for _ in range(max_iter):
        loglik, i1, r1, profile_counts = _dina_e_step(y, design, slip, guess, prior)
        history.append(loglik)
        i0, r0 = n_fit - i1, item_correct - r1
        # an item nobody is expected to reach (or miss) keeps its value: any value maximises a zero weight
        new_slip = np.where(i1 > 1e-9, 1.0 - r1 / np.where(i1 > 1e-9, i1, 1.0), slip)
        new_guess = np.where(i0 > 1e-9, r0 / np.where(i0 > 1e-9, i0, 1.0), guess)
        new_slip = np.clip(new_slip, _PROB_FLOOR, 1 - _PROB_FLOOR)
        new_guess = np.clip(new_guess, _PROB_FLOOR, 1 - _PROB_FLOOR)
        change = max(np.abs(new_slip - slip).max(), np.abs(new_guess - guess).max())
        slip, guess, prior = new_slip, new_guess, profile_counts / n_fit
        if change < tol:
            converged = True
            break
    mastery, profile = dina_posterior(y_used, design, slip, guess, prior)
    full_slip = np.full(k, np.nan)
    full_guess = np.full(k, np.nan)
    full_slip[used], full_guess[used] = slip, guess
    return DinaFit(full_slip, full_guess, used, prior, mastery, profile, history, len(history), converged, n_fit)


def dina_posterior(y: np.ndarray, design: _DinaDesign, slip: np.ndarray, guess: np.ndarray, prior: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray]:
    """(mastery probabilities (N, K), most probable profile (N,)) under fitted parameters, in blocks.

    Computed in float32 (probabilities need no more; the exponentials are twice as fast), which is what lets
    500,000 students x 2^10 profiles fit the time budget.
    """
    n = y.shape[0]
    mastery = np.empty((n, design.k_points))
    profile = np.empty(n, np.int64)
    log_prior = _log_prior(prior)
    profiles = design.cast("profiles_sum", np.float32)
    for start in range(0, n, _BLOCK):
        w, _ = design.weights(y[start:start + _BLOCK].astype(np.float64), slip, guess, log_prior, np.float32)
        sums = w @ profiles
        mastery[start:start + _BLOCK] = sums[:, :-1] / sums[:, -1:]
        profile[start:start + _BLOCK] = w.argmax(axis=1)
    np.clip(mastery, 0.0, 1.0, out=mastery)
    return mastery, profile


#: Item-level RMSEA at or below which an item fits well (Kunina-Habenicht, Rupp & Wilhelm 2012; R's
#: CDM::itemfit.rmsea): DINA mastery is shown only when the mean over the items it used is at most this.
DINA_RMSEA_GOOD = 0.05


def dina_item_rmsea(responses: np.ndarray, q: np.ndarray, fit: DinaFit, *, fit_max: int = 10000,
                    seed: int = 0) -> np.ndarray:
    """Item-level RMSEA of a fitted DINA model, (k,) (NaN for items the model left out).

    ``RMSEA_j = sqrt(sum_l pi_l sum_{c in 0,1} (P_j(c | alpha_l) - O_jc(alpha_l))^2)``, where ``pi_l`` is the
    estimated share of profile l, ``P_j`` the model's probability of response c to item j in that profile and
    ``O_jc`` the observed share, each student counted in profile l by its posterior probability (R's
    ``CDM::itemfit.rmsea``). Computed on the same seeded sample of at most ``fit_max`` students as the fit.
    """
    y_all = np.asarray(responses)
    if y_all.dtype.kind == "b":
        y_all = y_all.view(np.uint8)
    used = fit.items_used
    design = _DinaDesign(np.asarray(q, dtype=bool)[used])
    n = y_all.shape[0]
    rows = np.arange(n) if n <= fit_max else np.sort(np.random.default_rng(seed).choice(n, fit_max, False))
    y = y_all[rows][:, used]
    slip, guess = fit.slip[used], fit.guess[used]
    log_prior = _log_prior(fit.prior)
    in_profile = np.zeros(len(fit.prior))
    correct_in_profile = np.zeros((y.shape[1], len(fit.prior)))
    for start in range(0, y.shape[0], _BLOCK):
        block = y[start:start + _BLOCK].astype(np.float64)
        w, _ = design.weights(block, slip, guess, log_prior)
        posterior = w / w.sum(axis=1, keepdims=True)
        in_profile += posterior.sum(axis=0)
        correct_in_profile += block.T @ posterior
    share = in_profile / in_profile.sum()
    observed = correct_in_profile / np.where(in_profile > 0, in_profile, 1.0)[None, :]
    eta = design.eta[:, design.row_of_item].T  # (items, L)
    expected = np.where(eta > 0.5, 1.0 - slip[:, None], guess[:, None])
    # both responses (c = 0 and c = 1) differ by the same amount: twice the squared gap of c = 1
    rmsea = np.sqrt(2.0 * ((expected - observed) ** 2 * share[None, :]).sum(axis=1))
    out = np.full(len(used), np.nan)
    out[used] = rmsea
    return out


# ----------------------------------------------------------------------------------------------------------
# Rasch


@dataclass(frozen=True)
class RaschFit:
    """A Rasch model fitted by MML-EM.

    Attributes
    ----------
    difficulty, difficulty_se : ndarray, (k,)
        b_j and its standard error.
    theta, theta_se : ndarray, (N,)
        EAP ability and posterior SD.
    sigma : float
        Estimated SD of θ (mean fixed at 0).
    loglik : list of float
    iterations : int
    converged : bool
    """

    difficulty: np.ndarray
    difficulty_se: np.ndarray
    theta: np.ndarray
    theta_se: np.ndarray
    sigma: float
    loglik: list[float]
    iterations: int
    converged: bool


def _logistic(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))  # overflow-free 1 / (1 + exp(-x))


def fit_rasch(responses: np.ndarray, *, nodes: int = 61, max_iter: int = 500, tol: float = 1e-6) -> RaschFit:
    """Fit a Rasch model by marginal maximum likelihood (EM on a quadrature grid over [-6, 6]).

    The raw score is sufficient for θ in the Rasch model, so the E-step runs over the k + 1 possible raw scores
    rather than over students: the cost does not grow with N. Items everybody (or nobody) answered correctly get
    b from a half-count correction instead of ±infinity.
    """
    y = np.asarray(responses)
    n, k = y.shape
    if n == 0 or k == 0:
        raise ValueError("Rasch needs at least one student and one item")
    raw = np.rint(y.sum(axis=1, dtype=np.float64)).astype(np.int64)
    observed = y.sum(axis=0, dtype=np.float64)
    score_counts = np.bincount(raw, minlength=k + 1).astype(np.float64)
    correct = np.clip(observed, 0.5, n - 0.5)  # half-count correction for extreme items
    grid = np.linspace(-6.0, 6.0, nodes)
    s_values = np.arange(k + 1, dtype=np.float64)
    b = -np.log(correct / (n - correct))  # logit start
    sigma = 1.0
    history: list[float] = []
    converged = False
    for _ in range(max_iter):
        log_w = -0.5 * (grid / sigma) ** 2
        log_w -= np.logaddexp.reduce(log_w)
        logits = grid[:, None] - b[None, :]  # (Q, k)
        log_norm = np.logaddexp(0.0, logits).sum(axis=1)  # Σ_j log(1 + e^(θ - b_j)), (Q,)
        log_joint = s_values[:, None] * grid[None, :] - log_norm[None, :] + log_w[None, :]  # (k+1, Q)
        posterior, log_marginal = _normalise_rows(log_joint)
        # -y·b is constant in θ: it belongs to the likelihood but not to the posterior
        history.append(float(score_counts @ log_marginal - observed @ b))
        expected = score_counts @ posterior  # students at each node, (Q,)
        new_b = b.copy()
        for _step in range(20):  # Newton on Σ_q n_q P_j(θ_q) = correct_j
            p = _logistic(grid[:, None] - new_b[None, :])
            f = expected @ p - correct
            slope = expected @ (p * (1 - p))
            step = safe_divide(f, slope)
            step = np.where(np.isfinite(step), step, 0.0)
            new_b = np.clip(new_b + np.clip(step, -1.0, 1.0), -10.0, 10.0)
            if np.abs(step).max() < 1e-10:
                break
        new_sigma = float(np.sqrt(max((expected @ grid ** 2) / n, 1e-4)))
        change = max(float(np.abs(new_b - b).max()), abs(new_sigma - sigma))
        b, sigma = new_b, new_sigma
        if change < tol:
            converged = True
            break
    log_w = -0.5 * (grid / sigma) ** 2
    logits = grid[:, None] - b[None, :]
    log_joint = s_values[:, None] * grid[None, :] - np.logaddexp(0.0, logits).sum(axis=1)[None, :] + log_w[None, :]
    posterior, _ = _normalise_rows(log_joint)
    eap = posterior @ grid
    psd = np.sqrt(np.maximum(posterior @ grid ** 2 - eap ** 2, 0.0))
    p = _logistic(logits)
    information = (score_counts @ posterior) @ (p * (1 - p))
    b_se = np.full(k, np.nan)
    np.divide(1.0, np.sqrt(information), out=b_se, where=information > 0)
    return RaschFit(b, b_se, eap[raw], psd[raw], sigma, history, len(history), converged)


# ----------------------------------------------------------------------------------------------------------
# Trends across exams


@dataclass(frozen=True)
class Trend:
    """The same students across several exams (in the order given).

    ``exam_ids`` (M,) are the students present in every exam; ``totals``, ``ranks``, ``z`` are (M, E), each rank
    and z computed among everyone who sat that exam; ``rank_change`` = first rank - last rank (positive = moved
    up) and ``z_change`` = last z - first z.
    """

    labels: tuple[str, ...]
    exam_ids: np.ndarray
    totals: np.ndarray
    ranks: np.ndarray
    z: np.ndarray
    rank_change: np.ndarray
    z_change: np.ndarray
    student_nos: np.ndarray | None = None  # (M,) 学籍号 when the students were linked by it (analytics.longitudinal)


def trends(exam_ids: Sequence[np.ndarray], totals: Sequence[np.ndarray], labels: Sequence[str]) -> Trend:
    """Rank and z-score change of the students present in every exam (NaN totals = did not sit)."""
    if not len(exam_ids) == len(totals) == len(labels) or len(labels) < 2:
        raise ValueError("trends need two or more exams, each with ids, totals and a label")
    cleaned = []
    for ids, values in zip(exam_ids, totals):
        ids = np.asarray(ids, dtype=object).astype(str)
        values = np.asarray(values, dtype=float)
        keep = np.isfinite(values)
        cleaned.append((ids[keep], values[keep]))
    common = cleaned[0][0]
    for ids, _ in cleaned[1:]:
        common = common[np.isin(common, ids)]
    m, e = len(common), len(cleaned)
    out_totals, out_ranks, out_z = np.full((m, e), np.nan), np.zeros((m, e), np.int64), np.full((m, e), np.nan)
    for column, (ids, values) in enumerate(cleaned):
        order = np.argsort(ids, kind="stable")
        where = order[np.searchsorted(ids, common, sorter=order)]
        rank = competition_ranks(values)
        z, _ = standard_scores(values)
        out_totals[:, column], out_ranks[:, column], out_z[:, column] = values[where], rank[where], z[where]
    return Trend(tuple(labels), common, out_totals, out_ranks, out_z, out_ranks[:, 0] - out_ranks[:, -1],
                 out_z[:, -1] - out_z[:, 0])


def group_knowledge_rates(rates: np.ndarray, codes: np.ndarray, n_groups: int) -> np.ndarray:
    """Mean knowledge-point rate per group, (G, K)."""
    return group_means(rates, codes, n_groups)

