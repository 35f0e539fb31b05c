"""``yuejuan grade --exam EXAM --results FILE --roster ROSTER --out DIR``: mark one exam.

Examples::

    yuejuan grade --exam math.json --results scan/results.jsonl --roster roster.xlsx --out marks
    yuejuan grade --exam key.xlsx --results other_system.csv --roster roster.csv --out marks --policy zero
    yuejuan grade --exam math.json --results scan/results.jsonl --roster roster.xlsx --out marks \\
        --corrections review.csv --subjective online_marking.xlsx
    yuejuan grade --exam math.json --results scan/results.jsonl --roster roster.xlsx --out marks \\
        --regrade changes.json --changed-by 王老师

Writes scores.csv, scores.xlsx, grading_exceptions.csv, summary.json and exam.json (the key the scores were
marked with; with --regrade the changed key) to --out (plus corrections_applied.csv when corrections applied and,
with --regrade, an appended key_changes.jsonl).
"""

from __future__ import annotations

import argparse
import getpass
from pathlib import Path

__all__ = ["add_parser", "run"]


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``grade`` on the top-level CLI."""
    parser = subparsers.add_parser(
        "grade", help="mark an exam: match sheets to the roster, score every question, write scores",
        description="Mark one exam from scan results (results.jsonl or results.csv) or a plain responses table "
                    "(id, Q1, Q2 ... with letters). Writes scores.csv, scores.xlsx, grading_exceptions.csv and "
                    "summary.json to --out.",
    )
    parser.add_argument("--exam", required=True, metavar="EXAM", help="exam JSON, or a key workbook (xlsx/csv)")
    parser.add_argument("--results", required=True, metavar="FILE",
                        help="results.jsonl or results.csv of `yuejuan scan`, or a responses CSV/xlsx")
    parser.add_argument("--roster", metavar="ROSTER", help="roster xlsx/csv (考号, 学籍号, 姓名, 班级, 学校标识码, 卷型)")
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder")
    parser.add_argument("--corrections", metavar="FILE", help="reviewer corrections (csv/xlsx/json)")
    parser.add_argument("--subjective", metavar="FILE", help="subjective scores from online marking (csv/xlsx)")
    parser.add_argument("--policy", choices=("pending", "score_as_read", "zero"), default="pending",
                        help="doubtful readings: leave the sheet pending (default), score as read, or score 0")
    parser.add_argument("--regrade", metavar="CHANGES", help="key changes to apply (JSON list), logged to "
                                                             "OUT/key_changes.jsonl")
    parser.add_argument("--changed-by", metavar="NAME", help="who makes the --regrade changes (default: login)")
    parser.add_argument("--id-length", type=int, metavar="N", help="every roster 考号 must have N digits")
    parser.add_argument("--lenient-roster", action="store_true",
                        help="keep going past bad roster rows (listed as exceptions) instead of stopping")
    parser.add_argument("--no-xlsx", action="store_true", help="skip scores.xlsx (large exams)")
    parser.add_argument("--lang", choices=("zh", "en"), default="zh",
                        help="scores.csv headers and status: zh (default; the codes in 状态代码 and 原文 at the end) "
                             "or en (the English keys of earlier versions)")
    parser.set_defaults(handler=run)
    return parser


def run(args: argparse.Namespace) -> int:
    """Run ``yuejuan grade``; 0 on success (pending sheets included), 2 for unusable inputs."""
    from grading.corrections import load_corrections
    from grading.exam import save_exam
    from grading.exam_io import load_exam_any
    from grading.mark import load_subjective_scores
    from grading.pipeline import GradingException, grade_sheets
    from grading.regrade import append_change_log, load_changes, regrade
    from grading.report_io import write_outputs
    from grading.roster import load_roster
    from grading.sheets import read_sheets

    exam = load_exam_any(args.exam)
    changes = load_changes(args.regrade) if args.regrade else []
    subjective_ids = {q.id for q in exam.questions if q.type == "subjective"}
    sheets = read_sheets(args.results, subjective_ids)
    roster = load_roster(args.roster, id_length=args.id_length, strict=not args.lenient_roster) \
        if args.roster else None
    corrections = load_corrections(args.corrections) if args.corrections else []
    subjective = load_subjective_scores(args.subjective, exam) if args.subjective else None
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} is a file, not a folder")

    result = grade_sheets(exam, sheets, roster, corrections=corrections, subjective=subjective,
                          policy=args.policy)
    if roster is not None and roster.warnings:
        result.static_exceptions.extend(GradingException("roster", w) for w in roster.warnings)
    out.mkdir(parents=True, exist_ok=True)
    if changes:
        who = args.changed_by or getpass.getuser()
        grades, records = result.grades, []
        for change in changes:  # all or nothing: the log gets the records only when every change applied
            grades, record = regrade(grades, change, by=who)
            records.append(record)
        for record in records:
            append_change_log(out / "key_changes.jsonl", record)
            print(f"regraded {record.change.question} ({record.change.action}): {record.students_changed} "
                  f"student(s) changed, full marks {record.full_marks_before:g} -> {record.full_marks_after:g}")
        result = result.with_grades(grades)
    # the key these scores were marked with: a later `report --previous` reads its knowledge points from it
    save_exam(result.exam, out / "exam.json")
    write_outputs(result, out, xlsx=not args.no_xlsx, lang=args.lang)
    print(result.summary_line())
    print(f"outputs: {out}/scores.csv, grading_exceptions.csv, summary.json, exam.json"
          + ("" if args.no_xlsx else ", scores.xlsx"))
    return 0
