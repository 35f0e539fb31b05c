"""The xlsx reports read back with openpyxl: sheets, frozen headers, ids as text, number formats, conditional
colours, charts and the figures themselves."""

from __future__ import annotations

import pytest
from openpyxl import load_workbook

from analytics.workbook import safe_name, write_city_workbook, write_class_workbook, write_grade_workbook

CLASS_SHEETS = ["概况", "成绩总表", "小题得分", "试卷分析", "知识点诊断", "一分一段", "临界生", "说明"]


def _column(ws, heading: str) -> int:
    for cell in ws[1]:
        if cell.value == heading:
            return cell.column
    raise AssertionError(f"no column {heading!r} in {ws.title}")


def test_class_workbook(tmp_path, sample_analysis):
    a = sample_analysis
    path = write_class_workbook(a, tmp_path / "class.xlsx", 0)
    book = load_workbook(path)
    assert book.sheetnames == CLASS_SHEETS
    scores = book["成绩总表"]
    assert scores.freeze_panes == "D2"
    id_cell = scores.cell(row=2, column=_column(scores, "考号"))
    assert id_cell.data_type == "s" and id_cell.number_format == "@" and id_cell.value.startswith("2026")
    members = (a.students.class_index == 0).sum()
    assert scores.max_row == members + 1
    totals = [scores.cell(row=r, column=_column(scores, "总分")).value for r in range(2, members + 2)]
    assert totals == sorted(totals, reverse=True)
    ranks = [scores.cell(row=r, column=_column(scores, "班级排名")).value for r in range(2, members + 2)]
    assert ranks[0] == 1 and ranks == sorted(ranks)
    assert scores.conditional_formatting  # colour scale on the totals
    overview = book["概况"]
    assert overview["B4"].value == "高一(1)班" and overview["C4"].value == "年级"
    assert overview["A7"].value == "平均分"
    assert overview["B7"].value == pytest.approx(a.classes.stats.mean[0]) and overview["B7"].number_format == "0.00"
    assert overview["A15"].value == "优秀率" and overview["B15"].number_format == "0.0%"
    assert len(overview._charts) == 1
    items = book["试卷分析"]
    assert items.freeze_panes == "B2" and items.max_row == 59 and len(items._charts) == 1
    assert items.cell(row=2, column=_column(items, "班级得分率")).number_format == "0.0%"
    assert items.cell(row=2, column=_column(items, "班级得分率")).value == pytest.approx(a.classes.item_rates[0, 0])
    assert len(items.conditional_formatting) >= 2
    knowledge = book["知识点诊断"]
    assert knowledge["A2"].value == "K08 解析几何" and len(knowledge._charts) == 1
    segments = book["一分一段"]
    assert segments["A1"].value == "分数" and len(segments._charts) == 1
    notes = book["说明"]
    assert any("Cronbach" in str(c.value) for c in notes["B"])


def test_class_workbook_in_english(tmp_path, sample_analysis):
    book = load_workbook(write_class_workbook(sample_analysis, tmp_path / "class_en.xlsx", 1, lang="en"))
    assert book.sheetnames == ["Overview", "Scores", "Question scores", "Item analysis", "Knowledge points",
                               "Score distribution", "Borderline", "Notes"]
    assert book["Scores"]["A1"].value == "Exam ID"


def test_grade_workbook_compares_classes(tmp_path, sample_analysis):
    a = sample_analysis
    book = load_workbook(write_grade_workbook(a, tmp_path / "grade.xlsx"))
    assert book.sheetnames == ["概况", "班级对比", "成绩总表", "小题得分", "试卷分析", "知识点诊断", "一分一段", "临界生",
                               "说明"]
    classes = book["班级对比"]
    assert [classes.cell(row=r, column=1).value for r in range(2, 6)] == ["高一(1)班", "高一(2)班", "高一(3)班", "年级"]
    mean_col = _column(classes, "平均分")
    assert classes.cell(row=3, column=mean_col).value == pytest.approx(a.classes.stats.mean[1])
    assert classes.cell(row=2, column=_column(classes, "均分差(对年级)")).value == pytest.approx(a.classes.mean_diff[0])
    assert len(classes._charts) == 1
    assert book["成绩总表"].max_row == 35  # every graded student of the grade
    borderline = book["临界生"]
    expected = int(a.students.borderline.within.sum())
    assert borderline.max_row == expected + 1


def test_city_workbook_compares_schools(tmp_path):
    from analytics.analysis import analyse
    from analytics.simulate import simulate_exam_data
    from analytics_builders import sample_exam

    a = analyse(simulate_exam_data(sample_exam(), 300, n_schools=3, classes_per_school=2, seed=4))
    book = load_workbook(write_city_workbook(a, tmp_path / "city.xlsx"))
    assert book.sheetnames == ["概况", "学校对比", "试卷分析", "知识点诊断", "一分一段", "说明"]
    schools = book["学校对比"]
    assert schools.max_row == 4 and schools["A2"].data_type == "s" and schools["A2"].number_format == "@"
    assert schools["A2"].value == "3432000001"
    with pytest.raises(ValueError, match="several schools"):
        write_grade_workbook(a, tmp_path / "grade.xlsx")
    book = load_workbook(write_grade_workbook(a, tmp_path / "grade.xlsx", school="3432000002"))
    assert book["班级对比"].max_row == 4  # two classes and the grade


def test_safe_name():
    assert safe_name("高一(1)班") == "高一(1)班"
    assert safe_name('a/b:c*?"') == "a_b_c___"
    assert safe_name("") == "unnamed"


def test_names_like_formulas_stay_text(tmp_path):
    """Issue 15 finding 6: a student or class named like a formula is a string cell in every report sheet."""
    from dataclasses import replace

    import numpy as np

    from analytics.analysis import analyse
    from analytics.simulate import simulate_exam_data
    from analytics_builders import sample_exam

    data = simulate_exam_data(sample_exam(), 60, n_schools=1, classes_per_school=2, seed=3)
    names = data.names.copy()
    names[:3] = ['=HYPERLINK("http://x","y")', "+SUM(1,2)", "@A1"]
    classes = np.where(data.classes == data.classes[0], "=1+1", data.classes).astype(object)
    a = analyse(replace(data, names=names, classes=classes))
    index = a.classes.classes.tolist().index("=1+1")
    in_class = {names[i] for i in range(3) if classes[i] == "=1+1"}  # the first student's at least
    books = [(write_class_workbook(a, tmp_path / "class.xlsx", index), in_class),
             (write_grade_workbook(a, tmp_path / "grade.xlsx"), set(names[:3]))]
    for path, expected in books:
        book = load_workbook(path)
        strings = set()
        for ws in book.worksheets:
            for row in ws.iter_rows():
                for cell in row:
                    assert cell.data_type != "f", f"{path.name} {ws.title}!{cell.coordinate}: {cell.value!r}"
                    if cell.data_type == "s":
                        strings.add(cell.value)
        assert "=1+1" in strings and '=HYPERLINK("http://x","y")' in expected and expected <= strings
