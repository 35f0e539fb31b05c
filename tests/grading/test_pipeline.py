"""One exam end to end in memory: corrections, matching, paper versions, subjective import, statuses, exceptions."""

from __future__ import annotations

import pytest

from grading.corrections import Correction
from grading.exam import Exam
from grading.pipeline import grade_sheets, resolve_version
from grading.roster import Roster, Student
from grading.sheets import SheetsFile, UnreadablePage, review_reasons
from grading_builders import PERFECT, sheet, small_exam
from omr.result import QuestionReading

IDS = [f"20260100{n:02d}" for n in range(1, 8)]


def _roster(versions: dict[int, str] | None = None) -> Roster:
    versions = versions or {}
    return Roster([Student(exam_id=i, name=f"学生{k}", class_name=f"{1 + k % 2}班", version=versions.get(k))
                   for k, i in enumerate(IDS)])


B_PERFECT = {**PERFECT, "Q1": "B", "Q2": "A"}  # paper B prints canonical Q2 first


def test_statuses_exceptions_and_summary(exam: Exam):
    sheets = [
        sheet(IDS[0], PERFECT, {"Q9": 10}, number=1),
        sheet(IDS[1], B_PERFECT, {"Q9": 9}, number=2, form="B"),
        sheet(IDS[2], B_PERFECT, {"Q9": 8}, number=3),  # roster says B
        sheet(IDS[3], PERFECT, {"Q9": None}, number=4, uncertain={"Q1": ("", "B")}, form="B"),
        sheet(IDS[4], PERFECT, {"Q9": 1}, number=5, absent=True),
        sheet(IDS[5], PERFECT, {"Q9": 2}, number=6),
        sheet(IDS[5], PERFECT, {"Q9": 3}, number=7),
        sheet("2026019999", PERFECT, {"Q9": 3}, number=8),
    ]
    run = grade_sheets(exam, SheetsFile("r.jsonl", "results_jsonl", sheets, [UnreadablePage("x.jpg", 0, ("blank",))]),
                       _roster({2: "B", 3: "A"}))
    assert run.statuses() == ["graded", "graded", "graded", "pending", "absent", "duplicate", "absent"]
    assert [r.version for r in run.rows] == ["A", "B", "B", "B", None, None, None]
    assert run.grades.totals[:3].tolist() == [32, 31, 30]
    assert run.row_reasons(3) == ["paper version B on the sheet, A on the roster: the sheet's used",
                                  "uncertain: Q1=Q2 (?B)", "score blank: Q9"]
    kinds = [(e.kind, e.exam_id, e.sheet) for e in run.exceptions()]
    assert kinds == [
        ("unknown_id", "2026019999", 8), ("absent_marked", IDS[4], 5), ("duplicate_sheets", IDS[5], 6),
        ("duplicate_sheets", IDS[5], 7), ("no_sheet", IDS[6], None), ("unreadable_page", None, None),
        ("version", IDS[3], 4), ("pending", IDS[3], 4)]
    pending = run.exceptions()[-1]
    assert pending.reason == "uncertain: Q1=Q2 (?B); score blank: Q9" and pending.name == "学生3"
    summary = run.summary()
    assert {k: summary[k] for k in ("students", "graded", "pending", "absent", "duplicate", "unmatched_sheets")} == {
        "students": 7, "graded": 3, "pending": 1, "absent": 2, "duplicate": 1, "unmatched_sheets": 1}
    assert summary["mean_total"] == 31 and summary["exceptions"]["pending"] == 1
    assert run.summary_line().startswith("t-math (数学, full marks 32): students 7, graded 3, pending 1, absent 2")


def test_corrections_resolve_pending_and_fix_ids(exam: Exam):
    sheets = [sheet(IDS[0], PERFECT, {"Q9": None}, number=1, uncertain={"Q3": ("AC", "D")}),
              sheet(None, PERFECT, {"Q9": 7}, number=2)]
    corrections = [Correction(question="Q3", value="ACD", sheet=1, by="王老师"),
                   Correction(question="Q9", value="9", exam_id=IDS[0]),
                   Correction(question="exam_id", value=IDS[1], sheet=2),
                   Correction(question="Q1", value="Z", sheet=2, row=9)]
    run = grade_sheets(exam, sheets, _roster(), corrections=corrections)
    assert run.statuses()[:2] == ["graded", "graded"] and run.grades.totals[:2].tolist() == [31, 29]
    assert len(run.corrections) == 3 and run.summary()["corrections_applied"] == 3
    problems = [e.reason for e in run.exceptions() if e.kind == "correction_problem"]
    assert problems == ["correction row 9 (sheet 2): Q1: 'Z' not among options A–D"]


def test_policy_scores_doubtful_readings_and_reports_them(exam: Exam):
    sheets = [sheet(IDS[0], PERFECT, {"Q9": None}, number=1, uncertain={"Q3": ("AC", "D")})]
    run = grade_sheets(exam, sheets, _roster(), policy="score_as_read")
    assert run.statuses()[0] == "graded" and run.grades.totals[0] == 2 + 2 + 2 + 4 + 4 + 2 + 3
    by_policy = [e for e in run.exceptions() if e.kind == "scored_by_policy"]
    assert [e.reason for e in by_policy] == ["policy score_as_read: Q3, Q9"]
    assert run.summary()["scored_by_policy"] == {"cells": 2, "students": 1}
    assert "policy score_as_read scored 2 reading(s) on 1 sheet(s)" in run.summary_line()


def test_subjective_import_and_capping_exceptions(exam: Exam):
    sheets = [sheet(IDS[0], PERFECT, {"Q9": None}, number=1), sheet(IDS[1], {**PERFECT, "Q4": "ACE"}, {"Q9": 3},
                                                                      number=2)]
    run = grade_sheets(exam, sheets, _roster(), subjective={IDS[0]: {"Q9": 11}, "2026019999": {"Q9": 1}})
    assert run.grades.totals[:2].tolist() == [32, 21]
    kinds = {(e.kind, e.exam_id): e.reason for e in run.exceptions()}
    assert kinds[("score_capped", IDS[0])] == "Q9 score 11 above its 10 points: capped"
    assert kinds[("invalid_mark", IDS[1])] == "marks outside the options (scored 0): Q4"
    assert kinds[("subjective_import", "2026019999")].startswith("subjective scores imported for an exam id")


def test_unknown_version_blocks_scoring():
    exam = small_exam(default_version=None)
    sheets = [sheet(IDS[0], PERFECT, {"Q9": 10}, number=1), sheet(IDS[1], PERFECT, {"Q9": 10}, number=2, form="C")]
    for policy in ("pending", "zero"):
        run = grade_sheets(exam, sheets, _roster(), policy=policy)
        assert run.statuses()[:2] == ["pending", "pending"]
        assert run.row_reasons(0) == ["paper version unknown (no version mark on the sheet, no 卷型 on the roster)"]
        assert run.row_reasons(1) == ["paper version C is not a version of exam t-math (A, B)"]
    fixed = grade_sheets(exam, sheets, _roster(), corrections=[Correction(question="form", value="A", sheet=1)])
    assert fixed.statuses()[0] == "graded"


@pytest.mark.parametrize("versions, form, listed, expected", [
    ({}, "B", None, (None, False)),
    ({"A": {}}, None, None, ("A", False)),
    ({"A": {}, "B": {}}, None, "B", ("B", False)),
    ({"A": {}, "B": {}}, "A", "B", ("A", False)),
    ({"A": {}, "B": {}}, None, None, (None, True)),
])
def test_resolve_version(versions, form, listed, expected):
    exam = small_exam(versions=versions, default_version=None)
    version, _, blocked = resolve_version(exam, sheet("1", form=form), Student(exam_id="1", version=listed))
    assert (version, blocked) == expected


def test_without_roster(exam: Exam):
    run = grade_sheets(exam, [sheet("11", PERFECT, {"Q9": 10}), sheet("12", {}, {})])
    assert [r.exam_id for r in run.rows] == ["11", "12"] and run.statuses() == ["graded", "pending"]
    assert run.row_reasons(1)[0].startswith("no reading: Q1, Q2, Q3")


def test_excluding_a_rescan_resolves_a_duplicate(exam: Exam):
    sheets = [sheet(IDS[0], PERFECT, {"Q9": 10}, number=1), sheet(IDS[0], PERFECT, {"Q9": 10}, number=2)]
    assert grade_sheets(exam, sheets, _roster()).statuses()[0] == "duplicate"
    run = grade_sheets(exam, sheets, _roster(), corrections=[Correction(question="exclude", value="1", sheet=2)])
    assert run.statuses()[0] == "graded" and run.rows[0].sheet.sheet == 1
    assert not [e for e in run.exceptions() if e.kind == "duplicate_sheets"]
    unnamed = grade_sheets(exam, sheets, _roster(), corrections=[Correction(question="exclude", value="1",
                                                                            exam_id=IDS[0], row=4)])
    assert [e.reason for e in unnamed.exceptions() if e.kind == "correction_problem"] == [
        "correction row 4: exclude needs the sheet number"]


def test_sheets_of_another_template_are_reported():
    exam = small_exam(template="cn-a4-55")
    sheets = [sheet(IDS[0], PERFECT, {"Q9": 10}, template_id="cn-a3-100"), sheet(IDS[1], PERFECT, {"Q9": 10},
                                                                                  template_id="cn-a4-55")]
    run = grade_sheets(exam, sheets, _roster())
    assert [e.reason for e in run.exceptions() if e.kind == "template_mismatch"] == [
        "1 sheet(s) read with template cn-a3-100, but exam t-math is for cn-a4-55"]


@pytest.mark.parametrize("review_multiple", [False, True])
def test_sure_double_mark_is_scored_by_the_rule_and_reviewed_only_when_the_exam_asks(review_multiple):
    exam = small_exam(review_multiple=review_multiple)
    double = sheet(IDS[0], PERFECT, {"Q9": 10}, number=1, reasons=["multiple marks: Q1"], status="flagged")
    double.questions["Q1"] = QuestionReading("AB", "multiple", 0.9)  # single choice, key A: scores 0 by the rule
    run = grade_sheets(exam, SheetsFile("r.jsonl", "results_jsonl", [double, sheet(IDS[1], PERFECT, {"Q9": 10},
                                                                                   number=2)]), _roster())
    assert run.statuses()[:2] == ["graded", "graded"]
    assert run.grades.totals[:2].tolist() == [30, 32]  # Q1's 2 points lost either way
    multiple = [e for e in run.exceptions() if e.kind == "multiple_marks"]
    assert [(e.exam_id, e.sheet) for e in multiple] == ([(IDS[0], 1)] if review_multiple else [])
    if review_multiple:
        assert "Q1" in multiple[0].reason and "重复涂卡" in multiple[0].reason


def test_review_reasons_drop_a_sure_double_mark_unless_asked():
    reasons = ["page 1: multiple marks: Q5, Q7", "score multiple: Q56", "uncertain marks: Q3"]
    assert review_reasons(reasons) == ["score multiple: Q56", "uncertain marks: Q3"]
    assert review_reasons(reasons, review_multiple=True) == reasons
    assert review_reasons(["multiple marks: Q5"]) == []
