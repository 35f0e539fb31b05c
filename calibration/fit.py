"""Fit a station's profile to labelled pages, and accept it only when held-back pages say it is better.

Two steps. First the print baseline: per bubble, the median darkness over the training pages where a person
said it was empty (a station's paper, printer and scanner make the printed outline and label read darker or
lighter than the render). Then the thresholds, by coordinate search: each of ``empty_max``, ``blank_trace``,
``filled_floor``, ``relative_filled``, ``filled_min``, ``lone_sigmas`` and ``lone_ratio`` in turn takes the
value on its grid that flags fewest training groups while no training group is read wrong but sure, also when
every empty bubble reads ``margin`` darker and every mark ``margin`` lighter (room for scans a little worse than
these). The result is judged on held-back pages it never saw: accepted only when it flags fewer of them than
the base profile and reads none wrong but sure, and only when that is more than chance: McNemar's exact test on
the held-back groups whose reading changed (flagged before and sure and right after, or the other way round)
must give p < ``max_p``. A threshold moved to save a handful of flags is not worth the risk it brings to pages
unlike these.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Sequence

import numpy as np

from calibration.evaluate import Score, page_baseline, paired_changes, score_pages
from calibration.labels import LabelledPage
from omr.profile import ScannerProfile, profile_to_dict

__all__ = ["FitReport", "SEARCH_GRID", "fit_profile", "learn_baselines", "mcnemar_p"]

#: Candidate values of each fitted threshold (the profile's own value is always a candidate too).
SEARCH_GRID: dict[str, tuple[float, ...]] = {
    "empty_max": tuple(np.round(np.arange(0.06, 0.205, 0.01), 3)),
    "blank_trace": tuple(np.round(np.arange(0.05, 0.205, 0.01), 3)),
    "filled_floor": tuple(np.round(np.arange(0.2, 0.455, 0.025), 3)),
    "relative_filled": tuple(np.round(np.arange(0.4, 0.705, 0.05), 3)),
    "filled_min": tuple(np.round(np.arange(0.4, 0.605, 0.05), 3)),
    "lone_sigmas": (4.0, 5.0, 6.0, 7.0, 8.0, 10.0, 12.0),
    "lone_ratio": (0.3, 0.35, 0.4, 0.45, 0.5, 0.6),
}
_MIN_EMPTY_PAGES = 3  # a bubble's baseline is learned only from at least this many pages where it was empty


@dataclass
class FitReport:
    """What :func:`fit_profile` found: the fitted profile, the base's and its scores on held-back pages."""

    profile: ScannerProfile
    before: Score
    after: Score
    accepted: bool
    train_pages: int
    held_back_pages: int
    reason: str  # why accepted or not, in words
    improved: int = 0  # held-back groups flagged before, sure and right after
    worsened: int = 0  # held-back groups sure and right before, flagged after
    p_value: float = 1.0  # McNemar's exact test (one-sided) on those two counts

    def to_dict(self) -> dict:
        return {
            "accepted": self.accepted, "reason": self.reason, "train_pages": self.train_pages,
            "held_back_pages": self.held_back_pages, "before": self.before.to_dict(), "after": self.after.to_dict(),
            "improved": self.improved, "worsened": self.worsened, "p_value": round(self.p_value, 6),
            "profile": profile_to_dict(self.profile),
        }


def mcnemar_p(better: int, worse: int) -> float:
    """One-sided exact McNemar test: the chance of at least ``better`` of ``better + worse`` discordant pairs going
    the better way if either way were equally likely (binomial, p = 1/2)."""
    n = better + worse
    return sum(math.comb(n, k) for k in range(better, n + 1)) / 2 ** n if n else 1.0


def learn_baselines(pages: Sequence[LabelledPage], base: ScannerProfile) -> dict:
    """``print_baselines`` for ``base`` updated from the labelled-empty bubbles of ``pages`` (see module doc).

    Bubbles empty on fewer than three pages take the shift the bubbles printed alike took.
    """
    learned = {key: {"layout": entry["layout"], "pages": list(entry["pages"])}
               for key, entry in base.print_baselines.items()}
    by_page: dict[tuple[str, str, int], list[LabelledPage]] = {}
    for page in pages:
        by_page.setdefault((page.template_id, page.layout, page.page), []).append(page)
    for (template_id, layout, number), group in sorted(by_page.items()):
        current = page_baseline(group[0], base)
        darkness = np.stack([p.darkness for p in group])
        empty = np.stack([p.empty_bubbles for p in group])
        known = empty.sum(axis=0) >= _MIN_EMPTY_PAGES
        learned_here = np.array(current, np.float64)
        for bubble in np.flatnonzero(known):
            learned_here[bubble] = np.median(darkness[empty[:, bubble], bubble])
        baseline = _fill_unknown(learned_here, current, known, group[0].label_index)
        entry = learned.get(template_id)
        if entry is None or entry["layout"] != layout:
            entry = learned[template_id] = {"layout": layout, "pages": []}
        while len(entry["pages"]) < number:
            entry["pages"].append(())
        entry["pages"][number - 1] = tuple(np.round(np.clip(baseline, -0.95, 0.95), 4).tolist())
    # A page never seen in training holds an empty tuple: the reader's bubble-count check then uses the render.
    return learned


def _fill_unknown(learned: np.ndarray, current: np.ndarray, known: np.ndarray, label_index: np.ndarray
                  ) -> np.ndarray:
    """Bubbles seen empty too rarely (an answer most students mark) get the shift from the reader's baseline
    that the bubbles printed alike got (else the page's): one bubble left on the old print among learned ones
    would read darker than its neighbours by the whole shift, as a mark."""
    if not known.any():
        return current
    shift = learned - current
    page_shift = float(np.median(shift[known]))
    out = learned.copy()
    for kind in np.unique(label_index[~known]):
        alike = (label_index == kind) & known
        kind_shift = float(np.median(shift[alike])) if alike.any() else page_shift
        unknown = (label_index == kind) & ~known
        out[unknown] = current[unknown] + kind_shift
    return out


def _safe(profile: ScannerProfile, train: Sequence[LabelledPage], margin: float, ambiguous_limit: int
          ) -> Score | None:
    """The training score when ``profile`` reads no clear group wrong but sure, with and without the margin, and
    no more ambiguous ones than ``ambiguous_limit``; else None."""
    if score_pages(train, profile, margin=margin).wrong_sure:
        return None
    score = score_pages(train, profile)
    return score if score.wrong_sure == 0 and score.ambiguous_wrong <= ambiguous_limit else None


def fit_profile(train: Sequence[LabelledPage], held_back: Sequence[LabelledPage], base: ScannerProfile, *,
                margin: float = 0.03, passes: int = 2, max_p: float = 0.05) -> FitReport:
    """Fit print baselines and thresholds on ``train``; judge them against ``base`` on ``held_back``.

    Parameters
    ----------
    train, held_back : sequences of LabelledPage
        Disjoint labelled pages (held-back pages are only scored).
    base : ScannerProfile
        The profile in use; the fit starts from it and keeps its name.
    margin : float, optional
        Strength by which every labelled empty bubble is darkened and every mark lightened when checking that no
        training group is read wrong but sure.
    passes : int, optional
        Rounds of the coordinate search.
    max_p : float, optional
        Significance the held-back improvement needs (McNemar's exact test, see the module doc).
    """
    if not train or not held_back:
        raise ValueError("fitting a profile needs labelled training pages and held-back pages")
    # The base may already read a faint mark wrong; a fit may not do so more often.
    ambiguous_limit = score_pages(train, base).ambiguous_wrong
    best = replace(base, print_baselines=learn_baselines(train, base))
    best_score = _safe(best, train, margin, ambiguous_limit)
    if best_score is None:  # the baseline alone reads a training mark wrong: keep the base's print
        best = base
        best_score = _safe(best, train, margin, ambiguous_limit)
    for _ in range(passes):
        for name, grid in SEARCH_GRID.items():
            for value in sorted(set(grid) | {getattr(best, name)}):
                try:
                    candidate = replace(best, **{name: float(value)})
                except ValueError:  # breaks an ordering the profile requires (e.g. blank_trace <= empty_max)
                    continue
                score = _safe(candidate, train, margin, ambiguous_limit)
                if score is None:
                    continue
                if best_score is None or score.flagged < best_score.flagged:
                    best, best_score = candidate, score
    before = score_pages(held_back, base)
    after = score_pages(held_back, best)
    improved, worsened = paired_changes(held_back, base, best)
    p_value = mcnemar_p(improved, worsened)
    if after.wrong_sure:
        accepted, reason = False, f"held-back pages: {after.wrong_sure} read wrong but sure"
    elif after.ambiguous_wrong > before.ambiguous_wrong:
        accepted, reason = False, (f"held-back pages: {after.ambiguous_wrong} hesitant marks read wrong but sure, "
                                   f"{before.ambiguous_wrong} before")
    elif after.flagged >= before.flagged:
        accepted, reason = False, f"held-back pages: flags {after.flagged} not fewer than {before.flagged}"
    elif p_value >= max_p:
        accepted, reason = False, (f"held-back pages: flags {before.flagged} -> {after.flagged} ({improved} groups "
                                   f"better, {worsened} worse) could be chance (p = {p_value:.2g})")
    else:
        accepted, reason = True, (f"held-back pages: flags {before.flagged} -> {after.flagged}, none wrong but sure "
                                  f"(p = {p_value:.2g})")
    return FitReport(best, before, after, accepted, len(train), len(held_back), reason, improved, worsened, p_value)
