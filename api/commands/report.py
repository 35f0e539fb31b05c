"""``yuejuan report --exam EXAM --scores GRADE_OUT_DIR --out DIR``: score, item and knowledge-point analysis.

Examples::

    yuejuan report --exam math.json --scores marks --out reports
    yuejuan report --exam math.json --scores marks --out reports --level grade --students-pdf
    yuejuan report --exam math.json --scores marks --out reports --level city --lang en --cutoffs 90,75,60,30
    yuejuan report --exam math.json --scores marks --json > analytics.json
    yuejuan report --exam math.json --scores marks --exam physics.json --scores marks_phys --out reports
    yuejuan report --exam math.json --scores marks --previous marks_autumn --out reports
    yuejuan report --exam math.json --scores marks --out reports --wrongbook bank.json --wrongbook-class 高一(1)班

Writes the level's workbooks (class_<班级>.xlsx and grade.xlsx at --level class; grade.xlsx at grade;
school_<code>.xlsx at school; city.xlsx at city), students_<班级>.pdf with --students-pdf, and analytics.json with
every figure. Several --exam/--scores pairs (subjects of one sitting) are each analysed in OUT/<exam id>/ and
added up in OUT/totals.xlsx and OUT/totals.json. With --wrongbook BANK.json, each student's 错题本 with practice
sets from the bank (wrongbook_<班级>.pdf, wrongbook.json) for the first exam (api/commands/wrongbook.py).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from api.commands.wrongbook import add_wrongbook_arguments, read_wrongbook_bank, write_wrongbook_outputs

__all__ = ["add_parser", "run"]


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``report`` on the top-level CLI."""
    parser = subparsers.add_parser(
        "report", help="analyse graded scores: workbooks, student diagnosis PDFs and analytics.json",
        description="Score analysis (成绩分析), item analysis (试卷分析) and knowledge-point diagnosis (知识点诊断) "
                    "of `yuejuan grade` output, as xlsx workbooks, per-student PDFs and JSON.",
    )
    parser.add_argument("--exam", required=True, action="append", metavar="EXAM",
                        help="exam JSON (or key workbook); repeat with --scores for several subjects")
    parser.add_argument("--scores", required=True, action="append", metavar="DIR",
                        help="the --out folder of `yuejuan grade` (scores.csv, summary.json)")
    parser.add_argument("--out", metavar="DIR", help="output folder (optional with --json)")
    parser.add_argument("--level", choices=("class", "grade", "school", "city"), default="class",
                        help="class: a workbook per class and the grade's; grade: classes compared; school: one "
                             "per school; city: schools compared (default class)")
    parser.add_argument("--lang", choices=("zh", "en"), default="zh", help="headings (default zh)")
    parser.add_argument("--json", action="store_true", help="print the analysis JSON to standard output")
    parser.add_argument("--cutoffs", default="85,70,60,40", metavar="E,G,P,L",
                        help="优秀,良好,及格,低分 cut-offs in percent of full marks (default 85,70,60,40)")
    parser.add_argument("--band", type=float, default=5.0, metavar="POINTS",
                        help="临界生: points below a cut line (default 5)")
    parser.add_argument("--students-pdf", action="store_true", help="one diagnosis page per student, per class")
    parser.add_argument("--previous", action="append", default=[], metavar="DIR",
                        help="earlier `yuejuan grade` folders (oldest first): students linked by 学籍号 for "
                             "trends and value-added (增值) from the last of them to this exam")
    parser.add_argument("--teachers", default=None, metavar="FILE",
                        help="任课教师表 (CSV/xlsx: 班级, 学科, 教师) for value-added per teacher (needs --previous)")
    parser.add_argument("--no-dina", action="store_true", help="skip the DINA cognitive-diagnosis model")
    parser.add_argument("--schools", default=None, metavar="FILE",
                        help="学校名单 (CSV/xlsx: 学校标识码, 学校名称): reports name schools instead of codes")
    parser.add_argument("--no-ranks", action="store_true",
                        help="print no exact ranks (班级/年级/全市排名), as many regions require; an exam with "
                             "公布排名 否 (publish_ranks false) prints none either way")
    add_wrongbook_arguments(parser)
    parser.set_defaults(handler=run)
    return parser


def _cutoffs(text: str) -> tuple[float, float, float, float]:
    try:
        values = [float(part) for part in text.split(",")]
    except ValueError:
        raise ValueError(f"--cutoffs {text!r}: give four percentages such as 85,70,60,40") from None
    if len(values) != 4:
        raise ValueError(f"--cutoffs {text!r}: give four percentages (优秀, 良好, 及格, 低分), got {len(values)}")
    if not all(0 < v <= 100 for v in values) or not values[0] >= values[1] >= values[2] >= values[3]:
        raise ValueError(f"--cutoffs {text!r}: percentages in (0, 100], not increasing")
    return tuple(v / 100.0 for v in values)  # type: ignore[return-value]


def run(args: argparse.Namespace) -> int:
    """Run ``yuejuan report``; 0 on success, 2 for unusable inputs (raised as ValueError/OSError)."""
    from dataclasses import replace

    from analytics.analysis import analyse, multi_subject
    from analytics.load import load_exam_for_report, load_exam_scores, load_grade_output
    from analytics.longitudinal import exam_scores_of
    from analytics.progress import progress_of
    from analytics.school_names import load_school_names
    from analytics.teachers import load_teachers
    from analytics.model import ReportConfig
    from analytics.report_json import analysis_json
    from analytics.reports import summary_line, write_reports

    if len(args.exam) != len(args.scores):
        raise ValueError(f"{len(args.exam)} --exam but {len(args.scores)} --scores: give them in pairs")
    if args.out is None and not args.json:
        raise ValueError("--out is required (or --json to print the analysis)")
    if not args.band > 0:
        raise ValueError(f"--band {args.band:g}: must be above 0 points")
    config = ReportConfig(cutoffs=_cutoffs(args.cutoffs), band=args.band, lang=args.lang, dina=not args.no_dina,
                          ranks=not args.no_ranks,
                          school_names=load_school_names(args.schools) if args.schools else ())
    datasets = [load_grade_output(scores, load_exam_for_report(exam)) for exam, scores in zip(args.exam, args.scores)]
    if args.teachers and not args.previous:
        raise ValueError("--teachers needs --previous: value-added compares this exam with an earlier one")
    progress = None
    if args.previous:
        current = datasets[0]
        teachers = load_teachers(args.teachers, current.exam.subject) if args.teachers else None
        progress = progress_of([*(load_exam_scores(folder) for folder in args.previous), exam_scores_of(current)],
                               teachers=teachers)
        linked = 0 if progress.trend is None else len(progress.trend.exam_ids)
        print(f"trend: {linked} students linked by 学籍号 across {len(args.previous) + 1} exams"
              + "".join(f"; {note}" for note in progress.notes), file=sys.stderr if args.json else sys.stdout)
    multi = multi_subject(datasets) if len(datasets) > 1 else None
    out = Path(args.out) if args.out else None
    if out is not None and out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} is a file, not a folder")
    bank = read_wrongbook_bank(args, datasets[0])
    documents, first_analysis = [], None
    for data in datasets:
        analysis = analyse(data, config)
        first_analysis = analysis if data is datasets[0] else first_analysis
        analysis = replace(analysis, progress=progress if data is datasets[0] else None, multi=multi)
        where = out / data.exam.id if (out is not None and len(datasets) > 1) else out
        if where is not None:
            written = write_reports(analysis, where, level=args.level, students_pdf=args.students_pdf)
            print(summary_line(analysis), file=sys.stderr if args.json else sys.stdout)
            print(f"outputs: {', '.join(str(p) for p in written)}", file=sys.stderr if args.json else sys.stdout)
        if args.json:
            documents.append(analysis_json(analysis))
    if multi is not None and out is not None:
        from analytics.report_json import multi_subject_json
        from analytics.workbook import write_totals_workbook

        ranks = config.ranks and all(d.exam.publish_ranks for d in datasets)
        write_totals_workbook(multi, out / "totals.xlsx", lang=args.lang, ranks=ranks)
        (out / "totals.json").write_text(json.dumps(multi_subject_json(multi, ranks=ranks), ensure_ascii=False,
                                                    allow_nan=False) + "\n", encoding="utf-8")
        print(f"totals of {', '.join(multi.subjects)}: {int(multi.complete.sum())} complete; outputs: "
              f"{out / 'totals.xlsx'}, {out / 'totals.json'}", file=sys.stderr if args.json else sys.stdout)
    if bank is not None:
        write_wrongbook_outputs(args, bank, first_analysis, out / datasets[0].exam.id if len(datasets) > 1 else out,
                                file=sys.stderr if args.json else sys.stdout)
    if args.json:
        payload = documents[0] if len(documents) == 1 else {"subjects": documents}
        print(json.dumps(payload, ensure_ascii=False, allow_nan=False))
    return 0
