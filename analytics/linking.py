"""IRT linking through common items (共同题链接): the Rasch abilities of several exams on one scale.

When exams share items (the same bank item, :attr:`grading.exam.Question.item_id`, in both), each exam's Rasch
calibration (:func:`analytics.diagnosis.fit_rasch`: its own scale, mean ability 0) is placed on the scale of the
first exam of the record by a linear transformation θ* = A·θ + B, b* = A·b + B, a* = a / A, estimated from the
common items' parameters in both calibrations (Kolen & Brennan, *Test Equating, Scaling, and Linking*, 3rd ed.,
2014, ch. 6; docs/statistics.md, "Linking through common items"):

- **mean/mean**: A = mean(a_new) / mean(a_base), B = mean(b_base) − A·mean(b_new);
- **mean/sigma**: A = SD(b_base) / SD(b_new), B = mean(b_base) − A·mean(b_new);
- **Stocking–Lord** (characteristic-curve): A, B minimise the squared gap between the common items' test
  characteristic curves, Σ_q w_q [Σ_j P(θ_q; a_base,j, b_base,j) − Σ_j P(θ_q; a_new,j / A, A·b_new,j + B)]², over
  quadrature points θ_q of the base exam's ability distribution.

Under the Rasch model every a is 1, so mean/mean fixes A = 1 (the usual Rasch shift); mean/sigma and Stocking–Lord
estimate A too, which stays near 1 when the model holds. Before linking, common items whose difficulty moved
(item parameter drift) are screened out one at a time: an item is dropped when its displacement after linking,
d_j = A·b_new,j + B − b_base,j, exceeds :data:`DRIFT_LOGITS` (0.3 logits) in size, its robust z,
(d_j − median d) / (0.74·IQR d), exceeds :data:`DRIFT_Z` (1.645) (Huynh & Meyer's robust-z screen), and d_j is
beyond its own estimation error, |d_j| > 2.58·√(A²·se_new,j² + se_base,j²) (:data:`DRIFT_SE`: a school-sized
sample estimates b within about ±0.2 logits, and several items are screened at once; without this, chance alone
would flag items). With fewer than :data:`MIN_COMMON_ITEMS` common
items left, the exam is not linked and the reason says so: the record then compares it by z and percentile only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from analytics.diagnosis import RaschFit, fit_rasch

__all__ = ["LinkingConstants", "mean_mean", "mean_sigma", "stocking_lord", "DriftedItem", "ExamLink",
           "IrtLinking", "link_rasch", "screen_drift", "drifted", "scale_score", "METHODS", "METHOD_NAMES",
           "MIN_COMMON_ITEMS", "MIN_STUDENTS", "DRIFT_LOGITS", "DRIFT_Z", "DRIFT_SE"]

#: Fewer common items than this and an exam is not linked (z and percentile only).
MIN_COMMON_ITEMS = 5
#: Fewer students than this and an exam's item difficulties are too uncertain to link (a class of 30 gives b
#: within about ±0.4 logits).
MIN_STUDENTS = 30
#: A common item moved more than this (logits, after linking) is a drift candidate.
DRIFT_LOGITS = 0.3
#: ... and it is dropped when its robust z is beyond this as well (two-sided 10 %) ...
DRIFT_Z = 1.645
#: ... and its displacement beyond this many standard errors (two-sided 1 %).
DRIFT_SE = 2.58
#: The scale score of an ability θ on the first exam's scale: 500 + 100·θ / σ (σ the first exam's ability SD).
SCALE_MEAN, SCALE_SD = 500.0, 100.0

METHODS = ("stocking_lord", "mean_sigma", "mean_mean")
#: each method as a teacher's page names it (the technical name in the footnote is the key's)
METHOD_NAMES = {"stocking_lord": "Stocking–Lord 特征曲线法", "mean_sigma": "均值-标准差法 (mean/sigma)",
                "mean_mean": "均值-均值法 (mean/mean)"}


@dataclass(frozen=True)
class LinkingConstants:
    """θ_base = slope·θ_new + intercept (and b likewise; a_base = a_new / slope)."""

    slope: float
    intercept: float
    method: str

    def theta(self, theta: np.ndarray) -> np.ndarray:
        return self.slope * np.asarray(theta, dtype=float) + self.intercept


def mean_mean(a_new: np.ndarray, b_new: np.ndarray, a_base: np.ndarray, b_base: np.ndarray) -> LinkingConstants:
    """Mean/mean linking (Kolen & Brennan 2014, ch. 6): A = μ(a_new)/μ(a_base), B = μ(b_base) − A·μ(b_new)."""
    slope = float(np.mean(a_new) / np.mean(a_base))
    return LinkingConstants(slope, float(np.mean(b_base) - slope * np.mean(b_new)), "mean_mean")


def mean_sigma(b_new: np.ndarray, b_base: np.ndarray) -> LinkingConstants:
    """Mean/sigma linking (Kolen & Brennan 2014, ch. 6): A = σ(b_base)/σ(b_new), B = μ(b_base) − A·μ(b_new)
    (σ with divisor n, as the book defines it)."""
    spread = float(np.std(b_new))
    if not spread > 0:
        raise ValueError("mean/sigma needs common items of different difficulty")
    slope = float(np.std(b_base)) / spread
    return LinkingConstants(slope, float(np.mean(b_base) - slope * np.mean(b_new)), "mean_sigma")


def _tcc(theta: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Test characteristic curve Σ_j P(θ; a_j, b_j) of the 2PL/Rasch items at each θ."""
    return (0.5 * (1.0 + np.tanh(0.5 * a[None, :] * (theta[:, None] - b[None, :])))).sum(axis=1)


def stocking_lord(a_new: np.ndarray, b_new: np.ndarray, a_base: np.ndarray, b_base: np.ndarray, *,
                  mean: float = 0.0, sd: float = 1.0, nodes: int = 41) -> LinkingConstants:
    """Stocking–Lord characteristic-curve linking (Stocking & Lord 1983; Kolen & Brennan 2014, ch. 6).

    Minimises Σ_q w_q [T_base(θ_q) − T_new*(θ_q)]², T the common items' test characteristic curve, T_new* that of
    the new calibration's items transformed by (A, B): a / A and A·b + B. θ_q are ``nodes`` points over
    mean ± 4·sd on the base scale with normal weights w_q (the base exam's ability distribution). Started from
    mean/sigma (or A = 1 when the difficulties do not vary); A is kept within [0.2, 5].
    """
    from scipy.optimize import minimize

    a_new, b_new, a_base, b_base = (np.asarray(v, dtype=float) for v in (a_new, b_new, a_base, b_base))
    theta = np.linspace(mean - 4 * sd, mean + 4 * sd, nodes)
    weights = np.exp(-0.5 * ((theta - mean) / sd) ** 2)
    weights /= weights.sum()
    target = _tcc(theta, a_base, b_base)

    def loss(params: np.ndarray) -> float:
        slope, intercept = params
        return float(weights @ (target - _tcc(theta, a_new / slope, slope * b_new + intercept)) ** 2)

    try:
        start = mean_sigma(b_new, b_base)
        start_params = [min(max(start.slope, 0.2), 5.0), start.intercept]
    except ValueError:
        start_params = [1.0, float(np.mean(b_base) - np.mean(b_new))]
    result = minimize(loss, np.array(start_params), method="L-BFGS-B", bounds=[(0.2, 5.0), (-20.0, 20.0)],
                      options={"ftol": 1e-14, "gtol": 1e-10})
    return LinkingConstants(float(result.x[0]), float(result.x[1]), "stocking_lord")


def _constants(method: str, b_new: np.ndarray, b_base: np.ndarray, mean: float, sd: float) -> LinkingConstants:
    ones = np.ones(len(b_new))  # Rasch: every discrimination 1
    if method == "mean_mean":
        return mean_mean(ones, b_new, ones, b_base)
    if method == "mean_sigma":
        return mean_sigma(b_new, b_base)
    if method == "stocking_lord":
        return stocking_lord(ones, b_new, ones, b_base, mean=mean, sd=sd)
    raise ValueError(f"linking method {method!r}: use one of {', '.join(METHODS)}")


def screen_drift(b_new: np.ndarray, b_base: np.ndarray, constants: LinkingConstants
                 ) -> tuple[np.ndarray, np.ndarray]:
    """(displacement, robust z) of each common item after linking: d_j = A·b_new,j + B − b_base,j and
    (d_j − median d) / (0.74·IQR d) (Huynh & Meyer's robust z; an IQR of 0 gives ±inf for any d_j off the
    median, 0 at it)."""
    displacement = constants.slope * np.asarray(b_new, dtype=float) + constants.intercept - np.asarray(b_base)
    centre = float(np.median(displacement))
    q1, q3 = np.percentile(displacement, [25, 75])
    spread = 0.74 * float(q3 - q1)
    off = displacement - centre
    if spread <= 0:
        return displacement, np.where(np.abs(off) < 1e-12, 0.0, np.copysign(np.inf, off))
    return displacement, off / spread


def drifted(b_new: np.ndarray, se_new: np.ndarray, b_base: np.ndarray, se_base: np.ndarray,
            constants: LinkingConstants) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(flagged, displacement, robust z): the module's three-part drift screen of each common item."""
    displacement, z = screen_drift(b_new, b_base, constants)
    error = np.sqrt((constants.slope * np.asarray(se_new)) ** 2 + np.asarray(se_base) ** 2)
    beyond_error = ~(np.abs(displacement) <= DRIFT_SE * error)  # a NaN standard error does not protect an item
    flagged = (np.abs(displacement) > DRIFT_LOGITS) & (np.abs(z) > DRIFT_Z) & beyond_error
    return flagged, displacement, z


def scale_score(theta: np.ndarray, base_sd: float) -> np.ndarray:
    """Scale score 500 + 100·θ/σ of abilities θ on the first exam's scale (σ its estimated ability SD): the
    first exam's students average about 500 with an SD of about 100; later exams on the same ruler."""
    return SCALE_MEAN + SCALE_SD * np.asarray(theta, dtype=float) / base_sd


@dataclass(frozen=True)
class DriftedItem:
    """A common item left out of the linking: its bank id, displacement (logits) and robust z."""

    item_id: str
    displacement: float
    robust_z: float

    @property
    def reason(self) -> str:
        return (f"难度漂移：链接后与首次考试的难度相差 {self.displacement:+.2f} logit（超过 {DRIFT_LOGITS:g}，且超出"
                f"估计误差），稳健 z = {self.robust_z:+.1f}（超过 ±{DRIFT_Z:g}）")


@dataclass(frozen=True)
class ExamLink:
    """How one exam of the record is placed on the first exam's scale.

    ``linked`` is False when it could not be (``reason`` says why, in Chinese). ``constants`` holds every method's
    (A, B) on the common items kept, ``method`` the one applied; the first exam is the base (A = 1, B = 0).
    """

    label: str
    linked: bool
    method: str = ""
    common: tuple[str, ...] = ()
    dropped: tuple[DriftedItem, ...] = ()
    constants: dict[str, LinkingConstants] = field(default_factory=dict)
    reason: str = ""

    @property
    def slope(self) -> float:
        return self.constants[self.method].slope if self.linked else float("nan")

    @property
    def intercept(self) -> float:
        return self.constants[self.method].intercept if self.linked else float("nan")


@dataclass(frozen=True)
class IrtLinking:
    """Rasch abilities of every exam's students on the first exam's scale.

    Attributes
    ----------
    links : tuple of ExamLink, (E,)
    theta : list of ndarray
        Per exam, each student's EAP θ transformed to the first exam's scale (NaN: did not sit, or the exam is not
        linked).
    scale_scores : list of ndarray
        :func:`scale_score` of ``theta``.
    base_sd : float
        The first exam's estimated ability SD (the scale score's unit).
    method : str
    """

    links: tuple[ExamLink, ...]
    theta: list[np.ndarray]
    scale_scores: list[np.ndarray]
    base_sd: float
    method: str

    @property
    def any_linked(self) -> bool:
        """Some exam besides the first is on the first exam's scale."""
        return any(link.linked for link in self.links[1:])

    def notes(self) -> list[str]:
        """How each later exam was linked, or why not, in a teacher's words (one line per exam, then one per
        drifted item)."""
        base = self.links[0].label if self.links else ""
        lines: list[str] = []
        for link in self.links[1:]:
            if link.linked:
                lines.append(f"{link.label}：经 {len(link.common)} 道共同题用{METHOD_NAMES[link.method]}换算到"
                             f"“{base}”的能力量尺（θ' = {link.slope:.3f}·θ {link.intercept:+.3f}）")
            else:
                lines.append(f"{link.label}：{link.reason}")
            lines += [f"{link.label}：共同题 {item.item_id} 未用于链接，{item.reason}" for item in link.dropped]
        return lines


def _base_constants() -> dict[str, LinkingConstants]:
    return {method: LinkingConstants(1.0, 0.0, method) for method in METHODS}


def link_rasch(labels: Sequence[str], item_keys: Sequence[Sequence[str]], responses: Sequence[np.ndarray], *,
               method: str = "stocking_lord", min_common: int = MIN_COMMON_ITEMS,
               min_students: int = MIN_STUDENTS) -> IrtLinking:
    """Calibrate each exam by Rasch (MML-EM, EAP abilities) and link the later ones to the first through common
    items, dropping drifting ones (:func:`screen_drift`).

    Parameters
    ----------
    labels : sequence of str, (E,)
        The exams, oldest first: the first is the base scale.
    item_keys : sequence of sequence of str
        Per exam, each item's bank id (``""``: an item of this exam only).
    responses : sequence of ndarray, (N_e, k_e)
        Per exam, 0/1 responses (:func:`analytics.diagnosis.dichotomise`) with NaN rows for students who did not
        sit (they get NaN θ).
    method : str
        Which of :data:`METHODS` places θ; every method's constants are reported.
    min_common : int
        Fewest common items (after the drift screen) for a link.
    min_students : int
        Fewest students who sat, in the first exam and in an exam to link.

    Items are pooled on the base scale as exams are linked: an exam shares items with the first exam or with any
    earlier exam already linked (chained through it). Within a pool item the first calibration linked wins.
    """
    if method not in METHODS:
        raise ValueError(f"linking method {method!r}: use one of {', '.join(METHODS)}")
    pool: dict[str, tuple[float, float]] = {}  # bank id -> difficulty on the base scale, its standard error
    links: list[ExamLink] = []
    thetas: list[np.ndarray] = []
    base_sd = float("nan")
    for e, (label, keys, y) in enumerate(zip(labels, item_keys, responses)):
        y = np.asarray(y, dtype=float)
        sat = np.isfinite(y).all(axis=1) if y.size else np.zeros(len(y), bool)
        theta = np.full(len(y), np.nan)
        if sat.sum() < max(min_students, 2) or y.shape[1] == 0:
            links.append(ExamLink(label, False, reason=f"参加人数 {int(sat.sum())} 名（至少需要 {min_students} 名），"
                                                       "题目难度估计不可靠，未做 IRT 链接，只按 z 分和百分等级比较"))
            thetas.append(theta)
            if e == 0:
                break  # no base scale: nothing can be linked
            continue
        fit = fit_rasch(y[sat].astype(np.uint8))
        keys = [str(k or "") for k in keys]
        if e == 0:
            base_sd = float(fit.sigma)
            theta[sat] = fit.theta
            links.append(ExamLink(label, True, method, constants=_base_constants()))
            _add_to_pool(pool, keys, fit, LinkingConstants(1.0, 0.0, method))
            thetas.append(theta)
            continue
        link = _link_one(label, keys, fit, pool, method, min_common, base_sd)
        if link.linked:
            theta[sat] = link.constants[method].theta(fit.theta)
            _add_to_pool(pool, keys, fit, link.constants[method])
        links.append(link)
        thetas.append(theta)
    while len(links) < len(labels):  # the base could not be calibrated
        links.append(ExamLink(labels[len(links)], False,
                              reason=f"首次考试（{labels[0]}）无法估计 Rasch 能力值，未做 IRT 链接，只按 z 分和百分等级比较"))
        thetas.append(np.full(len(responses[len(thetas)]), np.nan))
    scale = [scale_score(t, base_sd) if np.isfinite(base_sd) and base_sd > 0 else np.full(len(t), np.nan)
             for t in thetas]
    return IrtLinking(tuple(links), thetas, scale, base_sd, method)


def _add_to_pool(pool: dict[str, tuple[float, float]], keys: list[str], fit: RaschFit,
                 constants: LinkingConstants) -> None:
    for key, b, se in zip(keys, fit.difficulty.tolist(), fit.difficulty_se.tolist()):
        if key:
            pool.setdefault(key, (constants.slope * b + constants.intercept, constants.slope * se))


def _link_one(label: str, keys: list[str], fit: RaschFit, pool: dict[str, tuple[float, float]], method: str,
              min_common: int, base_sd: float) -> ExamLink:
    """One exam's link to the pool: the shared items, the drift screen, every method's constants."""
    first: dict[str, int] = {}
    for j, key in enumerate(keys):
        if key and key in pool:
            first.setdefault(key, j)
    common = list(first)
    b_new = np.array([fit.difficulty[first[key]] for key in common])
    se_new = np.array([fit.difficulty_se[first[key]] for key in common])
    b_base = np.array([pool[key][0] for key in common])
    se_base = np.array([pool[key][1] for key in common])
    dropped: list[DriftedItem] = []
    sd = base_sd if np.isfinite(base_sd) and base_sd > 0 else 1.0
    while True:
        if len(common) < max(min_common, 2):
            shared = len(common) + len(dropped)
            reason = (f"与此前考试的共同题只有 {shared} 道" if not dropped else
                      f"共同题 {shared} 道，剔除 {len(dropped)} 道难度漂移的题后只剩 {len(common)} 道")
            return ExamLink(label, False, method, tuple(common), tuple(dropped),
                            reason=f"{reason}（至少需要 {min_common} 道），未做 IRT 链接，只按 z 分和百分等级比较")
        try:
            constants = _constants(method, b_new, b_base, 0.0, sd)
        except ValueError as error:
            return ExamLink(label, False, method, tuple(common), tuple(dropped), reason=f"无法链接：{error}")
        flagged, displacement, z = drifted(b_new, se_new, b_base, se_base, constants)
        if not flagged.any():
            break
        worst = int(np.argmax(np.where(flagged, np.abs(z), -1.0)))
        dropped.append(DriftedItem(common[worst], float(displacement[worst]), float(z[worst])))
        keep = np.arange(len(common)) != worst
        common = [key for key, k in zip(common, keep.tolist()) if k]
        b_new, se_new, b_base, se_base = b_new[keep], se_new[keep], b_base[keep], se_base[keep]
    every = {}
    for other in METHODS:
        try:
            every[other] = _constants(other, b_new, b_base, 0.0, sd)
        except ValueError:
            continue
    every[method] = constants
    return ExamLink(label, True, method, tuple(common), tuple(dropped), every)
