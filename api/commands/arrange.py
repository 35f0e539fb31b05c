"""``yuejuan exam arrange``: 考场编排 from a roster: rooms, seats, new 考号, the printouts and personalised sheets.

Examples::

    yuejuan exam arrange roster.xlsx --rooms 20 --capacity 30 --school 0101 --grade 26 --out arrangement/
    yuejuan exam arrange roster.xlsx --rooms 101,102,103 --capacity 40 --columns 8 --school 0101 --grade 26 \\
        --format "{school}{grade:02d}{room:02d}{seat:02d}" --seed 3 --title 期中考试 --out arrangement/

Registered under ``yuejuan exam`` by :mod:`api.commands.exam` (one line there); the work is
:mod:`api.arranging`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from api.commands.simulate import _positive  # a whole number of at least 1

__all__ = ["add_action", "run"]


def add_action(actions: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``arrange`` among the ``exam`` actions."""
    from logistics.exam_ids import DEFAULT_FORMAT

    parser = actions.add_parser(
        "arrange", help="考场编排: seat a roster into rooms with new 考号, printouts and personalised sheets",
        description="Seats every student of ROSTER (xlsx or csv, as for `yuejuan grade`) into the rooms, classmates "
                    "apart (never side by side or front and back when the mix allows), gives each seat its 考号, "
                    "and writes 考场编排.csv/xlsx, 新名单.csv/xlsx, 考场门贴/座位标签/签到表/缺考登记表.pdf and "
                    "个性化答题卡/考场NN.pdf (each room's personalised sheets in seat order).")
    parser.add_argument("roster", type=Path, metavar="ROSTER")
    parser.add_argument("--rooms", required=True, help="number of rooms, or their names separated by commas")
    parser.add_argument("--capacity", required=True, type=_positive, help="seats per room")
    parser.add_argument("--columns", type=_positive, default=5, help="columns of seats in a room (default 5)")
    parser.add_argument("--school", default="", help="school number in the 考号 (digits)")
    parser.add_argument("--grade", type=int, default=0, help="grade in the 考号")
    parser.add_argument("--format", dest="exam_id_format", default=DEFAULT_FORMAT,
                        help=f"考号 format (default {DEFAULT_FORMAT!r}); refused if two seats could share a 考号 "
                             "or it does not fill the sheet's 考号 grid")
    parser.add_argument("--template", default="cn-a4-55", help="answer-sheet template (default cn-a4-55)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the mix (same seed, same arrangement)")
    parser.add_argument("--title", default="", help="exam title printed on every page")
    parser.add_argument("--no-sheets", dest="sheets", action="store_false", help="no personalised sheets")
    parser.add_argument("--out", required=True, type=Path, metavar="DIR", help="output folder (created)")
    return parser


def run(args: argparse.Namespace) -> int:
    """Arrange, write the folder and print what was written; 2 for an unusable roster or option."""
    from api.arranging import ArrangeOptions, arrange_students, parse_rooms, summary_line, write_arrangement
    from grading.roster import load_roster
    from grading.text import clean_text

    if args.out.exists() and not args.out.is_dir():
        raise ValueError(f"cannot write {args.out}: not a directory")
    options = ArrangeOptions(
        rooms=parse_rooms(args.rooms), capacity=args.capacity, columns=args.columns, school=args.school.strip(),
        grade=args.grade, exam_id_format=args.exam_id_format, template=args.template, seed=args.seed,
        title=clean_text(args.title, field="title", max_length=100), sheets=args.sheets)
    roster = load_roster(args.roster)
    arrangement = arrange_students(roster.students, options)
    written = write_arrangement(arrangement, args.out, options)
    print(f"arranged {summary_line(arrangement)}")
    print(f"wrote {len(written)} files to {args.out}: " + ", ".join(str(p.relative_to(args.out)) for p in written[:8])
          + (f" and {len(written) - 8} personalised-sheet PDFs" if len(written) > 8 else ""))
    return 0
