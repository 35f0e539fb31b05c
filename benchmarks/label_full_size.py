"""Student stickers too fine for a page decoded at ~100 dpi: read rate without and with the full-size second look.

Simulated sheets (``--template``, ``--profile``; 200 dpi gray JPEG, quality 80-95) carry a Code 128 sticker whose
narrow bar is ``--module-mm`` wide (label printers: 0.25 mm is 2 dots at 203 dpi, 0.33 mm 4 dots at 300 dpi). Each
page is decoded the production way (JPEG reduced to ~100 dpi) and read twice: on the reduced page alone, and with
``full_size`` (the label cut again from the page decoded at full size when it does not read reduced, see
omr/read.py). Printed: labels read exactly, read wrong (must be 0), and the full-size decodes asked for.

Run: ``python benchmarks/label_full_size.py --module-mm 0.25 0.25 --sheets 40``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from omr.batch import decode_min_side_px  # noqa: E402
from omr.load import load_array  # noqa: E402
from omr.read import prepare_template, read_page  # noqa: E402
from sample_sheets import resolve_template  # noqa: E402
from sample_sheets.simulate import random_truth, simulate_sheet  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--template", default="cn-a4-55")
    parser.add_argument("--profile", default="typical")
    parser.add_argument("--module-mm", type=float, nargs=2, default=(0.25, 0.25), metavar=("LO", "HI"))
    parser.add_argument("--sheets", type=int, default=40)
    args = parser.parse_args()
    template = resolve_template(args.template)
    prepared = prepare_template(template)
    min_side = decode_min_side_px(template)
    counts = {"reduced page only": [0, 0, 0, 0.0], "with the full-size look": [0, 0, 0, 0.0]}
    labels = 0
    for seed in range(args.sheets):
        truth = random_truth(template, np.random.default_rng(seed))
        overrides = {"label_module_mm": tuple(args.module_mm), "jpeg_quality": (80, 95), "dpi": 200}
        for sim in simulate_sheet(template, truth, seed=seed, profile=args.profile, overrides=overrides):
            if not sim.truth.get("barcode") or sim.jpeg is None or not prepared.pages[sim.page - 1].expanded.barcodes:
                continue
            labels += 1
            loaded = load_array(sim.jpeg, reduce_jpeg_to_min_px=min_side)[0]
            asked = []

            def full_size():
                asked.append(1)
                return loaded.full_size()

            for name, extra in (("reduced page only", None), ("with the full-size look", full_size)):
                started = time.process_time()
                barcode = read_page(loaded.image, prepared, page_index=sim.page - 1, full_size=extra).barcode
                row = counts[name]
                row[0] += barcode == sim.truth["barcode"]
                row[1] += barcode is not None and barcode != sim.truth["barcode"]
                row[3] += time.process_time() - started
            counts["with the full-size look"][2] += len(asked)
    print(f"{args.template} {args.profile}, Code 128 bars {args.module_mm[0]}-{args.module_mm[1]} mm, {labels} labels:")
    for name, (read, wrong, decodes, cpu) in counts.items():
        print(f"  {name}: read {read} ({read / max(labels, 1):.1%}), wrong {wrong}, full-size decodes {decodes}, "
              f"read_page {cpu / max(labels, 1) * 1000:.1f} ms CPU a page")


if __name__ == "__main__":
    main()
