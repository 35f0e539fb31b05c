"""``yuejuan template``: render a template for print (PDF) or as PNG, dump its pixel geometry, validate it.

Examples::

    yuejuan template render cn-a4-55 --pdf sheet.pdf
    yuejuan template render cn-a3-100 --png blank.png --dpi 200          # blank-1.png, blank-2.png
    yuejuan template render cn-a3-100 --png p2.png --dpi 300 --page 2
    yuejuan template geometry cn-a4-55 --dpi 200 --out geometry.json
    yuejuan template validate my-sheet.json
    yuejuan template learn blank.pdf --out draft.json --overlay draft.png   # a draft from a blank scan
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from omr.geometry import template_geometry
from omr.template import Template, TemplateError, expand_page
from sample_sheets import resolve_template

__all__ = ["add_parser", "run"]

_MIN_DPI, _MAX_DPI = 50.0, 1200.0


def _dpi(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    return int(value) if value.is_integer() else value  # "dpi": 200 in the JSON, not 200.0


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``template`` and its sub-subcommands on the top-level CLI."""
    parser = subparsers.add_parser(
        "template", help="render, inspect and validate answer-sheet templates",
        description="Render, inspect and validate answer-sheet templates. TEMPLATE is a JSON file or the name "
                    "of a bundled sample (cn-a4-55, cn-a3-100, us-letter-70).",
    )
    actions = parser.add_subparsers(dest="template_command", required=True, metavar="ACTION")

    render = actions.add_parser("render", help="write a printable PDF and/or PNG renderings",
                                description="Write a printable vector PDF (print at 100%%, not 'fit to page') "
                                            "and/or grayscale PNG renderings of a template.")
    render.add_argument("template", metavar="TEMPLATE")
    render.add_argument("--pdf", type=Path, metavar="FILE", help="write every page to this PDF")
    render.add_argument("--png", type=Path, metavar="FILE",
                        help="write a PNG; a multi-page template without --page gives FILE-1.png, FILE-2.png ...")
    render.add_argument("--dpi", type=_dpi, default=200, help="PNG resolution (default 200)")
    render.add_argument("--page", type=int, metavar="N", help="only page N (1-based) for --png")

    geometry = actions.add_parser("geometry", help="print every bubble, anchor and region in pixels as JSON",
                                  description="Print the pixel geometry of every page at a dpi as JSON.")
    geometry.add_argument("template", metavar="TEMPLATE")
    geometry.add_argument("--dpi", type=_dpi, required=True)
    geometry.add_argument("--out", type=Path, metavar="FILE", help="write the JSON here instead of stdout")

    validate = actions.add_parser("validate", help="check a template and summarise it")
    validate.add_argument("template", metavar="TEMPLATE")

    learn = actions.add_parser(
        "learn", help="draft a template from a blank scan (JPEG, PNG, TIFF or PDF; one page per template page)",
        description="Find the corner anchors, the identity strip and the printed bubbles of a blank answer "
                    "sheet and write a draft template: check its names, select kinds and roles, then validate it.")
    learn.add_argument("scan", type=Path, metavar="SCAN")
    learn.add_argument("--out", type=Path, required=True, metavar="FILE", help="write the draft template JSON here")
    learn.add_argument("--overlay", type=Path, metavar="FILE",
                       help="write the draft drawn on the scan as PNG (FILE-1.png, FILE-2.png ... for several pages)")
    learn.add_argument("--dpi", type=_dpi, help="the scan's resolution when its file records none (or a wrong one)")
    learn.add_argument("--id", default="draft", help="the draft's template id (default: draft)")
    learn.add_argument("--name", default="", help="the draft's name")

    parser.set_defaults(handler=run)
    return parser


def run(args: argparse.Namespace) -> int:
    """Run ``yuejuan template ACTION``; return the exit code (2 for a bad template or bad arguments)."""
    try:
        if args.template_command == "render":
            return _render(args)
        if args.template_command == "geometry":
            return _geometry(args)
        if args.template_command == "learn":
            return _learn(args)
        return _validate(args)
    except TemplateError as error:
        print(f"yuejuan template {args.template_command}: {error}", file=sys.stderr)
        return 2


def _load(name_or_path: str) -> Template:
    return resolve_template(name_or_path)


def _check_dpi(dpi: float) -> None:
    if not _MIN_DPI <= dpi <= _MAX_DPI:
        raise TemplateError(f"--dpi {dpi:g} outside {_MIN_DPI:g}..{_MAX_DPI:g}")


def _check_output(path: Path) -> None:
    if path.is_dir():
        raise TemplateError(f"cannot write {path}: it is a directory")
    if not path.parent.is_dir():
        raise TemplateError(f"cannot write {path}: directory {path.parent} does not exist")


def _png_paths(template: Template, base: Path, page: int | None) -> list[tuple[int, Path]]:
    if page is not None:
        return [(page, base)]
    return _numbered_paths(base, len(template.pages))


def _numbered_paths(base: Path, count: int) -> list[tuple[int, Path]]:
    if count == 1:
        return [(1, base)]
    suffix = base.suffix or ".png"
    return [(n, base.with_name(f"{base.stem}-{n}{suffix}")) for n in range(1, count + 1)]


def _render(args: argparse.Namespace) -> int:
    # reportlab and OpenCV load only when rendering: every CLI start imports this module.
    from sample_sheets.printable import render_pdf, render_png

    if args.pdf is None and args.png is None:
        raise TemplateError("nothing to render: give --pdf FILE and/or --png FILE")
    if args.page is not None and args.png is None:
        raise TemplateError("--page applies to --png only (the PDF always has every page)")
    template = _load(args.template)
    if args.page is not None and not 1 <= args.page <= len(template.pages):
        raise TemplateError(f"--page {args.page}: template {template.id!r} has {len(template.pages)} page(s)")
    width, height = template.page_mm
    if args.pdf is not None:
        _check_output(args.pdf)
        render_pdf(template, args.pdf)
        print(f"wrote {args.pdf} ({len(template.pages)} page(s), {width:g} x {height:g} mm)")
    if args.png is not None:
        _check_dpi(args.dpi)
        _check_output(args.png)
        for page, path in _png_paths(template, args.png, args.page):
            render_png(template, page, args.dpi, path)
            print(f"wrote {path} (page {page}, {args.dpi:g} dpi)")
    return 0


def _geometry(args: argparse.Namespace) -> int:
    _check_dpi(args.dpi)
    template = _load(args.template)
    text = json.dumps(template_geometry(template, args.dpi), indent=1, ensure_ascii=False)
    if args.out is None:
        sys.stdout.write(text + "\n")
    else:
        _check_output(args.out)
        args.out.write_text(text + "\n", encoding="utf-8")
        print(f"wrote {args.out}", file=sys.stderr)
    return 0


def _validate(args: argparse.Namespace) -> int:
    template = _load(args.template)
    bubbles = sum(len(expand_page(template, n).bubbles) for n in range(1, len(template.pages) + 1))
    print(f"ok: {template.id}, {len(template.pages)} page(s), {bubbles} bubbles")
    return 0


def _learn(args: argparse.Namespace) -> int:
    # OpenCV, Pillow and the learner load only when learning: every CLI start imports this module.
    from PIL import Image

    from omr.template import parse_template
    from omr.template_learn import LearnError, draw_overlay, learn_template, load_scan

    _check_output(args.out)
    if args.overlay is not None:
        _check_output(args.overlay)
    if not args.scan.is_file():
        raise TemplateError(f"no scan file {args.scan}")
    try:
        pages = load_scan(args.scan)
        if args.dpi is not None:
            _check_dpi(args.dpi)
            pages = [(image, float(args.dpi)) for image, _ in pages]
        learned = learn_template(pages, template_id=args.id, name=args.name)
    except LearnError as error:
        raise TemplateError(f"cannot draft a template from {args.scan}: {error}") from None
    draft = learned.draft
    args.out.write_text(json.dumps(draft, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    for number, page in enumerate(learned.pages, start=1):
        kinds: dict[str, int] = {}
        for item in draft["pages"][number - 1]["fields"]:
            kinds[item["kind"]] = kinds.get(item["kind"], 0) + 1
        strip = (f"identity strip code {page.identity.code} page {page.identity.page}" if page.identity
                 else "no identity strip")
        fields = ", ".join(f"{count} {kind}" for kind, count in kinds.items()) or "no fields"
        print(f"page {number}: {page.frame.width_mm:g} x {page.frame.height_mm:g} mm, {page.bubble_count} bubbles, "
              f"{strip}; {fields}")
    print(f"wrote {args.out}")
    if args.overlay is not None:
        for number, path in _numbered_paths(args.overlay, len(pages)):
            image = draw_overlay(pages[number - 1][0], learned.pages[number - 1].frame, draft, number)
            Image.fromarray(image[:, :, ::-1]).save(path, format="PNG")
            print(f"wrote {path}")
    for note in learned.notes:
        print(f"note: {note}")
    print("check: question numbers and options, select (drafted single: print does not say multi), score-box "
          "maxima and questions, mark roles; texts, answer regions and the barcode area are not drafted")
    try:
        parse_template(draft)
    except TemplateError as error:
        print(f"the draft does not validate yet: {error}", file=sys.stderr)
        return 1
    print(f"the draft validates: yuejuan template validate {args.out}")
    return 0
