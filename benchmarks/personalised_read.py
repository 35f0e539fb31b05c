"""Personalised sheets (个性化答题卡) against stuck labels: how often the scan reads the barcode, and never wrongly.

For each profile, ``--count`` simulated cn-a4-55 sheets are printed with their student's Code 128 (and 考号, name,
class, room and seat) by :mod:`sample_sheets.personalised`, and as many ordinary sheets get a stuck label (the
simulator's sticker); both batches (same seed) are scanned by ``yuejuan scan`` (one worker) and every sheet's
barcode is compared with its truth: "right", "wrong" (another text: must never happen) or unread (the sheet is
matched by its grid and goes to review). Run: ``python benchmarks/personalised_read.py [--count 40]
[--profiles typical hard feeder]``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from api.cli import main as cli
from sample_sheets.personalised import PersonalSheet
from sample_sheets.simulate import write_batch


def _tally(folder: Path) -> tuple[int, int, int]:
    """(right, wrong, unread) barcodes of the scanned sheets of ``folder`` against the pages' truth files."""
    truth = {}
    for path in (folder / "scans").glob("*.truth.json"):
        stem = path.name.removesuffix(".truth.json")
        truth[stem] = json.loads(path.read_text(encoding="utf-8"))["barcode"]
    right = wrong = unread = 0
    for line in open(folder / "scan" / "results.jsonl", encoding="utf-8"):
        record = json.loads(line)
        if record.get("type") != "sheet":
            continue
        expected = truth[Path(record["pages"][0]["source"]).stem]
        if record["barcode"] == expected:
            right += 1
        elif record["barcode"] is None:
            unread += 1
        else:
            wrong += 1
    return right, wrong, unread


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=40)
    parser.add_argument("--profiles", nargs="+", default=["typical", "hard", "feeder"])
    parser.add_argument("--seed", type=int, default=77)
    args = parser.parse_args()
    sheets = [PersonalSheet(f"0101260{i:03d}", "王伟", "高一(1)班", "第01考场", i % 30 + 1)
              for i in range(1, args.count + 1)]
    print(f"{'profile':8} {'sheets':>14} {'right':>6} {'wrong':>6} {'unread':>7}")
    with tempfile.TemporaryDirectory() as root:
        for profile in args.profiles:
            for kind, personal in (("printed", sheets), ("sticker", None)):
                folder = Path(root) / f"{profile}-{kind}"
                write_batch("cn-a4-55", folder / "scans", count=args.count, seed=args.seed, profile=profile,
                            personal=personal)
                cli(["scan", str(folder / "scans"), "--template", "cn-a4-55", "--out", str(folder / "scan"),
                     "--workers", "1"])
                right, wrong, unread = _tally(folder)
                print(f"{profile:8} {kind:>8} {right + wrong + unread:5d} {right:6d} {wrong:6d} {unread:7d}",
                      flush=True)


if __name__ == "__main__":
    main()
