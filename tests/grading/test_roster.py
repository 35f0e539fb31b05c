"""Rosters: id validation (考号, 学籍号 check character, 学校标识码), xlsx/CSV import with ids kept as text."""

from __future__ import annotations

from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook

from grading.roster import (
    Roster, RosterError, Student, load_roster, student_no_check_char, validate_exam_id, validate_school_code,
    validate_student_no, write_roster_csv, write_roster_xlsx,
)

G_OK = "G11010519491231002X"  # GB 11643's own example number, check character X
J_OK = "J440524188001010014"
L_OK = "L110101200803150123"


def test_check_character_follows_gb11643():
    assert student_no_check_char("11010519491231002") == "X"
    assert student_no_check_char("44052418800101001") == "4"
    with pytest.raises(ValueError, match="17 digits"):
        student_no_check_char("1234")


@pytest.mark.parametrize("text", [G_OK, J_OK, L_OK, "g11010519491231002x"])
def test_valid_student_numbers(text: str):
    assert validate_student_no(text) == text.upper()


@pytest.mark.parametrize("text, message", [
    ("G110105194912310021", "check character '1' should be 'X'"),
    ("J440524188001010015", "check character '5' should be '4'"),
    ("L110101200813150123", "should be a birth date"),
    ("K11010519491231002X", "must be G, J or L followed by 17 digits"),
    ("G1101051949123100", "must be G, J or L"),
    ("4.10105194912310e+17", "is a number: Excel stored it as a number"),
])
def test_invalid_student_numbers(text: str, message: str):
    with pytest.raises(ValueError, match=message):
        validate_student_no(text)


def test_exam_ids_stay_text():
    assert validate_exam_id("0026010001") == "0026010001"
    assert validate_exam_id(" 2026010001 ", length=10) == "2026010001"
    with pytest.raises(ValueError, match="'2.02601e\\+09' is not digits: Excel stored it as a number"):
        validate_exam_id("2.02601e+09")
    with pytest.raises(ValueError, match="'2026010001.0' is not digits"):
        validate_exam_id("2026010001.0")
    with pytest.raises(ValueError, match="has 9 digits, expected 10 \\(a leading 0 lost in Excel\\?\\)"):
        validate_exam_id("026010001", length=10)
    with pytest.raises(ValueError, match="digits only"):
        validate_exam_id("2026-01")
    with pytest.raises(ValueError, match="empty"):
        validate_exam_id("  ")


@pytest.mark.parametrize("text, message", [
    ("3132000123", None),
    ("2144012345", None),
    ("313200012", "must be 10 digits"),
    ("0132000123", "cannot start with 0"),
    ("3199000123", "digits 3-4 \\(99\\) are not a province code"),
    ("3.132e+09", "Excel stored it as a number"),
])
def test_school_codes(text: str, message: str | None):
    if message is None:
        assert validate_school_code(text) == text
    else:
        with pytest.raises(ValueError, match=message):
            validate_school_code(text)


def test_student_model_normalises_version():
    student = Student(exam_id="2026010001", version="b卷", student_no=None)
    assert student.version == "B" and student.student_no is None
    with pytest.raises(ValueError):
        Student(exam_id="2026010001", school_code="123")


def _teacher_workbook(path: Path, rows: list[list]) -> Path:
    """A roster as a teacher's Excel has it: ids typed as numbers, as text, some broken."""
    book = Workbook()
    sheet = book.active
    sheet.append(["序号", "考号", "学籍号", "姓名", "班级", "学校标识码", "卷型"])
    for row in rows:
        sheet.append(row)
    book.save(path)
    return path


def test_xlsx_roster_with_numeric_cells(tmp_path: Path):
    path = _teacher_workbook(tmp_path / "roster.xlsx", [
        [1, 2026010001, G_OK, "张三", "高一(1)班", 3132000123, "A"],
        [2, 2026010002.0, J_OK, "李四", "高一(1)班", "3132000123", "b"],
        [3, "0026010003", None, "王五", 2, None, None],
        [None, None, None, None, None, None, None],  # an empty row in the middle
        [4, "2026010004", L_OK, "赵六", "高一(2)班", None, None],
    ])
    roster = load_roster(path, id_length=10)
    assert [s.exam_id for s in roster.students] == ["2026010001", "2026010002", "0026010003", "2026010004"]
    assert roster.get("0026010003").class_name == "2" and roster.get("2026010002").version == "B"
    assert roster.get("2026010001").school_code == "3132000123"
    assert "2026010004" in roster and "2026010005" not in roster and len(roster) == 4
    assert roster.get(None) is None


def test_roster_problems_are_listed_with_rows(tmp_path: Path):
    path = _teacher_workbook(tmp_path / "roster.xlsx", [
        [1, 2.02601e9 + 0.5, G_OK, "甲", "1", None, None],  # a float Excel shows as 2.02601E+09
        [2, "2026010002", "G110105194912310021", "乙", "1", None, None],
        [3, "2026010003", 4.10105194912310e17, "丙", "1", None, None],
        [4, "2026010002", None, "丁", "1", None, None],
        [5, "2026010005", None, "戊", "1", "3199000123", None],
        [6, "", None, "己", "1", None, None],
    ])
    with pytest.raises(RosterError) as info:
        load_roster(path)
    errors = info.value.errors
    assert errors[0].startswith("row 2: 考号 '2026010000.5' is not digits: Excel stored it as a number")
    assert errors[1].startswith("row 3 (2026010002): 学籍号 'G110105194912310021': check character")
    assert errors[2].startswith("row 4 (2026010003): 学籍号 '4.1010519491231e+17' is a number")
    assert errors[3] == "row 5: 考号 2026010002 already on row 3"
    assert errors[4].startswith("row 6 (2026010005): 学校标识码 '3199000123'")
    assert errors[5] == "row 7: 考号 (exam id) is empty"
    assert "6 problem(s)" in str(info.value)
    lenient = load_roster(path, strict=False)
    assert [s.exam_id for s in lenient.students] == ["2026010002", "2026010003", "2026010005"]
    assert lenient.get("2026010002").student_no is None and lenient.get("2026010005").school_code is None
    assert lenient.warnings == errors


def test_csv_roster_gbk_and_english_headers(tmp_path: Path):
    path = tmp_path / "roster.csv"
    path.write_bytes("exam_id,name,class,student no\n2026010001,张三,1班,\n0026010002,李四,2班,J440524188001010014\n"
                     .encode("gbk"))
    roster = load_roster(path)
    assert [(s.exam_id, s.name, s.class_name) for s in roster.students] == [
        ("2026010001", "张三", "1班"), ("0026010002", "李四", "2班")]
    assert roster.get("0026010002").student_no == J_OK


def test_missing_id_column_and_bad_files(tmp_path: Path):
    path = tmp_path / "r.csv"
    path.write_text("姓名,班级\n张三,1\n", encoding="utf-8")
    with pytest.raises(RosterError, match="no 考号"):
        load_roster(path)
    with pytest.raises(RosterError, match="cannot read the file: No such file"):
        load_roster(tmp_path / "nowhere.csv")
    (tmp_path / "old.xls").write_bytes(b"\xd0\xcf\x11\xe0")
    with pytest.raises(RosterError, match="old .xls workbooks are not supported"):
        load_roster(tmp_path / "old.xls")
    (tmp_path / "broken.xlsx").write_bytes(b"not a zip")
    with pytest.raises(RosterError, match="cannot read the file: BadZipFile"):
        load_roster(tmp_path / "broken.xlsx")
    with pytest.raises(ValueError, match="twice"):
        Roster([Student(exam_id="1"), Student(exam_id="1")])


def test_written_rosters_keep_ids_as_text(tmp_path: Path):
    students = [Student(exam_id="0026010001", student_no=G_OK, name="张三", class_name="1班",
                        school_code="3132000123", version="A"),
                Student(exam_id="2026010002", name="李四", class_name="2班")]
    write_roster_xlsx(students, tmp_path / "r.xlsx")
    sheet = load_workbook(tmp_path / "r.xlsx")["名单"]
    assert [c.value for c in sheet[1]] == ["考号", "学籍号", "姓名", "班级", "学校标识码", "卷型"]
    assert sheet["A2"].value == "0026010001" and sheet["A2"].data_type == "s" and sheet["A2"].number_format == "@"
    assert sheet["E2"].value == "3132000123" and sheet["E2"].data_type == "s"
    assert load_roster(tmp_path / "r.xlsx").students == students
    write_roster_csv(students, tmp_path / "r.csv")
    assert (tmp_path / "r.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    assert load_roster(tmp_path / "r.csv").students == students


def test_names_and_classes_follow_the_text_rule(tmp_path: Path):
    """A NUL or an escape in a name, an over-long class name or 卷型: refused with the row and the column, every
    problem listed; a lenient load blanks only the bad cell."""
    path = tmp_path / "roster.csv"
    path.write_text("考号,姓名,班级,卷型\n"
                    "2026010001,张\x00三,1班,A\n"
                    "2026010002,李四,1班,A\n"
                    "2026010003,王\x1b五,2班,B\n"
                    f"2026010004,赵六,{'班' * 101},A\n"
                    f"2026010005,钱七,2班,{'A' * 9}\n"
                    f"{'1' * 33},孙八,2班,A\n", encoding="utf-8")
    with pytest.raises(RosterError) as info:
        load_roster(path)
    assert info.value.errors == [
        "row 2 (2026010001): 姓名: contains a control character (U+0000) at position 2",
        "row 4 (2026010003): 姓名: contains a control character (U+001B) at position 2",
        "row 5 (2026010004): 班级: longer than 100 characters (101)",
        "row 6 (2026010005): 卷型: longer than 8 characters (9)",
        "row 7: 考号 has 33 digits, at most 32",
    ]
    lenient = load_roster(path, strict=False)
    assert [(s.exam_id, s.name, s.class_name, s.version) for s in lenient.students] == [
        ("2026010001", "", "1班", "A"), ("2026010002", "李四", "1班", "A"), ("2026010003", "", "2班", "B"),
        ("2026010004", "赵六", "", "A"), ("2026010005", "钱七", "2班", None)]
    assert lenient.warnings == info.value.errors


def test_roster_text_is_stripped_and_composed():
    """Names are kept as NFC (one form of 'é' whichever way it was typed) and at the service's column lengths."""
    student = Student(exam_id="1", name=" Jose\u0301 ", class_name="班" * 100, version="a卷")
    assert student.name == "José" and len(student.name) == 4 and student.version == "A"
    with pytest.raises(ValueError, match="姓名: contains an unpaired surrogate"):
        Student(exam_id="1", name="\ud800")
    with pytest.raises(ValueError, match="班级: contains a private-use character"):
        Student(exam_id="1", class_name="\ue000")
