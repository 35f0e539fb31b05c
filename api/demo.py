"""``make demo``: the main job on the embedded default, end to end.

Renders the sample sheets (printable PDF and PNG), simulates about 200 answer sheets for 4 classes of students who
answer like students (ability per student, difficulty per question, the sample exam's key), scans them as a
school's scanner station would upload them, prints accuracy against the ground truth and throughput, grades the
batch against the exam and a roster, grades an earlier exam (期中) of the same students under other 考号, and
writes the class and grade reports with each student's 数字画像 against it. Then it does the same through the
service: starts `yuejuan serve` on 127.0.0.1, uploads the scans over HTTP, grades and downloads the class report.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

import numpy as np

from api.cli import main as cli
from api.demo_arrange import arrange_demo
from api.demo_bank import write_demo_bank
from api.demo_history import bank_exam, earlier_exam
from api.demo_service import service_round_trip
from grading.exam import Exam, load_exam
from grading.roster import Student, student_no_check_char, write_roster_csv
from grading.sheets import review_reasons
from omr.batch import timed_scan
from omr.geometry import template_geometry
from sample_sheets import bundled_templates, resolve_template
from sample_sheets.evaluate import evaluate_batch
from sample_sheets.printable import render_pdf, render_png
from sample_sheets.simulate import write_batch

SAMPLE_EXAM = Path(__file__).resolve().parent.parent / "grading" / "samples" / "cn-a4-55-exam.json"
DEMO_WRONGBOOK_CLASS = "高一(1)班"
SCHOOL_CODE = "3433000101"  # 34 senior high, 33 Zhejiang, sequence 000101
_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
_GIVEN = "伟芳娜敏静丽强磊洋艳勇军杰娟涛明超秀霞平刚桂英华玉萍红娥玲芬燕"


def _key_and_difficulty(exam: Exam) -> tuple[dict[str, str], dict[str, float]]:
    """The exam's key (first accepted answer) and each question's difficulty in logits from its expected P."""
    key, difficulty = {}, {}
    for question in exam.questions:
        if question.type != "subjective" and question.answers:
            key[question.id] = question.answers[0]
        p = question.difficulty if question.difficulty is not None else 0.65
        p = min(max(p, 0.05), 0.95)
        difficulty[question.id] = float(np.log((1 - p) / p))
    return key, difficulty


def _roster(student_ids: list[str], path: Path) -> None:
    """A class list for the simulated students: valid 学籍号 (G + ID-card body + check digit), names, classes."""
    rng = np.random.default_rng(11)
    students = []
    for index, exam_id in enumerate(student_ids):
        body = f"330102{2010 + index % 2:04d}{1 + index % 12:02d}{1 + index % 28:02d}{index % 1000:03d}"
        name = _SURNAMES[rng.integers(len(_SURNAMES))] + "".join(
            _GIVEN[i] for i in rng.integers(len(_GIVEN), size=int(rng.integers(1, 3))))
        students.append(Student(exam_id=exam_id, student_no="G" + body + student_no_check_char(body), name=name,
                                class_name=f"高一({int(exam_id[4:6])})班", school_code=SCHOOL_CODE))
    write_roster_csv(students, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="demo_out")
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--classes", type=int, default=4)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--no-service", action="store_true", help="skip step 6 (the HTTP service round trip)")
    args = parser.parse_args(argv)
    out = Path(args.out)
    if out.exists():
        shutil.rmtree(out)

    sheets_dir = out / "sheets"
    sheets_dir.mkdir(parents=True)
    for name in bundled_templates():
        template = resolve_template(name)
        render_pdf(template, sheets_dir / f"{name}.pdf")
        for page in range(1, len(template.pages) + 1):
            render_png(template, page, 150, sheets_dir / f"{name}-p{page}.png")
        (sheets_dir / f"{name}.geometry-200dpi.json").write_text(
            json.dumps(template_geometry(template, 200), ensure_ascii=False), encoding="utf-8")
    print(f"[1/6] sample sheets rendered: {sheets_dir}/ ({', '.join(bundled_templates())})")

    exam = load_exam(SAMPLE_EXAM)
    template = resolve_template(exam.template)
    key, difficulty = _key_and_difficulty(exam)
    scans = out / "scans"
    started = time.perf_counter()
    manifest = write_batch(template, scans, count=args.count, seed=args.seed, profile="typical", fmt="jpg",
                           classes=args.classes, truth_options={"answer_key": key, "difficulty": difficulty})
    print(f"[2/6] simulated {args.count} sheets for {args.classes} classes ({exam.subject}, {template.id}, typical "
          f"school scanner) in {time.perf_counter() - started:.1f} s: {scans}/")

    # What the station uploads: the page images (the truth files beside them are for scoring the demo).
    uploads = [scans / entry["file"] for entry in manifest["files"]]
    summary, scanned, pages = timed_scan(uploads, template, out / "scan", workers=args.workers)
    accuracy = evaluate_batch(pages, scans, template)
    in_review = sum(bool(review_reasons(sheet.reasons, review_multiple=exam.review_multiple)) for sheet in scanned)
    print(f"[3/6] scanned: {summary.line()}")
    print(f"      for review under the exam's settings: {in_review} of {summary.sheets} sheets "
          f"(a sure double mark is scored by the rule{'' if exam.review_multiple else ' and not reviewed'})")
    print(f"      accuracy against ground truth: {accuracy.line()}")
    if accuracy.wrong_sure or accuracy.ids_wrong_sure:
        print("      WRONG READINGS REPORTED AS SURE:", *accuracy.wrong_examples, sep="\n        ")
        return 1

    roster = out / "roster.csv"
    _roster(sorted({entry["student_id"] for entry in manifest["pages"]}), roster)
    # the sample exam with bank item ids: the 期中 exam below shares 12 of its items (IRT linking)
    exam_path = bank_exam(out, SAMPLE_EXAM)
    code = cli(["grade", "--exam", str(exam_path), "--results", str(out / "scan" / "results.jsonl"),
                "--roster", str(roster), "--out", str(out / "grade")])
    if code:
        return code
    print(f"[4/6] graded: {out / 'grade'}/scores.csv, scores.xlsx, grading_exceptions.csv")
    # The same students sat a 期中 exam under other 考号: linked by 学籍号, the reports show each one's 数字画像.
    earlier = earlier_exam(out, exam_path, roster, out / "grade")
    # a demo 题库 for the exam (its items keep the exam's ids; practice items demo:P001…): 错题本 for one class
    bank, linked_exam = write_demo_bank(out / "bank", exam_path)
    code = cli(["report", "--exam", str(linked_exam), "--scores", str(out / "grade"), "--out", str(out / "reports"),
                "--students-pdf", "--previous", str(earlier), "--wrongbook", str(bank), "--wrongbook-class",
                DEMO_WRONGBOOK_CLASS])
    if code:
        return code
    print(f"[5/6] reports: {out / 'reports'}/ (class and grade workbooks with 成绩走势 and 增值评价 against the "
          f"期中 exam in {earlier}, student reports with a 数字画像 page each, analytics.json, and the 错题本 of "
          f"{DEMO_WRONGBOOK_CLASS} with practice from the demo 题库 in {out / 'bank'}/)")
    code = arrange_demo(out, roster)  # the next exam's rooms and personalised sheets for the same classes
    if code:
        return code
    if args.no_service:
        return 0
    print("[6/6] the same as a school does it with the service: yuejuan serve on 127.0.0.1, the station uploads "
          "over HTTP, a teacher grades and downloads the class report")
    return service_round_trip(out, uploads, roster, SAMPLE_EXAM, SCHOOL_CODE, "高一(1)班", workers=args.workers)


if __name__ == "__main__":
    sys.exit(main())
