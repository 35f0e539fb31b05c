"""Trends in the reports when two exams share bank items: the class, grade and city workbooks' 成绩走势 sheets (a line
per class or school and one for the grade or city, percentile and scale score), θ on the first exam's scale in the
JSON and on each student's 数字画像 page, and how the exams were linked."""

from __future__ import annotations

import json
import subprocess
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from openpyxl import load_workbook

from analytics.analysis import analyse
from analytics.load import load_exam_scores, load_grade_output
from analytics.longitudinal import exam_scores_of
from analytics.model import ReportConfig
from analytics.progress import progress_of
from analytics.report_json import analysis_json
from analytics.student_report import write_student_reports
from analytics.workbook import write_city_workbook, write_class_workbook, write_grade_workbook
from analytics_builders import SAMPLE_EXAM_PATH, assert_prints_legibly, grade_folder
from grading.exam import load_exam

SCHOOLS = ("3432000123", "3432000456")


@pytest.fixture(scope="module")
def linked_analysis(tmp_path_factory):
    """Two exams of the same students (two schools, two classes each) whose first 30 questions are the same bank
    items: the earlier graded with its key, so `report --previous` knows its items."""
    folder = tmp_path_factory.mktemp("linked")
    definition = json.loads(Path(SAMPLE_EXAM_PATH).read_text(encoding="utf-8"))
    for q in definition["questions"][:30]:
        q["item_id"] = f"bank-{q['id']}"
    exams = []
    for name in ("autumn", "spring"):
        path = folder / f"{name}.json"
        path.write_text(json.dumps({**definition, "id": f"math-{name}"}, ensure_ascii=False), encoding="utf-8")
        exams.append(path)
    common = dict(classes=2, per_class=15, absent=1, schools=SCHOOLS)
    autumn = grade_folder(folder / "autumn", exams[0], seed=5, id_prefix="2026", **common)
    spring = grade_folder(folder / "spring", exams[1], seed=6, id_prefix="2027", **common)
    data = load_grade_output(spring, load_exam(exams[1]))
    progress = progress_of([load_exam_scores(autumn), exam_scores_of(data)])
    return replace(analyse(data, ReportConfig(dina=False)), progress=progress)


def _rows(ws) -> list[list]:
    return [[cell.value for cell in row] for row in ws.iter_rows()]


def _find(rows: list[list], text: str) -> int:
    return next(k for k, row in enumerate(rows) if row[0] == text)


def test_the_record_is_linked_through_the_common_items(linked_analysis):
    record = linked_analysis.progress.record
    assert record.linked_theta
    link = record.linking.links[1]
    assert link.linked and len(link.common) + len(link.dropped) == 30
    sat = record.in_every_exam()
    assert np.isfinite(record.theta[sat]).all() and np.isfinite(record.scale_scores[sat]).all()
    assert any("经" in note and "道共同题" in note for note in linked_analysis.progress.notes)


def test_grade_workbook_trend_has_classes_the_grade_and_the_scale(tmp_path, linked_analysis):
    path = write_grade_workbook(linked_analysis, tmp_path / "grade.xlsx", school=SCHOOLS[0])
    ws = load_workbook(path)["成绩走势"]
    rows = _rows(ws)
    header = rows[0]
    assert "math-autumn 能力值θ(链接)" in header and "math-spring 量尺分" in header
    theta_col = header.index("math-spring 能力值θ(链接)")
    assert all(isinstance(row[theta_col], float) for row in rows[1:29])  # 2 classes x 15, one absent in each exam
    at = _find(rows, "班级 平均百分等级走势")
    assert [row[0] for row in rows[at + 2:at + 5]] == ["高一(1)班", "高一(2)班", "年级"]
    scale = _find(rows, "班级 平均量尺分走势(共同题链接)")
    assert [row[0] for row in rows[scale + 2:scale + 5]] == ["高一(1)班", "高一(2)班", "年级"]
    assert all(300 < value < 700 for value in rows[scale + 4][1:3])
    assert len(ws._charts) == 2
    linking = _find(rows, "IRT 共同题链接")
    assert rows[linking + 2][0] == "math-autumn" and rows[linking + 3][1] == "Stocking–Lord 特征曲线法"
    assert_prints_legibly(ws)


def test_class_workbook_has_a_trend_sheet_against_its_grade(tmp_path, linked_analysis):
    path = write_class_workbook(linked_analysis, tmp_path / "class.xlsx", 0)
    ws = load_workbook(path)["成绩走势"]
    assert_prints_legibly(ws)
    rows = _rows(ws)
    at = _find(rows, "班级 平均百分等级走势")
    assert [row[0] for row in rows[at + 2:at + 4]] == [linked_analysis.classes.classes[0], "年级"]


def test_city_workbook_has_a_line_per_school_and_the_city(tmp_path, linked_analysis):
    path = write_city_workbook(linked_analysis, tmp_path / "city.xlsx")
    book = load_workbook(path)
    assert {"成绩走势", "增值评价"} <= set(book.sheetnames)
    ws = book["成绩走势"]
    rows = _rows(ws)
    assert rows[0][0] == "学校 平均百分等级走势"  # no student rows in the city's report
    assert [row[0] for row in rows[2:5]] == [*SCHOOLS, "全市"]
    assert len(ws._charts) == 2
    assert_prints_legibly(ws)


def test_json_and_portrait_show_linked_abilities(tmp_path, linked_analysis):
    trend = analysis_json(linked_analysis)["trend"]
    assert trend["linking"]["method"] == "stocking_lord" and trend["linking"]["exams"][1]["linked"]
    assert all(len(s["theta"]) == 2 and s["scale_scores"][1] is not None for s in trend["students"])
    path, _ = write_student_reports(linked_analysis, tmp_path / "students.pdf", 0)
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True,
                          check=True).stdout
    portrait = text.split("\f")[1]
    assert "量尺分" in portrait and "Stocking–Lord" in portrait


def test_a_teachers_grade_workbook_follows_their_students_only(tmp_path, linked_analysis):
    mine = "高一(1)班"
    path = write_grade_workbook(linked_analysis, tmp_path / "grade.xlsx", school=SCHOOLS[0], classes={mine})
    full = _rows(load_workbook(write_grade_workbook(linked_analysis, tmp_path / "all.xlsx",
                                                    school=SCHOOLS[0]))["成绩走势"])
    rows = _rows(load_workbook(path)["成绩走势"])
    klass = rows[0].index("班级")

    def students(table: list[list]) -> list[list]:  # the rows above the first blank one (two schools: "学校 班级")
        return table[1:next(k for k, row in enumerate(table) if row[0] is None)]

    assert students(rows) and {row[klass] for row in students(rows)} == {f"{SCHOOLS[0]} {mine}"}
    assert students(rows) == [row for row in students(full) if row[klass].endswith(mine)]
    assert len(students(full)) > len(students(rows))
    at, at_full = _find(rows, "班级 平均百分等级走势"), _find(full, "班级 平均百分等级走势")
    assert [row[0] for row in rows[at + 2:at + 4]] == [mine, "年级"]
    assert rows[at + 3] == full[at_full + 4]  # the grade's line is the whole grade's

