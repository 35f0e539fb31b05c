"""Timing tracks (同步头) against scanner-speed drift: the same scans read with and without the card's tracks.

Simulates N sheets of the test card with rectangular anchors and left, right and top tracks
(``tests/omr/data/timing_card.json``) on the typical profile, with a feed whose local stretch wanders by up to
``--drift`` and stretches by up to ``--stretch`` overall, and reads every scan twice: with the card as printed, and
with the same card less its tracks (what a reader without 同步头 does). Prints per reading: questions read sure and
right, wrong but sure, pages flagged whole (registration unsure), how far the reader put the bubble centres from
where the simulator drew them (max and 90th percentile over pages of each page's worst bubble), and the tracks'
own time.

Run: ``python benchmarks/timing_tracks.py --count 40``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from omr.geometry import MM_PER_INCH  # noqa: E402
from omr.read import REGISTRATION_UNSURE, prepare_template, read_page  # noqa: E402
from omr.register import apply_homography  # noqa: E402
from omr.template import load_template, parse_template  # noqa: E402
from omr.tracks import timing_corrected  # noqa: E402
from sample_sheets.evaluate import Accuracy, compare_page  # noqa: E402
from sample_sheets.scanner import scan_points  # noqa: E402
from sample_sheets.simulate import random_truth, simulate_sheet  # noqa: E402

CARD = Path(__file__).resolve().parent.parent / "tests" / "omr" / "data" / "timing_card.json"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=40, help="sheets to simulate")
    parser.add_argument("--drift", type=float, default=0.02, help="largest wander of the feed's local stretch")
    parser.add_argument("--stretch", type=float, default=0.01, help="largest uniform stretch along the feed")
    parser.add_argument("--profile", default="typical")
    parser.add_argument("--seed", type=int, default=2000)
    args = parser.parse_args()

    card = load_template(CARD)
    data = card.model_dump()
    data["pages"][0]["timing"] = []
    readers = {"with tracks": prepare_template(card), "without tracks": prepare_template(parse_template(data))}
    accuracy = {name: Accuracy() for name in readers}
    worst = {name: [] for name in readers}
    unsure = {name: 0 for name in readers}
    track_ms: list[float] = []
    overrides = {"feed_drift": (0.0, args.drift), "feed_stretch": (-args.stretch, args.stretch)}
    for index in range(args.count):
        truth = random_truth(card, np.random.default_rng(args.seed + index))
        sim = simulate_sheet(card, truth, seed=args.seed + index, profile=args.profile, overrides=overrides)[0]
        dpi = sim.truth["dpi"]
        for name, prepared in readers.items():
            result = read_page(sim.image, prepared)
            accuracy[name] += compare_page(result, sim.truth, card)
            if name == "with tracks" and "tracks_ms" in result.timings_ms:
                track_ms.append(result.timings_ms["tracks_ms"])
            if REGISTRATION_UNSURE in result.reasons:
                unsure[name] += 1
            if result.page_to_image is None:
                continue
            fit = np.array(result.page_to_image)
            page, _ = timing_corrected(sim.image, prepared.pages[0], fit)
            drawn = scan_points(sim.params, np.array(sim.truth["homography"]),
                                prepared.pages[0].centres_mm * dpi / MM_PER_INCH - 0.5, sim.image.shape)
            read_at = apply_homography(fit, page.centres_mm)
            worst[name].append(float(np.linalg.norm(read_at - drawn, axis=1).max()) / (dpi / MM_PER_INCH))
    print(f"{args.count} {args.profile} sheets of {card.id}, feed drift up to {args.drift:.1%}, "
          f"stretch up to ±{args.stretch:.1%}")
    for name in readers:
        misfit = np.array(worst[name])
        print(f"{name:>15}: {accuracy[name].line()}")
        print(f"{'':>15}  pages registration unsure {unsure[name]}; worst bubble centre per page: median "
              f"{np.median(misfit):.2f} mm, 90th percentile {np.percentile(misfit, 90):.2f} mm, max {misfit.max():.2f} mm")
    if track_ms:
        print(f"tracks_ms per page: median {np.median(track_ms):.2f} ms, p95 {np.percentile(track_ms, 95):.2f} ms "
              f"(96 bars; wall time on a shared machine)")
    return 0


if __name__ == "__main__":
    started = time.process_time()
    code = main()
    print(f"CPU {time.process_time() - started:.1f} s")
    raise SystemExit(code)
