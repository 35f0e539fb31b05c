"""``yuejuan calibrate``: learn a scanner station's profile from its own print and from reviewed pages.

Examples::

    yuejuan calibrate blank blank-scan.pdf --template cn-a4-55 --out station1.json
    yuejuan calibrate batch scans/ --template cn-a4-55 --first 40 --station school-17
    yuejuan calibrate learn corrections.json --station school-17          # or a simulated batch folder
    yuejuan calibrate show --station school-17
    yuejuan calibrate activate --station school-17 --version 2
"""

from __future__ import annotations

import argparse
import json
import random
from dataclasses import replace
from pathlib import Path

from api.commands.simulate import _positive  # the CLI's one "whole number >= 1" argument type

__all__ = ["add_parser", "run"]


def _share(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0.05 <= value <= 0.8:
        raise argparse.ArgumentTypeError("must be between 0.05 and 0.8")
    return value


def _target(parser: argparse.ArgumentParser) -> None:
    """Where a learned profile goes: a file, a station's store, or both."""
    parser.add_argument("--out", type=Path, metavar="PROFILE.json", help="write the profile to this file")
    parser.add_argument("--station", metavar="NAME", help="save it as the station's next (active) version")
    parser.add_argument("--store", type=Path, metavar="DIR",
                        help="profile store folder (default: $YUEJUAN_PROFILE_STORE, else ~/.yuejuan/profiles)")


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``calibrate`` and its actions on the top-level CLI."""
    parser = subparsers.add_parser(
        "calibrate", help="learn a scanner station's profile (print baseline, thresholds)",
        description="Learn a scanner station's profile: each bubble's empty level as printed (from a blank "
                    "sheet or the first pages of a batch), and the thresholds (from reviewed pages).",
    )
    actions = parser.add_subparsers(dest="calibrate_command", required=True, metavar="ACTION")

    blank = actions.add_parser("blank", help="learn the print baseline from scans of the blank printed sheet",
                               description="Scan the blank printed answer sheet (every page, one or more copies) "
                                           "on the station's scanner; each bubble's empty level is measured.")
    blank.add_argument("inputs", nargs="+", metavar="SCAN", help="scan files (PDF, TIFF, JPEG, PNG) or folders")
    batch = actions.add_parser("batch", help="learn the print baseline from the first pages of a marked batch",
                               description="Learn each bubble's empty level from the first pages of a real batch "
                                           "(a low quantile per bubble over the pages, so marks are outliers).")
    batch.add_argument("inputs", nargs="+", metavar="DIR", help="the batch's files or folders")
    batch.add_argument("--first", type=_positive, default=40, metavar="N", help="pages to learn from (default 40)")
    for action in (blank, batch):
        action.add_argument("--template", required=True, help="template JSON path or bundled name")
        action.add_argument("--base", type=Path, metavar="PROFILE",
                            help="profile to start from (default: the station's active one, else the defaults)")
        action.add_argument("--name", help="profile name (default: the station's, else the base's)")
        _target(action)

    learn = actions.add_parser("learn", help="fit thresholds and print baseline to reviewed pages",
                               description="Fit the station's profile to labelled pages: a corrections JSON file "
                                           "(teachers' answers) or a simulated batch folder (its truth). Pages are "
                                           "split into training and held-back ones; the fit becomes the station's "
                                           "active profile only when it flags fewer held-back groups than the "
                                           "current one and reads none wrong but sure.")
    learn.add_argument("labels", type=Path, metavar="LABELS", help="corrections JSON file or simulated batch folder")
    learn.add_argument("--station", required=True, metavar="NAME")
    learn.add_argument("--store", type=Path, metavar="DIR", help="profile store folder")
    learn.add_argument("--template", help="template JSON path or bundled name (default: the one LABELS names)")
    learn.add_argument("--held-back", type=_share, default=0.4, metavar="SHARE",
                       help="share of pages held back to judge the fit (default 0.4)")
    learn.add_argument("--seed", type=int, default=0, help="seed of the training / held-back split")
    learn.add_argument("--report", type=Path, metavar="FILE", help="write the fit report as JSON")

    show = actions.add_parser("show", help="a station's versions, active profile and history")
    activate = actions.add_parser("activate", help="make a stored version the active one (e.g. to go back)")
    activate.add_argument("--version", type=_positive, required=True)
    for action in (show, activate):
        action.add_argument("--station", required=True, metavar="NAME")
        action.add_argument("--store", type=Path, metavar="DIR", help="profile store folder")
    parser.set_defaults(handler=run)
    return parser


def run(args: argparse.Namespace) -> int:
    return {"blank": _baseline, "batch": _baseline, "learn": _learn, "show": _show,
            "activate": _activate}[args.calibrate_command](args)


def _skipped_note(skipped: list[tuple[str, str]]) -> str:
    if not skipped:
        return ""
    where, reason = skipped[0]
    return f"; {len(skipped)} page(s) not used, e.g. {where}: {reason}"


def _baseline(args: argparse.Namespace) -> int:
    from calibration.blank import baseline_from_batch, baseline_from_blank, with_baseline
    from calibration.sources import registered_pages
    from calibration.store import ProfileStore, check_station
    from omr.profile import ScannerProfile, load_profile, save_profile
    from omr.read import prepare_template
    from sample_sheets import resolve_template

    if not (args.out or args.station):
        raise ValueError("say where the profile goes: --out FILE and/or --station NAME")
    if args.station:
        check_station(args.station)
    missing = [given for given in args.inputs if not Path(given).exists()]
    if missing:
        raise ValueError(f"no such file or folder: {', '.join(missing)}")
    template = resolve_template(args.template)
    store = ProfileStore(args.store)
    # The station's thresholds (learned from review) stay; only this template's print baseline is new.
    base = load_profile(args.base) if args.base else (args.station and store.active(args.station)) or ScannerProfile()
    prepared = prepare_template(template, base)
    skipped: list[tuple[str, str]] = []
    limit = args.first if args.calibrate_command == "batch" else None
    pages = list(registered_pages(args.inputs, prepared, limit=limit, skipped=skipped))
    if not pages:
        raise ValueError("no page could be registered on the template" + _skipped_note(skipped))
    learn = baseline_from_blank if args.calibrate_command == "blank" else baseline_from_batch
    source = f"{args.calibrate_command}: {len(pages)} page(s) of {', '.join(map(str, args.inputs))}"[:500]
    profile = with_baseline(base, prepared, learn(pages, prepared), source=source,
                            name=args.name or args.station)
    if args.out:
        save_profile(profile, args.out)
    if args.station:
        profile = store.save(args.station, profile, activate=True)
    where = " and ".join(filter(None, [str(args.out) if args.out else "",
                                       f"station {args.station} version {profile.version}" if args.station else ""]))
    print(f"print baseline of {template.id} learned from {len(pages)} page(s){_skipped_note(skipped)}; "
          f"profile written to {where}")
    return 0


def _learn(args: argparse.Namespace) -> int:
    from calibration.fit import fit_profile
    from calibration.sources import labelled_from_corrections, labelled_from_simulation
    from calibration.store import ProfileStore, check_station
    from omr.profile import ScannerProfile
    from omr.read import prepare_template
    from sample_sheets import resolve_template

    check_station(args.station)
    store = ProfileStore(args.store)
    base = store.active(args.station) or ScannerProfile()
    if not args.labels.exists():
        raise ValueError(f"no such file or folder: {args.labels}")
    simulated = args.labels.is_dir()
    if simulated and not (args.labels / "manifest.json").is_file():
        raise ValueError(f"{args.labels} is a folder without manifest.json: not a simulated batch")
    named = _labels_template(args.labels, simulated)
    template = resolve_template(args.template or named)
    prepared = prepare_template(template, base)
    skipped: list[tuple[str, str]] = []
    pages = (labelled_from_simulation(args.labels, prepared, skipped=skipped) if simulated
             else labelled_from_corrections(args.labels, prepared, skipped=skipped))
    if len(pages) < 4:
        raise ValueError(f"{len(pages)} labelled page(s) could be used, at least 4 are needed"
                         + _skipped_note(skipped))
    order = list(range(len(pages)))
    random.Random(args.seed).shuffle(order)
    cut = max(1, round(len(pages) * args.held_back))
    held_back = [pages[i] for i in sorted(order[:cut])]
    train = [pages[i] for i in sorted(order[cut:])]
    report = fit_profile(train, held_back, base)
    # a new version: its own source and time (the store stamps created_at), not the base's
    report.profile = replace(report.profile, source=f"learn: {len(pages)} labelled page(s) of {args.labels}"[:500],
                             created_at="")
    stored = store.save(args.station, report.profile, activate=report.accepted, report=_summary(report))
    if args.report:
        args.report.write_text(json.dumps(report.to_dict(), ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    before, after = report.before, report.after
    print(f"held-back groups {before.questions}: flagged {before.flagged} ({before.flag_rate:.2%}) -> "
          f"{after.flagged} ({after.flag_rate:.2%}), wrong but sure {before.wrong_sure} -> {after.wrong_sure}; "
          f"station {args.station} version {stored.version} "
          + ("is now active" if report.accepted else f"kept, NOT activated ({report.reason})")
          + _skipped_note(skipped))
    return 0 if report.accepted else 1


def _summary(report) -> dict:
    """The fit report for the store's history (without the profile itself, which is the version's file)."""
    data = report.to_dict()
    data.pop("profile")
    return data


def _labels_template(path: Path, simulated: bool) -> str:
    from calibration.sources import read_json

    source = path / "manifest.json" if simulated else path
    data = read_json(source, "labels file")
    template = data.get("template") if isinstance(data, dict) else None
    if not isinstance(template, str):
        raise ValueError(f"{source} does not name its template; give --template")
    return template


def _show(args: argparse.Namespace) -> int:
    from calibration.store import ProfileStore

    store = ProfileStore(args.store)
    versions = store.versions(args.station)
    if not versions:
        raise ValueError(f"station {args.station!r} has no stored profile in {store.root}")
    active = store.active_version(args.station)
    print(f"station {args.station}: versions {', '.join(map(str, versions))}; active {active or 'none'}")
    for event in store.history(args.station):
        report = event.get("report") or {}
        detail = f" ({report.get('reason')})" if report.get("reason") else ""
        print(f"  {event['at']} {event['event']} v{event['version']}{detail}")
    return 0


def _activate(args: argparse.Namespace) -> int:
    from calibration.store import ProfileStore

    ProfileStore(args.store).activate(args.station, args.version)
    print(f"station {args.station}: version {args.version} is now active")
    return 0
