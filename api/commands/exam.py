"""``yuejuan exam``: answer keys and blueprints (双向细目表).

Examples::

    yuejuan exam template --xlsx key.xlsx --template cn-a4-55   # blank workbook, questions pre-filled
    yuejuan exam import key.xlsx --out math.json                 # xlsx/csv/json -> validated exam JSON
    yuejuan exam import key.csv --out math.json --id m2026 --subject 数学
    yuejuan exam export math.json --xlsx math.xlsx              # exam JSON -> workbook (round trip)
    yuejuan exam totals marks/math marks/physics --out totals.csv   # 总分 of one sitting
    yuejuan exam arrange roster.xlsx --rooms 20 --capacity 30 --school 0101 --grade 26 --out arrangement/
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from api.commands import arrange

__all__ = ["add_parser", "run"]


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``exam`` and its actions on the top-level CLI."""
    parser = subparsers.add_parser(
        "exam", help="answer keys and blueprints: blank workbook, import, export, sitting totals",
        description="Prepare answer keys and blueprints in Excel and turn them into validated exam JSON.",
    )
    actions = parser.add_subparsers(dest="exam_command", required=True, metavar="ACTION")

    template = actions.add_parser("template", help="write a blank key/blueprint workbook to fill")
    template.add_argument("--xlsx", required=True, type=Path, metavar="FILE")
    template.add_argument("--template", metavar="TEMPLATE",
                          help="answer-sheet template (JSON or bundled name) to pre-fill question rows from")

    load = actions.add_parser("import", help="read a key (xlsx, csv or json), validate it, write exam JSON",
                              description="Every problem is listed with its row; nothing is written then.")
    load.add_argument("file", type=Path, metavar="FILE")
    load.add_argument("--out", required=True, type=Path, metavar="EXAM_JSON")
    for name in ("id", "subject", "sitting", "template", "name"):
        load.add_argument(f"--{name}", help=f"exam {name} (wins over the file)")
    load.add_argument("--full-marks", type=float, help="full marks (checked against the points)")
    load.add_argument("--default-version", help="paper version for sheets and students without one")

    export = actions.add_parser("export", help="write an exam as a workbook teachers can edit and re-import")
    export.add_argument("exam", metavar="EXAM")
    export.add_argument("--xlsx", required=True, type=Path, metavar="FILE")

    totals = actions.add_parser("totals", help="总分: add up the subjects of one sitting by exam id",
                                description="Reads scores.csv and summary.json of each `yuejuan grade` output "
                                            "folder and writes one row per student with every subject and the "
                                            "total (empty unless every subject is graded).")
    totals.add_argument("folders", nargs="+", type=Path, metavar="DIR")
    totals.add_argument("--out", required=True, type=Path, metavar="FILE")
    arrange.add_action(actions)  # 考场编排: its own module
    parser.set_defaults(handler=run)
    return parser


def run(args: argparse.Namespace) -> int:
    """Run ``yuejuan exam ACTION``; 2 for an unusable file (its problems printed)."""
    from grading.exam import ExamError

    try:
        return {"template": _template, "import": _import, "export": _export, "totals": _totals,
                "arrange": arrange.run}[
            args.exam_command](args)
    except ExamError as error:
        print(f"yuejuan exam {args.exam_command}: {error}", file=sys.stderr)
        return 2


def _check_output(path: Path) -> None:
    if path.is_dir():
        raise ValueError(f"cannot write {path}: it is a directory")
    if not path.parent.is_dir():
        raise ValueError(f"cannot write {path}: directory {path.parent} does not exist")


def _template(args: argparse.Namespace) -> int:
    from grading.exam_io import write_exam_template_xlsx

    _check_output(args.xlsx)
    template = None
    if args.template:
        from sample_sheets import resolve_template

        template = resolve_template(args.template)
    write_exam_template_xlsx(args.xlsx, template)
    rows = f" with the questions of {template.id}" if template is not None else ""
    print(f"wrote {args.xlsx}{rows}: fill the 试题 and 考试 sheets, then `yuejuan exam import {args.xlsx.name} "
          f"--out exam.json`")
    return 0


def _template_warnings(exam) -> list[str]:
    """Questions the exam's answer sheet cannot hold (when the template is known): warnings, not errors."""
    from omr.template import TemplateError
    from sample_sheets import resolve_template

    from grading.exam_io import template_problems

    if not exam.template:
        return []
    try:
        template = resolve_template(exam.template)
    except TemplateError:
        return [f"template {exam.template!r} not found: questions not checked against the sheet"]
    return template_problems(exam, template)


def _import(args: argparse.Namespace) -> int:
    from grading.exam import save_exam
    from grading.exam_io import load_exam_any

    _check_output(args.out)
    exam = load_exam_any(args.file, id=args.id, subject=args.subject, sitting=args.sitting,
                         template=args.template, name=args.name, full_marks=args.full_marks,
                         default_version=args.default_version)
    for warning in _template_warnings(exam):
        print(f"warning: {warning}", file=sys.stderr)
    save_exam(exam, args.out)
    counts = {}
    for q in exam.questions:
        counts[q.type] = counts.get(q.type, 0) + 1
    kinds = ", ".join(f"{n} {t}" for t, n in counts.items())
    versions = f", versions {'/'.join(exam.versions)}" if exam.versions else ""
    print(f"wrote {args.out}: {exam.id} ({exam.subject}), {len(exam.questions)} questions ({kinds}), full marks "
          f"{exam.full_marks:g}{versions}")
    return 0


def _export(args: argparse.Namespace) -> int:
    from grading.exam_io import load_exam_any, write_exam_xlsx

    _check_output(args.xlsx)
    exam = load_exam_any(args.exam)
    write_exam_xlsx(exam, args.xlsx)
    print(f"wrote {args.xlsx}: {len(exam.questions)} questions")
    return 0


def _totals(args: argparse.Namespace) -> int:
    from grading.mark import sitting_totals
    from grading.report_io import read_subject_scores, write_sitting_totals_csv

    _check_output(args.out)
    subjects, people = [], {}
    for folder in args.folders:
        if not (folder / "summary.json").exists() or not (folder / "scores.csv").exists():
            raise ValueError(f"{folder}: no scores.csv and summary.json (a `yuejuan grade` output folder?)")
        scores, names = read_subject_scores(folder)
        subjects.append(scores)
        for eid, value in names.items():
            people.setdefault(eid, value)
    totals = sitting_totals(subjects)
    write_sitting_totals_csv(totals, args.out, people)
    print(f"wrote {args.out}: {len(totals.exam_ids)} students, subjects {', '.join(totals.subjects)}, "
          f"complete {int(totals.complete.sum())}, full marks {totals.full_marks:g}")
    return 0
