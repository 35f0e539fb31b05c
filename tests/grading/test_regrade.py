"""Key changes after marking: the exam changes, one column is re-scored, totals follow, and the log records it."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pytest

from grading.exam import Exam, ExamError
from grading.mark import Reading, Responses, encode_responses, grade
from grading.regrade import (
    ChangeRecord, KeyChange, append_change_log, apply_change, load_changes, read_change_log, regrade,
)
from grading_builders import PERFECT, sheet, small_exam

WHEN = dt.datetime(2026, 6, 8, 15, 30, tzinfo=dt.timezone(dt.timedelta(hours=8)))


def _grades(exam: Exam):
    sheets = [
        sheet("1", PERFECT, {"Q9": 10}),
        sheet("2", {**PERFECT, "Q1": "C", "Q3": "AC", "Q4": "A"}, {"Q9": 5}),
        sheet("3", {**PERFECT, "Q2": "D"}, {"Q9": 7}, uncertain={"Q6": ("", "T")}),
        None,
    ]
    return grade(exam, encode_responses(exam, [(str(i), s, None) for i, s in enumerate(sheets)]))


@pytest.mark.parametrize("change, check", [
    (KeyChange(action="void", question="Q1"), lambda e: e.question("Q1").status == "void" and e.full_marks == 30),
    (KeyChange(action="bonus", question="Q8"), lambda e: e.question("Q8").status == "bonus" and e.full_marks == 34),
    (KeyChange(action="restore", question="Q8"), lambda e: e.question("Q8").status == "normal" and e.full_marks == 34),
    (KeyChange(action="restore", question="Q7"), lambda e: e.question("Q7").status == "normal" and e.full_marks == 32),
    (KeyChange(action="accept", question="Q1", answer="c"), lambda e: e.question("Q1").answers == ["A", "C"]),
    (KeyChange(action="accept", question="Q3", answer="DA"), lambda e: e.question("Q3").answers == ["ACD", "AD"]),
    (KeyChange(action="set_answers", question="Q4", answers=["BD"]), lambda e: e.question("Q4").answers == ["BD"]),
    (KeyChange(action="set_points", question="Q1", points=5), lambda e: e.question("Q1").points == 5
     and e.full_marks == 35),
    (KeyChange(action="set_points", question="Q8", points=5), lambda e: e.full_marks == 32),  # void: not counted
    (KeyChange(action="set_points", question="Q3", points=6, partial_points=3),
     lambda e: e.question("Q3").partial_points == 3 and e.full_marks == 33),
    (KeyChange(action="set_rule", question="Q3", rule="all_or_nothing"),
     lambda e: e.question("Q3").rule == "all_or_nothing" and e.question("Q3").partial_points is None),
    (KeyChange(action="set_rule", question="Q4", rule="per_option", option_points={"A": 3, "C": 1}),
     lambda e: e.question("Q4").option_points == {"A": 3, "C": 1}),
])
def test_apply_change(exam: Exam, change: KeyChange, check):
    changed = apply_change(exam, change)
    assert check(changed)
    assert exam == small_exam()  # the input exam is unchanged


@pytest.mark.parametrize("change, message", [
    (KeyChange(action="void", question="Q8"), "void Q8: the question is already void"),
    (KeyChange(action="void", question="Q42"), "exam t-math has no question Q42"),
    (KeyChange(action="accept", question="Q1", answer="a"), "accept Q1: 'a' is already accepted"),
    (KeyChange(action="accept", question="Q1", answer="E"), "answer 'E' not among options A–D"),
    (KeyChange(action="accept", question="Q1"), "accept Q1: give answer"),
    (KeyChange(action="set_points", question="Q3", points=2), "partial_points 2 must be above 0 and below"),
    (KeyChange(action="set_points", question="Q5", points=5, option_points={"B": 1, "D": 1}), "add up to 2"),
    (KeyChange(action="set_rule", question="Q3", rule="gaokao"), "rule gaokao needs partial_points"),
    (KeyChange(action="set_rule", question="Q1", rule="gaokao", partial_points=1), "multi-select questions only"),
])
def test_changes_that_cannot_apply(exam: Exam, change: KeyChange, message: str):
    with pytest.raises(ExamError, match=message):
        apply_change(exam, change)


def test_regrade_void_bonus_accept_and_record(exam: Exam):
    grades = _grades(exam)
    assert grades.totals[:2].tolist() == [32, 18] and np.isnan(grades.totals[2:]).all()
    voided, record = regrade(grades, KeyChange(action="void", question="Q1", reason="printing error"), by="王老师",
                             at=WHEN)
    assert voided.exam.full_marks == 30 and voided.totals[:2].tolist() == [30, 18]
    assert np.isnan(voided.scores[:, 0]).all()
    assert record.at == "2026-06-08T15:30:00+08:00" and record.by == "王老师" and record.exam == "t-math"
    assert record.before["status"] == "normal" and record.after["status"] == "void"
    assert (record.full_marks_before, record.full_marks_after) == (32, 30)
    assert record.students_changed == 3 and record.mean_after is None
    assert record.mean_before == pytest.approx(4 / 3, abs=1e-4)
    assert record.change.reason == "printing error"
    accepted, record = regrade(voided, KeyChange(action="accept", question="Q3", answer="AC"), by="李老师", at=WHEN)
    assert accepted.totals[:2].tolist() == [30, 21] and record.students_changed == 1
    pending_resolved, _ = regrade(accepted, KeyChange(action="bonus", question="Q6"), by="李老师", at=WHEN)
    assert list(pending_resolved.student_status) == ["graded", "graded", "graded", "not_sitting"]
    # Q1 void, Q2 wrong, Q6 bonus (its uncertain reading no longer matters), Q9 7
    assert pending_resolved.totals[2] == 25
    assert list(grades.student_status)[2] == "pending"  # the earlier grades are untouched


def test_regrade_equals_grading_the_changed_exam(exam: Exam):
    grades = _grades(exam)
    for change in (KeyChange(action="set_points", question="Q2", points=4),
                   KeyChange(action="set_rule", question="Q3", rule="per_option"),
                   KeyChange(action="restore", question="Q8")):
        grades, _ = regrade(grades, change, by="t")
        fresh = grade(grades.exam, grades.responses)
        np.testing.assert_array_equal(grades.scores, fresh.scores)
        np.testing.assert_array_equal(grades.totals, fresh.totals)
        np.testing.assert_array_equal(grades.section_totals, fresh.section_totals)
        np.testing.assert_array_equal(grades.pending, fresh.pending)


def _random_responses(exam: Exam, students: int, rng: np.random.Generator) -> Responses:
    n = len(exam.questions)
    marked = np.zeros((students, n), np.uint16)
    values = np.full((students, n), np.nan)
    for j, q in enumerate(exam.questions):
        if q.type == "subjective":
            values[:, j] = rng.integers(0, 2 * q.points + 1, students) / 2
        else:
            marked[:, j] = rng.integers(0, 1 << len(q.options), students)
    status = np.where(rng.random((students, n)) < 0.001, Reading.UNCERTAIN, Reading.OK).astype(np.int8)
    return Responses(np.array([str(i) for i in range(students)], dtype=object), tuple(exam.question_ids), marked,
                     np.zeros_like(marked), np.zeros(marked.shape, bool), status, values,
                     rng.random(students) > 0.02, np.zeros(students, np.int8))


def test_regrading_100k_students_changes_only_the_affected_column():
    questions = []
    for n in range(1, 61):
        kind = "single" if n <= 40 else "multi" if n <= 50 else "truefalse" if n <= 55 else "subjective"
        q = {"id": f"Q{n}", "type": kind, "points": 5 if kind == "subjective" else 2}
        if kind != "subjective":
            q["answers"] = ["AC"] if kind == "multi" else ["T"] if kind == "truefalse" else ["B"]
        if kind == "multi":
            q.update(rule="gaokao", partial_points=1)
        questions.append(q)
    exam = small_exam(questions=questions, full_marks=2 * 55 + 25, versions={}, default_version=None, sections=[])
    grades = grade(exam, _random_responses(exam, 100_000, np.random.default_rng(7)), policy="score_as_read")
    changes = [KeyChange(action="void", question="Q7"), KeyChange(action="accept", question="Q44", answer="ACD"),
               KeyChange(action="bonus", question="Q52"), KeyChange(action="set_points", question="Q58", points=3)]
    for change in changes:
        updated, record = regrade(grades, change, by="bench")
        j = exam.question_ids.index(change.question)
        others = np.delete(np.arange(60), j)
        np.testing.assert_array_equal(updated.scores[:, others], grades.scores[:, others])
        active = [k for k, q in enumerate(updated.exam.questions) if q.status != "void"]
        sitting = updated.responses.sitting
        np.testing.assert_allclose(updated.totals[sitting], updated.scores[sitting][:, active].sum(axis=1))
        assert np.isnan(updated.totals[~sitting]).all()
        assert (updated.totals[sitting] <= updated.exam.full_marks + 1e-9).all()
        before, after = grades.scores[:, j], updated.scores[:, j]
        moved = ~((before == after) | (np.isnan(before) & np.isnan(after)))
        assert record.students_changed == int(moved[sitting].sum()) > 0
        grades = updated
    assert grades.exam.full_marks == 2 * 55 + 25 - 2 - 2
    assert (grades.scores[grades.responses.sitting, 51] == 2).all()


def test_change_log_is_append_only(tmp_path: Path, exam: Exam):
    log = tmp_path / "key_changes.jsonl"
    grades = _grades(exam)
    grades, first = regrade(grades, KeyChange(action="void", question="Q1"), by="王老师", at=WHEN)
    append_change_log(log, first)
    before = log.read_text(encoding="utf-8")
    _, second = regrade(grades, KeyChange(action="bonus", question="Q2"), by="李老师", at=WHEN)
    append_change_log(log, second)
    text = log.read_text(encoding="utf-8")
    assert text.startswith(before) and text.count("\n") == 2
    assert "王老师" in text  # readable, not \\u-escaped
    records = read_change_log(log)
    assert [r.by for r in records] == ["王老师", "李老师"] and isinstance(records[0], ChangeRecord)
    assert records[1].change == KeyChange(action="bonus", question="Q2")


def test_load_changes(tmp_path: Path):
    path = tmp_path / "changes.json"
    path.write_text(json.dumps({"changes": [{"action": "void", "question": "Q3", "reason": "题目有误"}]}),
                    encoding="utf-8")
    assert load_changes(path) == [KeyChange(action="void", question="Q3", reason="题目有误")]
    path.write_text(json.dumps([{"action": "erase", "question": "Q3"}, {"question": "Q1"}]), encoding="utf-8")
    with pytest.raises(ExamError, match="change 1: action: .*change 2: action: Field required"):
        load_changes(path)
    path.write_text("[", encoding="utf-8")
    with pytest.raises(ExamError, match="not valid JSON"):
        load_changes(path)
    path.write_text('{"void": "Q1"}', encoding="utf-8")
    with pytest.raises(ExamError, match="expected a list"):
        load_changes(path)
