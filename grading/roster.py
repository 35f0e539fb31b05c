"""Rosters: the students expected at an exam, imported from xlsx or CSV, every id kept as text.

Columns (Chinese or English headers): 考号 (exam id, required), 学籍号 (national student number), 姓名, 班级,
学校标识码 (school code), 卷型 (paper version, optional). Checks:

- 考号: digits only, leading zeros kept; a value Excel turned into a number (``2.02601E+09``,
  ``2026010001.0``) is refused with a hint, never "repaired";
- 学籍号: ``^[GJL]\\d{17}[\\dX]$``; for ``G`` (ID-card number) and ``J`` (self-assigned) the last character is the
  GB 11643 / ISO 7064 MOD 11-2 check character of the 17 digits before it; ``L`` numbers carry a birth date;
- 学校标识码: 10 digits = 2-digit school type + 2-digit province (GB/T 2260) + 6-digit sequence;
- 姓名, 班级, 卷型: text by :func:`grading.text.clean_text` (no control characters, unpaired surrogates, unassigned
  or private-use characters), no longer than the service's columns (:data:`TEXT_LIMITS`).
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError, ValidationInfo, field_validator

from grading.tabular import SCIENTIFIC_HINT, TableError, find_columns, read_table
from grading.text import clean_text

__all__ = ["Student", "Roster", "RosterError", "load_roster", "validate_exam_id", "validate_student_no",
           "validate_school_code", "student_no_check_char", "write_roster_xlsx", "write_roster_csv",
           "ROSTER_COLUMNS", "TEXT_LIMITS", "EXAM_ID_MAX"]

#: field -> (Chinese header written to files, other accepted headers)
ROSTER_COLUMNS: dict[str, tuple[str, tuple[str, ...]]] = {
    "exam_id": ("考号", ("准考证号", "考生号", "exam id", "student id", "student_id", "id")),
    "student_no": ("学籍号", ("全国学籍号", "学籍编号", "student no", "student number")),
    "name": ("姓名", ("学生姓名", "name")),
    "class_name": ("班级", ("class", "班别", "class name")),
    "school_code": ("学校标识码", ("学校代码", "学校编码", "school code", "school")),
    "version": ("卷型", ("试卷类型", "AB卷", "version", "form")),
}

#: Most characters of each text column: the service stores a roster in columns this long (api/service/models.py,
#: Student; a test keeps them equal), so a row that fits here never fails in the database.
TEXT_LIMITS: dict[str, int] = {"name": 100, "class_name": 100, "version": 8}
#: Most digits of a 考号 (the service's column is 32 characters).
EXAM_ID_MAX = 32

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK_CHARS = "10X98765432"
_STUDENT_NO = re.compile(r"^[GJL]\d{17}[\dX]$")
_PROVINCES = frozenset({11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46, 50, 51,
                        52, 53, 54, 61, 62, 63, 64, 65, 71, 81, 82})
_NUMBERISH = re.compile(r"^[+-]?\d+(\.\d*)?([eE][+-]?\d+)?$")


def student_no_check_char(body17: str) -> str:
    """GB 11643 (ISO 7064 MOD 11-2) check character of 17 digits: weights 7,9,10,5,8,4,2,1,6,3,... mod 11."""
    if len(body17) != 17 or not body17.isdigit():
        raise ValueError(f"need 17 digits, got {body17!r}")
    return _CHECK_CHARS[sum(int(d) * w for d, w in zip(body17, _WEIGHTS)) % 11]


def validate_exam_id(text: str, *, length: int | None = None) -> str:
    """A 考号 as text: digits only (leading zeros kept); ``length`` if given is enforced. Raises ValueError."""
    value = text.strip()
    if not value:
        raise ValueError("考号 (exam id) is empty")
    if not value.isdigit() or not value.isascii():
        if _NUMBERISH.match(value) and ("e" in value.lower() or "." in value):
            raise ValueError(f"考号 {value!r} is not digits: {SCIENTIFIC_HINT}")
        raise ValueError(f"考号 {value!r} must be digits only")
    if len(value) > EXAM_ID_MAX:
        raise ValueError(f"考号 has {len(value)} digits, at most {EXAM_ID_MAX}")
    if length is not None and len(value) != length:
        hint = " (a leading 0 lost in Excel?)" if len(value) < length else ""
        raise ValueError(f"考号 {value!r} has {len(value)} digits, expected {length}{hint}")
    return value


def validate_student_no(text: str) -> str:
    """A 学籍号: format, then the check character for G and J numbers, the birth date for L. Raises ValueError."""
    if _NUMBERISH.match(text.strip()):
        raise ValueError(f"学籍号 {text.strip()!r} is a number: {SCIENTIFIC_HINT} (a 学籍号 starts with G, J or L)")
    value = text.strip().upper()
    if not _STUDENT_NO.match(value):
        raise ValueError(f"学籍号 {value!r} must be G, J or L followed by 17 digits and a digit or X")
    if value[0] in "GJ":
        expected = student_no_check_char(value[1:18])
        if value[18] != expected:
            raise ValueError(f"学籍号 {value!r}: check character {value[18]!r} should be {expected!r} "
                             "(a mistyped digit?)")
    else:
        try:
            dt.date(int(value[7:11]), int(value[11:13]), int(value[13:15]))
        except ValueError:
            raise ValueError(f"学籍号 {value!r}: characters 8-15 should be a birth date (YYYYMMDD)") from None
    return value


def validate_school_code(text: str) -> str:
    """A 学校标识码: 10 digits, a school-type prefix and a province code. Raises ValueError."""
    value = text.strip()
    if _NUMBERISH.match(value) and not value.isdigit():
        raise ValueError(f"学校标识码 {value!r} is not digits: {SCIENTIFIC_HINT}")
    if not (value.isdigit() and value.isascii() and len(value) == 10):
        raise ValueError(f"学校标识码 {value!r} must be 10 digits")
    if value[0] == "0":
        raise ValueError(f"学校标识码 {value!r}: the first two digits are the school type and cannot start with 0")
    if int(value[2:4]) not in _PROVINCES:
        raise ValueError(f"学校标识码 {value!r}: digits 3-4 ({value[2:4]}) are not a province code")
    return value


class Student(BaseModel):
    """One student on a roster. Every id is text."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    exam_id: str
    student_no: str | None = None
    name: str = ""
    class_name: str = ""
    school_code: str | None = None
    version: str | None = None

    @field_validator("exam_id")
    @classmethod
    def _exam_id(cls, value: str) -> str:
        return validate_exam_id(value)

    @field_validator("student_no")
    @classmethod
    def _student_no(cls, value: str | None) -> str | None:
        return validate_student_no(value) if value else None

    @field_validator("school_code")
    @classmethod
    def _school_code(cls, value: str | None) -> str | None:
        return validate_school_code(value) if value else None

    @field_validator("name", "class_name")
    @classmethod
    def _text(cls, value: str, info: ValidationInfo) -> str:
        return clean_text(value, field=ROSTER_COLUMNS[info.field_name][0], max_length=TEXT_LIMITS[info.field_name])

    @field_validator("version")
    @classmethod
    def _version(cls, value: str | None) -> str | None:
        value = clean_text(value or "", field="卷型", max_length=TEXT_LIMITS["version"]).upper().removesuffix("卷")
        return value or None


class RosterError(ValueError):
    """A roster with problems; ``errors`` lists them, each with its row."""

    def __init__(self, source: str, errors: list[str]):
        self.errors = list(errors)
        shown = self.errors[:50]
        more = f"\n  ... and {len(self.errors) - 50} more" if len(self.errors) > 50 else ""
        super().__init__(f"roster {source}: {len(self.errors)} problem(s)\n  " + "\n  ".join(shown) + more)


@dataclass
class Roster:
    """Students in file order; ``warnings`` holds problems that a lenient load kept going past."""

    students: list[Student]
    source: str = ""
    warnings: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._by_id = {s.exam_id: s for s in self.students}
        if len(self._by_id) != len(self.students):
            raise ValueError("roster lists an exam id twice")

    def __len__(self) -> int:
        return len(self.students)

    def __contains__(self, exam_id: object) -> bool:
        return exam_id in self._by_id

    def get(self, exam_id: str | None) -> Student | None:
        """The student with this exam id, or None."""
        return self._by_id.get(exam_id) if exam_id else None


_BLANKS = {"student_no": None, "name": "", "class_name": "", "school_code": None, "version": None}


def _message(error: ValidationError) -> str:
    return "; ".join(item["msg"].removeprefix("Value error, ") for item in error.errors())


def load_roster(path: str | Path, *, id_length: int | None = None, strict: bool = True) -> Roster:
    """Read a roster from xlsx or CSV (UTF-8 or GBK).

    Parameters
    ----------
    path : str or Path
        The file; the first worksheet named 名单/roster/学生, else the first.
    id_length : int, optional
        Required number of digits of every 考号 (the width of the sheet's id grid).
    strict : bool
        True: any problem raises :class:`RosterError` listing all of them. False: rows with an unusable 考号
        (or one listed twice) are dropped, any other bad cell (学籍号, school code, 姓名, 班级, 卷型) is blanked,
        and each problem is kept in ``Roster.warnings``.
    """
    try:
        table = read_table(path, sheet_names=("名单", "roster", "学生", "students"), what="roster")
    except TableError as error:
        raise RosterError(str(path), error.errors) from None
    columns = find_columns(table.header, {k: (label, *aliases) for k, (label, aliases) in ROSTER_COLUMNS.items()})
    if "exam_id" not in columns:
        raise RosterError(str(path), [f"row 1: no 考号 (exam id) column among {', '.join(table.header)}"])
    problems: list[str] = []
    students: list[Student] = []
    rows_of: dict[str, int] = {}
    for number, row in table.rows:
        cells = {key: table.cell(row, index) for key, index in columns.items()}
        try:
            exam_id = validate_exam_id(cells["exam_id"], length=id_length)
        except ValueError as error:
            problems.append(f"row {number}: {error}")
            continue
        if exam_id in rows_of:
            problems.append(f"row {number}: 考号 {exam_id} already on row {rows_of[exam_id]}")
            continue
        rows_of[exam_id] = number
        data = {"exam_id": exam_id, "student_no": cells.get("student_no") or None, "name": cells.get("name", ""),
                "class_name": cells.get("class_name", ""), "school_code": cells.get("school_code") or None,
                "version": cells.get("version") or None}
        try:
            student = Student(**data)
        except ValidationError as error:
            problems.append(f"row {number} ({exam_id}): {_message(error)}")
            if strict:
                continue
            for key, blank in _BLANKS.items():
                try:
                    Student(exam_id=exam_id, **{key: data[key]})
                except ValidationError:
                    data[key] = blank
            student = Student(**data)
        students.append(student)
    if problems and strict:
        raise RosterError(str(path), problems)
    return Roster(students=students, source=str(path), warnings=problems)


def _row(student: Student) -> list[str]:
    return [student.exam_id, student.student_no or "", student.name, student.class_name, student.school_code or "",
            student.version or ""]


def write_roster_csv(students: list[Student], path: str | Path) -> None:
    """Write a roster CSV (UTF-8 with BOM so that Excel shows the Chinese headers)."""
    with open(path, "w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([label for label, _ in ROSTER_COLUMNS.values()])
        writer.writerows(_row(s) for s in students)


def write_roster_xlsx(students: list[Student], path: str | Path) -> None:
    """Write a roster workbook with every id cell stored as text (number format '@')."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "名单"
    sheet.append([label for label, _ in ROSTER_COLUMNS.values()])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for r, student in enumerate(students, start=2):
        for c, value in enumerate(_row(student), start=1):
            cell = sheet.cell(row=r, column=c, value=value or None)
            cell.number_format = "@"
    sheet.freeze_panes = "A2"
    for letter, width in zip("ABCDEF", (14, 22, 10, 10, 14, 6)):
        sheet.column_dimensions[letter].width = width
    workbook.save(path)
