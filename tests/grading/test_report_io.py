"""Outputs: scores.csv / scores.xlsx (ids as text, Chinese headers), exceptions, summary, sitting totals."""

from __future__ import annotations

import csv
import json
import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from openpyxl import load_workbook

from grading.exam import Exam
from grading.mark import sitting_totals
from grading.pipeline import grade_sheets
from grading.regrade import KeyChange, regrade
from grading.report_io import (
    SCORES_LIMITS, read_scores_csv, read_subject_scores, score_columns, write_class_scores, write_outputs,
    write_sitting_totals_csv,
)
from grading.tabular import TableError
from grading.roster import Roster, Student
from grading_builders import PERFECT, sheet

IDS = ["0026010001", "0026010002", "0026010003", "0026010004"]


def _run(exam: Exam):
    roster = Roster([Student(exam_id=IDS[0], name="张三", class_name="1班", student_no="G11010519491231002X",
                             school_code="3132000123"),
                     Student(exam_id=IDS[1], name="李四", class_name="1班"),
                     Student(exam_id=IDS[2], name="王五", class_name="2班"),
                     Student(exam_id=IDS[3], name="赵六", class_name="2班")])
    sheets = [sheet(IDS[0], PERFECT, {"Q9": 10}, number=1),
              sheet(IDS[1], {**PERFECT, "Q1": "E", "Q3": "AC"}, {"Q9": 6.5}, number=2, uncertain={"Q4": ("A", "C")}),
              sheet(IDS[2], {**PERFECT, "Q2": "D"}, {"Q9": 4}, number=3, form="B")]
    return grade_sheets(exam, sheets, roster)


def _read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def test_scores_csv_for_teachers(tmp_path: Path, exam: Exam):
    """scores.csv in Chinese (issue 13): headers, status and reasons in a teacher's words, the codes at the end."""
    run = _run(exam)
    written = write_outputs(run, tmp_path)
    assert [p.name for p in written] == ["scores.csv", "grading_exceptions.csv", "summary.json", "scores.xlsx"]
    assert (tmp_path / "scores.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    rows = _read_csv(tmp_path / "scores.csv")
    header = list(rows[0])
    assert header[:11] == ["考号", "学籍号", "姓名", "班级", "学校标识码", "卷型", "状态", "说明", "总分", "选择题", "解答题"]
    assert header[11:15] == ["Q1作答", "Q1得分", "Q2作答", "Q2得分"] and "Q8得分(作废)" in header
    assert header[-2:] == ["状态代码", "原文"] and len(header) == len(score_columns(run)) + 2
    first, second, _, fourth = rows
    assert first["考号"] == "0026010001" and first["学籍号"] == "G11010519491231002X"
    assert (first["状态"], first["状态代码"], first["总分"]) == ("已评", "graded", "32")
    assert (second["状态"], second["状态代码"]) == ("待复核", "pending")
    assert second["说明"] == "涂点不清：Q4 (A ?C)" and second["原文"] == "uncertain: Q4 (A ?C)"
    assert (fourth["状态"], fourth["说明"]) == ("缺考", "无答题卡（按缺考计）")
    assert not any(re.search("[a-z]{4}", value) for row in rows for key, value in row.items() if key != "原文"
                   and key != "状态代码")


def test_scores_csv_in_english(tmp_path: Path, exam: Exam):
    """``--lang en``: the English keys and codes of earlier versions, which scripts may still read."""
    run = _run(exam)
    write_outputs(run, tmp_path, lang="en")
    rows = _read_csv(tmp_path / "scores.csv")
    assert list(rows[0])[:11] == ["exam_id", "student_no", "name", "class", "school_code", "version", "status",
                                  "reasons", "total", "section_S1", "section_S2"]
    assert list(rows[0])[11:15] == ["Q1_response", "Q1_score", "Q2_response", "Q2_score"]
    assert score_columns(run) == list(rows[0])
    first, second, third, fourth = rows
    assert first["exam_id"] == "0026010001" and first["student_no"] == "G11010519491231002X"
    assert (first["status"], first["total"], first["section_S1"], first["section_S2"]) == ("graded", "32", "22", "10")
    assert first["Q3_response"] == "ACD" and first["Q3_score"] == "5" and first["Q8_score"] == ""  # void
    assert second["status"] == "pending" and second["total"] == "" and second["reasons"] == "uncertain: Q4 (A ?C)"
    assert second["Q1_response"] == "*" and second["Q1_score"] == "0"  # E: outside the options
    assert second["Q4_response"] == "?A" and second["Q4_score"] == ""
    assert second["Q9_response"] == "6.5" and second["Q9_score"] == "6.5" and second["section_S2"] == "6.5"
    assert third["version"] == "B" and third["total"] == "22"
    assert third["Q1_response"] == "D" and third["Q2_response"] == "A"  # canonical order: sheet Q2 is canonical Q1
    assert fourth["status"] == "absent" and fourth["reasons"] == "no sheet (counted as absent, 缺考)"
    assert fourth["Q1_response"] == "" and fourth["total"] == ""


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_read_scores_csv_reads_either_language(tmp_path: Path, exam: Exam, lang: str):
    """The reader gives the same keys, codes and cells for the Chinese file and the English one."""
    run = _run(exam)
    write_outputs(run, tmp_path, xlsx=False, lang=lang)
    table = read_scores_csv(tmp_path / "scores.csv", sections={"选择题": "S1", "解答题": "S2"})
    assert not table.missing(score_columns(run))
    assert table.statuses() == ["graded", "pending", "graded", "absent"]
    assert table.texts("student_no")[0] == "G11010519491231002X" and table.cells("total") == ["32", "", "22", ""]
    assert table.cells("section_S2")[1] == "6.5" and table.cells("Q8_score") == [""] * 4
    assert table.cells("Q4_response")[1] == "?A" and table.cells("reasons")[1] == "uncertain: Q4 (A ?C)"


def test_read_scores_csv_without_the_code_columns(tmp_path: Path, exam: Exam):
    """A teacher deleted 状态代码 and 原文 in Excel: the status is read back from 状态."""
    write_outputs(_run(exam), tmp_path, xlsx=False)
    with open(tmp_path / "scores.csv", encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))
    with open(tmp_path / "scores.csv", "w", encoding="utf-8-sig", newline="") as handle:
        csv.writer(handle).writerows(row[:-2] for row in rows)
    assert read_scores_csv(tmp_path / "scores.csv").statuses() == ["graded", "pending", "graded", "absent"]


def test_read_scores_csv_is_bounded(tmp_path: Path, exam: Exam):
    """Like every table we read: refused at the first row beyond a limit, the limit named."""
    write_outputs(_run(exam), tmp_path, xlsx=False)
    with pytest.raises(TableError, match=r"more than 3 rows \(limit 3 rows\)"):
        read_scores_csv(tmp_path / "scores.csv", limits=replace(SCORES_LIMITS, rows=3))
    with pytest.raises(TableError, match=r"the file has \d+ bytes \(limit 100 bytes\)"):
        read_scores_csv(tmp_path / "scores.csv", limits=replace(SCORES_LIMITS, file_bytes=100))


def test_exceptions_and_summary(tmp_path: Path, exam: Exam):
    write_outputs(_run(exam), tmp_path)
    exceptions = _read_csv(tmp_path / "grading_exceptions.csv")
    assert list(exceptions[0]) == ["类别", "考号", "姓名", "班级", "答题卡", "来源", "原因", "类别代码", "原文"]
    assert [(e["类别代码"], e["类别"], e["考号"], e["答题卡"]) for e in exceptions] == [
        ("no_sheet", "无答题卡(缺考)", IDS[3], ""), ("pending", "待复核", IDS[1], "2"),
        ("invalid_mark", "选项外涂点", IDS[1], "2")]
    assert exceptions[1]["姓名"] == "李四" and exceptions[1]["来源"] == "test sheet 2"
    assert all(not re.search("[a-z]{4}", e["原因"]) for e in exceptions), [e["原因"] for e in exceptions]
    summary = json.loads((tmp_path / "summary.json").read_text(encoding="utf-8"))
    assert summary["graded"] == 2 and summary["pending"] == 1 and summary["absent"] == 1
    assert summary["exceptions"] == {"invalid_mark": 1, "no_sheet": 1, "pending": 1}


def test_scores_xlsx_keeps_ids_as_text(tmp_path: Path, exam: Exam):
    run = _run(exam)
    run = run.with_grades(regrade(run.grades, KeyChange(action="bonus", question="Q4"), by="t")[0])
    write_outputs(run, tmp_path)
    book = load_workbook(tmp_path / "scores.xlsx")
    assert book.sheetnames == ["成绩", "异常"]
    sheet = book["成绩"]
    header = [c.value for c in sheet[1]]
    assert header[:11] == ["考号", "学籍号", "姓名", "班级", "学校标识码", "卷型", "状态", "说明", "总分", "选择题", "解答题"]
    assert header[11:13] == ["Q1作答", "Q1得分"] and "Q8得分(作废)" in header and "Q4得分(送分)" in header
    assert sheet.freeze_panes == "B2"
    assert sheet["A2"].value == "0026010001" and sheet["A2"].data_type == "s" and sheet["A2"].number_format == "@"
    assert sheet["E2"].value == "3132000123" and sheet["E2"].data_type == "s"
    assert sheet["G2"].value == "已评" and sheet["I2"].value == 32 and sheet["I2"].data_type == "n"
    assert sheet["G3"].value == "已评" and sheet["I3"].value == 6 + 2 + 4 + 2 + 3 + 6.5  # Q4 bonus resolved it
    assert sheet["G5"].value == "缺考" and sheet["I5"].value is None
    problems = [[c.value for c in row] for row in book["异常"].iter_rows()]
    assert problems[0] == ["类别", "考号", "姓名", "班级", "答题卡", "来源", "原因", "类别代码", "原文"]
    assert problems[1][:3] == ["无答题卡(缺考)", IDS[3], "赵六"] and book["异常"]["B2"].data_type == "s"
    assert problems[1][7] == "no_sheet" and not any(re.search("[a-z]{4}", row[6] or "") for row in problems[1:])


def test_sitting_totals_from_output_folders(tmp_path: Path, exam: Exam):
    math_dir = tmp_path / "math"
    write_outputs(_run(exam), math_dir, xlsx=False)
    assert not (math_dir / "scores.xlsx").exists()
    scores, people = read_subject_scores(math_dir)
    assert scores.subject == "数学" and scores.full_marks == 32 and scores.sitting == "2026-mid"
    assert scores.exam_ids.tolist() == IDS and people[IDS[0]] == ("张三", "1班")
    assert scores.totals[0] == 32 and np.isnan(scores.totals[1])
    english = scores.__class__("英语", "en", 100, np.array([IDS[0], IDS[2], "0026019999"], dtype=object),
                               np.array([88.0, 70.5, 50.0]), "2026-mid")
    totals = sitting_totals([scores, english])
    write_sitting_totals_csv(totals, tmp_path / "totals.csv", people)
    rows = _read_csv(tmp_path / "totals.csv")
    assert list(rows[0]) == ["exam_id", "name", "class", "数学", "英语", "total", "partial_total", "missing"]
    assert [(r["exam_id"], r["total"], r["partial_total"], r["missing"]) for r in rows] == [
        (IDS[0], "120", "120", ""), (IDS[1], "", "0", "数学 英语"), (IDS[2], "92.5", "92.5", ""),
        (IDS[3], "", "0", "数学 英语"), ("0026019999", "", "50", "数学")]


FORMULA_NAME = '=HYPERLINK("http://x","y")'


def _hostile_run(exam: Exam):
    """A student named like a formula, in a class named like one, with a sheet and a reason that quote them."""
    roster = Roster([Student(exam_id=IDS[0], name=FORMULA_NAME, class_name="+1班"),
                     Student(exam_id=IDS[1], name="@SUM(A1)", class_name="-2班")])
    return grade_sheets(exam, [sheet(IDS[0], PERFECT, {"Q9": 10}, number=1)], roster)


def test_user_text_is_never_a_formula_in_scores_xlsx(tmp_path: Path, exam: Exam):
    """Issue 15 finding 6: openpyxl wrote a str starting with '=' as a live formula."""
    write_outputs(_hostile_run(exam), tmp_path)
    book = load_workbook(tmp_path / "scores.xlsx")
    for sheet_ in book.worksheets:
        for row in sheet_.iter_rows():
            for cell in row:
                assert cell.data_type != "f", f"{sheet_.title}!{cell.coordinate} is a formula: {cell.value!r}"
    scores = book["成绩"]
    assert (scores["C2"].value, scores["C2"].data_type) == (FORMULA_NAME, "s")
    assert (scores["D2"].value, scores["D3"].value) == ("+1班", "-2班")
    names = {row[2] for row in book["异常"].iter_rows(min_row=2, values_only=True)}
    assert "@SUM(A1)" in names


def test_user_text_is_quoted_in_every_csv_and_read_back_as_typed(tmp_path: Path, exam: Exam):
    """OWASP: a text cell starting with = + - @ gets a leading quote; numbers we compute do not; our own reader
    of scores.csv gives the text back as it was typed."""
    run = _hostile_run(exam)
    write_outputs(run, tmp_path)
    first, second = _read_csv(tmp_path / "scores.csv")
    assert (first["姓名"], first["班级"]) == ("'" + FORMULA_NAME, "'+1班")
    assert (second["姓名"], second["班级"]) == ("'@SUM(A1)", "'-2班")
    assert first["总分"] == "32" and first["考号"] == IDS[0]
    exceptions = _read_csv(tmp_path / "grading_exceptions.csv")
    assert [(e["姓名"], e["班级"]) for e in exceptions if e["考号"] == IDS[1]][0] == ("'@SUM(A1)", "'-2班")
    _, people = read_subject_scores(tmp_path)
    assert people[IDS[0]] == (FORMULA_NAME, "+1班") and people[IDS[1]] == ("@SUM(A1)", "-2班")
    totals = sitting_totals([read_subject_scores(tmp_path)[0]])
    write_sitting_totals_csv(totals, tmp_path / "totals.csv", people)
    assert _read_csv(tmp_path / "totals.csv")[0]["name"] == "'" + FORMULA_NAME


def _cells(path: Path, sheet_name: str) -> list[list]:
    return [[(c.value, c.data_type) for c in row] for row in load_workbook(path)[sheet_name].iter_rows()]


def test_class_scores_are_the_classes_rows_of_the_same_files(tmp_path: Path, exam: Exam):
    """A teacher's scores table (write_class_scores): the school's files, the rows of their classes only, every
    cell as written (numbers as numbers, ids as text), and the exceptions of those classes."""
    run = _run(exam)
    write_outputs(run, tmp_path / "grade")
    csv_path, xlsx_path = write_class_scores(tmp_path / "grade", exam, ["2班"], tmp_path / "mine")
    assert csv_path.read_bytes().startswith(b"\xef\xbb\xbf")
    school, mine = read_scores_csv(tmp_path / "grade" / "scores.csv"), read_scores_csv(csv_path)
    assert mine.index == school.index and mine.texts("exam_id") == IDS[2:]
    assert mine.rows == [row for row in school.rows if row[school.index["class"]] == "2班"]
    whole, part = _cells(tmp_path / "grade" / "scores.xlsx", "成绩"), _cells(xlsx_path, "成绩")
    assert part == [whole[0], *whole[3:]]  # the header, then 王五 and 赵六 exactly as the school's file
    assert part[1][0] == (IDS[2], "s") and part[1][8][1] == "n"  # 考号 text, 总分 a number
    problems = _cells(xlsx_path, "异常")
    assert problems[0] == _cells(tmp_path / "grade" / "scores.xlsx", "异常")[0]
    assert {row[3][0] for row in problems[1:]} == {"2班"} and {row[1][0] for row in problems[1:]} == {IDS[3]}
    empty_csv, empty_xlsx = write_class_scores(tmp_path / "grade", exam, [], tmp_path / "none")
    assert read_scores_csv(empty_csv).rows == [] and len(_cells(empty_xlsx, "成绩")) == 1


def test_class_scores_keep_user_text_from_becoming_a_formula(tmp_path: Path, exam: Exam):
    write_outputs(_hostile_run(exam), tmp_path / "grade")
    csv_path, xlsx_path = write_class_scores(tmp_path / "grade", exam, ["+1班"], tmp_path / "mine")
    first, = _read_csv(csv_path)
    assert (first["姓名"], first["班级"]) == ("'" + FORMULA_NAME, "'+1班")
    book = load_workbook(xlsx_path)
    assert all(cell.data_type != "f" for ws in book.worksheets for row in ws.iter_rows() for cell in row)
    assert (book["成绩"]["C2"].value, book["成绩"]["D2"].value) == (FORMULA_NAME, "+1班")


def test_class_scores_need_the_chinese_table(tmp_path: Path, exam: Exam):
    write_outputs(_run(exam), tmp_path / "grade", lang="en")
    with pytest.raises(ValueError, match="not a Chinese scores table"):
        write_class_scores(tmp_path / "grade", exam, ["1班"], tmp_path / "mine")
