"""Reading sheets: results.jsonl and results.csv exactly as ``omr.batch.write_outputs`` writes them, and plain
responses tables from other systems."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from openpyxl import Workbook

from grading.sheets import read_results_csv, read_results_jsonl, read_sheets, normalise_marks
from grading.safe_cells import FORMULA_STARTS
from grading.tabular import TableError
from grading_builders import REPO
from omr.batch import write_outputs
from omr.result import PageResult, QuestionReading, ScoreReading
from omr.template import load_template

TEMPLATE = load_template(REPO / "sample_sheets" / "templates" / "cn-a4-55.json")


def _page(index: int, student_id: str | None, **changes) -> PageResult:
    questions = {f"Q{n}": QuestionReading("ABCD"[n % 4], "ok", 0.9) for n in range(1, 41)}
    questions.update({f"Q{n}": QuestionReading("AC", "ok", 0.9) for n in range(41, 51)})
    questions.update({f"Q{n}": QuestionReading("T", "ok", 0.9) for n in range(51, 56)})
    scores = {"Q56": ScoreReading(9.5, "ok", 0.9), "Q57": ScoreReading(None, "blank", 0.9),
              "Q58": ScoreReading(14.0, "ok", 0.9)}
    page = PageResult(source=f"scan/{index:03d}.jpg", page_index=0, status="ok", template_id="cn-a4-55", page=1,
                      student_id=student_id, student_id_status="ok" if student_id else "uncertain",
                      absent=False, questions=questions, scores=scores)
    for key, value in changes.items():
        setattr(page, key, value)
    return page


@pytest.fixture
def scan_output(tmp_path: Path) -> Path:
    """A scan's outputs for four pages: clean, flagged (uncertain, multiple, score), id unreadable, unreadable."""
    flagged = _page(1, "2026010002")
    flagged.questions["Q3"] = QuestionReading("A", "uncertain", 0.3, "C")
    flagged.questions["Q5"] = QuestionReading("AB", "multiple", 0.8)
    flagged.scores["Q58"] = ScoreReading(None, "uncertain", 0.2)
    flagged.scores["Q56"] = ScoreReading(13.0, "over_max", 0.9)
    for reason in ("uncertain marks: Q3", "multiple marks: Q5", "score uncertain: Q58", "score over_max: Q56"):
        flagged.flag(reason)
    no_id = _page(2, None, absent=True)
    no_id.flag("student id uncertain")
    broken = PageResult(source="scan/bad.jpg", page_index=0, status="error", reasons=["no anchors found"])
    pages = [_page(0, "2026010001"), flagged, no_id, broken]
    write_outputs(tmp_path, TEMPLATE, pages, [], 1.0)
    return tmp_path


def test_results_jsonl_from_the_scan(scan_output: Path):
    data = read_results_jsonl(scan_output / "results.jsonl")
    assert data.kind == "results_jsonl" and len(data.sheets) == 3
    assert [(p.source, p.reasons) for p in data.unreadable] == [("scan/bad.jpg", ("no anchors found",))]
    clean, flagged, no_id = data.sheets
    assert clean.sheet == 1 and clean.exam_id == "2026010001" and clean.status == "ok"
    assert clean.template_id == "cn-a4-55"
    assert clean.source == "results.jsonl sheet 1 (000.jpg#1)"
    assert clean.questions["Q41"].marked == "AC" and clean.scores["Q56"].value == 9.5
    assert flagged.questions["Q3"] == QuestionReading("A", "uncertain", 0.3, "C")
    assert flagged.questions["Q5"].status == "multiple" and flagged.scores["Q56"].status == "over_max"
    assert no_id.exam_id is None and no_id.id_status == "uncertain" and no_id.absent is True


def test_results_csv_recovers_statuses_from_cells_and_reasons(scan_output: Path):
    from_json = read_results_jsonl(scan_output / "results.jsonl").sheets
    data = read_results_csv(scan_output / "results.csv")
    assert data.kind == "results_csv" and len(data.sheets) == 3
    clean, flagged, no_id = data.sheets
    assert clean.exam_id == "2026010001" and clean.questions["Q1"] == QuestionReading("B", "ok", 1.0)
    assert {q: r.marked for q, r in clean.questions.items()} == {q: r.marked for q, r in from_json[0].questions.items()}
    assert flagged.questions["Q3"].status == "uncertain" and flagged.questions["Q3"].marked == "A"
    assert flagged.questions["Q5"].status == "multiple"
    assert flagged.scores["Q58"].status == "uncertain" and flagged.scores["Q58"].value is None
    assert flagged.scores["Q56"] == ScoreReading(13.0, "over_max", 1.0)
    assert clean.scores["Q57"].status == "blank"
    assert no_id.exam_id is None and no_id.id_status == "uncertain" and no_id.absent is True
    assert read_sheets(scan_output / "results.csv").kind == "results_csv"
    assert read_sheets(scan_output / "results.jsonl").kind == "results_jsonl"


def test_results_csv_with_missing_pages_marks_blanks_missing(tmp_path: Path):
    path = tmp_path / "results.csv"
    path.write_text("sheet,student_id,status,absent,reasons,pages,Q1,Q2,score_Q9\n"
                    "1,2026010001,flagged,0,missing page(s) 2,a.jpg#1,A,,\n", encoding="utf-8-sig")
    (record,) = read_results_csv(path).sheets
    assert set(record.questions) == {"Q1"} and record.scores == {} and record.missing_pages


FORMULA_NAME = '=HYPERLINK("x").jpg'


def test_formula_like_scan_names_are_quoted_in_the_csvs_and_read_back_as_typed(tmp_path: Path):
    """A station's file names are user text: quoted in results.csv and exceptions.csv (a spreadsheet would run
    them), and the grade step reading results.csv gets them back exactly (issue 15)."""
    named = _page(0, "2026010001", source=FORMULA_NAME)
    named.questions["Q3"] = QuestionReading("A", "uncertain", 0.3, "C")
    named.flag("uncertain marks: Q3")
    broken = PageResult(source="@bad.jpg", page_index=0, status="error", reasons=["-no anchors found"])
    write_outputs(tmp_path, TEMPLATE, [named, broken], [("+notes.jpg", "not an image or PDF")], 1.0)
    with open(tmp_path / "results.csv", encoding="utf-8-sig", newline="") as handle:
        (row,) = list(csv.DictReader(handle))
    assert row["pages"] == "'" + FORMULA_NAME + "#1" and row["student_id"] == "2026010001"
    assert row["Q3"] == "?A" and row["score_Q56"] == "9.5"  # plain text and numbers are as they were
    with open(tmp_path / "exceptions.csv", encoding="utf-8-sig", newline="") as handle:
        rows = [(r["来源"], r["原文"]) for r in csv.DictReader(handle)]
    assert rows == [("'+notes.jpg", "not an image or PDF"), ("'@bad.jpg", "'-no anchors found"),
                    ("'" + FORMULA_NAME, "uncertain marks: Q3")]
    for name in ("results.csv", "exceptions.csv"):
        with open(tmp_path / name, encoding="utf-8-sig", newline="") as handle:
            assert not [cell for row in csv.reader(handle) for cell in row if cell[:1] in FORMULA_STARTS], name
    (sheet,) = read_sheets(tmp_path / "results.csv").sheets
    assert sheet.source == f"results.csv sheet 1 ({FORMULA_NAME}#1)"
    (from_json,) = read_results_jsonl(tmp_path / "results.jsonl").sheets
    assert {q: r.marked for q, r in sheet.questions.items()} == {q: r.marked for q, r in from_json.questions.items()}
    assert sheet.questions["Q3"].status == "uncertain" and sheet.exam_id == "2026010001"


def test_plain_responses_csv(tmp_path: Path):
    path = tmp_path / "responses.csv"
    path.write_text("考号,卷型,Q1,Q2,3,Q4,Q9\n"
                    "2026010001,B,a,-,√,a c,7.5\n"
                    "2026010002,,?B,D,×,,\n"
                    ",,C,,,,\n", encoding="utf-8")
    data = read_sheets(path, subjective={"Q9"})
    assert data.kind == "responses" and len(data.sheets) == 3
    first, second, third = data.sheets
    assert first.form == "B" and first.source == "responses.csv row 2"
    assert {q: (r.marked, r.status) for q, r in first.questions.items()} == {
        "Q1": ("A", "ok"), "Q2": ("", "blank"), "Q3": ("T", "ok"), "Q4": ("AC", "ok")}
    assert first.scores["Q9"] == ScoreReading(7.5, "ok", 1.0)
    assert second.questions["Q1"].status == "uncertain" and second.questions["Q3"].marked == "F"
    assert second.scores["Q9"].status == "blank"
    assert third.exam_id is None and third.id_status == "blank"


def test_plain_responses_xlsx_and_errors(tmp_path: Path):
    book = Workbook()
    book.active.append(["id", "缺考", "Q1", "Q2"])
    book.active.append([2026010001, None, "A", "B"])
    book.active.append(["0026010002", "1", None, None])
    book.save(tmp_path / "r.xlsx")
    first, second = read_sheets(tmp_path / "r.xlsx").sheets
    assert first.exam_id == "2026010001" and first.absent is None
    assert second.exam_id == "0026010002" and second.absent is True
    bad = tmp_path / "bad.csv"
    bad.write_text("id,Q1,Q9\n1,A,seven\n2,B,3\n3,C,x\n", encoding="utf-8")
    with pytest.raises(TableError, match=r"row 2: Q9 'seven' is not a score[\s\S]*row 4: Q9 'x'"):
        read_sheets(bad, subjective={"Q9"})
    (tmp_path / "noid.csv").write_text("name,Q1\n张三,A\n", encoding="utf-8")
    with pytest.raises(TableError, match="no id column"):
        read_sheets(tmp_path / "noid.csv")
    (tmp_path / "noq.csv").write_text("id,name\n1,张三\n", encoding="utf-8")
    with pytest.raises(TableError, match="no question columns"):
        read_sheets(tmp_path / "noq.csv")
    with pytest.raises(TableError, match="no such file"):
        read_sheets(tmp_path / "absent.jsonl")


def test_broken_jsonl_lines_are_reported(tmp_path: Path):
    path = tmp_path / "results.jsonl"
    path.write_text('{"type": "sheet"}\nnot json\n', encoding="utf-8")
    with pytest.raises(TableError, match=r"line 1: KeyError[\s\S]*line 2: JSONDecodeError"):
        read_results_jsonl(path)


def test_normalise_marks():
    assert normalise_marks(" a, c ") == "AC"
    assert normalise_marks("对") == "T" and normalise_marks("×") == "F"
