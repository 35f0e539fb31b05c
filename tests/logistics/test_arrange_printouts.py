"""The arrangement's files: PDFs whose text (pdftotext) shows the Chinese names and 考号; tables with 考号 as text."""

from __future__ import annotations

import csv
import subprocess
from pathlib import Path

import openpyxl
import pytest

from grading.roster import load_roster
from logistics.arrange import arrange, make_rooms
from logistics.exam_ids import DEFAULT_FORMAT, ExamIdFormat
from logistics.printouts import write_printouts
from logistics.tables import ARRANGEMENT_HEADER, write_tables
from logistics_builders import grade_students


@pytest.fixture(scope="module")
def arrangement():
    students = grade_students([20, 20, 19])
    fmt = ExamIdFormat.checked(DEFAULT_FORMAT, school="0101", grade=26, rooms=3, seats=24, id_length=10)
    return arrange(students, make_rooms(3, 24), fmt, seed=3)


def _text(path: Path, page: int | None = None) -> str:
    pages = ["-f", str(page), "-l", str(page)] if page else []
    return subprocess.run(["pdftotext", "-layout", *pages, str(path), "-"], check=True, capture_output=True,
                          text=True).stdout


def _pages(path: Path) -> int:
    info = subprocess.run(["pdfinfo", str(path)], check=True, capture_output=True, text=True).stdout
    return int(next(line.split()[-1] for line in info.splitlines() if line.startswith("Pages:")))


def test_pdfs_show_every_student_with_their_new_id_in_chinese(arrangement, tmp_path: Path) -> None:
    paths = {p.name: p for p in write_printouts(arrangement, tmp_path, "期中考试")}
    assert set(paths) == {"考场门贴.pdf", "座位标签.pdf", "签到表.pdf", "缺考登记表.pdf"}
    for name in ("考场门贴.pdf", "签到表.pdf", "缺考登记表.pdf"):
        assert _pages(paths[name]) == 3  # one page per room
        second = _text(paths[name], 2)
        assert "第02考场" in second and "期中考试" in second
        for seat in arrangement.rooms[1].seats:
            assert seat.exam_id in second and seat.student.name in second and seat.student.class_name in second
    assert "考生签名" in _text(paths["签到表.pdf"]) and "应考 24 人" in _text(paths["缺考登记表.pdf"])
    labels = _text(paths["座位标签.pdf"])
    assert _pages(paths["座位标签.pdf"]) == 5  # 59 labels, 12 a page
    for _, seat in arrangement.seats:
        assert f"考号 {seat.exam_id}" in labels and seat.student.name in labels


def test_markup_in_a_name_is_printed_as_written(tmp_path: Path) -> None:
    students = [s.model_copy(update={"name": "<b>A&B"}) if i == 0 else s
                for i, s in enumerate(grade_students([2, 2]))]
    fmt = ExamIdFormat.checked(DEFAULT_FORMAT, school="0101", grade=26, rooms=1, seats=4)
    write_printouts(arrange(students, make_rooms(1, 4), fmt), tmp_path, "<i>期中")
    assert "<b>A&B" in _text(tmp_path / "座位标签.pdf") and "<i>期中" in _text(tmp_path / "签到表.pdf")


def test_tables_keep_ids_as_text_and_the_new_roster_loads(arrangement, tmp_path: Path) -> None:
    write_tables(arrangement, tmp_path)
    with open(tmp_path / "考场编排.csv", encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ARRANGEMENT_HEADER and len(rows) == 60
    assert rows[1][5] == "0101260101" and rows[1][0] == "1" and rows[1][1] == "第01考场"
    sheet = openpyxl.load_workbook(tmp_path / "考场编排.xlsx").active
    assert sheet.title == "考场编排" and sheet.cell(2, 6).value == "0101260101"
    roster = load_roster(tmp_path / "新名单.xlsx", id_length=10)
    assert [s.exam_id for s in roster.students] == [s.exam_id for _, s in arrangement.seats]
    assert [s.student_no for s in roster.students] == [s.student.student_no for _, s in arrangement.seats]
    assert load_roster(tmp_path / "新名单.csv").students == roster.students
