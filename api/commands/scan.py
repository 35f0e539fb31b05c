"""``yuejuan scan INPUT... --template T --out DIR``: read scanned answer sheets."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "scan", help="read scanned answer sheets (images, multi-page TIFF/PDF, folders)",
        description="Read every page of the inputs against a template. Writes results.jsonl, results.csv "
                    "(one row per sheet) and exceptions.csv (what needs review, with reasons) to --out.",
    )
    parser.add_argument("inputs", nargs="+", help="files or folders (searched recursively)")
    parser.add_argument("--template", required=True, help="template JSON path or bundled name")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")
    parser.add_argument("--overlays", action="store_true", help="write audit overlays to OUT/overlays")
    parser.add_argument("--crops", action="store_true", help="write region crops to OUT/crops")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--profile", default=None, help="scanner profile JSON (yuejuan calibrate --out)")
    source.add_argument("--station", default=None, metavar="NAME",
                        help="use this station's active profile from the profile store (yuejuan calibrate)")
    parser.add_argument("--store", default=None, metavar="DIR",
                        help="profile store folder for --station (default: $YUEJUAN_PROFILE_STORE, "
                             "else ~/.yuejuan/profiles)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(handler=run)


def _nothing_to_read(inputs: list[str], refused: list[tuple[Path, str]]) -> str:
    """Why a scan of ``inputs`` would read no page at all, in words."""
    said = f"nothing to read: no image or PDF file in {', '.join(inputs)}"
    if not refused:
        return said
    example, reason = refused[0]
    return f"{said}; {len(refused)} other file(s), e.g. {example}: {reason}"


def _station_profile(args: argparse.Namespace):
    """The active profile of ``--station`` (None without one); a station with no active profile is an error."""
    if not args.station:
        return None
    from calibration.store import ProfileStore

    store = ProfileStore(args.store)
    profile = store.active(args.station)
    if profile is None:
        raise ValueError(f"station {args.station!r} has no active profile in {store.root}: "
                         "run yuejuan calibrate first")
    return profile


def run(args: argparse.Namespace) -> int:
    from omr.batch import ScanOptions, scan_inputs, timed_scan
    from omr.profile import ScannerProfile, load_profile
    from sample_sheets import bundled_templates, resolve_template

    missing = [given for given in args.inputs if not (Path(given).exists() or Path(given).is_symlink())]
    if missing:  # a mistyped folder is said at once, before any work (and no empty results are written)
        raise ValueError(f"no such file or folder: {', '.join(missing)}")
    files, refused = scan_inputs(args.inputs)
    if not files:
        raise ValueError(_nothing_to_read(args.inputs, refused))
    template = resolve_template(args.template)
    # The bundled cards are the other templates a page could come from: such a page is named, not just unread.
    others = [other for other in map(resolve_template, bundled_templates()) if other.id != template.id]
    profile = load_profile(args.profile) if args.profile else _station_profile(args) or ScannerProfile()
    out = Path(args.out)
    options = ScanOptions(
        overlays_dir=str(out / "overlays") if args.overlays else None,
        crops_dir=str(out / "crops") if args.crops else None,
        reduce=not args.crops,  # crops go to teachers for online marking: decode at the scan's full resolution
    )
    bar = None
    if not args.no_progress:
        from tqdm import tqdm

        bar = tqdm(total=len(files), unit="file", file=sys.stderr, disable=None)

    def progress(_pages: int) -> None:
        if bar is not None:
            bar.update(1)

    summary, _, _ = timed_scan(args.inputs, template, out, profile=profile, workers=args.workers,
                               options=options, progress=progress, other_templates=others)
    if bar is not None:
        bar.close()
    print(summary.line())
    return 0
