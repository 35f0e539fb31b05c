"""Statistics from past use: what one graded exam showed about each bank item it used, folded into the bank.

An exam's questions carry their item's id (``Question.item_id``); for each such question the caller measures an
:class:`ItemObservation` over the students who sat and were graded (``analytics.bank_stats`` does it from a
``yuejuan grade`` output folder), and :func:`apply_observations` folds them into the items:

- ``students`` adds up the students of every exam counted;
- ``p`` (classical difficulty, mean score / points) is the pooled P over all those students: the students-weighted
  mean of the exams' P, which equals P over the pooled responses;
- ``discrimination`` (corrected item–total correlation) is the students-weighted mean of the exams' correlations:
  an approximation (correlations do not pool exactly), stated as such;
- ``rasch_b`` is the latest exam's Rasch difficulty, and only when that exam had at least
  :data:`MIN_RASCH_STUDENTS` graded students. Each exam's b is on its own scale (its students' θ centred on 0), so
  b's of different exams are not averaged; linking scales through common items is ``analytics``' job.
- an :class:`~itembank.model.ItemUse` records the exam, its date and the classes that sat it (what 组卷's "not seen
  since" rule reads). An exam already recorded on an item is not counted twice.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date

from itembank.model import Bank, ItemStats, ItemUse

__all__ = ["MIN_RASCH_STUDENTS", "ItemObservation", "StatsUpdate", "apply_observations"]

#: Graded students an exam needs before its Rasch b is kept. The standard error of a Rasch difficulty is about
#: 1 / sqrt(N P (1 - P)); with N = 100 and 0.2 <= P <= 0.8 it is at most 0.25 logit, so the 95 % interval is within
#: ±0.5 logit: Linacre's (1994, "Sample size and item calibration stability", Rasch Measurement Transactions 7:4)
#: range for stable calibrations (64–144 persons for ±0.5 logit at 95 % confidence). Fewer students give b's whose
#: error is as wide as the difference between an easy and a hard item, useless for 组卷's test information.
MIN_RASCH_STUDENTS = 100


@dataclass(frozen=True)
class ItemObservation:
    """What one exam showed about one item, over ``students`` graded students.

    ``rasch_b`` is None when the exam did not estimate it (subjective items, too few students).
    """

    item_id: str
    students: int
    p: float | None
    discrimination: float | None
    rasch_b: float | None = None


@dataclass
class StatsUpdate:
    """What :func:`apply_observations` did: items updated, and ids it could not use with the reason."""

    updated: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def _finite(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def _pooled(old: float | None, old_n: int, new: float | None, new_n: int) -> float | None:
    if new is None:
        return old
    if old is None or old_n <= 0:
        return new
    return (old * old_n + new * new_n) / (old_n + new_n)


def _merge(stats: ItemStats, seen: ItemObservation) -> ItemStats:
    p, r = _finite(seen.p), _finite(seen.discrimination)
    b = _finite(seen.rasch_b) if seen.students >= MIN_RASCH_STUDENTS else None
    return ItemStats(
        students=stats.students + seen.students,
        p=None if (value := _pooled(stats.p, stats.students, p, seen.students)) is None else min(max(value, 0.0), 1.0),
        discrimination=None if (value := _pooled(stats.discrimination, stats.students, r, seen.students)) is None
        else min(max(value, -1.0), 1.0),
        rasch_b=stats.rasch_b if b is None else min(max(b, -10.0), 10.0))


def apply_observations(bank: Bank, observations: list[ItemObservation], *, exam_id: str, exam_date: date,
                       classes: list[str]) -> tuple[Bank, StatsUpdate]:
    """The bank with each observed item's statistics updated and the exam's use appended (see the module).

    Items the bank does not hold, observations of no student, and items that already record ``exam_id`` are
    skipped and named in :attr:`StatsUpdate.skipped`.
    """
    by_id = bank.by_id()
    report = StatsUpdate()
    changed = {}
    use = ItemUse(exam_id=exam_id, date=exam_date, classes=sorted(set(classes)))
    for seen in observations:
        item = by_id.get(seen.item_id)
        if item is None:
            report.skipped.append(f"{seen.item_id}: not in the bank")
        elif seen.students <= 0:
            report.skipped.append(f"{seen.item_id}: no graded student answered it")
        elif any(u.exam_id == exam_id for u in item.uses):
            report.skipped.append(f"{seen.item_id}: exam {exam_id} already counted")
        elif seen.item_id in changed:
            report.skipped.append(f"{seen.item_id}: on the paper twice; counted once")
        else:
            changed[seen.item_id] = item.model_copy(update={"stats": _merge(item.stats, seen),
                                                            "uses": [*item.uses, use]})
            report.updated.append(seen.item_id)
    items = [changed.get(item.id, item) for item in bank.items]
    return bank.model_copy(update={"items": items}), report
