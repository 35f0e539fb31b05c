"""Pages read on three (or two) anchors: is a fit the printed outlines verify as good as a four-anchor one?

Each sheet (typical profile with a feeder's skew ±5°, shift ±6 mm, scale ±2 % and keystone ±1 %, or the hard
profile) has one corner anchor painted out (``--keep-anchors``: none, for comparison), in turn each of the four
(``--paint-out 2``: two, each pair of consecutive anchors of the template in turn; a fit on two anchors is a
similarity the outlines must refit and verify, see omr/register.py ``_two_anchor_fits``). A
gray page goes through JPEG q90 and is decoded as production decodes it; a 1-bit one stays as it is. Printed: pages
lost, pages flagged whole (registration unsure), and over the pages whose fit was verified the worst bubble misfit
(from the simulator's true homography) and the reading accuracy. This is the evidence for reading such a page
without an "anchor missing" flag when its fit verifies (see omr/read.py).

Run: ``python benchmarks/registration_three_anchors.py --template us-letter-70 --profile hard --count 150``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.registration_clipped import fit_error_mm  # noqa: E402
from omr.batch import decode_min_side_px  # noqa: E402
from omr.geometry import MM_PER_INCH  # noqa: E402
from omr.load import load_array  # noqa: E402
from omr.read import REGISTRATION_UNSURE, prepare_template, read_page  # noqa: E402
from omr.register import apply_homography  # noqa: E402
from omr.template import expand_page  # noqa: E402
from sample_sheets import resolve_template  # noqa: E402
from sample_sheets.evaluate import Accuracy, compare_page  # noqa: E402
from sample_sheets.scanner import jpeg_round_trip  # noqa: E402
from sample_sheets.simulate import random_truth, simulate_sheet  # noqa: E402


def paint_out(image: np.ndarray, sim, anchor) -> None:
    """Cover ``anchor`` (and a margin of a third of its size) with the page's median gray, in place."""
    dpi = sim.truth["dpi"]
    (x, y), = apply_homography(np.array(sim.truth["homography"], np.float64),
                               np.array([[anchor.x, anchor.y]]) * dpi / MM_PER_INCH - 0.5)
    half = int(max(anchor.box) * 0.8 * dpi / MM_PER_INCH)
    image[max(0, int(y) - half):int(y) + half, max(0, int(x) - half):int(x) + half] = int(np.median(image))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--template", default="us-letter-70")
    parser.add_argument("--profile", choices=("feeder", "hard"), default="feeder")
    parser.add_argument("--count", type=int, default=150)
    parser.add_argument("--seed", type=int, default=5000)
    parser.add_argument("--keep-anchors", action="store_true", help="paint no anchor out (four-anchor baseline)")
    parser.add_argument("--paint-out", type=int, choices=(1, 2), default=1,
                        help="anchors painted out per sheet (default 1)")
    args = parser.parse_args()
    template = resolve_template(args.template)
    prepared = prepare_template(template)
    page = expand_page(template, 1)
    centres = np.array([[b.x, b.y] for _, b in page.bubbles])
    accuracy = Accuracy()
    lost = unsure = 0
    errors: list[float] = []
    for seed in range(args.seed, args.seed + args.count):
        rng = np.random.default_rng(seed)
        truth = random_truth(template, rng)
        overrides: dict = {}
        if args.profile == "feeder":
            overrides = {"upside_down": 0.0, "binarize": "none", "rotation_deg": rng.uniform(-5, 5),
                         "shift_mm": (-6, 6), "scale": (0.98, 1.02), "perspective": (-0.01, 0.01)}
        sim = simulate_sheet(template, truth, seed=seed, profile="hard" if args.profile == "hard" else "typical",
                             overrides=overrides)[0]
        image = sim.image.copy()
        if not args.keep_anchors:
            for k in range(args.paint_out):
                paint_out(image, sim, page.anchors[(seed + k) % len(page.anchors)])
        if sim.truth["scanner"]["binarize"] == "none":  # a 1-bit scan is sent as PNG/TIFF, not JPEG
            jpeg = jpeg_round_trip(image, 90, sim.truth["dpi"])[1]
            image = load_array(jpeg, reduce_jpeg_to_min_px=decode_min_side_px(template))[0].image
        result = read_page(image, prepared)
        if result.status == "error":
            lost += 1
            continue
        if REGISTRATION_UNSURE in result.reasons:
            unsure += 1
            continue
        accuracy += compare_page(result, sim.truth, template)
        errors.append(fit_error_mm(result, sim, centres, image.shape[1] / sim.image.shape[1]))
    painted = "no anchor painted out" if args.keep_anchors else f"{args.paint_out} anchor(s) painted out"
    print(f"{args.template} {args.profile} x{args.count}, {painted}: lost {lost}, flagged whole {unsure}, "
          f"verified {len(errors)}: worst bubble misfit median {np.median(errors):.3f}, max {max(errors):.3f} mm")
    print(f"  {accuracy.line()}")


if __name__ == "__main__":
    main()
