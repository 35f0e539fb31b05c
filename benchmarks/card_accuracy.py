"""Accuracy of a bundled card through the production path: simulate a batch, scan it as ``yuejuan scan`` does
(JPEG decoded at reduced size), compare every page with the simulator's truth.

Run: ``.venv/bin/python benchmarks/card_accuracy.py --template cn-prov-a3 --profile typical --sheets 20``
(``--bilevel`` for 1-bit PNG pages thresholded by the scanner). Prints the accuracy line of
:class:`sample_sheets.evaluate.Accuracy` (groups: questions, 考号 columns and 选考题 choosers), wall and CPU seconds.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from omr.batch import scan_batch  # noqa: E402
from sample_sheets import resolve_template  # noqa: E402
from sample_sheets.evaluate import evaluate_batch  # noqa: E402
from sample_sheets.simulate import write_batch  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--template", default="cn-prov-a3")
    parser.add_argument("--profile", default="typical")
    parser.add_argument("--sheets", type=int, default=20)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--bilevel", action="store_true", help="1-bit PNG pages (the scanner thresholds)")
    args = parser.parse_args()
    template = resolve_template(args.template)
    with tempfile.TemporaryDirectory() as folder:
        write_batch(template, folder, count=args.sheets, seed=args.seed, profile=args.profile,
                    fmt="png" if args.bilevel else "jpg", overrides={"binarize": "threshold"} if args.bilevel else None)
        wall, cpu = time.perf_counter(), time.process_time()
        pages, _ = scan_batch([folder], template, workers=1)
        accuracy = evaluate_batch(pages, folder, template)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    kind = "1-bit" if args.bilevel else "scanned as the profile says (JPEG; its 1-bit pages PNG)"
    print(f"{args.template}, {args.sheets} {args.profile} sheets, {kind}: {accuracy.line()}")
    print(f"scan (one process, template prepared once) and compare: {wall:.1f} s wall, {cpu:.1f} s CPU")
    for example in accuracy.wrong_examples[:10]:
        print("  ", example)


if __name__ == "__main__":
    main()
