"""``yuejuan grade`` and ``yuejuan exam`` end to end through ``api.cli.main``."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook

from api.cli import main
from grading.exam import load_exam
from grading.sheets import SheetRecord
from omr.result import QuestionReading, ScoreReading

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "grading" / "samples" / "cn-a4-55-exam.json"
EXAM = load_exam(SAMPLE)
IDS = [f"20260100{n:02d}" for n in range(1, 11)]

sys.path.insert(0, str(REPO / "tests" / "grading"))
from grading_builders import sheet_line  # noqa: E402


def _perfect(version: str = "A", subjective: tuple = (12, 14, 20)) -> tuple[dict, dict]:
    """Sheet readings scoring full marks on a paper version (sheet numbering)."""
    canonical_of = EXAM.sheet_to_canonical(version)
    questions = {}
    for sheet_q, canonical in canonical_of.items():
        q = EXAM.question(canonical)
        if q.type != "subjective":
            questions[sheet_q] = QuestionReading(q.answers[0], "ok", 0.95)
    scores = {q: ScoreReading(v, "ok", 0.9) for q, v in zip(("Q56", "Q57", "Q58"), subjective)}
    return questions, scores


def _record(number: int, exam_id: str | None, version: str = "A", *, form: str | None = None, **fields) -> SheetRecord:
    questions, scores = _perfect(version)
    fields.setdefault("absent", False)
    return SheetRecord(sheet=number, source="", exam_id=exam_id, id_status="ok" if exam_id else "uncertain",
                       form=form, questions=questions, scores=scores, **fields)


def _roster_xlsx(path: Path) -> Path:
    """As a teacher types it: ids as numbers, 卷型 for one student."""
    book = Workbook()
    book.active.append(["考号", "姓名", "班级", "学校标识码", "卷型"])
    for k, exam_id in enumerate(IDS):
        book.active.append([int(exam_id), f"学生{k + 1}", f"高一({1 + k % 2})班", 3432000123,
                            "B" if k == 2 else None])
    book.save(path)
    return path


def _results(path: Path) -> Path:
    records = [
        _record(1, IDS[0]),  # perfect, paper A
        _record(2, IDS[1], "B", form="B"),  # perfect, paper B read from the sheet
        _record(3, IDS[2], "B"),  # perfect, paper B from the roster
        _record(4, IDS[3]),  # an uncertain bubble and a blank score box
        _record(5, IDS[4], absent=True),
        _record(6, IDS[5]),
        _record(7, IDS[5]),  # two sheets, one id
        _record(8, "2026019999"),  # not on the roster
        _record(9, None),  # id unreadable
        _record(10, IDS[6]),  # a wrong answer on Q1 and a wrong multi-select
    ]
    records[3].questions["Q3"] = QuestionReading("A", "uncertain", 0.4, "C")
    records[3].scores["Q58"] = ScoreReading(None, "blank", 0.9)
    records[3].reasons = ["uncertain marks: Q3"]
    records[9].questions["Q1"] = QuestionReading("ABCD".replace(EXAM.question("Q1").answers[0], "")[0], "ok", 0.9)
    records[9].questions["Q41"] = QuestionReading("A" if "A" not in EXAM.question("Q41").answers[0] else "B", "ok",
                                                  0.9)
    lines = [sheet_line(r, r.sheet - 1) for r in records]
    lines.append(json.dumps({"type": "page", "source": "scan/x.jpg", "page_index": 3, "status": "error",
                             "reasons": ["no anchors found"]}))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _csv_rows(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture
def inputs(tmp_path: Path) -> dict[str, Path]:
    return {"roster": _roster_xlsx(tmp_path / "roster.xlsx"), "results": _results(tmp_path / "results.jsonl")}


def _grade(inputs: dict[str, Path], out: Path, *extra: str) -> int:
    return main(["grade", "--exam", str(SAMPLE), "--results", str(inputs["results"]), "--roster",
                 str(inputs["roster"]), "--out", str(out), *extra])


def test_grade_results_jsonl(tmp_path: Path, inputs, capsys):
    out = tmp_path / "marks"
    assert _grade(inputs, out) == 0
    printed = capsys.readouterr().out
    assert ("demo-2026-math (数学, full marks 120): students 10, graded 4, pending 1, absent 4, duplicate 1, "
            "unmatched sheets 2, exceptions 10") in printed
    rows = {r["考号"]: r for r in _csv_rows(out / "scores.csv")}
    assert list(rows) == IDS
    status = {eid: (r["状态代码"], r["卷型"], r["总分"]) for eid, r in rows.items()}
    assert status == {
        IDS[0]: ("graded", "A", "120"), IDS[1]: ("graded", "B", "120"), IDS[2]: ("graded", "B", "120"),
        IDS[3]: ("pending", "A", ""), IDS[4]: ("absent", "", ""), IDS[5]: ("duplicate", "", ""),
        IDS[6]: ("graded", "A", f"{120 - EXAM.question('Q1').points - EXAM.question('Q41').points:g}"),
        IDS[7]: ("absent", "", ""), IDS[8]: ("absent", "", ""), IDS[9]: ("absent", "", "")}
    assert rows[IDS[3]]["原文"] == "uncertain: Q3 (A ?C); score blank: Q58"
    assert rows[IDS[3]]["说明"] == "涂点不清：Q3 (A ?C)；分数框未填：Q58"
    assert rows[IDS[0]]["姓名"] == "学生1" and rows[IDS[0]]["班级"] == "高一(1)班"
    assert rows[IDS[0]]["学校标识码"] == "3432000123"
    assert rows[IDS[0]]["一、单项选择题"] == "44" and rows[IDS[0]]["四、解答题"] == "46"
    kinds = [(e["类别代码"], e["考号"], e["答题卡"]) for e in _csv_rows(out / "grading_exceptions.csv")]
    assert kinds == [
        ("unknown_id", "2026019999", "8"), ("id_unreadable", "", "9"), ("absent_marked", IDS[4], "5"),
        ("duplicate_sheets", IDS[5], "6"), ("duplicate_sheets", IDS[5], "7"), ("no_sheet", IDS[7], ""),
        ("no_sheet", IDS[8], ""), ("no_sheet", IDS[9], ""), ("unreadable_page", "", ""), ("pending", IDS[3], "4")]
    book = load_workbook(out / "scores.xlsx")
    assert book["成绩"]["A2"].value == IDS[0] and book["成绩"]["A2"].data_type == "s"
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["policy"] == "pending" and summary["pending"] == 1


def test_corrections_subjective_policy_and_regrade(tmp_path: Path, inputs, capsys):
    corrections = tmp_path / "review.csv"
    corrections.write_text("sheet,question,value,who,reason\n4,Q3,A,王老师,looked at the paper\n"
                           "9,exam_id,2026010008,王老师,name on the sheet\n", encoding="utf-8")
    subjective = tmp_path / "online.csv"
    subjective.write_text(f"考号,Q58\n{IDS[3]},15.5\n{IDS[0]},19\n", encoding="utf-8")
    changes = tmp_path / "changes.json"
    q1_key = EXAM.question("Q1").answers[0]
    wrong = "ABCD".replace(q1_key, "")[0]
    changes.write_text(json.dumps([{"action": "accept", "question": "Q1", "answer": wrong},
                                   {"action": "void", "question": "Q41", "reason": "两个选项都对"}]), encoding="utf-8")
    out = tmp_path / "marks"
    args = ["--corrections", str(corrections), "--subjective", str(subjective), "--regrade", str(changes),
            "--changed-by", "教研组"]
    assert _grade(inputs, out, *args) == 0
    printed = capsys.readouterr().out
    assert "regraded Q1 (accept): 1 student(s) changed, full marks 120 -> 120" in printed
    assert "regraded Q41 (void): 6 student(s) changed, full marks 120 -> 118" in printed
    assert "corrections applied 2" in printed
    rows = {r["考号"]: r for r in _csv_rows(out / "scores.csv")}
    q3 = EXAM.question("Q3")
    assert rows[IDS[3]]["状态"] == "已评" and rows[IDS[3]]["状态代码"] == "graded"
    assert float(rows[IDS[3]]["总分"]) == 118 - (q3.points if q3.answers[0] != "A" else 0) - 20 + 15.5
    assert rows[IDS[0]]["总分"] == "117" and rows[IDS[0]]["Q41得分(作废)"] == ""  # Q58 19 from online marking
    assert rows[IDS[6]]["总分"] == "118" and rows[IDS[7]]["状态代码"] == "graded"
    log = [json.loads(line) for line in (out / "key_changes.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [(r["by"], r["change"]["action"], r["full_marks_after"]) for r in log] == [
        ("教研组", "accept", 120), ("教研组", "void", 118)]
    assert log[1]["change"]["reason"] == "两个选项都对" and log[1]["before"]["status"] == "normal"
    changed = load_exam(out / "exam.json")
    assert changed.full_marks == 118 and changed.question("Q41").status == "void"
    applied = _csv_rows(out / "corrections_applied.csv")
    assert [(a["sheet"], a["question"], a["before"], a["after"], a["by"]) for a in applied] == [
        ("9", "exam_id", "(unread)", "2026010008", "王老师"), ("4", "Q3", "A ?C", "A", "王老师")]
    # the log only grows: a second regrade appends
    more = tmp_path / "more.json"
    more.write_text(json.dumps([{"action": "bonus", "question": "Q42"}]), encoding="utf-8")
    assert main(["grade", "--exam", str(out / "exam.json"), "--results", str(inputs["results"]), "--roster",
                 str(inputs["roster"]), "--out", str(out), "--regrade", str(more), "--changed-by", "张老师",
                 "--policy", "score_as_read", "--no-xlsx"]) == 0
    assert len((out / "key_changes.jsonl").read_text(encoding="utf-8").splitlines()) == 3
    assert "policy score_as_read scored 2 reading(s) on 1 sheet(s)" in capsys.readouterr().out


def test_grade_plain_responses_csv(tmp_path: Path, capsys):
    keys = {q.id: q for q in EXAM.questions}
    header = ["考号", *[q.id for q in EXAM.questions]]
    perfect = [keys[q].answers[0] if keys[q].type != "subjective" else str(int(keys[q].points)) for q in header[1:]]
    perfect = ["√" if v == "T" else "×" if v == "F" else v for v in perfect]  # another system's true/false
    blank = ["" for _ in header[1:]]
    responses = tmp_path / "other_system.csv"
    with open(responses, "w", encoding="gbk", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerow(["0000000001", *perfect])
        writer.writerow(["0000000002", *blank])
    roster = tmp_path / "roster.csv"
    roster.write_text("考号,姓名,班级\n0000000001,甲,1\n0000000002,乙,1\n", encoding="utf-8")
    out = tmp_path / "marks"
    assert main(["grade", "--exam", str(SAMPLE), "--results", str(responses), "--roster", str(roster), "--out",
                 str(out), "--policy", "zero", "--id-length", "10", "--lang", "en"]) == 0
    rows = _csv_rows(out / "scores.csv")  # --lang en: the English keys and codes of earlier versions
    assert [(r["exam_id"], r["status"], r["total"]) for r in rows] == [("0000000001", "graded", "120"),
                                                                      ("0000000002", "graded", "0")]
    assert "policy zero scored 3 reading(s) on 1 sheet(s)" in capsys.readouterr().out


def test_grade_without_roster_and_input_errors(tmp_path: Path, inputs, capsys):
    out = tmp_path / "marks"
    assert main(["grade", "--exam", str(SAMPLE), "--results", str(inputs["results"]), "--out", str(out),
                 "--no-xlsx"]) == 0
    assert "students 8, graded 5, pending 1, absent 1, duplicate 1, unmatched sheets 1" in capsys.readouterr().out
    bad_roster = tmp_path / "bad.csv"
    bad_roster.write_text("考号,学籍号\n2.02601E+09,\n2026010002,G110105194912310021\n", encoding="utf-8")
    code = main(["grade", "--exam", str(SAMPLE), "--results", str(inputs["results"]), "--roster", str(bad_roster),
                 "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert "row 2: 考号 '2.02601E+09' is not digits: Excel stored it as a number" in err
    assert "row 3 (2026010002): 学籍号 'G110105194912310021': check character '1' should be 'X'" in err
    assert main(["grade", "--exam", str(SAMPLE), "--results", str(inputs["results"]), "--roster", str(bad_roster),
                 "--out", str(out), "--lenient-roster"]) == 0
    kinds = {e["类别代码"] for e in _csv_rows(out / "grading_exceptions.csv")}
    assert "roster" in kinds
    capsys.readouterr()
    assert main(["grade", "--exam", str(tmp_path / "nope.json"), "--results", str(inputs["results"]), "--out",
                 str(out)]) == 2
    assert "cannot read exam" in capsys.readouterr().err
    changes = tmp_path / "changes.json"
    changes.write_text(json.dumps([{"action": "void", "question": "Q99"}]), encoding="utf-8")
    assert main(["grade", "--exam", str(SAMPLE), "--results", str(inputs["results"]), "--out", str(tmp_path / "x"),
                 "--regrade", str(changes)]) == 2
    assert "has no question Q99" in capsys.readouterr().err
    assert not (tmp_path / "x" / "key_changes.jsonl").exists()


def test_exam_template_import_export(tmp_path: Path, capsys):
    blank = tmp_path / "key.xlsx"
    assert main(["exam", "template", "--xlsx", str(blank), "--template", "cn-a4-55"]) == 0
    assert "with the questions of cn-a4-55" in capsys.readouterr().out
    book = load_workbook(blank)
    sheet = book["试题"]
    for row in range(2, 60):
        if sheet.cell(row=row, column=2).value != "主观":
            sheet.cell(row=row, column=4, value=2)
            sheet.cell(row=row, column=5, value="T" if sheet.cell(row=row, column=2).value == "判断" else "A")
    sheet["E20"] = "F"  # Q19: not among A-D
    sheet["D30"] = "二"  # Q29: points not a number
    book.save(blank)
    exam_json = tmp_path / "exam.json"
    assert main(["exam", "import", str(blank), "--out", str(exam_json), "--subject", "数学"]) == 2
    err = capsys.readouterr().err
    assert "2 problem(s)" in err and "row 20 (Q19): answer 'F' not among options A–D" in err
    assert "row 30 (Q29): 分值 '二' is not a number" in err and "Traceback" not in err
    assert not exam_json.exists()
    sheet["E20"], sheet["D30"] = "B", 2
    book.save(blank)
    assert main(["exam", "import", str(blank), "--out", str(exam_json), "--subject", "数学", "--id", "m1"]) == 0
    captured = capsys.readouterr()
    assert "wrote" in captured.out and "m1 (数学), 58 questions (40 single, 10 multi, 5 truefalse, 3 subjective), " \
                                       "full marks 156" in captured.out
    assert captured.err == ""  # the key fits its answer sheet
    exported = tmp_path / "again.xlsx"
    assert main(["exam", "export", str(exam_json), "--xlsx", str(exported)]) == 0
    again = tmp_path / "again.json"
    assert main(["exam", "import", str(exported), "--out", str(again)]) == 0
    assert load_exam(again) == load_exam(exam_json)
    csv_key = tmp_path / "key.csv"
    csv_key.write_text("题号,题型,分值,答案\n1,单选,2,A\n2,多选,3,AC\n", encoding="utf-8")
    assert main(["exam", "import", str(csv_key), "--out", str(tmp_path / "k.json"), "--template", "cn-a4-55"]) == 0
    assert "warning: Q2: multi-select, but the sheet reads a single mark" in capsys.readouterr().err
    assert main(["exam", "template", "--xlsx", str(tmp_path / "no" / "dir.xlsx")]) == 2


def test_exam_totals_of_a_sitting(tmp_path: Path, inputs, capsys):
    math_out = tmp_path / "math"
    assert _grade(inputs, math_out, "--no-xlsx") == 0
    physics = json.loads(SAMPLE.read_text(encoding="utf-8"))
    physics.update(id="demo-2026-physics", subject="物理")
    (tmp_path / "physics.json").write_text(json.dumps(physics, ensure_ascii=False), encoding="utf-8")
    physics_out = tmp_path / "physics"
    assert main(["grade", "--exam", str(tmp_path / "physics.json"), "--results", str(inputs["results"]), "--roster",
                 str(inputs["roster"]), "--out", str(physics_out), "--no-xlsx"]) == 0
    totals = tmp_path / "totals.csv"
    assert main(["exam", "totals", str(math_out), str(physics_out), "--out", str(totals)]) == 0
    assert "10 students, subjects 数学, 物理, complete 4, full marks 240" in capsys.readouterr().out
    rows = {r["exam_id"]: r for r in _csv_rows(totals)}
    assert rows[IDS[0]]["total"] == "240" and rows[IDS[0]]["name"] == "学生1"
    assert rows[IDS[3]]["total"] == "" and rows[IDS[3]]["missing"] == "数学 物理"
    assert main(["exam", "totals", str(tmp_path), "--out", str(tmp_path / "t.csv")]) == 2
    assert "no scores.csv and summary.json" in capsys.readouterr().err
