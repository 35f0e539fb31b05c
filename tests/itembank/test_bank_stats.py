"""Statistics from a graded exam: P, discrimination and (from 100 students) Rasch b land on the bank's items, with
the exam's use; the same exam is not counted twice, and earlier use is pooled."""

from __future__ import annotations

import csv
import json
from datetime import date

import numpy as np
import pytest

from analytics.bank_stats import observe_items, sitting_classes
from analytics.load import load_grade_output
from bank_builders import item
from grading.exam import parse_exam
from itembank.model import Bank, ItemStats
from itembank.stats import MIN_RASCH_STUDENTS, apply_observations

TRUE_B = [-2.0, -1.0, 0.0, 1.0, 2.0]


def _graded_exam(folder, students: int, seed: int = 0):
    """An exam of five 2-point single-choice items (b = -2 … 2) and one 10-point written item, its scores.csv
    for ``students`` students of classes 0701 and 0702 (one more absent) and the score matrix."""
    exam = parse_exam({"id": "u3", "subject": "数学", "full_marks": 20, "questions": [
        *({"id": f"Q{k + 1}", "type": "single", "points": 2, "answers": ["A"], "item_id": f"I{k + 1}"}
          for k in range(5)),
        {"id": "Q6", "type": "subjective", "points": 10, "item_id": "I6"}]})
    rng = np.random.default_rng(seed)
    theta = rng.normal(0, 1.2, students)
    right = rng.random((students, 5)) < 1 / (1 + np.exp(-(theta[:, None] - np.array(TRUE_B))))
    essay = np.clip(np.round(5 + 2 * theta + rng.normal(0, 1.5, students)), 0, 10)
    scores = np.column_stack([2.0 * right, essay])
    folder.mkdir()
    with open(folder / "scores.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["exam_id", "student_no", "name", "class", "school_code", "status", "total",
                         *(f"Q{k}_score" for k in range(1, 7))])
        for i in range(students):
            writer.writerow([f"{i:06d}", f"S{i}", f"学生{i}", "0701" if i % 2 else "0702", "3433", "graded",
                             f"{scores[i].sum():g}", *(f"{v:g}" for v in scores[i])])
        writer.writerow(["999999", "S-absent", "缺考生", "0703", "3433", "absent", "", *[""] * 6])
    (folder / "summary.json").write_text(json.dumps({"exam": "u3", "full_marks": 20}))
    return exam, scores


def _bank(**first_stats) -> Bank:
    items = [item(f"I{k}", p=None) for k in range(1, 6)] + [item("I6", kind="subjective", p=None, points=10)]
    if first_stats:
        items[0] = items[0].model_copy(update={"stats": ItemStats(**first_stats)})
    return Bank(items=items)


def test_a_graded_exam_updates_every_item(tmp_path):
    exam, scores = _graded_exam(tmp_path / "marks", 400)
    data = load_grade_output(tmp_path / "marks", exam)
    bank, report = apply_observations(_bank(), observe_items(data), exam_id=exam.id, exam_date=date(2026, 11, 20),
                                      classes=sitting_classes(data))
    assert report.updated == ["I1", "I2", "I3", "I4", "I5", "I6"] and report.skipped == []
    items = bank.by_id()
    points = np.array([2, 2, 2, 2, 2, 10.0])
    totals = scores.sum(axis=1)
    for j in range(6):
        stats = items[f"I{j + 1}"].stats
        assert stats.students == 400  # the absent student is not counted
        assert stats.p == pytest.approx(scores[:, j].mean() / points[j])
        rest = totals - scores[:, j]
        assert stats.discrimination == pytest.approx(np.corrcoef(scores[:, j], rest)[0, 1])
        assert [(u.exam_id, u.date, u.classes) for u in items[f"I{j + 1}"].uses] == \
               [("u3", date(2026, 11, 20), ["0701", "0702"])]
    b = [items[f"I{k}"].stats.rasch_b for k in range(1, 6)]
    assert b == sorted(b) and np.allclose(b, TRUE_B, atol=0.45)  # the easy item lowest, within ~2 SE
    assert items["I6"].stats.rasch_b is None  # a written answer is not a Rasch (0/1) item


def test_rasch_b_waits_for_enough_students(tmp_path):
    exam, _ = _graded_exam(tmp_path / "marks", MIN_RASCH_STUDENTS - 1)
    data = load_grade_output(tmp_path / "marks", exam)
    bank, _ = apply_observations(_bank(rasch_b=0.7, students=500, p=0.4), observe_items(data), exam_id=exam.id,
                                 exam_date=date(2026, 11, 20), classes=sitting_classes(data))
    first = bank.by_id()["I1"].stats
    assert first.rasch_b == 0.7  # the earlier b is kept: 99 students do not replace it
    assert all(bank.by_id()[f"I{k}"].stats.rasch_b is None for k in range(2, 6))


def test_earlier_use_is_pooled_and_an_exam_counts_once(tmp_path):
    exam, scores = _graded_exam(tmp_path / "marks", 150)
    data = load_grade_output(tmp_path / "marks", exam)
    observations = observe_items(data)
    once, _ = apply_observations(_bank(students=100, p=0.5), observations, exam_id=exam.id,
                                 exam_date=date(2026, 11, 20), classes=["0701"])
    stats = once.by_id()["I1"].stats
    assert stats.students == 250 and stats.p == pytest.approx((0.5 * 100 + scores[:, 0].mean() / 2 * 150) / 250)
    twice, report = apply_observations(once, observations, exam_id=exam.id, exam_date=date(2026, 11, 20),
                                       classes=["0701"])
    assert twice == once and report.updated == [] and "I1: exam u3 already counted" in report.skipped


def test_items_the_bank_does_not_hold_are_named(tmp_path):
    exam, _ = _graded_exam(tmp_path / "marks", 20)
    data = load_grade_output(tmp_path / "marks", exam)
    small = Bank(items=[item("I1", p=None)])
    _, report = apply_observations(small, observe_items(data), exam_id=exam.id, exam_date=date(2026, 11, 20),
                                   classes=[])
    assert report.updated == ["I1"] and "I2: not in the bank" in report.skipped
