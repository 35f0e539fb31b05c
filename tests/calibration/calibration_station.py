"""The simulated scanner station of the calibration tests, as a module of its own: ``from conftest import`` would
find whichever conftest.py was loaded first in a whole-suite run.

A simulated scanner station whose school prints the cards bolder than our render (what real sheets do).

Bolder labels and outlines, and "fit to page" at 96 %: the empty bubbles read darker than the render's baseline,
so the default profile flags most answers. Sheets are simulated once per session.
"""

from __future__ import annotations

import numpy as np

from omr.template import expand_page
from sample_sheets.simulate import SheetTruth, random_truth, simulate_sheet

#: The station: every sheet printed alike (bold 0.4 mm, outlines 0.4 mm thicker, 96 %), scanned at 200 dpi.
BOLD_STATION = {"dpi": 200, "print_bold_mm": 0.4, "print_outline_mm": 0.4, "print_scale": 0.96}
#: The blank sheet as it comes from that printer (no writing, no stray marks).
BLANK = {**BOLD_STATION, "stray": False, "handwriting": False, "smudge": False}


def blank_truth(template) -> SheetTruth:
    """Nothing marked anywhere on the sheet."""
    readings = {group.id: "" for number in range(1, len(template.pages) + 1)
                for group in expand_page(template, number).groups}
    return SheetTruth(template.id, 0, "", False, {}, {}, "", len(template.pages), readings)


def marked_sheets(template, count: int, overrides: dict, first_seed: int = 0) -> list:
    """``count`` typical marked sheets of the station (every page)."""
    pages = []
    for seed in range(first_seed, first_seed + count):
        truth = random_truth(template, np.random.default_rng([seed, 1]), sheet_index=seed)
        pages.extend(simulate_sheet(template, truth, seed=seed, profile="typical", overrides=overrides))
    return pages


