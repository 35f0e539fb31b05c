"""User text is never a formula: grading uses omr's CSV rule (tested in tests/omr/test_csv_cells.py), and the
roster and key workbooks are written with every text a string cell (issue 15 finding 6)."""

from __future__ import annotations

from pathlib import Path

from openpyxl import load_workbook

from grading.exam import load_exam
from grading.exam_io import read_exam_table, write_exam_xlsx
from grading.roster import Student, load_roster, write_roster_csv, write_roster_xlsx
from grading.safe_cells import FORMULA_STARTS, csv_cell, csv_row, from_csv_cell
from grading_builders import SAMPLE_EXAM

FORMULA = '=HYPERLINK("http://x","y")'


def test_the_csv_rule_is_omrs():
    """One rule for every CSV the project writes: grading's names are omr.csv_cells' (tested there)."""
    from omr import csv_cells

    assert (csv_cell, csv_row, from_csv_cell, FORMULA_STARTS) == \
        (csv_cells.csv_cell, csv_cells.csv_row, csv_cells.from_csv_cell, csv_cells.FORMULA_STARTS)


def _has_formula(path: Path) -> list[str]:
    book = load_workbook(path)
    return [f"{ws.title}!{cell.coordinate}" for ws in book.worksheets for row in ws.iter_rows() for cell in row
            if cell.data_type == "f"]


def test_roster_files_keep_formula_like_names_as_text(tmp_path: Path):
    students = [Student(exam_id="0026010001", name=FORMULA, class_name="+1班"),
                Student(exam_id="0026010002", name="@A1", class_name="-2班")]
    write_roster_xlsx(students, tmp_path / "r.xlsx")
    assert _has_formula(tmp_path / "r.xlsx") == []
    sheet = load_workbook(tmp_path / "r.xlsx")["名单"]
    assert (sheet["C2"].value, sheet["C2"].data_type, sheet["D2"].value) == (FORMULA, "s", "+1班")
    assert load_roster(tmp_path / "r.xlsx").students == students
    write_roster_csv(students, tmp_path / "r.csv")
    text = (tmp_path / "r.csv").read_text(encoding="utf-8-sig")
    assert "'=HYPERLINK" in text and "'@A1" in text and "'-2班" in text


def test_key_workbook_keeps_formula_like_text_as_text(tmp_path: Path):
    exam = load_exam(SAMPLE_EXAM)
    exam = exam.model_copy(update={"name": "=1+1"})
    write_exam_xlsx(exam, tmp_path / "key.xlsx")
    assert _has_formula(tmp_path / "key.xlsx") == []
    facts = {row[0]: row[1] for row in load_workbook(tmp_path / "key.xlsx")["考试"].iter_rows(values_only=True)}
    assert facts["考试名称"] == "=1+1"
    assert read_exam_table(tmp_path / "key.xlsx").name == "=1+1"
