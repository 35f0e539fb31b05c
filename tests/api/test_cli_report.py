"""``yuejuan report`` end to end through ``api.cli.main``: grade output in, workbooks, PDFs and JSON out."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from openpyxl import load_workbook

from api.cli import main

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "grading" / "samples" / "cn-a4-55-exam.json"
sys.path.insert(0, str(REPO / "tests" / "analytics"))
from analytics_builders import grade_folder  # noqa: E402


@pytest.fixture(scope="module")
def marks(tmp_path_factory) -> Path:
    return grade_folder(tmp_path_factory.mktemp("report-cli"), classes=2, per_class=10, absent=1)


def _report(marks: Path, out: Path | None, *extra: str) -> int:
    return main(["report", "--exam", str(SAMPLE), "--scores", str(marks), *(["--out", str(out)] if out else []),
                 *extra])


def test_class_level_writes_class_and_grade_workbooks_pdfs_and_json(tmp_path, marks, capsys):
    out = tmp_path / "reports"
    assert _report(marks, out, "--students-pdf") == 0
    printed = capsys.readouterr().out
    assert "demo-2026-math (数学, full marks 120): graded 19, absent 1, pending 0" in printed
    names = sorted(p.name for p in out.iterdir())
    assert names == ["analytics.json", "class_高一(1)班.xlsx", "class_高一(2)班.xlsx", "grade.xlsx",
                     "students_高一(1)班.pdf", "students_高一(2)班.pdf"]
    doc = json.loads((out / "analytics.json").read_text(encoding="utf-8"))
    assert doc["counts"]["graded"] == 19 and len(doc["students"]) == 19
    book = load_workbook(out / "class_高一(1)班.xlsx")
    assert "成绩总表" in book.sheetnames and book["成绩总表"]["A2"].data_type == "s"


@pytest.mark.parametrize("level,files", [("grade", ["grade.xlsx"]), ("school", ["school_3432000123.xlsx"]),
                                         ("city", ["city.xlsx"])])
def test_other_levels(tmp_path, marks, level, files):
    out = tmp_path / level
    assert _report(marks, out, "--level", level, "--no-dina") == 0
    assert sorted(p.name for p in out.iterdir()) == sorted([*files, "analytics.json"])


def test_json_to_stdout_with_options(marks, capsys):
    assert _report(marks, None, "--json", "--cutoffs", "90,75,60,30", "--band", "10", "--lang", "en") == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["config"]["cut_lines"] == {"excellent": 108, "good": 90, "pass": 72, "low": 36}
    assert doc["config"]["band"] == 10 and doc["config"]["lang"] == "en"
    gaps = [s["borderline"]["gap"] for s in doc["students"] if s["borderline"]]
    assert gaps and max(gaps) <= 10


def test_english_workbooks(tmp_path, marks):
    out = tmp_path / "en"
    assert _report(marks, out, "--level", "grade", "--lang", "en") == 0
    assert load_workbook(out / "grade.xlsx").sheetnames[:2] == ["Overview", "Classes"]


def test_two_subjects_and_a_trend(tmp_path, marks, capsys):
    physics = tmp_path / "physics.json"
    exam = json.loads(SAMPLE.read_text(encoding="utf-8"))
    exam.update(id="demo-2026-phys", subject="物理")
    physics.write_text(json.dumps(exam, ensure_ascii=False), encoding="utf-8")
    phys_marks = grade_folder(tmp_path / "phys", physics, classes=2, per_class=10, absent=0, seed=9)
    out = tmp_path / "both"
    assert main(["report", "--exam", str(SAMPLE), "--scores", str(marks), "--exam", str(physics), "--scores",
                 str(phys_marks), "--out", str(out), "--level", "grade", "--previous", str(phys_marks)]) == 0
    assert (out / "demo-2026-math" / "grade.xlsx").is_file() and (out / "demo-2026-phys" / "grade.xlsx").is_file()
    totals = json.loads((out / "totals.json").read_text(encoding="utf-8"))
    assert totals["subjects"] == ["数学", "物理"] and totals["full_marks"] == 240
    complete = [s for s in totals["students"] if s["complete"]]
    assert len(complete) == 19 and min(s["city_rank"] for s in complete) == 1
    assert load_workbook(out / "totals.xlsx").sheetnames == ["总分"]
    doc = json.loads((out / "demo-2026-math" / "analytics.json").read_text(encoding="utf-8"))
    assert doc["trend"]["exams"] == ["demo-2026-phys", "demo-2026-math"] and len(doc["trend"]["students"]) == 19
    assert doc["multi_subject"]["subjects"] == ["数学", "物理"]


@pytest.mark.parametrize("args,message", [
    (["--scores", "nowhere"], "not a folder"),
    (["--cutoffs", "85,70,60"], "give four percentages"),
    (["--cutoffs", "60,70,85,40"], "not increasing"),
    (["--band", "0"], "--band 0"),
    (["--exam", "missing.json"], "cannot read exam"),
    ([], "--out is required"),
])
def test_errors_exit_2_with_a_message(tmp_path, marks, capsys, args, message):
    base = {"--exam": str(SAMPLE), "--scores": str(marks)}
    argv = ["report"]
    given = dict(zip(args[::2], args[1::2]))
    for flag in ("--exam", "--scores"):
        argv += [flag, given.pop(flag, base[flag])]
    for flag, value in given.items():
        argv += [flag, value]
    if message != "--out is required":
        argv += ["--out", str(tmp_path / "o")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_unpaired_exam_and_scores(tmp_path, marks, capsys):
    assert main(["report", "--exam", str(SAMPLE), "--exam", str(SAMPLE), "--scores", str(marks), "--out",
                 str(tmp_path)]) == 2
    assert "give them in pairs" in capsys.readouterr().err


def test_trend_and_value_added_link_students_by_student_number_when_the_exam_id_changes(tmp_path, capsys):
    autumn = grade_folder(tmp_path / "autumn", classes=3, per_class=12, absent=0, seed=5, id_prefix="2026")
    spring = grade_folder(tmp_path / "spring", classes=3, per_class=12, absent=2, seed=6, id_prefix="2027")
    teachers = tmp_path / "teachers.csv"
    teachers.write_text("班级,学科,教师\n高一(1)班,数学,王老师\n高一(2)班,数学,李老师\n高一(3)班,数学,王老师\n"
                        "高一(1)班,物理,赵老师\n", encoding="utf-8")
    out = tmp_path / "reports"
    assert main(["report", "--exam", str(SAMPLE), "--scores", str(spring), "--previous", str(autumn),
                 "--teachers", str(teachers), "--out", str(out), "--level", "grade", "--no-dina"]) == 0
    assert "trend: 34 students linked by 学籍号 across 2 exams" in capsys.readouterr().out
    doc = json.loads((out / "analytics.json").read_text(encoding="utf-8"))
    students = doc["trend"]["students"]
    assert len(students) == 34 and all(s["exam_id"].startswith("2027") for s in students)
    assert all(s["student_no"].startswith("G") for s in students)
    points = [p["id"] for p in doc["trend"]["knowledge_points"]]
    assert points and all(len(s["knowledge"]) == 2 and len(s["knowledge"][0]) == len(points) for s in students)
    assert all(set(s["strengths"]).isdisjoint(s["lasting_weak"]) for s in students)
    classes = doc["value_added"]["classes"]
    assert [g["group"] for g in classes["groups"]] == ["高一(1)班", "高一(2)班", "高一(3)班"]
    assert sum(g["n"] for g in classes["groups"]) == 34 and classes["scale"] == "z"
    teachers_va = doc["value_added"]["teachers"]
    assert [(g["group"], g["n"]) for g in teachers_va["groups"]] == [("李老师", 12), ("王老师", 22)]
    book = load_workbook(out / "grade.xlsx")
    assert {"成绩走势", "增值评价"} <= set(book.sheetnames)
    trend_sheet = book["成绩走势"]
    assert trend_sheet["A1"].value == "学籍号" and trend_sheet["A2"].data_type == "s"
    rows = [[cell.value for cell in row] for row in trend_sheet.iter_rows()]
    at = next(k for k, row in enumerate(rows) if row[0] == "班级 平均百分等级走势")
    # a line per class and one for the grade (the school); no common items: no scale-score chart, the reason said
    assert [row[0] for row in rows[at + 2:at + 6]] == ["高一(1)班", "高一(2)班", "高一(3)班", "年级"]
    assert len(trend_sheet._charts) == 1
    assert any("共同题只有 0 道" in str(cell) for row in rows for cell in row if cell)


def test_students_pdf_adds_a_portrait_page_for_each_linked_student(tmp_path):
    autumn = grade_folder(tmp_path / "autumn", classes=2, per_class=8, absent=0, seed=5, id_prefix="2026")
    spring = grade_folder(tmp_path / "spring", classes=2, per_class=8, absent=1, seed=6, id_prefix="2027")
    out = tmp_path / "reports"
    assert main(["report", "--exam", str(SAMPLE), "--scores", str(spring), "--previous", str(autumn), "--out",
                 str(out), "--students-pdf", "--no-dina"]) == 0
    pdf = out / "students_高一(2)班.pdf"
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True,
                          check=True).stdout
    pages = text.split("\f")[:-1]
    # 7 graded students in class 2 (one absent), each linked by 学籍号: a diagnosis page and a 数字画像 page each.
    assert len(pages) == 14
    portrait = pages[1]
    assert "数字画像" in portrait and "学籍号" in portrait and "百分等级走势" in portrait
    assert "知识点得分率:本次 vs 上次" in portrait and "持续薄弱" in portrait and "稳定优势" in portrait


def test_teachers_table_needs_an_earlier_exam(tmp_path, marks, capsys):
    teachers = tmp_path / "teachers.csv"
    teachers.write_text("班级,学科,教师\n高一(1)班,数学,王老师\n", encoding="utf-8")
    assert _report(marks, tmp_path / "o", "--teachers", str(teachers)) == 2
    assert "--teachers needs --previous" in capsys.readouterr().err


@pytest.mark.parametrize("how", ["--no-ranks", "exam"])
def test_no_ranks_leaves_every_exact_rank_out(tmp_path, marks, how):
    exam = SAMPLE
    extra = ["--no-ranks"]
    if how == "exam":  # the exam forbids publishing ranks (公布排名 否)
        definition = json.loads(SAMPLE.read_text(encoding="utf-8"))
        definition["publish_ranks"] = False
        exam = tmp_path / "exam.json"
        exam.write_text(json.dumps(definition, ensure_ascii=False), encoding="utf-8")
        extra = []
    out = tmp_path / "reports"
    assert main(["report", "--exam", str(exam), "--scores", str(marks), "--out", str(out), "--students-pdf",
                 "--no-dina", *extra]) == 0
    doc = json.loads((out / "analytics.json").read_text(encoding="utf-8"))
    assert all(s["class_rank"] is None and s["grade_rank"] is None for s in doc["students"])
    headers = [cell.value for cell in load_workbook(out / "grade.xlsx")["成绩总表"][1]]
    assert "班级排名" not in headers and "年级排名" not in headers and "百分等级" in headers
    text = subprocess.run(["pdftotext", "-layout", str(out / "students_高一(1)班.pdf"), "-"], capture_output=True,
                          text=True, check=True).stdout
    assert "排名" not in text and "百分等级" in text and "年级位置" in text


def test_schools_are_named_not_coded_with_a_school_list(tmp_path, marks):
    schools = tmp_path / "schools.csv"
    schools.write_text("学校标识码,学校名称\n3432000123,示范高级中学\n", encoding="utf-8")
    out = tmp_path / "reports"
    assert main(["report", "--exam", str(SAMPLE), "--scores", str(marks), "--out", str(out), "--students-pdf",
                 "--no-dina", "--schools", str(schools)]) == 0
    text = subprocess.run(["pdftotext", "-f", "1", "-l", "1", str(out / "students_高一(1)班.pdf"), "-"],
                          capture_output=True, text=True, check=True).stdout
    assert "示范高级中学" in text and "3432000123" not in text
    overview = load_workbook(out / "grade.xlsx")["概况"]
    assert str(overview["A1"].value).startswith("示范高级中学")


def test_a_bad_school_list_is_refused_with_its_rows(tmp_path, marks, capsys):
    schools = tmp_path / "schools.csv"
    schools.write_text("学校标识码,学校名称\n12345,某校\n3432000123,\n", encoding="utf-8")
    assert _report(marks, tmp_path / "o", "--schools", str(schools)) == 2
    err = capsys.readouterr().err
    assert "row 2" in err and "row 3: 学校名称 is empty" in err
