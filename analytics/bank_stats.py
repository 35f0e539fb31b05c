"""Item-bank statistics measured on one graded exam: for each question that carries a bank item id, its P,
corrected item–total correlation and Rasch b over the graded students (``itembank.stats`` folds them into the bank).

Definitions as :mod:`analytics.items` (P_j = mean score / points; discrimination = corrected item–total
correlation ``total_r_if_rm``) and :func:`analytics.diagnosis.fit_rasch` (MML Rasch over the exam's objective
questions, each scored right or wrong; subjective questions get no b: a dichotomised essay score is not the
Rasch item the bank's information calculations assume). b is estimated only when at least
:data:`itembank.stats.MIN_RASCH_STUDENTS` students were graded.
"""

from __future__ import annotations

import numpy as np

from analytics.diagnosis import dichotomise, fit_rasch
from analytics.items import item_analysis
from analytics.model import ExamData
from itembank.stats import MIN_RASCH_STUDENTS, ItemObservation

__all__ = ["observe_items", "sitting_classes"]


def _value(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None


def observe_items(data: ExamData) -> list[ItemObservation]:
    """One observation per analysed question that has an ``item_id`` (void questions are not analysed)."""
    questions = {q.id: q for q in data.exam.questions}
    graded = data.graded
    scores = data.scores[graded]
    n = int(graded.sum())
    if n == 0:
        return [ItemObservation(q.item_id, 0, None, None) for qid in data.item_ids
                if (q := questions[qid]).item_id]
    stats = item_analysis(scores, data.points, data.item_ids)
    objective = np.array([questions[qid].type != "subjective" for qid in data.item_ids], bool)
    b = np.full(len(data.item_ids), np.nan)
    if n >= MIN_RASCH_STUDENTS and objective.any():
        fit = fit_rasch(dichotomise(scores[:, objective], data.points[objective]))
        b[objective] = fit.difficulty
    return [ItemObservation(q.item_id, n, _value(stats.difficulty[j]), _value(stats.total_r_if_rm[j]),
                            _value(b[j]))
            for j, qid in enumerate(data.item_ids) if (q := questions[qid]).item_id]


def sitting_classes(data: ExamData) -> list[str]:
    """The classes of the graded students (the classes that sat the exam), sorted, empty names left out."""
    return sorted({str(c) for c in data.classes[data.graded].tolist() if str(c)})
