"""Pages fed as real feeders feed them: skewed, shifted off the frame, scaled, keystoned, on a dark or light lid.

Each cn-a4-55 sheet (typical profile otherwise) is turned up to 5° either way, shifted up to 8 mm per axis with no
overscan (so corner anchors fall partly off the image), scaled by up to 2 %, given a keystone of up to 1 % per axis,
and scanned on a black-backed (gray 10-40) or a light (225-255) lid; with ``--gray-anchors`` the anchors are printed
at 60 % tone. Printed: pages with at least three intact anchors and how many of those were lost (status error); pages
flagged whole ("registration unsure"); pages whose fit is off by more than ``--off-mm`` at some bubble (from the
simulator's true homography) and how many of those were NOT flagged whole; pages with any wrong-but-sure reading;
and the reading accuracy.

Run: ``python benchmarks/registration_clipped.py --count 200``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

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


def fit_error_mm(result, sim, centres_mm: np.ndarray, image_scale: float) -> float:
    """Worst distance (mm) between where the reader's fit and the simulator put the bubble centres; the page was
    read from an image ``image_scale`` times the simulated one."""
    truth = apply_homography(np.array(sim.truth["homography"], np.float64),
                             centres_mm * sim.truth["dpi"] / MM_PER_INCH - 0.5)
    fitted = (apply_homography(np.array(result.page_to_image, np.float64), centres_mm) + 0.5) / image_scale - 0.5
    return float(np.linalg.norm(fitted - truth, axis=1).max() / (sim.truth["dpi"] / MM_PER_INCH))


def paint_anchors_gray(image: np.ndarray, sim, page, gray: int) -> None:
    """Lighten the printed anchors to ``gray`` (a 60 % tone prints at about 100 on white paper), in place."""
    dpi = sim.truth["dpi"]
    matrix = np.array(sim.truth["homography"], np.float64)
    rows, cols = image.shape
    for anchor in page.anchors:
        (x, y), = apply_homography(matrix, np.array([[anchor.x, anchor.y]]) * dpi / MM_PER_INCH - 0.5)
        half = int(anchor.size * 0.75 * dpi / MM_PER_INCH)
        x0, y0 = max(0, int(x) - half), max(0, int(y) - half)
        x1, y1 = min(cols, int(x) + half), min(rows, int(y) + half)
        if x1 <= x0 or y1 <= y0:
            continue
        patch = image[y0:y1, x0:x1].astype(np.float32)
        # Print only: map black (0) to ``gray`` and keep paper as it is; the lid beside the paper is left dark.
        patch = np.where(patch < 128, gray + patch * (255 - gray) / 255, patch)
        image[y0:y1, x0:x1] = patch.astype(np.uint8)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1000)
    parser.add_argument("--off-mm", type=float, default=0.4, help="a fit this far off at some bubble is wrong")
    parser.add_argument("--gray-anchors", action="store_true", help="anchors printed at 60 %% tone")
    args = parser.parse_args()
    template = resolve_template("cn-a4-55")
    prepared = prepare_template(template)
    page = expand_page(template, 1)
    centres = np.array([[b.x, b.y] for _, b in page.bubbles])
    accuracy = Accuracy()
    with_three = lost = unsure = off = off_unflagged = pages_wrong = 0
    seconds = 0.0
    errors: list[float] = []
    for seed in range(args.seed, args.seed + args.count):
        rng = np.random.default_rng(seed)
        truth = random_truth(template, rng)
        lid = rng.uniform(10, 40) if rng.random() < 0.5 else rng.uniform(225, 255)
        sim = simulate_sheet(template, truth, seed=seed, profile="typical", overrides={
            "rotation_deg": rng.uniform(-5, 5), "shift_mm": (-8, 8), "scale": (0.98, 1.02),
            "perspective": (-0.01, 0.01), "overscan_mm": 0.0, "upside_down": 0.0, "lid": lid,
            "binarize": "none", "jpeg_quality": (75, 95)})[0]
        jpeg = sim.jpeg
        if args.gray_anchors:
            image = sim.image.copy()
            paint_anchors_gray(image, sim, page, 100)
            jpeg = jpeg_round_trip(image, 90, sim.truth["dpi"])[1]
        # As production reads it: the JPEG decoded at about 100 dpi.
        image = load_array(jpeg, reduce_jpeg_to_min_px=decode_min_side_px(template))[0].image
        started = time.process_time()
        result = read_page(image, prepared)
        if seed > args.seed:  # the first page pays for compiling
            seconds += time.process_time() - started
        scored = compare_page(result, sim.truth, template)
        accuracy += scored
        flagged_whole = REGISTRATION_UNSURE in result.reasons
        unsure += flagged_whole
        pages_wrong += scored.wrong_sure + scored.ids_wrong_sure > 0
        if _intact(sim, page) >= 3:
            with_three += 1
            lost += result.status == "error"
        if result.status == "error":
            continue
        errors.append(fit_error_mm(result, sim, centres, image.shape[1] / sim.image.shape[1]))
        if errors[-1] > args.off_mm:
            off += 1
            off_unflagged += not flagged_whole
    print(f"{args.count} pages: skew ±5°, shift ±8 mm, scale ±2 %, keystone ±1 %, no overscan, dark/light lid"
          f"{', gray anchors' if args.gray_anchors else ''}")
    print(f"  >= 3 intact anchors: {with_three}, of which lost {lost}; flagged whole (registration unsure) {unsure}")
    print(f"  fit off > {args.off_mm} mm: {off}, of which NOT flagged whole {off_unflagged}; "
          f"pages with a wrong-but-sure reading {pages_wrong}")
    print(f"  worst bubble misfit per read page, mm: median {np.median(errors):.2f}, 90th percentile "
          f"{np.percentile(errors, 90):.2f}, max {max(errors):.2f}")
    print(f"  read_page CPU {1000 * seconds / max(args.count - 1, 1):.2f} ms/page (decoded pages)")
    print(accuracy.line())


if __name__ == "__main__":
    main()
