"""Accuracy against the simulator's ground truth, through the production path (JPEG decoded at reduced size).

The rule this project lives by: a reading reported as sure (ok, blank, or a clear double mark) is never wrong.
``wrong_sure`` counts groups whose truth is clear; groups the truth marks *ambiguous* (a faint mark, a tick, heavy
erasure residue, a smudge on a bubble, or a 1-bit scan that erased or blackened a mark) are reported apart: on
those even a careful person hesitates, and some are physically gone from the image.
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

SEED = 9000


def _run(template_name: str, profile: str, count: int) -> Accuracy:
    template = resolve_template(template_name)
    prepared = prepare_template(template)
    min_side = decode_min_side_px(template)
    accuracy = Accuracy()
    for index in range(count):
        truth = random_truth(template, np.random.default_rng(SEED + index))
        for sim in simulate_sheet(template, truth, seed=SEED + index, profile=profile):
            # What a station uploads: the JPEG when the page went through JPEG, else the (PNG/TIFF) pixels.
            image = load_array(sim.jpeg, reduce_jpeg_to_min_px=min_side)[0].image if sim.jpeg else sim.image
            result = read_page(image, prepared, source=f"{profile}-{index}", page_index=sim.page - 1)
            accuracy += compare_page(result, sim.truth, template)
    print(f"\n{template_name} {profile} x{count}: {accuracy.line()}")
    return accuracy


@pytest.mark.slow
def test_typical_sheets_are_never_wrong_and_rarely_flagged():
    accuracy = _run("cn-a4-55", "typical", 300)
    assert accuracy.pages_read == accuracy.pages == 300
    assert accuracy.wrong_sure == 0, accuracy.wrong_examples
    assert accuracy.ids_wrong_sure == 0, accuracy.wrong_examples
    # Flagged because OMR was unsure (a student's real double mark is read surely and flagged by design).
    assert accuracy.pages_unsure <= 0.01 * accuracy.pages, accuracy.line()
    assert accuracy.correct_sure >= 0.999 * accuracy.groups


@pytest.mark.slow
def test_hard_sheets_are_never_wrong_on_clear_marks():
    accuracy = _run("cn-a4-55", "hard", 100)
    assert accuracy.pages_read >= 98  # a page the scanner cut too much of is refused with a reason, not guessed
    assert accuracy.wrong_sure == 0, accuracy.wrong_examples
    assert accuracy.ids_wrong_sure == 0, accuracy.wrong_examples
    # Ambiguous groups: most are flagged or read right; the rest are mostly marks a 1-bit scan erased or blackened.
    assert accuracy.ambiguous_wrong_sure <= 0.03 * accuracy.ambiguous_groups, accuracy.line()


@pytest.mark.slow
def test_two_page_a3_cards_read_right():
    accuracy = _run("cn-a3-100", "typical", 20)
    assert accuracy.pages_read == accuracy.pages == 40
    assert accuracy.wrong_sure == 0, accuracy.wrong_examples
    assert accuracy.correct_sure >= 0.995 * accuracy.groups
