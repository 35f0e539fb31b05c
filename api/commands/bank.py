"""``yuejuan bank``: the item bank (题库) — import and export workbooks, find duplicates, fold in a graded exam.

Examples::

    yuejuan bank import items.xlsx --out bank.json --images images/   # rows checked, images checked and attached
    yuejuan bank export bank.json --xlsx items.xlsx                   # to edit in Excel and import again
    yuejuan bank dedupe bank.json --csv duplicates.csv                # same or near-same items, both ids
    yuejuan bank stats bank.json --exam exam.json --scores marks --date 2026-11-20   # P, 区分度, Rasch b, uses

The stem images live in a folder (``images/`` beside the bank unless ``--images`` says otherwise).
"""

from __future__ import annotations

import argparse
import csv
import sys
from datetime import date
from pathlib import Path

__all__ = ["add_parser", "run", "image_folder"]


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``bank`` and its actions on the top-level CLI."""
    parser = subparsers.add_parser("bank", help="item bank (题库): import, export, dedupe, statistics from an exam",
                                   description="The item bank as JSON, edited as a workbook.")
    actions = parser.add_subparsers(dest="bank_command", required=True, metavar="ACTION")
    load = actions.add_parser("import", help="read an item workbook (xlsx or csv), check it, write the bank JSON",
                              description="Every problem is listed with its row; nothing is written then.")
    load.add_argument("file", type=Path, metavar="ITEMS")
    load.add_argument("--out", required=True, type=Path, metavar="BANK_JSON")
    load.add_argument("--images", type=Path, metavar="DIR",
                      help="folder of stem images: named in 题干图片, or <试题编号>.png/.jpg")
    export = actions.add_parser("export", help="write the bank as a workbook to edit and import again")
    export.add_argument("bank", type=Path, metavar="BANK_JSON")
    export.add_argument("--xlsx", required=True, type=Path, metavar="FILE")
    dedupe = actions.add_parser("dedupe", help="list duplicate items (same or near-same text, same image)")
    dedupe.add_argument("bank", type=Path, metavar="BANK_JSON")
    dedupe.add_argument("--images", type=Path, metavar="DIR", help="image folder (default: images/ beside the bank)")
    dedupe.add_argument("--threshold", type=float, default=None, metavar="J",
                        help="Jaccard similarity of character bigrams from which items are near duplicates (0.9)")
    dedupe.add_argument("--csv", type=Path, metavar="FILE", help="also write the pairs as CSV")
    stats = actions.add_parser("stats", help="update P, discrimination, Rasch b and uses from a graded exam",
                               description="Reads the exam JSON (its questions' item_id) and the --out folder of "
                                           "`yuejuan grade`; an exam already counted on an item is not counted "
                                           "again.")
    stats.add_argument("bank", type=Path, metavar="BANK_JSON")
    stats.add_argument("--exam", required=True, type=Path, metavar="EXAM")
    stats.add_argument("--scores", required=True, type=Path, metavar="DIR")
    stats.add_argument("--date", type=date.fromisoformat, default=None, metavar="YYYY-MM-DD",
                       help="the day the exam was sat (default today)")
    stats.add_argument("--out", type=Path, metavar="BANK_JSON", help="write here instead of updating BANK_JSON")
    parser.set_defaults(handler=run)
    return parser


def image_folder(bank_path: Path, given: Path | None) -> Path | None:
    """The image folder to use: ``given`` (which must exist), else ``images/`` beside the bank when it exists."""
    from itembank.store import default_image_folder

    if given is not None:
        if not given.is_dir():
            raise ValueError(f"--images {given}: not a folder")
        return given
    default = default_image_folder(bank_path)
    return default if default.is_dir() else None


def run(args: argparse.Namespace) -> int:
    """Run ``yuejuan bank ACTION``; 2 for an unusable file (its problems printed)."""
    from itembank.model import BankError

    try:
        return {"import": _import, "export": _export, "dedupe": _dedupe, "stats": _stats}[args.bank_command](args)
    except BankError as error:
        print(f"yuejuan bank {args.bank_command}: {error}", file=sys.stderr)
        return 2


def _import(args: argparse.Namespace) -> int:
    from itembank.dedupe import describe, find_duplicates
    from itembank.images import attach_images, check_bank_images
    from itembank.model import BankError
    from itembank.store import save_bank
    from itembank.xlsx import read_bank_xlsx

    bank = read_bank_xlsx(args.file)
    folder = image_folder(args.out, args.images)
    attached: list[str] = []
    if folder is not None:
        bank, attached = attach_images(bank, folder)
    _, problems = check_bank_images(bank, folder)
    if problems:
        raise BankError(f"{args.file}: {len(problems)} stem image problem(s)\n  " + "\n  ".join(problems[:50]))
    duplicates = find_duplicates(bank.items)
    save_bank(bank, args.out)
    print(f"{len(bank.items)} items -> {args.out}" + (f" ({len(attached)} stem images attached by name)"
                                                      if attached else ""))
    for duplicate in duplicates[:20]:
        print(f"  重题? {describe(duplicate)}")
    if len(duplicates) > 20:
        print(f"  ... {len(duplicates) - 20} more: yuejuan bank dedupe {args.out}")
    return 0


def _export(args: argparse.Namespace) -> int:
    from itembank.store import load_bank
    from itembank.xlsx import write_bank_xlsx

    if args.xlsx.is_dir() or not args.xlsx.parent.is_dir():
        raise ValueError(f"cannot write {args.xlsx}: not a file in an existing folder")
    bank = load_bank(args.bank)
    write_bank_xlsx(bank, args.xlsx)
    print(f"{len(bank.items)} items -> {args.xlsx}")
    return 0


def _dedupe(args: argparse.Namespace) -> int:
    from grading.safe_cells import csv_row
    from itembank.dedupe import NEAR_THRESHOLD, describe, find_duplicates, image_duplicates
    from itembank.images import check_bank_images, image_digest
    from itembank.store import load_bank

    bank = load_bank(args.bank)
    threshold = NEAR_THRESHOLD if args.threshold is None else args.threshold
    if not 0 < threshold <= 1:
        raise ValueError(f"--threshold {threshold}: between 0 (exclusive) and 1")
    duplicates = find_duplicates(bank.items, threshold=threshold)
    folder = image_folder(args.bank, args.images)
    paths, problems = check_bank_images(bank, folder) if folder is not None else ({}, [])
    for problem in problems:
        print(f"  图片问题: {problem}", file=sys.stderr)
    duplicates += image_duplicates({item_id: image_digest(path) for item_id, path in paths.items()},
                                   [item.id for item in bank.items])
    for duplicate in duplicates:
        print(describe(duplicate))
    print(f"{len(duplicates)} duplicate pair(s) among {len(bank.items)} items (threshold {threshold:g})")
    if args.csv is not None:
        with open(args.csv, "w", encoding="utf-8-sig", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["试题1", "试题2", "类型", "相似度"])
            for d in duplicates:
                writer.writerow(csv_row([d.first, d.second, d.label, f"{d.similarity:.4f}"]))
    return 0


def _stats(args: argparse.Namespace) -> int:
    from analytics.bank_stats import observe_items, sitting_classes
    from analytics.load import load_exam_for_report, load_grade_output
    from itembank.stats import apply_observations
    from itembank.store import load_bank, save_bank

    bank = load_bank(args.bank)
    exam = load_exam_for_report(args.exam)
    data = load_grade_output(args.scores, exam)
    observations = observe_items(data)
    if not observations:
        raise ValueError(f"{args.exam}: no question carries an item_id: nothing to add to the bank")
    updated, report = apply_observations(bank, observations, exam_id=exam.id, exam_date=args.date or date.today(),
                                         classes=sitting_classes(data))
    save_bank(updated, args.out or args.bank)
    students = observations[0].students
    print(f"{len(report.updated)} items updated from exam {exam.id} ({students} graded students) -> "
          f"{args.out or args.bank}")
    for line in report.skipped:
        print(f"  skipped {line}")
    return 0
