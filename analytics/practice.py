"""Practice sets (巩固练习) from the item bank: for each weak knowledge point of a student, a few bank items the
student should answer correctly with probability 0.6–0.8 under the Rasch model, never an item they answered before.

Two steps, each named by its standard definition:

1. **The student's ability on the bank's scale** (:func:`ability_on_bank_scale`). The exam's questions are
   dichotomised as in the analysis (correct at 60 % of the points). When at least :data:`MIN_ANCHORS` of them are
   bank items with a Rasch difficulty (``ItemStats.rasch_b``), those b are held fixed and the exam's other items'
   b, with the students' mean and spread, are estimated around them by marginal maximum likelihood (EM on a
   quadrature grid: *fixed item parameter calibration*, Kim 2006), so θ lands on the bank's scale. With fewer
   anchors the exam's own Rasch fit (:func:`analytics.diagnosis.fit_rasch`, students' mean 0) is used, and the
   result says so: the bank's b are then only comparable when the bank was calibrated on a like cohort.
   Each student's θ is Warm's weighted likelihood estimate (WLE, Warm 1989), finite for all-right and all-wrong
   papers and a function of the raw score only (the Rasch model's sufficient statistic); its standard error is
   1/√I(θ).
2. **Items for a point** (:func:`pick_items`): bank items of the point's id, of the exam's subject, not answered
   before, whose P(correct | θ, b) = 1 / (1 + exp(b − θ)) lies in [0.6, 0.8]; the closest to 0.7 first (P rounded
   to 0.01, ties broken by a random order seeded by the seed, the student and the point, so two classmates of the
   same ability do not get the same list). An item without ``rasch_b`` but with a classical P from at least
   :data:`MIN_P_STUDENTS` students is placed on the scale by b = μ − logit(P)·√(1 + σ²/1.702²) (the marginal P of
   a Rasch item in a N(μ, σ²) cohort, through the normal-ogive approximation: assumes its past cohort was like this
   exam's); an item with neither is left out. Too few items in the window: the set is shorter, never padded with
   items outside it, and the shortage is stated.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Iterable, Literal, Sequence

import numpy as np

from analytics.diagnosis import dichotomise, fit_rasch

__all__ = ["AbilityScale", "PracticeItem", "PracticeSet", "Candidate", "PointPool", "ability_on_bank_scale",
           "fixed_anchor_rasch", "wle_theta", "rasch_p", "b_from_p", "point_pools", "pick_items", "MIN_ANCHORS",
           "MIN_P_STUDENTS", "P_WINDOW"]

MIN_ANCHORS = 3  # fewer exam items with a bank b: the exam's own Rasch scale (the bank's is not identified)
MIN_P_STUDENTS = 30  # a classical P from fewer students is too noisy to place an item on the scale
P_WINDOW = (0.6, 0.8)  # the success rate a practice item should give: hard enough to learn from, not discouraging
_TARGET_P = 0.7
_LOGISTIC_PROBIT = 1.702  # logistic(x) ≈ Φ(x / 1.702)


def rasch_p(theta: float | np.ndarray, b: float | np.ndarray) -> np.ndarray:
    """P(correct | θ, b) = 1 / (1 + exp(b − θ)), the Rasch model (overflow-free)."""
    return 0.5 * (1.0 + np.tanh(0.5 * (np.asarray(theta, float) - np.asarray(b, float))))


def b_from_p(p: float, mean: float, sigma: float) -> float:
    """The Rasch b whose marginal P(correct) in a N(mean, sigma²) cohort is ``p``: b = mean − logit(p)·√(1 +
    sigma²/1.702²) (normal-ogive approximation of the logistic, Camilli 1994). ``p`` is clipped to [0.02, 0.98]."""
    p = min(max(float(p), 0.02), 0.98)
    return float(mean - np.log(p / (1 - p)) * np.sqrt(1.0 + sigma ** 2 / _LOGISTIC_PROBIT ** 2))


def wle_theta(b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(θ, SE) for every raw score 0..k on items of difficulties ``b``: Warm's weighted likelihood estimate, the
    root of r − Σ P_j(θ) + J(θ) / (2 I(θ)) = 0 with I = Σ P(1 − P), J = Σ P(1 − P)(1 − 2P) (found by bisection on
    [−12, 12], where the left side changes sign for every r), and SE = 1/√I(θ)."""
    b = np.asarray(b, float)
    scores = np.arange(len(b) + 1, dtype=float)
    low, high = np.full(len(scores), -12.0), np.full(len(scores), 12.0)

    def equation(theta: np.ndarray) -> np.ndarray:
        p = rasch_p(theta[:, None], b[None, :])
        info = (p * (1 - p)).sum(axis=1)
        return scores - p.sum(axis=1) + (p * (1 - p) * (1 - 2 * p)).sum(axis=1) / (2 * info)

    for _ in range(60):  # interval 24 / 2^60: far below any meaningful θ difference
        middle = 0.5 * (low + high)
        above = equation(middle) > 0
        low, high = np.where(above, middle, low), np.where(above, high, middle)
    theta = 0.5 * (low + high)
    p = rasch_p(theta[:, None], b[None, :])
    return theta, 1.0 / np.sqrt((p * (1 - p)).sum(axis=1))


def fixed_anchor_rasch(responses: np.ndarray, anchors: np.ndarray, *, max_iter: int = 500, tol: float = 1e-6
                       ) -> tuple[np.ndarray, float, float]:
    """(b (k,), mean, sigma): Rasch difficulties with the items whose ``anchors`` value is finite held at it, the
    others and the students' N(mean, sigma²) estimated by marginal maximum likelihood (EM over a 121-node grid on
    [−9, 9]; the raw score is sufficient for θ, so the E-step runs over raw scores). Items all (or none) of the
    students answered correctly get the half-count correction, as :func:`analytics.diagnosis.fit_rasch`."""
    y = np.asarray(responses)
    n, k = y.shape
    anchors = np.asarray(anchors, float)
    fixed = np.isfinite(anchors)
    raw = np.rint(y.sum(axis=1, dtype=np.float64)).astype(np.int64)
    counts = np.bincount(raw, minlength=k + 1).astype(float)
    correct = np.clip(y.sum(axis=0, dtype=np.float64), 0.5, n - 0.5)
    grid = np.linspace(-9.0, 9.0, 121)
    s_values = np.arange(k + 1, dtype=float)
    logit = np.log(correct / (n - correct))
    # start: logit(P_j) ≈ mean − b_j, so the anchors give the mean and the mean the free items' b
    mean = float(np.mean(anchors[fixed] + logit[fixed])) if fixed.any() else 0.0
    b, sigma = np.where(fixed, anchors, mean - logit), 1.0
    for _ in range(max_iter):
        log_prior = -0.5 * ((grid - mean) / sigma) ** 2
        log_joint = (s_values[:, None] * grid[None, :] - np.logaddexp(0.0, grid[:, None] - b[None, :]).sum(axis=1)
                     [None, :] + log_prior[None, :])
        log_joint -= log_joint.max(axis=1, keepdims=True)
        posterior = np.exp(log_joint)
        posterior /= posterior.sum(axis=1, keepdims=True)
        expected = counts @ posterior  # students at each node
        new_b = b.copy()
        for _step in range(20):  # Newton on Σ_q n_q P_j(θ_q) = correct_j, free items only
            p = rasch_p(grid[:, None], new_b[None, :])
            slope = expected @ (p * (1 - p))
            step = np.where(fixed | (slope <= 0), 0.0, (expected @ p - correct) / np.maximum(slope, 1e-12))
            new_b = np.clip(new_b + np.clip(step, -1.0, 1.0), -10.0, 10.0)
            if np.abs(step).max() < 1e-10:
                break
        new_mean = float(expected @ grid / n)
        new_sigma = float(np.sqrt(max(expected @ (grid - new_mean) ** 2 / n, 1e-4)))
        change = max(float(np.abs(new_b - b).max()), abs(new_mean - mean), abs(new_sigma - sigma))
        b, mean, sigma = new_b, new_mean, new_sigma
        if change < tol:
            break
    return b, mean, sigma


@dataclass(frozen=True)
class AbilityScale:
    """The graded students' abilities on one Rasch scale and how it was set.

    Attributes
    ----------
    theta, theta_se : ndarray, (N,)
        WLE per ExamData row; NaN for students not graded.
    difficulty : ndarray, (k,)
        Each analysed question's b on that scale (the bank's own where anchored).
    anchored : ndarray of bool, (k,)
        Questions whose b was held at the bank's ``rasch_b``.
    source : 'bank' or 'exam'
        'bank': anchored on the bank's b (at least :data:`MIN_ANCHORS`); 'exam': the exam's own fit.
    mean, sigma : float
        The graded students' ability distribution on the scale.
    """

    theta: np.ndarray
    theta_se: np.ndarray
    difficulty: np.ndarray
    anchored: np.ndarray
    source: Literal["bank", "exam"]
    mean: float
    sigma: float

    def method_zh(self) -> str:
        """How θ was found, in a teacher's words."""
        if self.source == "bank":
            return (f"能力值按题库难度定标:本次 {int(self.anchored.sum())} 道题以题库中的 Rasch 难度为锚,"
                    f"其余 {int((~self.anchored).sum())} 道题在同一标尺上估计。")
        return (f"本次试卷中带题库 Rasch 难度的题目少于 {MIN_ANCHORS} 道,能力值按本次考试自身的 Rasch 拟合估计"
                "(默认题库难度与本次考生群体可比)。")


def ability_on_bank_scale(scores: np.ndarray, points: np.ndarray, graded: np.ndarray,
                          bank_b: Sequence[float | None], *, correct_at: float = 0.6) -> AbilityScale:
    """Each graded student's Rasch θ on the bank's b scale (module docstring, step 1).

    Parameters
    ----------
    scores : ndarray, (N, k)
        Question scores (NaN unless graded), as :class:`analytics.model.ExamData` holds them.
    points : ndarray, (k,)
    graded : ndarray of bool, (N,)
    bank_b : k values
        The bank's ``rasch_b`` of each question's item, None where the question has no item or the item no b.
    """
    scores, points, graded = np.asarray(scores, float), np.asarray(points, float), np.asarray(graded, bool)
    anchors = np.array([np.nan if v is None else float(v) for v in bank_b], float)
    if len(anchors) != scores.shape[1]:
        raise ValueError(f"{len(anchors)} bank difficulties for {scores.shape[1]} questions")
    if not graded.any():
        raise ValueError("no graded student: no ability to estimate")
    responses = dichotomise(scores[graded], points, correct_at)
    anchored = np.isfinite(anchors)
    if anchored.sum() >= MIN_ANCHORS:
        b, mean, sigma = fixed_anchor_rasch(responses, anchors)
        source: Literal["bank", "exam"] = "bank"
    else:
        fit = fit_rasch(responses)
        b, mean, sigma, anchored, source = fit.difficulty, 0.0, float(fit.sigma), np.zeros_like(anchored), "exam"
    by_score, se_by_score = wle_theta(b)
    raw = responses.sum(axis=1).astype(np.int64)
    theta, theta_se = np.full(len(graded), np.nan), np.full(len(graded), np.nan)
    theta[graded], theta_se[graded] = by_score[raw], se_by_score[raw]
    return AbilityScale(theta, theta_se, b, anchored, source, mean, sigma)


@dataclass(frozen=True)
class PracticeItem:
    """One chosen item: its id, its b on the scale (``b_source`` 'rasch': the bank's b, 'p': placed from its
    classical P) and the student's P(correct)."""

    item_id: str
    b: float
    b_source: Literal["rasch", "p"]
    p_correct: float


@dataclass(frozen=True)
class PracticeSet:
    """The practice for one weak point: the items chosen (best first), how many were wanted, and why fewer when
    fewer (Chinese, for the page; empty when the set is full)."""

    point_id: str
    point_name: str
    items: tuple[PracticeItem, ...]
    wanted: int
    shortage: str = ""


@dataclass(frozen=True)
class Candidate:
    """A bank item that could be practised: id, knowledge points, its Rasch b (or None), classical P and the
    number of students behind it."""

    item_id: str
    knowledge_points: tuple[str, ...]
    rasch_b: float | None
    p: float | None
    students: int


@dataclass(frozen=True)
class PointPool:
    """The bank's items of one knowledge point placed on the scale once for all students: ``ids``/``b``/
    ``sources`` (sorted by b) for those with a usable b, ``unplaced`` for those without."""

    point_id: str
    ids: tuple[str, ...]
    b: np.ndarray
    sources: tuple[str, ...]
    unplaced: tuple[str, ...]


def point_pools(candidates: Iterable[Candidate], *, mean: float = 0.0, sigma: float = 1.0, use_p: bool = True
                ) -> dict[str, PointPool]:
    """Per knowledge point, its candidates with their b on the scale: the bank's ``rasch_b``; else, with ``use_p``,
    b from a classical P of at least :data:`MIN_P_STUDENTS` students (:func:`b_from_p` in the cohort N(mean,
    sigma²)); else unplaced."""
    placed: dict[str, list[tuple[float, str, str]]] = {}
    unplaced: dict[str, list[str]] = {}
    for c in candidates:
        if c.rasch_b is not None:
            where: tuple[float, str] | None = (float(c.rasch_b), "rasch")
        elif use_p and c.p is not None and c.students >= MIN_P_STUDENTS:
            where = (b_from_p(c.p, mean, sigma), "p")
        else:
            where = None
        for point in c.knowledge_points:
            if where is None:
                unplaced.setdefault(point, []).append(c.item_id)
            else:
                placed.setdefault(point, []).append((where[0], c.item_id, where[1]))
    pools = {}
    for point in set(placed) | set(unplaced):
        rows = sorted(placed.get(point, []))
        pools[point] = PointPool(point, tuple(r[1] for r in rows), np.array([r[0] for r in rows], float),
                                 tuple(r[2] for r in rows), tuple(unplaced.get(point, [])))
    return pools


def _seeded_order(seed: int, student: str, point: str, n: int) -> np.ndarray:
    key = zlib.crc32(f"{student}\x1f{point}".encode("utf-8"))
    return np.random.default_rng([seed & 0xFFFFFFFF, key]).random(n)


def pick_items(theta: float, point_id: str, point_name: str, pool: PointPool | None, answered: Iterable[str], *,
               count: int = 3, seed: int = 0, student: str = "", window: tuple[float, float] = P_WINDOW
               ) -> PracticeSet:
    """The practice set for one weak point of one student (module docstring, step 2) from the point's ``pool``
    (:func:`point_pools`; None when the bank has no item of the point).

    ``answered`` holds every item id the student already met (this exam's and earlier ones'), plus items already
    chosen for another point.
    """
    if count < 1:
        raise ValueError(f"count {count}: at least one item per point")
    pool = pool or PointPool(point_id, (), np.zeros(0), (), ())
    seen = answered if isinstance(answered, (set, frozenset)) else set(answered)
    # b within the window for this θ: a slice of the sorted b (P falls as b rises), ranked in numpy; only the
    # best-ranked are looked up in ``seen`` until ``count`` are found
    low_b, high_b = theta - np.log(window[1] / (1 - window[1])), theta - np.log(window[0] / (1 - window[0]))
    first, last = np.searchsorted(pool.b, low_b - 1e-9, "left"), np.searchsorted(pool.b, high_b + 1e-9, "right")
    p = rasch_p(theta, pool.b[first:last])
    ranked = first + np.lexsort((_seeded_order(seed, student, point_id, len(p)), np.round(np.abs(p - _TARGET_P), 2)))
    chosen: list[int] = []
    for j in ranked.tolist():
        if pool.ids[j] not in seen:
            chosen.append(j)
            if len(chosen) == count:
                break
    items = tuple(PracticeItem(pool.ids[j], float(pool.b[j]), pool.sources[j], float(p[j - first]))
                  for j in chosen)
    shortage = ""
    if len(items) < count:
        total = len(pool.ids) + len(pool.unplaced)
        fresh = sum(i not in seen for i in pool.ids) + sum(i not in seen for i in pool.unplaced)
        unplaced = sum(i not in seen for i in pool.unplaced)
        shortage = (f"题库不足:本知识点需要 {count} 道难度合适(预计答对率 {window[0]:.0%}–{window[1]:.0%})的练习题,"
                    f"仅找到 {len(items)} 道(题库中该知识点共 {total} 道,未做过的 {fresh} 道"
                    + (f",其中 {unplaced} 道无难度数据" if unplaced else "") + ")。")
    return PracticeSet(point_id, point_name, items, count, shortage)
