"""The class–subject–teacher table (任课教师表) a school hands in: who teaches each class each subject, so that
value-added can be shown per teacher.

Columns (Chinese or English headers): 班级 (class, required), 学科 (subject, required), 教师 (teacher, required);
a 学校代码 column is kept when present. Read as text within :class:`grading.tabular.TableLimits`; a row with an empty
cell, or a class and subject given two different teachers, is refused with its row number.
"""

from __future__ import annotations

from pathlib import Path

from grading.tabular import TableError, find_columns, read_table
from grading.text import text_problem

__all__ = ["load_teachers"]

_COLUMNS = {
    "class": ("班级", "班级名称", "class name"),
    "subject": ("学科", "科目", "subject name"),
    "teacher": ("教师", "任课教师", "教师姓名", "teacher name"),
}


def load_teachers(path: str | Path, subject: str) -> dict[str, str]:
    """{class: teacher} for ``subject`` from a CSV or xlsx 任课教师表.

    Raises
    ------
    grading.tabular.TableError
        When a required column is missing, a cell is empty or not plain text, or a class has two teachers of the
        subject; every problem found is listed with its row.
    """
    table = read_table(path, sheet_names=("任课教师", "教师"), what="任课教师表")
    columns = find_columns(table.header, _COLUMNS)
    missing = [name for name in ("class", "subject", "teacher") if name not in columns]
    if missing:
        raise TableError(f"任课教师表 {Path(path).name}",
                         [f"row 1: no {'/'.join(_COLUMNS[m][:1] + (m,))} column" for m in missing])
    teachers: dict[str, str] = {}
    errors: list[str] = []
    for row_number, row in table.rows:
        cells = {key: table.cell(row, columns[key]) for key in ("class", "subject", "teacher")}
        if not any(cells.values()):
            continue
        problems = [f"{key} {_problem(value)}" for key, value in cells.items() if _problem(value)]
        if problems:
            errors.append(f"row {row_number}: {'; '.join(problems)}")
            continue
        if cells["subject"] != subject:
            continue
        known = teachers.setdefault(cells["class"], cells["teacher"])
        if known != cells["teacher"]:
            errors.append(f"row {row_number}: {cells['class']} {subject} has two teachers ({known}, "
                          f"{cells['teacher']})")
    if errors:
        raise TableError(f"任课教师表 {Path(path).name}", errors)
    return teachers


def _problem(value: str) -> str | None:
    return "is empty" if not value else text_problem(value, max_length=64)
