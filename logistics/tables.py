"""The arrangement as tables: one row per seat (CSV and xlsx, 考号 as text) and the roster with the new 考号."""

from __future__ import annotations

import csv
from pathlib import Path

from grading.roster import write_roster_csv, write_roster_xlsx
from grading.safe_cells import csv_row, text_workbook
from logistics.arrange import Arrangement

__all__ = ["ARRANGEMENT_HEADER", "arrangement_rows", "write_arrangement_csv", "write_arrangement_xlsx",
           "write_tables"]

#: Columns of the arrangement table (the order of :func:`arrangement_rows`).
ARRANGEMENT_HEADER = ["考场号", "考场", "座位号", "行", "列", "考号", "原考号", "姓名", "班级", "学籍号", "学校标识码"]


def arrangement_rows(arrangement: Arrangement) -> list[list[str]]:
    """One row per taken seat in room and seat order, every cell text; 行 and 列 count from 1 at the front left."""
    return [[str(room.number), room.name, str(seat.seat), str(seat.row + 1), str(seat.column + 1), seat.exam_id,
             seat.student.exam_id, seat.student.name, seat.student.class_name, seat.student.student_no or "",
             seat.student.school_code or ""] for room, seat in arrangement.seats]


def write_arrangement_csv(arrangement: Arrangement, path: Path) -> Path:
    """The arrangement as CSV (UTF-8 with BOM so that Excel shows the Chinese)."""
    with open(path, "w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(ARRANGEMENT_HEADER)
        writer.writerows(csv_row(row) for row in arrangement_rows(arrangement))
    return path


def write_arrangement_xlsx(arrangement: Arrangement, path: Path) -> Path:
    """The arrangement as a workbook: a sheet 考场编排 with every cell stored as text."""
    workbook = text_workbook(path)
    sheet = workbook.add_worksheet("考场编排")
    bold, text = workbook.add_format({"bold": True}), workbook.add_format({"num_format": "@"})
    for column, label in enumerate(ARRANGEMENT_HEADER):
        sheet.write_string(0, column, label, bold)
    for r, row in enumerate(arrangement_rows(arrangement), start=1):
        for column, value in enumerate(row):
            sheet.write_string(r, column, value, text)
    sheet.freeze_panes(1, 0)
    for column, width in enumerate((7, 12, 7, 5, 5, 14, 14, 10, 12, 22, 14)):
        sheet.set_column(column, column, width)
    workbook.close()
    return path


def write_tables(arrangement: Arrangement, out_dir: Path) -> list[Path]:
    """考场编排.csv/.xlsx and the renumbered roster 新名单.csv/.xlsx into ``out_dir``; the paths written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    students = arrangement.renumbered()
    write_roster_csv(students, out_dir / "新名单.csv")
    write_roster_xlsx(students, out_dir / "新名单.xlsx")
    return [write_arrangement_csv(arrangement, out_dir / "考场编排.csv"),
            write_arrangement_xlsx(arrangement, out_dir / "考场编排.xlsx"), out_dir / "新名单.csv",
            out_dir / "新名单.xlsx"]
