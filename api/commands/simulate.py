"""``yuejuan simulate``: generate scanned answer sheets with ground truth (for tests, benchmarks and demos).

Examples::

    yuejuan simulate --template cn-a4-55 --count 50 --seed 1 --out scans/
    yuejuan simulate --template cn-a3-100 --count 200 --seed 7 --out batch/ --profile hard --format pdf
    yuejuan simulate --template cn-a4-55 --count 120 --seed 3 --out class/ --classes 4 --dpi 300 --format tif
"""

from __future__ import annotations

import argparse
import time
from collections import Counter

from sample_sheets import resolve_template
from sample_sheets.simulate import PROFILES, write_batch

__all__ = ["add_parser", "run"]


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _dpi(text: str) -> int:
    value = _positive(text)
    if not 72 <= value <= 600:
        raise argparse.ArgumentTypeError(f"dpi {value} outside 72..600")
    return value


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``simulate`` on the top-level CLI."""
    parser = subparsers.add_parser(
        "simulate", help="generate realistic scans of filled answer sheets with ground truth",
        description="Fill answer sheets the way students do and scan them the way school scanners do. Writes "
                    "page images (or one multi-page TIFF/PDF), a .truth.json per page and manifest.json.",
    )
    parser.add_argument("--template", required=True, help="template JSON file or bundled name (cn-a4-55)")
    parser.add_argument("--count", type=_positive, required=True, help="sheets to generate")
    parser.add_argument("--seed", type=int, required=True, help="batch seed (same seed, same files)")
    parser.add_argument("--out", required=True, metavar="DIR", help="output directory (created if missing)")
    parser.add_argument("--profile", choices=sorted(PROFILES), default="typical",
                        help="how clean the sheets and the scanner are (default typical)")
    parser.add_argument("--format", dest="fmt", choices=["jpg", "png", "tif", "pdf"], default="jpg",
                        help="jpg/png: a file per page; tif/pdf: one multi-page file (default jpg)")
    parser.add_argument("--dpi", type=_dpi, default=None, help="fixed scan resolution (default: the profile's mix)")
    parser.add_argument("--classes", type=_positive, default=None,
                        help="draw student ids from a roster of this many classes")
    parser.add_argument("--name", default="batch", help="file name stem (default batch)")
    parser.set_defaults(handler=run)
    return parser


def run(args: argparse.Namespace) -> int:
    """Generate the batch and print a one-line summary."""
    template = resolve_template(args.template)
    started = time.perf_counter()
    manifest = write_batch(template, args.out, count=args.count, seed=args.seed, profile=args.profile,
                           fmt=args.fmt, dpi=args.dpi, classes=args.classes, name=args.name)
    elapsed = time.perf_counter() - started
    pages = manifest["pages"]
    files = Counter(entry["file"].rsplit(".", 1)[-1] for entry in pages)
    kinds = ", ".join(f"{n} {ext}" for ext, n in sorted(files.items())) if args.fmt in ("jpg", "png") else \
        f"1 {args.fmt} file"
    print(f"simulated {args.count} sheet(s), {len(pages)} page(s) of {template.id} ({args.profile}) -> "
          f"{args.out} [{kinds}, truth + manifest.json] in {elapsed:.1f} s")
    return 0
