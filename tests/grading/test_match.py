"""Matching sheets to roster students: every sheet and every student accounted for, each exception with a reason."""

from __future__ import annotations

import pytest

from grading.match import match_sheets
from grading.reason_text import reason_zh
from grading.roster import Roster, Student
from grading.sheets import UnreadablePage
from grading_builders import sheet

IDS = ["2026010001", "2026010002", "2026010003", "2026010004", "2026010005", "2026010006"]


def _roster() -> Roster:
    return Roster([Student(exam_id=i, name=f"学生{k}", class_name="1班") for k, i in enumerate(IDS, start=1)])


def _kinds(result) -> list[tuple[str, str | None, int | None]]:
    return [(e.kind, e.exam_id, e.sheet) for e in result.exceptions]


def test_every_outcome_with_its_reason():
    sheets = [
        sheet(IDS[0], {"Q1": "A"}, number=1),  # matched
        sheet("2026019999", {"Q1": "A"}, number=2),  # unknown id
        sheet(IDS[1], {"Q1": "A"}, number=3),  # two sheets with one id
        sheet(IDS[1], {"Q1": "B"}, number=4),
        sheet(IDS[2], {"Q1": ""}, number=5, absent=True),  # absent, blank
        sheet(IDS[3], {"Q1": "C"}, number=6, absent=True),  # absent mark but answers
        sheet(None, {"Q1": "A"}, number=7),  # id unreadable
        sheet(IDS[4], {"Q1": "A"}, number=8, reasons=["absent mark uncertain"]),
    ]
    result = match_sheets(sheets, _roster(), [UnreadablePage("scan/x.jpg", 2, ("no anchors found",))])
    outcome = {m.exam_id: m.outcome for m in result.students}
    assert outcome == {IDS[0]: "sheet", IDS[1]: "duplicate", IDS[2]: "absent", IDS[3]: "absent", IDS[4]: "sheet",
                       IDS[5]: "absent"}
    assert [s.sheet for s in result.unmatched] == [2, 7]
    assert _kinds(result) == [
        ("unknown_id", "2026019999", 2),
        ("id_unreadable", None, 7),
        ("duplicate_sheets", IDS[1], 3),
        ("duplicate_sheets", IDS[1], 4),
        ("absent_marked", IDS[2], 5),
        ("absent_marked", IDS[3], 6),
        ("absent_uncertain", IDS[4], 8),
        ("no_sheet", IDS[5], None),
        ("unreadable_page", None, None),
    ]
    reasons = {(e.kind, e.sheet): e.reason for e in result.exceptions}
    assert reasons[("unknown_id", 2)] == "exam id 2026019999 not on the roster"
    assert reasons[("id_unreadable", 7)] == "exam id unreadable (grid uncertain, no barcode)"
    assert reasons[("duplicate_sheets", 3)] == "2 sheets with this exam id: sheets 3, 4"
    assert reasons[("absent_marked", 5)] == "sheet marked absent (缺考)"
    assert reasons[("absent_marked", 6)] == "sheet marked absent (缺考) but it has answers: check the mark"
    assert reasons[("no_sheet", None)] == "no sheet (counted as absent, 缺考)"
    assert result.exceptions[-1].source == "scan/x.jpg#3" and result.exceptions[-1].reason == "no anchors found"
    by_id = {m.exam_id: m for m in result.students}
    assert by_id[IDS[0]].sheet.sheet == 1 and by_id[IDS[0]].student.name == "学生1"
    assert [s.sheet for s in by_id[IDS[1]].duplicates] == [3, 4]
    assert by_id[IDS[4]].absent_uncertain


def test_barcode_when_the_grid_id_is_not_on_the_roster():
    result = match_sheets([sheet("2026010009", number=1, barcode=IDS[0]),
                           sheet(None, number=2, barcode=IDS[1]),
                           sheet(IDS[2], number=3, barcode=IDS[3])], _roster())
    outcome = {m.exam_id: (m.outcome, m.sheet.sheet if m.sheet else None) for m in result.students}
    assert outcome[IDS[0]] == ("sheet", 1) and outcome[IDS[1]] == ("sheet", 2)
    assert outcome[IDS[2]] == ("absent", None) and outcome[IDS[3]] == ("absent", None)
    notes = [(e.kind, e.reason) for e in result.exceptions if e.sheet]
    assert notes == [("id_from_barcode", f"id grid read 2026010009 (not on the roster); barcode {IDS[0]} used"),
                     ("id_conflict", f"id grid {IDS[2]} and barcode {IDS[3]} name two different students")]
    assert [s.sheet for s in result.unmatched] == [3]


def test_unreadable_absent_sheet_says_both():
    result = match_sheets([sheet(None, number=1, absent=True)], _roster())
    assert result.exceptions[0].reason == "exam id unreadable (grid uncertain, no barcode); sheet marked absent"


def test_without_a_roster_every_id_is_a_student():
    result = match_sheets([sheet("7", number=1), sheet("8", number=2), sheet("7", number=3), sheet(None, number=4)])
    assert [(m.exam_id, m.outcome) for m in result.students] == [("7", "duplicate"), ("8", "sheet")]
    assert [e.kind for e in result.exceptions] == ["id_unreadable", "duplicate_sheets", "duplicate_sheets"]
    assert result.students[1].student is None


def test_personalised_sheets_take_the_printed_barcode_as_the_student():
    """identity="barcode": the barcode wins over the grid, and every disagreement or gap is for a person."""
    sheets = [sheet(None, {"Q1": "A"}, number=1), sheet(IDS[1], {"Q1": "A"}, number=2),
              sheet(IDS[0], {"Q1": "A"}, number=3), sheet(IDS[3], {"Q1": "A"}, number=4),
              sheet("2026010007", {"Q1": "A"}, number=5)]
    # 1: grid blank, barcode read (the grid only confirms); 2: grid agrees; 3: grid names another roster student;
    # 4: barcode unreadable, grid used; 5: barcode of a student not on this roster, grid not either
    for record, code in zip(sheets, [IDS[0], IDS[1], IDS[2], None, "2026010008"]):
        record.barcode = code
    result = match_sheets(sheets, _roster(), identity="barcode")
    matched = {m.exam_id: m.sheet.sheet for m in result.students if m.outcome == "sheet"}
    assert matched == {IDS[0]: 1, IDS[1]: 2, IDS[2]: 3, IDS[3]: 4}
    assert _kinds(result) == [("id_grid_mismatch", IDS[2], 3), ("barcode_unreadable", IDS[3], 4),
                              ("unknown_id", "2026010008", 5), ("no_sheet", IDS[4], None),
                              ("no_sheet", IDS[5], None)]
    assert reason_zh(result.exceptions[0].reason) == f"个性化答题卡按条码 {IDS[2]} 认定考生，但考号涂写为 {IDS[0]}，请核对"
    assert reason_zh(result.exceptions[1].reason) == f"个性化答题卡条码无法识别，已按考号涂写 {IDS[3]} 认定，请核对"
    # the same sheets read by the grid: sheet 3 names two students and is nobody's
    by_grid = match_sheets(sheets, _roster())
    assert ("id_conflict", IDS[0], 3) in _kinds(by_grid)
    with pytest.raises(ValueError, match="identity 'sticker'"):
        match_sheets(sheets, _roster(), identity="sticker")
