"""``make demo``: the main job on the embedded default, end to end.

Renders the sample sheets (printable PDF and PNG), simulates a batch of about 200 answer sheets for 4 classes as
a school's scanner station would upload them, scans the batch, and prints accuracy against the ground truth and
the throughput.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

from omr.batch import timed_scan
from omr.geometry import template_geometry
from sample_sheets import bundled_templates, resolve_template
from sample_sheets.evaluate import evaluate_batch
from sample_sheets.printable import render_pdf, render_png
from sample_sheets.simulate import write_batch


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="demo_out")
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--classes", type=int, default=4)
    parser.add_argument("--template", default="cn-a4-55")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--workers", type=int, default=None)
    args = parser.parse_args(argv)
    out = Path(args.out)
    if out.exists():
        shutil.rmtree(out)

    sheets_dir = out / "sheets"
    sheets_dir.mkdir(parents=True)
    for name in bundled_templates():
        template = resolve_template(name)
        render_pdf(template, sheets_dir / f"{name}.pdf")
        for page in range(1, len(template.pages) + 1):
            render_png(template, page, 150, sheets_dir / f"{name}-p{page}.png")
        (sheets_dir / f"{name}.geometry-200dpi.json").write_text(
            __import__("json").dumps(template_geometry(template, 200), ensure_ascii=False), encoding="utf-8")
    print(f"[1/3] sample sheets rendered: {sheets_dir}/ ({', '.join(bundled_templates())})")

    template = resolve_template(args.template)
    scans = out / "scans"
    started = time.perf_counter()
    manifest = write_batch(template, scans, count=args.count, seed=args.seed, profile="typical", fmt="jpg",
                           classes=args.classes)
    print(f"[2/3] simulated {args.count} sheets for {args.classes} classes ({args.template}, typical school "
          f"scanner) in {time.perf_counter() - started:.1f} s: {scans}/")

    # What the station uploads: the page images (the truth files beside them are for scoring the demo).
    uploads = [scans / entry["file"] for entry in manifest["files"]]
    summary, sheets, pages = timed_scan(uploads, template, out / "scan", workers=args.workers)
    accuracy = evaluate_batch(pages, scans, template)
    print(f"[3/3] scanned: {summary.line()}")
    print(f"      accuracy against ground truth: {accuracy.line()}")
    print(f"      outputs: {out / 'scan'}/results.csv, results.jsonl, exceptions.csv")
    if accuracy.wrong_sure or accuracy.ids_wrong_sure:
        print("      WRONG READINGS REPORTED AS SURE:", *accuracy.wrong_examples, sep="\n        ")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
