"""Pages fed skewed and shifted with no scan margin, so corner anchors fall partly off the image.

Each cn-a4-55 sheet (typical profile) is turned 3-5° either way and shifted up to 6 mm per axis, with no overscan
and a light or dark scanner lid. Printed: how many pages keep at least three intact anchors and how many of those
are lost ("no anchors found"), how many pages were read, how many were found "registration unsure", and the
reading accuracy (wrong-but-sure must stay 0).

Run: ``python benchmarks/registration_clipped.py --count 200``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from omr.geometry import MM_PER_INCH  # noqa: E402
from omr.read import REGISTRATION_UNSURE, prepare_template, read_page  # noqa: E402
from omr.register import apply_homography  # noqa: E402
from omr.template import expand_page  # noqa: E402
from sample_sheets import resolve_template  # noqa: E402
from sample_sheets.evaluate import Accuracy, compare_page  # noqa: E402
from sample_sheets.simulate import random_truth, simulate_sheet  # noqa: E402


def _intact(sim, page) -> int:
    """How many anchors lie wholly inside the scanned frame (from the simulator's true homography)."""
    rows, cols = sim.image.shape
    matrix = np.array(sim.truth["homography"], np.float64)
    count = 0
    for anchor in page.anchors:
        half = anchor.size / 2
        corners = np.array([[anchor.x + dx, anchor.y + dy] for dx in (-half, half) for dy in (-half, half)])
        mapped = apply_homography(matrix, corners * sim.truth["dpi"] / MM_PER_INCH - 0.5)
        count += bool(np.all((mapped >= 0) & (mapped <= [cols - 1, rows - 1])))
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1000)
    args = parser.parse_args()
    template = resolve_template("cn-a4-55")
    prepared = prepare_template(template)
    page = expand_page(template, 1)
    accuracy = Accuracy()
    with_three = lost = unsure = 0
    for seed in range(args.seed, args.seed + args.count):
        rng = np.random.default_rng(seed)
        truth = random_truth(template, rng)
        rotation = rng.uniform(3, 5) * rng.choice([-1, 1])
        shift = sorted(rng.uniform(-6, 6, 2))
        sim = simulate_sheet(template, truth, seed=seed, profile="typical", overrides={
            "rotation_deg": rotation, "shift_mm": shift, "overscan_mm": 0.0, "upside_down": 0.0,
            "lid": (20, 250)})[0]
        result = read_page(sim.image, prepared)
        accuracy += compare_page(result, sim.truth, template)
        unsure += REGISTRATION_UNSURE in result.reasons
        if _intact(sim, page) >= 3:
            with_three += 1
            lost += result.status == "error"
    print(f"{args.count} pages skewed 3-5°, shifted up to 6 mm, no overscan: {with_three} with >= 3 intact "
          f"anchors, of which lost {lost}; registration unsure {unsure}")
    print(accuracy.line())


if __name__ == "__main__":
    main()
