"""``yuejuan report … --wrongbook BANK.json``: each student's 错题本 with practice sets from the item bank.

Examples::

    yuejuan report --exam math.json --scores marks --out reports --wrongbook bank.json
    yuejuan report --exam math.json --scores marks --out reports --wrongbook bank.json --wrongbook-class 高一(1)班 \\
                   --previous marks_autumn --practice-items 4

Writes ``wrongbook_<班级>.pdf`` per class (each student's wrong questions with the bank's stems, then practice
for each weak knowledge point, the class's answer key last) and ``wrongbook.json`` into --out, for the first
--exam. Items a student answered in the --previous exams (linked by 学籍号, when those folders hold the exam.json
they were marked with) are never given as practice.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TextIO

__all__ = ["add_wrongbook_arguments", "read_wrongbook_bank", "write_wrongbook_outputs"]


def add_wrongbook_arguments(parser: argparse.ArgumentParser) -> None:
    """The 错题本 options of ``yuejuan report``."""
    from analytics.wrongbook_pdf import PRACTICE_ITEMS, PRACTICE_SEED

    group = parser.add_argument_group("错题本 and practice (item bank)")
    group.add_argument("--wrongbook", metavar="BANK.json", default=None,
                       help="item bank JSON: write each student's 错题本 and practice sets (wrongbook_<班级>.pdf, "
                            "wrongbook.json); stems come from the bank through the questions' item_id")
    group.add_argument("--bank-images", metavar="DIR", default=None,
                       help="the bank's image folder (default: images/ beside BANK.json)")
    group.add_argument("--wrongbook-class", action="append", default=None, metavar="班级",
                       help="only this class (repeat for several; default every class)")
    group.add_argument("--practice-items", type=int, default=PRACTICE_ITEMS, metavar="N",
                       help=f"practice items per weak knowledge point (default {PRACTICE_ITEMS})")
    group.add_argument("--practice-seed", type=int, default=PRACTICE_SEED, metavar="SEED",
                       help=f"seed of the practice order (the same seed gives the same sets; default {PRACTICE_SEED})")
    group.add_argument("--practice-p", choices=("map", "skip"), default="map",
                       help="items with a classical P but no Rasch b: map: placed on the scale from P (default); "
                            "skip: left out")


def _answered_before(folders: list[str]) -> dict[str, set[str]]:
    """学籍号 -> item ids of the earlier exams each student sat (folders without their exam.json are skipped)."""
    from analytics.load import load_exam_for_report, load_grade_output
    from analytics.wrongbook import answered_items

    answered: dict[str, set[str]] = {}
    for folder in folders:
        exam_path = Path(folder) / "exam.json"
        if not exam_path.is_file():
            continue
        for student_no, ids in answered_items(load_grade_output(folder, load_exam_for_report(exam_path))).items():
            answered.setdefault(student_no, set()).update(ids)
    return answered


def read_wrongbook_bank(args: argparse.Namespace, data):
    """The bank of ``--wrongbook`` with the options checked against the exam's data (before any report is
    written); None without ``--wrongbook``."""
    from itembank.store import load_bank

    if not args.wrongbook:
        return None
    if args.out is None:
        raise ValueError("--wrongbook needs --out: the 错题本 PDFs are written there")
    if not 1 <= args.practice_items <= 20:
        raise ValueError(f"--practice-items {args.practice_items}: give 1 to 20")
    if args.wrongbook_class:
        present = {str(c) for c in data.classes[data.graded].tolist()}
        unknown = [c for c in args.wrongbook_class if c not in present]
        if unknown:
            raise ValueError(f"--wrongbook-class {', '.join(unknown)}: no graded student in that class "
                             f"(classes: {', '.join(sorted(present))})")
    return load_bank(args.wrongbook)


def write_wrongbook_outputs(args: argparse.Namespace, bank, analysis, out: Path, *, file: TextIO) -> list[Path]:
    """Build and write the 错题本 of ``analysis``'s exam from ``bank`` as the options ask; prints what was
    written."""
    from analytics.wrongbook_pdf import make_wrongbooks
    from itembank.store import default_image_folder

    images = Path(args.bank_images) if args.bank_images else default_image_folder(args.wrongbook)
    book, written = make_wrongbooks(analysis, bank, out, answered_before=_answered_before(args.previous),
                                    classes=args.wrongbook_class, count=args.practice_items,
                                    seed=args.practice_seed, use_p=args.practice_p == "map", image_dir=images)
    short = sum(bool(ps.shortage) for st in book.students for ps in st.practice)
    sets = sum(len(st.practice) for st in book.students)
    print(f"错题本: {len(book.students)} students, {sum(len(st.wrong) for st in book.students)} wrong questions, "
          f"{sets} practice sets ({short} short of items); {book.notes[0]} outputs: "
          f"{', '.join(str(p) for p in written)}", file=file)
    return written
