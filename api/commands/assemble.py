"""``yuejuan assemble BANK BLUEPRINT --out DIR``: 组卷 — a paper from the item bank that meets a 双向细目表.

Writes ``exam.json`` (the key, points, blueprint labels and item ids grading reads), ``paper.pdf`` (the printable
paper), ``sheet.json`` (its answer-sheet template, validated) and ``sheet.pdf`` (the sheet rendered to print).
When the bank cannot meet the blueprint, every shortfall is printed and nothing is written (exit 2).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

__all__ = ["add_parser", "run"]


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``assemble`` on the top-level CLI."""
    parser = subparsers.add_parser("assemble", help="组卷: a paper, its exam JSON and answer sheet from the item bank",
                                   description="Assemble a paper to a blueprint (双向细目表) as an integer program "
                                               "(HiGHS): exam.json, paper.pdf, sheet.json and sheet.pdf.")
    parser.add_argument("bank", type=Path, metavar="BANK_JSON")
    parser.add_argument("blueprint", type=Path, metavar="BLUEPRINT_JSON")
    parser.add_argument("--out", required=True, type=Path, metavar="DIR")
    parser.add_argument("--images", type=Path, metavar="DIR", help="stem images (default: images/ beside the bank)")
    parser.add_argument("--title", help="the paper's title (default: the blueprint's name)")
    parser.set_defaults(handler=run)
    return parser


def run(args: argparse.Namespace) -> int:
    """Assemble and write the paper; 2 with every shortfall printed when the bank cannot meet the blueprint."""
    from api.commands.bank import image_folder
    from grading.exam import save_exam
    from itembank.assemble import assemble
    from itembank.blueprint import load_blueprint
    from itembank.images import image_digest, stem_image_path
    from itembank.model import BankError, Item
    from itembank.paper import paper_exam
    from itembank.paper_pdf import write_paper_pdf
    from itembank.sheet import answer_sheet
    from itembank.store import load_bank
    from sample_sheets.printable import render_pdf

    started = time.perf_counter()
    try:
        bank = load_bank(args.bank)
        blueprint = load_blueprint(args.blueprint)
        folder = image_folder(args.bank, args.images)
        paths: dict[str, Path] = {}
        digests: dict[str, str] = {}

        def digest_of(item: Item) -> str | None:
            # only the items the solver chooses are read: their images checked (path, kind, size) and hashed
            if not item.stem_image:
                return None
            if folder is None:
                raise BankError(f"item {item.id} has stem image {item.stem_image!r} but there is no image folder "
                                "(--images)")
            if item.id not in digests:
                try:
                    paths[item.id] = stem_image_path(folder, item.stem_image)
                except BankError as error:
                    raise BankError(f"item {item.id}: {error}") from None
                digests[item.id] = image_digest(paths[item.id])
            return digests[item.id]

        paper = assemble(bank, blueprint, digest_of=digest_of)
    except BankError as error:
        print(f"yuejuan assemble: {error}", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    template_id = f"{blueprint.exam_id}-sheet"
    exam = paper_exam(paper, template_id=template_id)
    title = args.title or blueprint.name or f"{blueprint.subject} 试卷"
    sheet = answer_sheet(exam, template_id=template_id, title=f"{title} 答题卡")
    save_exam(exam, args.out / "exam.json")
    (args.out / "sheet.json").write_text(json.dumps(sheet.model_dump(mode="json", exclude_defaults=True),
                                                    ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    render_pdf(sheet, args.out / "sheet.pdf")
    images = {item.id: paths[item.id] for item in paper.items if item.id in paths}
    pages = write_paper_pdf(paper, exam, args.out / "paper.pdf", images=images, title=title)
    info = ", ".join(f"θ={theta:g}: {value:.2f}" for theta, value in paper.information.items())
    mean = "" if paper.expected_p is None else f", expected mean P {paper.expected_p:.3f}"
    print(f"{len(paper.items)} items, {paper.full_marks:g} points{mean}" + (f", information {info}" if info else "")
          + f" in {time.perf_counter() - started:.1f} s")
    print(f"-> {args.out}/exam.json, paper.pdf ({pages} pages), sheet.json, sheet.pdf ({len(sheet.pages)} pages)")
    return 0
