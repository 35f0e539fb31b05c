"""``yuejuan template``: render a template for print (PDF) or as PNG, dump its pixel geometry, validate it.

Examples::

    yuejuan template render cn-a4-55 --pdf sheet.pdf
    yuejuan template render cn-a3-100 --png blank.png --dpi 200          # blank-1.png, blank-2.png
    yuejuan template render cn-a3-100 --png p2.png --dpi 300 --page 2
    yuejuan template geometry cn-a4-55 --dpi 200 --out geometry.json
    yuejuan template validate my-sheet.json
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
                    "of a bundled sample (cn-a4-55, cn-a3-100).",
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

    parser.set_defaults(handler=run)
    return parser


def run(args: argparse.Namespace) -> int:
    """Run ``yuejuan template ACTION``; return the exit code (2 for a bad template or bad arguments)."""
    try:
        if args.template_command == "render":
            return _render(args)
        if args.template_command == "geometry":
            return _geometry(args)
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
    count = len(template.pages)
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
