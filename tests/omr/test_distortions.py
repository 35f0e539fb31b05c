"""Each distortion and each kind of mark of the simulator, on its own, at the hard profile's strength.

A clean sheet with exactly one effect switched on must be read without a single wrong sure reading; for effects
that do not touch the marks themselves (geometry, tone, noise, compression) every reading must also be sure.
"""

from __future__ import annotations

import numpy as np
import pytest

from omr.batch import decode_min_side_px
from omr.load import load_array
from omr.read import prepare_template, read_page
from sample_sheets import resolve_template
from sample_sheets.evaluate import Accuracy, compare_page
from sample_sheets.simulate import random_truth, simulate_sheet

TEMPLATE = resolve_template("cn-a4-55")
PREPARED = prepare_template(TEMPLATE)
SHEETS = 3

# Effects that leave the marks as drawn: every group must be read, surely and rightly.
SCANNER_EFFECTS = {
    "rotation +5°": {"rotation_deg": 5.0, "overscan_mm": 8},
    "rotation -5°": {"rotation_deg": -5.0, "overscan_mm": 8},
    "shift 4 mm": {"shift_mm": 4.0},
    # A feeder: skewed 5° and shifted 8 mm with no scan margin, one corner anchor wholly or partly off the image.
    "skew 5° + shift 8 mm, an anchor off the image": {"rotation_deg": 5.0, "shift_mm": 8.0, "shift_y_mm": 0.0,
                                                      "overscan_mm": 0.0},
    "skew -4° + shift 8 mm left, an anchor off the image": {"rotation_deg": -4.0, "shift_mm": -8.0, "shift_y_mm": 0.0,
                                                           "overscan_mm": 0.0},
    "skew -3° + shift 7 mm up, an anchor cut in half": {"rotation_deg": -3.0, "shift_mm": 0.0, "shift_y_mm": -7.0,
                                                        "overscan_mm": 0.0},
    "scale 0.97": {"scale": 0.97},
    "scale 1.03": {"scale": 1.03},
    "perspective": {"perspective": 0.01},
    "keystone -1 %": {"perspective": -0.01},
    "dark scanner background (black-backed feeder)": {"lid": 20.0, "overscan_mm": 6.0, "rotation_deg": 3.0},
    "light scanner background": {"lid": 252.0, "overscan_mm": 6.0, "rotation_deg": -3.0},
    "blur σ 2 px at 200 dpi": {"blur": 2.0, "dpi": 200},
    "noise σ 12": {"noise": 12.0},
    "brightness -20": {"brightness": -20.0},
    "contrast 0.75": {"contrast": 0.75},
    "gamma 1.35": {"gamma": 1.35},
    "gamma 0.75": {"gamma": 0.75},
    "tinted paper": {"paper": 215.0},
    "uneven lighting": {"lighting": 0.1},
    "jpeg 50": {"jpeg_quality": 50.0},
    "bleed-through": {"bleed": 0.15},
    "dust": {"dust": 60.0},
    "upside down": {"upside_down": True},
    "150 dpi": {"dpi": 150},
    "300 dpi": {"dpi": 300},
    "dithered 1-bit": {"binarize": "dither"},
    "threshold 1-bit": {"binarize": "threshold"},
    "crooked label": {"label_skew": 4.0},
    "stray marks off the bubbles": {"stray": 10.0, "smudge": 4.0},
    "pen instead of pencil": {"tool": "pen_blue"},
    "full fills spilling over": {"spill": 1.5},
}

# The school's printer (sample_sheets.printer), each at the issue's extreme: marks as drawn, every group read.
PRINT_EFFECTS = {
    "fit to page 96 %": {"print_scale": 0.96},
    "bolder font +0.3 mm": {"print_bold_mm": 0.3},
    "thicker outlines +0.4 mm": {"print_outline_mm": 0.4},
    "gray anchors 60 %": {"anchor_tone": 0.6},
    "bolder font and thicker outlines, blurred": {"print_bold_mm": 0.2, "print_outline_mm": 0.3, "blur": 2.0},
}

# Marks that change what a bubble holds: never wrong when sure; at most this share of groups flagged (None: any,
# for kinds a careful person would hesitate over too).
MARK_EFFECTS = {
    "partial 50%": ({"mark": "partial", "partial_coverage": 0.5}, None),
    "partial 70-90%": ({"mark": "partial", "partial_coverage": (0.7, 0.9)}, 0.0),
    "off-centre": ({"mark": "offcentre", "offcentre_mm": 1.6}, 0.0),
    "ticks": ({"mark": "tick"}, None),
    "crosses": ({"mark": "cross"}, None),
    "faint": ({"mark": "faint"}, None),
    "light erasure in every group": ({"erasure": (0.04, 0.12)}, 0.02),  # multi-select residue may be flagged
    "heavy erasures": ({"erasure": (0.3, 0.45)}, None),
    "smudges on bubbles": ({"smudge_on_bubble": 3.0}, None),
    # Real hands (issue 10): how dark and how fully students mark, and pencils that do not follow the ellipse.
    "45 % dark pencil": ({"writer_darkness": 0.45}, 0.0),
    "black pencil": ({"writer_darkness": 1.0}, 0.0),
    "covered 60-100 %": ({"mark": "partial", "partial_coverage": (0.6, 1.0)}, 0.0),
    "darkness +-25 % within a sheet": ({"darkness_spread": 0.25}, 0.0),
    "45 % dark, +-25 % within a sheet": ({"writer_darkness": 0.45, "darkness_spread": 0.25}, 0.0),
    "slanted scribbles": ({"strokes": "scribble"}, 0.0),
    "strokes past the rim on one side": ({"strokes": "overshoot", "overshoot_mm": 1.2}, 0.0),
    "loose strokes with gaps": ({"strokes": "gaps"}, 0.0),
    "a ring round the letter, partly filled": ({"strokes": "ring"}, 0.0),
}


def _read(overrides: dict, seed: int) -> Accuracy:
    accuracy = Accuracy()
    for index in range(SHEETS):
        truth = random_truth(TEMPLATE, np.random.default_rng(seed + index), multi_error_rate=0.0)
        for sim in simulate_sheet(TEMPLATE, truth, seed=seed + index, profile="clean", overrides=overrides):
            image = (load_array(sim.jpeg, reduce_jpeg_to_min_px=decode_min_side_px(TEMPLATE))[0].image
                     if sim.jpeg else sim.image)
            result = read_page(image, PREPARED, source=f"{seed + index}")
            accuracy += compare_page(result, sim.truth, TEMPLATE)
    return accuracy


@pytest.mark.parametrize("name", list(SCANNER_EFFECTS) + list(PRINT_EFFECTS))
def test_scanner_effect_alone_reads_every_mark(name):
    accuracy = _read(SCANNER_EFFECTS.get(name) or PRINT_EFFECTS[name], seed=100)
    assert accuracy.pages_read == SHEETS, accuracy.line()
    assert accuracy.wrong_sure == 0 and accuracy.ambiguous_wrong_sure == 0, accuracy.wrong_examples
    assert accuracy.ids_wrong_sure == 0
    assert accuracy.correct_sure == accuracy.groups, accuracy.line()


@pytest.mark.parametrize("name", list(MARK_EFFECTS))
def test_mark_kind_alone_is_never_read_wrong_as_sure(name):
    overrides, max_flagged = MARK_EFFECTS[name]
    accuracy = _read(overrides, seed=200)
    assert accuracy.pages_read == SHEETS
    assert accuracy.wrong_sure == 0, accuracy.wrong_examples
    assert accuracy.ids_wrong_sure == 0
    if max_flagged is not None:
        assert accuracy.ambiguous_wrong_sure == 0, accuracy.wrong_examples
        assert accuracy.flagged_groups <= max_flagged * accuracy.groups, accuracy.line()
    else:
        # Ambiguous kinds: flagged or read right; never more than a sliver read wrong (faint marks a scan lost).
        assert accuracy.ambiguous_wrong_sure <= 0.02 * max(accuracy.ambiguous_groups, 1), accuracy.wrong_examples


def test_gray_anchors_do_not_change_how_strong_marks_read():
    """Solid ink is the darker of the anchors and the page's bold print: 60 % gray anchors would otherwise make every
    mark read 1/0.6 times as strong (residue then crosses the empty limit)."""
    levels = {}
    for tone in (1.0, 0.6):
        truth = random_truth(TEMPLATE, np.random.default_rng(100), multi_error_rate=0.0)
        sim = simulate_sheet(TEMPLATE, truth, seed=100, profile="clean", overrides={"anchor_tone": tone})[0]
        levels[tone] = read_page(sim.image, PREPARED, source="gray").mark_level
    assert levels[0.6] == pytest.approx(levels[1.0], rel=0.1)
