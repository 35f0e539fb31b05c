"""Orientation and page of a scan that carries no identity strip: which fit of which page its print backs.

yuejuan's own sheets say which template and page they are, and which way up, in their identity strip. A sheet
printed by another system says none of it; what it has is its anchors and its printed content:

* **Anchors of different shapes or sizes** (an L among squares): under a wrong orientation some anchor's place
  holds another anchor's shape. :func:`anchor_votes` compares each anchor's neighbourhood with every shape the
  page's anchors come in (normalised cross-correlation, so a 60 % gray print matches as well as black); a fit
  under which an anchor looks like another anchor is dropped. Anchors placed asymmetrically decide even earlier:
  the wrong orientation does not fit them at all (:func:`omr.register.iter_registrations`).
* **The printed bubble outlines**: under the right fit of the right page they lie where the fit puts them. Each
  candidate (page x orientation) yields per-bubble evidence (how much of its printed contrast each check bubble's
  outline shows, see :func:`omr.read.outline_shares`; on a 1-bit scan that lost the outlines, whether each patch of
  bold print is found in place). :func:`clearly_better` tells whether the best candidate's evidence clearly
  exceeds a rival's on this very page (a one-sided Mann-Whitney U test, and Fisher's exact test on the items each
  misses), so no margin is tuned to any set of pictures: a page whose orientations or pages fit its print alike
  (a symmetric layout) is not guessed. When the 48 check bubbles cannot tell, every bubble of the page is weighed.

:func:`choose` applies these rules to the candidates :mod:`omr.read` measured and says which one wins, or why
none does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from math import erfc, exp, lgamma, sqrt
from typing import Callable, Sequence

import cv2
import numpy as np

from omr.layout import anchor_polygon
from omr.refine import warp_rect
from omr.template import Anchor

__all__ = ["AnchorShapes", "anchor_shapes", "anchor_votes", "Candidate", "clearly_better", "rank_test",
           "missing_test", "choose", "Choice", "LAYOUT_NOT_FOUND", "ORIENTATION_AMBIGUOUS"]

_PX_PER_MM = 4.0  # resolution anchors are compared at (a 5 mm anchor is 20 px)
_ANCHOR_MARGIN = 0.5  # paper around an anchor in the compared patch, as a share of its size
_SHAPE_PRESENT = 0.5  # correlation at which a patch counts as showing a shape at all (paper alone scores ~0)
#: One-sided level of the Mann-Whitney test: the chance that a rival fitting the print as well as the winner is
#: nevertheless beaten by chance. One page in a million read the wrong way up is the budget.
_ALPHA = 1e-6

LAYOUT_NOT_FOUND = ("layout not found: no orientation of the template's pages puts the printed bubbles where they "
                    "are (a page of another sheet, or too damaged): "
                    "版面不符: 任何方向、任何页的气泡位置都与本页印刷不符 (其他答题卡或页面损坏), 本页未识别")
ORIENTATION_AMBIGUOUS = ("orientation ambiguous: page {page} at {angle}° and page {rival_page} at {rival_angle}° fit "
                         "the print alike: "
                         "方向无法确定: 第 {page} 页 {angle}° 与第 {rival_page} 页 {rival_angle}° 同样符合印刷内容, "
                         "本页未识别")


@dataclass(frozen=True)
class AnchorShapes:
    """A page's anchors as printed: each anchor's shape index and the patch of every distinct shape."""

    kinds: tuple[int, ...]  # per anchor, which of ``patches`` it prints as
    patches: tuple[np.ndarray, ...]  # float32, 0 ink .. 255 paper, centred on the anchor, at _PX_PER_MM
    sizes_mm: tuple[float, ...]  # side of each patch's square in mm

    @property
    def asymmetric(self) -> bool:
        """Whether the anchors come in more than one shape (then they can tell the orientation)."""
        return len(self.patches) > 1


def _outline(anchor: Anchor) -> tuple:
    """The anchor's printed shape relative to its centre (what makes two anchors look alike)."""
    if anchor.shape == "circle":
        return ("circle", round(anchor.size, 2))
    return tuple((round(x - anchor.x, 2), round(y - anchor.y, 2)) for x, y in anchor_polygon(anchor))


@lru_cache(maxsize=64)
def anchor_shapes(anchors: tuple[Anchor, ...]) -> AnchorShapes:
    """The distinct shapes of ``anchors``, drawn once (cached per anchor set)."""
    outlines = [_outline(anchor) for anchor in anchors]
    distinct = list(dict.fromkeys(outlines))
    side_mm = max(max(anchor.box) for anchor in anchors) * (1 + 2 * _ANCHOR_MARGIN)
    side = int(round(side_mm * _PX_PER_MM))
    patches = []
    for outline in distinct:
        anchor = anchors[outlines.index(outline)]
        canvas = np.full((side, side), 255, np.uint8)
        centre = side_mm / 2
        if anchor.shape == "circle":
            cv2.circle(canvas, (int(round(centre * _PX_PER_MM * 16)),) * 2, int(round(anchor.size / 2 * _PX_PER_MM
                                                                                       * 16)), 0, -1, cv2.LINE_AA, 4)
        else:
            points = np.array([[(x - anchor.x + centre) * _PX_PER_MM * 16, (y - anchor.y + centre) * _PX_PER_MM * 16]
                               for x, y in anchor_polygon(anchor)], np.int32)
            cv2.fillPoly(canvas, [points], 0, cv2.LINE_AA, 4)
        patches.append(canvas.astype(np.float32))
    return AnchorShapes(tuple(distinct.index(o) for o in outlines), tuple(patches), (side_mm,) * len(distinct))


def _correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation of two equal-sized patches (0 when either is flat)."""
    a = a - a.mean()
    b = b - b.mean()
    norm = float(np.sqrt((a * a).sum() * (b * b).sum()))
    return float((a * b).sum()) / norm if norm > 0 else 0.0


def anchor_votes(image: np.ndarray, page_to_image: np.ndarray, anchors: Sequence[Anchor], shapes: AnchorShapes
                 ) -> tuple[int, int]:
    """(confirmed, contradicted): anchors whose place under ``page_to_image`` shows their own shape best, and
    anchors whose place shows another of the page's anchor shapes best (a wrong orientation). A place that shows
    no shape clearly (an anchor cut off, covered) counts as neither."""
    confirmed = contradicted = 0
    for anchor, kind in zip(anchors, shapes.kinds):
        side = shapes.sizes_mm[kind]
        window = warp_rect(image, page_to_image, anchor.x - side / 2, anchor.y - side / 2, side, side,
                           _PX_PER_MM).astype(np.float32)
        if window.shape != shapes.patches[kind].shape:
            continue
        scores = [_correlation(window, patch) for patch in shapes.patches]
        best = int(np.argmax(scores))
        if scores[best] < _SHAPE_PRESENT:
            continue
        if best == kind:
            confirmed += 1
        else:
            contradicted += 1
    return confirmed, contradicted


def clearly_better(best: np.ndarray, rival: np.ndarray, alpha: float = _ALPHA) -> bool:
    """Whether the evidence ``best`` clearly exceeds ``rival``'s: either its values are stochastically larger
    (:func:`rank_test`), or a larger share of the rival's items are missing (:func:`missing_test`), at one-sided
    level ``alpha`` (each; so the chance that two candidates fitting the print alike are told apart is at most
    twice ``alpha``). The first catches a rival whose print is everywhere a little off, the second one that fits
    most of the page but misses a block of it (a card's other page sharing most of this one's layout)."""
    return rank_test(best, rival) < alpha or missing_test(best, rival) < alpha


def rank_test(best: np.ndarray, rival: np.ndarray) -> float:
    """One-sided p-value that ``best``'s values are no larger than ``rival``'s: the Mann-Whitney U test (Mann &
    Whitney 1947) with the normal approximation, mid-ranks for ties, the tie-corrected variance
    n m / 12 ((N + 1) - sum(t^3 - t) / (N (N - 1))) and a continuity correction. Unpaired: candidates on different
    pages of a card have different bubbles."""
    best = np.asarray(best, np.float64)
    rival = np.asarray(rival, np.float64)
    n, m = len(best), len(rival)
    if n == 0 or m == 0:
        return 1.0
    values = np.concatenate([best, rival])
    order = np.argsort(values, kind="mergesort")
    sorted_values = values[order]
    starts = np.flatnonzero(np.r_[True, sorted_values[1:] != sorted_values[:-1]])
    ends = np.r_[starts[1:], n + m]
    ranks = np.empty(n + m)
    for start, end in zip(starts, ends):
        ranks[order[start:end]] = (start + end + 1) / 2  # mid-rank, 1-based
    u = ranks[:n].sum() - n * (n + 1) / 2
    total = n + m
    ties = (ends - starts).astype(np.float64)
    variance = n * m / 12 * ((total + 1) - float((ties ** 3 - ties).sum()) / (total * (total - 1)))
    if variance <= 0:
        return 1.0  # every value equal: nothing tells them apart
    z = (u - n * m / 2 - 0.5) / sqrt(variance)
    return 0.5 * erfc(z / sqrt(2))


def missing_test(best: np.ndarray, rival: np.ndarray) -> float:
    """One-sided p-value that the rival misses no larger a share of its items than ``best`` does: Fisher's exact
    test (hypergeometric upper tail) on the 2 x 2 table of missing / present items. An item is missing when its
    evidence is below half of ``best``'s median: nearer to paper (0) than to this page's typical print."""
    best = np.asarray(best, np.float64)
    rival = np.asarray(rival, np.float64)
    if len(best) == 0 or len(rival) == 0:
        return 1.0
    limit = 0.5 * float(np.median(best))
    if limit <= 0:
        return 1.0
    rival_missing = int((rival < limit).sum())
    missing = int((best < limit).sum()) + rival_missing
    total, drawn = len(best) + len(rival), len(rival)

    def log_choose(n: int, k: int) -> float:
        return lgamma(n + 1) - lgamma(k + 1) - lgamma(n - k + 1)

    base = log_choose(total, drawn)
    tail = sum(exp(log_choose(missing, k) + log_choose(total - missing, drawn - k) - base)
               for k in range(rival_missing, min(missing, drawn) + 1))
    return min(1.0, tail)


@dataclass
class Candidate:
    """One way to read the scan: a page (of this template, or of another one when ``template_id`` is set) under
    one fit, with the per-item evidence of its printed content and whether that content verifies the fit."""

    page: object  # omr.read.PreparedPage
    fit: object  # omr.register.Registration
    evidence: np.ndarray  # per check bubble (or bold-print patch): larger is more of the print in place
    verified: bool
    score: float  # the summary ranked on (the outline share of the page's weakest quarter)
    template_id: str | None = None  # None: the template being read
    #: The same evidence over every bubble of the page (costlier: asked for only when ``evidence`` is not enough).
    every_bubble: Callable[[], np.ndarray] | None = None
    _full: np.ndarray | None = field(default=None, repr=False)

    def full_evidence(self) -> np.ndarray | None:
        """:attr:`every_bubble`'s answer, computed once; None when the candidate has no fuller evidence."""
        if self._full is None and self.every_bubble is not None:
            self._full = self.every_bubble()
        return self._full


def _beats(best: Candidate, rival: Candidate, alpha: float) -> bool:
    """Whether ``best``'s print clearly backs it over ``rival``: on the check bubbles, or else on every bubble."""
    if clearly_better(best.evidence, rival.evidence, alpha):
        return True
    full, rival_full = best.full_evidence(), rival.full_evidence()
    return full is not None and rival_full is not None and clearly_better(full, rival_full, alpha)


@dataclass(frozen=True)
class Choice:
    """The winning candidate, or the reason there is none (``candidate`` None)."""

    candidate: Candidate | None
    reason: str = ""


def _angle(candidate: Candidate) -> int:
    return int(candidate.fit.orientation)


def choose(candidates: Sequence[Candidate], alpha: float = _ALPHA) -> Choice:
    """The candidate the page's print backs: verified, and clearly better (:func:`clearly_better`) than every
    other candidate; else the reason none is (no candidate verified, or two fit alike)."""
    ranked = sorted(candidates, key=lambda c: (c.verified, c.score), reverse=True)
    if not ranked or not ranked[0].verified:
        return Choice(None, LAYOUT_NOT_FOUND)
    best = ranked[0]
    for rival in ranked[1:]:
        if not _beats(best, rival, alpha):
            return Choice(None, ORIENTATION_AMBIGUOUS.format(
                page=best.page.expanded.page, angle=_angle(best), rival_page=rival.page.expanded.page,
                rival_angle=_angle(rival)))
    return Choice(best)
