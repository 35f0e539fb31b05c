"""Reviewer corrections: files, targets (sheet number or exam id), sheet numbering, and problems reported."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from grading.corrections import Correction, apply_corrections, load_corrections
from grading.exam import Exam
from grading.tabular import TableError
from grading_builders import PERFECT, sheet
from omr.result import QuestionReading, ScoreReading


def test_load_csv_and_json(tmp_path: Path):
    path = tmp_path / "review.csv"
    path.write_text("考号,sheet,题号,更正,复核人,原因\n2026010001,,3,A C,王老师,checked the paper\n"
                    ",7,exam_id,2026010002,李老师,\n", encoding="utf-8")
    first, second = load_corrections(path)
    assert first == Correction(question="Q3", value="A C", exam_id="2026010001", by="王老师",
                               reason="checked the paper", row=2)
    assert second.sheet == 7 and second.question == "exam_id" and second.exam_id is None
    data = [{"exam_id": "2026010001", "question": "Q9", "score": 7.5, "who": "张老师"},
            {"sheet": 3, "question": "absent", "marked": "0"}]
    (tmp_path / "review.json").write_text(json.dumps(data), encoding="utf-8")
    loaded = load_corrections(tmp_path / "review.json")
    assert [(c.question, c.value, c.by, c.sheet) for c in loaded] == [("Q9", "7.5", "张老师", None),
                                                                        ("absent", "0", "", 3)]


def test_bad_correction_rows(tmp_path: Path):
    path = tmp_path / "review.csv"
    path.write_text("exam_id,sheet,question,value\n,,Q1,A\n1,x,Q1,A\n", encoding="utf-8")
    with pytest.raises(TableError) as info:
        load_corrections(path)
    assert info.value.errors == ["row 2: give the sheet number or the exam id the correction is for",
                                 "row 3: sheet 'x' is not a sheet number"]
    (tmp_path / "r.json").write_text(json.dumps([{"exam_id": "1", "question": "Q1", "colour": "red"}]))
    with pytest.raises(TableError, match="item 1|row 1: colour"):
        load_corrections(tmp_path / "r.json")
    (tmp_path / "n.csv").write_text("exam_id,value\n1,A\n", encoding="utf-8")
    with pytest.raises(TableError, match="no question"):
        load_corrections(tmp_path / "n.csv")


def test_apply_every_kind_of_correction(exam: Exam):
    sheets = [
        sheet("2026010001", PERFECT, {"Q9": None}, number=1, uncertain={"Q3": ("A", "C")}),
        sheet(None, PERFECT, {"Q9": 5}, number=2),
        sheet("2026010003", PERFECT, {"Q9": 5}, number=3, form="B"),
        sheet("2026010004", PERFECT, number=4, absent=True),
    ]
    corrections = [
        Correction(question="Q3", value="acd", exam_id="2026010001", by="王老师", row=2),
        Correction(question="Q9", value="8.5", exam_id="2026010001", row=3),
        Correction(question="Q5", value="2026010002", sheet=2, row=4),  # Q5 of the sheet whose id is corrected below
        Correction(question="exam_id", value="2026010002", sheet=2, row=5),
        Correction(question="Q1", value="", exam_id="2026010003", row=6),  # on paper B, sheet Q1 = canonical Q2
        Correction(question="form", value="a卷", sheet=3, row=7),
        Correction(question="absent", value="0", exam_id="2026010004", row=8),
    ]
    outcome = apply_corrections(sheets, corrections, exam)
    assert outcome.problems == ["correction row 4 (sheet 2): Q5: '2026010002' not among options A–D"]
    fixed = {s.sheet: s for s in outcome.sheets}
    assert fixed[1].questions["Q3"] == QuestionReading("ACD", "ok", 1.0)
    assert fixed[1].scores["Q9"] == ScoreReading(8.5, "ok", 1.0)
    assert fixed[2].exam_id == "2026010002" and fixed[2].id_status == "corrected"
    assert fixed[3].questions["Q1"] == QuestionReading("", "blank", 1.0) and fixed[3].form == "A"
    assert fixed[4].absent is False
    assert sheets[0].questions["Q3"].status == "uncertain"  # the input is not modified
    audit = [(a.sheet, a.question, a.before, a.after) for a in outcome.applied]
    assert audit == [(2, "exam_id", "(unread)", "2026010002"), (3, "form", "B", "A"), (4, "absent", "1", "0"),
                     (1, "Q3", "A ?C", "ACD"), (1, "Q9", "(blank)", "8.5"), (3, "Q1", "A", "(blank)")]
    assert outcome.applied[3].correction.by == "王老师"


def test_corrections_that_cannot_apply(exam: Exam):
    sheets = [sheet("1", PERFECT, number=1), sheet("1", PERFECT, number=2), sheet("3", PERFECT, number=3)]
    corrections = [
        Correction(question="Q1", value="A", sheet=9, row=2),
        Correction(question="Q1", value="A", exam_id="1", row=3),
        Correction(question="Q1", value="A", exam_id="5", row=4),
        Correction(question="Q99", value="A", sheet=3, row=5),
        Correction(question="Q9", value="-2", sheet=3, row=6),
        Correction(question="Q9", value="ten", sheet=3, row=7),
        Correction(question="absent", value="maybe", sheet=3, row=8),
        Correction(question="form", value="C", sheet=3, row=9),
        Correction(question="exam_id", value="12a", sheet=3, row=10),
    ]
    outcome = apply_corrections(sheets, corrections, exam)
    assert outcome.applied == []
    assert outcome.problems == [
        "correction row 10 (sheet 3): 考号 '12a' must be digits only",  # exam ids first
        "correction row 8 (sheet 3): absent value 'maybe': use 1 (absent) or 0 (sat the exam)",
        "correction row 9 (sheet 3): paper version 'C' is not among A, B",
        "correction row 2: no sheet 9",
        "correction row 3: exam id 1 is on 2 sheets; give the sheet number",
        "correction row 4: exam id 5 is on 0 sheets",
        "correction row 5 (sheet 3): Q99 is not a question of exam t-math",
        "correction row 6 (sheet 3): Q9: score -2 is negative",
        "correction row 7 (sheet 3): Q9: score 'ten' is not a number",
    ]
