"""Keys and blueprints in spreadsheets: the blank workbook, import from xlsx/CSV with row errors, round trips."""

from __future__ import annotations

from pathlib import Path

import pytest
from openpyxl import load_workbook

from grading.exam import ExamError, load_exam
from grading.exam_io import (
    QUESTION_COLUMNS, ExamImportError, load_exam_any, parse_answers, read_exam_table, write_exam_template_xlsx,
    write_exam_xlsx,
)
from grading_builders import REPO, SAMPLE_EXAM
from omr.template import load_template

HEADERS = ["题号", "题型", "选项", "分值", "答案", "评分规则", "部分分", "知识点", "权重", "认知层次", "状态", "大题", "难度"]


def _csv(path: Path, header: list[str], rows: list[list[str]], encoding: str = "utf-8-sig") -> Path:
    import csv

    with open(path, "w", encoding=encoding, newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def test_blank_template_has_chinese_headers_dropdowns_and_help(tmp_path: Path):
    path = tmp_path / "key.xlsx"
    write_exam_template_xlsx(path)
    book = load_workbook(path)
    assert book.sheetnames == ["试题", "考试", "说明"]
    sheet = book["试题"]
    assert [c.value for c in sheet[1]] == HEADERS == [label for label, _ in QUESTION_COLUMNS.values()]
    assert sheet.freeze_panes == "B2"
    lists = {str(v.sqref): v.formula1 for v in sheet.data_validations.dataValidation}
    assert lists == {"B2:B200": '"单选,多选,判断,主观"', "F2:F200": '"全对得分,部分分,按选项"',
                     "K2:K200": '"正常,送分,作废"'}
    assert sheet["A5"].number_format == "@" and sheet["E5"].number_format == "@"  # keys typed later stay text
    facts = [row[0] for row in book["考试"].iter_rows(min_row=2, values_only=True)]
    assert facts[:7] == ["考试编号", "考试名称", "科目", "考试场次", "满分", "答题卡模板", "默认卷型"]
    explained = [row[0] for row in book["说明"].iter_rows(min_row=2, values_only=True)]
    assert explained[: len(HEADERS)] == HEADERS and "B卷题号" in explained


def test_template_prefilled_from_answer_sheet_then_filled_by_a_teacher(tmp_path: Path):
    template = load_template(REPO / "sample_sheets" / "templates" / "cn-a4-55.json")
    path = tmp_path / "key.xlsx"
    write_exam_template_xlsx(path, template)
    book = load_workbook(path)
    sheet = book["试题"]
    rows = [row for row in sheet.iter_rows(min_row=2, values_only=True) if any(row)]
    assert len(rows) == 58
    assert rows[0][:3] == ("Q1", "单选", None) and rows[40][:2] == ("Q41", "多选") and rows[50][:2] == ("Q51", "判断")
    assert rows[55][:4] == ("Q56", "主观", None, 12)
    # the teacher fills points and keys (typing numbers where Excel makes them numbers)
    for r in range(2, 60):
        kind = sheet.cell(row=r, column=2).value
        if kind != "主观":
            sheet.cell(row=r, column=4, value=1)
            sheet.cell(row=r, column=5, value={"单选": "C", "多选": "ABD", "判断": "√"}[kind])
    sheet["F42"] = "部分分"
    sheet["G42"] = 0.5
    book["考试"]["B4"] = "数学"
    book.save(path)
    exam = read_exam_table(path)
    assert exam.subject == "数学" and exam.template == "cn-a4-55" and exam.id == "key"
    assert exam.full_marks == 55 + 12 + 14 + 20
    assert exam.question("Q51").answers == ["T"] and exam.question("Q41").answers == ["ABD"]
    assert exam.question("Q41").rule == "gaokao" and exam.question("Q41").partial_points == 0.5


def test_csv_import_reads_every_column_kind(tmp_path: Path):
    path = _csv(tmp_path / "key.csv", [*HEADERS, "B卷题号"], [
        ["1", "单选", "A-D", "2", "A|C", "", "", "K01 函数;K02 导数", "0.6;0.4", "理解", "", "一", "0.8", "2"],
        ["2", "单项选择题", "", "2", "b", "", "", "集合", "", "识记", "送分", "一", "", "1"],
        ["3", "多选", "ABCDE", "6", "a, c, d / AC", "部分分", "2", "", "", "", "", "二", "", "3"],
        ["4", "不定项", "", "6", "BD", "按选项", "B=4;D=2", "", "", "", "", "二", "", "4"],
        ["5", "多选", "4", "6", "ABD", "按选项", "", "", "", "", "", "二", "", "5"],
        ["6", "判断", "", "1", "×", "", "", "", "", "", "作废", "三", "", "6"],
        ["Q7", "主观", "", "12.5", "", "", "", "K09:导数", "", "分析", "", "四", "", "7"],
    ])
    exam = read_exam_table(path, subject="数学", sitting="2026-mid")
    q = {qq.id: qq for qq in exam.questions}
    assert exam.id == "key" and exam.subject == "数学" and exam.sitting == "2026-mid"
    assert exam.full_marks == 2 + 2 + 6 + 6 + 6 + 12.5  # Q6 void
    assert q["Q1"].answers == ["A", "C"] and q["Q1"].difficulty == 0.8
    assert [(k.id, k.name, k.weight) for k in q["Q1"].knowledge_points] == [("K01", "函数", 0.6), ("K02", "导数", 0.4)]
    assert [(k.id, k.name) for k in q["Q2"].knowledge_points] == [("集合", "集合")] and q["Q2"].status == "bonus"
    assert q["Q3"].options == "ABCDE" and q["Q3"].answers == ["ACD", "AC"] and q["Q3"].partial_points == 2
    assert q["Q4"].rule == "per_option" and q["Q4"].option_points == {"B": 4, "D": 2}
    assert q["Q5"].options == "ABCD" and q["Q5"].option_points is None
    assert q["Q6"].answers == ["F"] and q["Q6"].status == "void"
    assert q["Q7"].type == "subjective" and q["Q7"].points == 12.5
    assert [s.id for s in exam.sections] == ["一", "二", "三", "四"]
    assert exam.versions == {"A": {}, "B": {"Q1": "Q2", "Q2": "Q1"}}


def test_gbk_csv_and_english_headers(tmp_path: Path):
    path = _csv(tmp_path / "gbk.csv", ["question", "type", "points", "answer", "knowledge point"],
                [["1", "single", "3", "D", "函数"], ["2", "truefalse", "2", "对", ""]], encoding="gbk")
    exam = read_exam_table(path, id="gbk-test")
    assert exam.id == "gbk-test" and exam.subject == "gbk-test" and exam.full_marks == 5
    assert exam.question("Q1").knowledge_points[0].name == "函数" and exam.question("Q2").answers == ["T"]


def test_every_bad_row_is_reported_at_once(tmp_path: Path):
    rows = [[str(n), "单选", "", "1", "B", "", "", "", "", "", "", "", ""] for n in range(1, 16)]
    rows += [
        ["16", "单选", "", "1", "F", "", "", "", "", "", "", "", ""],  # spreadsheet row 17
        ["17", "选择", "", "1", "A", "", "", "", "", "", "", "", ""],
        ["18", "单选", "", "两分", "A", "", "", "", "", "", "", "", ""],
        ["19", "多选", "", "4", "AB", "部分分", "", "", "", "", "", "", ""],
        ["16", "单选", "", "1", "A", "", "", "", "", "", "", "", ""],
        ["21", "单选", "", "1", "A", "", "", "K1;K2", "1", "", "", "", ""],
        ["22", "单选", "", "1", "A", "", "", "", "", "", "删除", "", ""],
        ["23", "判断", "", "1", "AB", "", "", "", "", "", "", "", ""],
    ]
    path = _csv(tmp_path / "key.csv", HEADERS, rows)
    with pytest.raises(ExamImportError) as info:
        read_exam_table(path, subject="数学")
    errors = info.value.errors
    assert errors[0] == "row 17 (Q16): answer 'F' not among options A–D"
    text = str(info.value)
    assert "8 problem(s)" in text
    assert "row 17 (Q16): " in text and "answer 'F' not among options A–D" in text
    assert "row 18 (Q17): 题型 '选择' unknown" in text
    assert "row 19 (Q18): 分值 '两分' is not a number" in text
    assert "row 20 (Q19): " in text and "rule gaokao needs partial_points" in text
    assert "row 21 (Q16): Q16 already on row 17" in text
    assert "row 22 (Q21): 权重 gives 1 weight(s) for 2 knowledge point(s)" in text
    assert "row 23 (Q22): 状态 '删除' unknown" in text
    assert "row 24 (Q23): " in text and "not among options T, F" in text


def test_missing_columns_and_exam_level_problems(tmp_path: Path):
    with pytest.raises(ExamImportError, match=r"row 1: no column 分值 \(points\)"):
        read_exam_table(_csv(tmp_path / "a.csv", ["题号", "题型", "答案"], [["1", "单选", "A"]]))
    path = _csv(tmp_path / "b.csv", ["题号", "题型", "分值", "答案"], [["1", "单选", "2", "A"], ["2", "单选", "3", "B"]])
    with pytest.raises(ExamImportError, match="满分|full_marks 10 differs from the sum of question points 5"):
        read_exam_table(path, full_marks=10)
    with pytest.raises(ExamImportError, match="unknown file type .txtx"):
        read_exam_table(tmp_path / "key.txtx")
    with pytest.raises(ExamError, match="no such file"):
        load_exam_any(tmp_path / "none.xlsx")
    path = _csv(tmp_path / "c.csv", ["题号", "题型", "分值", "答案", "B卷题号"],
                [["1", "单选", "2", "A", "2"], ["2", "单选", "3", "B", "2"]])
    with pytest.raises(ExamImportError, match=r"row 3 \(Q2\): B卷题号 Q2 already used on row 2"):
        read_exam_table(path)


def test_sample_exam_round_trips_through_xlsx(tmp_path: Path):
    exam = load_exam(SAMPLE_EXAM)
    path = tmp_path / "sample.xlsx"
    write_exam_xlsx(exam, path)
    book = load_workbook(path)
    header = [c.value for c in book["试题"][1]]
    assert header == [*HEADERS, "A卷题号", "B卷题号"]
    first = [c.value for c in book["试题"][2]]
    assert first[:5] == ["Q1", "单选", None, 1, exam.question("Q1").answers[0]]
    assert book["试题"]["A2"].data_type == "s" and book["试题"]["A2"].number_format == "@"
    assert read_exam_table(path) == exam
    assert load_exam_any(path) == exam
    assert load_exam_any(SAMPLE_EXAM, subject="数学(改)").subject == "数学(改)"


@pytest.mark.parametrize("key, label, changed", [("review_multiple", "重复涂卡复核", True),
                                                 ("publish_ranks", "公布排名", False)])
def test_yes_no_settings_round_trip_through_xlsx(tmp_path: Path, key, label, changed):
    exam = load_exam(SAMPLE_EXAM).model_copy(update={key: changed})
    path = tmp_path / "strict.xlsx"
    write_exam_xlsx(exam, path)
    facts = {row[0].value: row[1].value for row in load_workbook(path)["考试"].iter_rows(min_row=2)}
    assert facts[label] == ("是" if changed else "否")
    assert getattr(read_exam_table(path), key) is changed
    write_exam_xlsx(load_exam(SAMPLE_EXAM), path)
    assert getattr(read_exam_table(path), key) is (not changed)
    book = load_workbook(path)
    row = next(r for r in book["考试"].iter_rows(min_row=2) if r[0].value == label)
    row[1].value = "maybe"
    book.save(path)
    with pytest.raises(ExamError, match=f"{label} 'maybe': write 是 or 否"):
        read_exam_table(path)


@pytest.mark.parametrize("text, kind, options, expected", [
    ("A|C", "single", "ABCD", ["A", "C"]),
    ("A或C", "single", "ABCD", ["A", "C"]),
    ("A, C, D", "multi", "ABCD", ["ACD"]),
    ("ACD/AC", "multi", "ABCD", ["ACD", "AC"]),
    ("√", "truefalse", "TF", ["T"]),
    ("错误", "truefalse", "TF", ["F"]),
    ("", "single", "ABCD", []),
])
def test_parse_answers(text: str, kind: str, options: str, expected: list[str]):
    assert parse_answers(text, kind, options) == expected


def test_optional_groups_and_violation_policy_round_trip_through_xlsx(tmp_path: Path):
    exam = load_exam(SAMPLE_EXAM.parent / "cn-prov-a3-exam.json").model_copy(update={"violation_policy": "zero"})
    path = tmp_path / "prov.xlsx"
    write_exam_xlsx(exam, path)
    facts = {row[0].value: (row[1].value, row[2].value) for row in load_workbook(path)["考试"].iter_rows(min_row=2)}
    assert facts["选考题"] == ("22、23", "选考题（22、23 任选一题）") and facts["违纪处理"][0] == "计零分"
    back = read_exam_table(path)
    assert back.violation_policy == "zero" and back.full_marks == 150
    assert [g.questions for g in back.optional_groups] == [["Q22", "Q23"]]
    book = load_workbook(path)
    sheet = book["考试"]
    next(r for r in sheet.iter_rows(min_row=2) if r[0].value == "违纪处理")[1].value = "严惩"
    sheet.delete_rows(next(r[0].row for r in sheet.iter_rows(min_row=2) if r[0].value == "满分"))
    book.save(path)
    with pytest.raises(ExamError, match="违纪处理 '严惩': write 列出, 计零分 or 暂缓"):
        read_exam_table(path)
    book = load_workbook(path)
    next(r for r in book["考试"].iter_rows(min_row=2) if r[0].value == "违纪处理")[1].value = "暂缓"
    book.save(path)
    back = read_exam_table(path)  # no 满分 row: the points, the group counted once
    assert back.violation_policy == "hold" and back.full_marks == 150
