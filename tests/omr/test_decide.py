"""Decisions from mark strengths: page thresholds, bubble states, group statuses; the scanner profile."""

from __future__ import annotations

import json
from dataclasses import asdict, replace

import numpy as np
import pytest

from omr.decide import (EMPTY, FILLED, UNCERTAIN, PageThresholds, classify_bubbles, decide_groups, empty_level,
                        group_outcomes, lone_mark_min, mark_strength, page_thresholds)
from omr.profile import ScannerProfile, load_profile, save_profile

PROFILE = ScannerProfile()


def _starts(*sizes: int) -> np.ndarray:
    return np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)


# ----------------------------------------------------------------------------------------------------------
# mark_strength


def test_mark_strength_is_zero_for_blank_print_and_one_for_solid_ink():
    paper, ink = 240.0, 20.0
    blank = np.array([0.1, 0.3, 0.0])
    as_printed = paper - blank * (paper - ink)  # an empty bubble: just its printed outline/label
    assert mark_strength(as_printed, blank, paper, ink) == pytest.approx([0, 0, 0], abs=1e-12)
    assert mark_strength(np.full(3, ink), blank, paper, ink) == pytest.approx([1, 1, 1])
    halfway = paper - (blank + 0.5 * (1 - blank)) * (paper - ink)
    assert mark_strength(halfway, blank, paper, ink) == pytest.approx([0.5, 0.5, 0.5])


def test_mark_strength_is_relative_to_the_page_paper_and_ink():
    blank = np.array([0.2])
    # The same bubble on a grey page with grey ink reads as strongly as on a white page with black ink.
    white = mark_strength(np.array([255 - 0.6 * 255]), blank, 255.0, 0.0)
    grey = mark_strength(np.array([220 - 0.6 * 160]), blank, 220.0, 60.0)
    assert white == pytest.approx(grey)
    assert white[0] == pytest.approx((0.6 - 0.2) / 0.8)


def test_mark_strength_survives_degenerate_paper_and_ink():
    # Paper as dark as ink, or a bubble whose print is all black: finite numbers, no warnings (errors here).
    out = mark_strength(np.array([100.0, 0.0]), np.array([0.0, 1.0]), 100.0, 100.0)
    assert np.all(np.isfinite(out))


# ----------------------------------------------------------------------------------------------------------
# page_thresholds


def test_page_level_needs_enough_confident_marks():
    few = np.array([0.45] * (PROFILE.min_marks_for_level - 1) + [0.0] * 40)
    thresholds = page_thresholds(few, PROFILE)
    assert not thresholds.measured_level
    assert thresholds.mark_level == PROFILE.default_mark_level
    assert thresholds.filled_min == pytest.approx(
        min(PROFILE.filled_min, max(PROFILE.filled_floor, PROFILE.relative_filled * PROFILE.default_mark_level)))

    enough = np.array([0.7] * PROFILE.min_marks_for_level + [0.0] * 40)
    thresholds = page_thresholds(enough, PROFILE)
    assert thresholds.measured_level
    assert thresholds.mark_level == pytest.approx(0.7)
    assert thresholds.filled_min == pytest.approx(PROFILE.relative_filled * 0.7)


def test_light_pencil_page_lowers_fill_threshold_but_not_below_the_floor():
    dark = page_thresholds(np.array([0.95] * 20 + [0.02] * 60), PROFILE)
    light = page_thresholds(np.array([0.68] * 20 + [0.02] * 60), PROFILE)
    very_light = page_thresholds(np.array([0.45] * 20 + [0.02] * 60), PROFILE)
    assert dark.filled_min == PROFILE.filled_min  # dark marks never raise the threshold above the profile's
    assert PROFILE.filled_floor < light.filled_min < dark.filled_min
    assert light.filled_min == pytest.approx(PROFILE.relative_filled * 0.68)
    assert very_light.filled_min == PROFILE.filled_floor
    # A 0.45 mark is filled on the light-pencil page, uncertain on the dark one.
    for thresholds, expected in ((very_light, FILLED), (dark, UNCERTAIN)):
        state, _ = classify_bubbles(np.array([0.45, 0.0]), thresholds, _starts(2), np.array([True]), PROFILE)
        assert state.tolist() == [expected, EMPTY]


def test_empty_level_is_learned_per_printed_label():
    # 20 "A" bubbles read 0.06 darker than their blank print (blur on a soft scanner), "B" 0.1; a few are marked.
    labels = np.array([0] * 20 + [1] * 20 + [2] * 3)
    strength = np.concatenate([np.full(20, 0.06), np.full(20, 0.10), np.full(3, 0.02)])
    strength[[0, 1, 20]] = 0.9
    level = empty_level(strength, labels)
    assert level[:20] == pytest.approx(np.full(20, 0.06))
    assert level[20:40] == pytest.approx(np.full(20, 0.10))
    # A label seen too rarely uses the page's reference (the median of the well-seen labels), not its own three.
    assert level[40:] == pytest.approx(np.full(3, 0.08))
    # ... at most 0.15: a lone absence bubble does not darken with its neighbours' bolder letters.
    strength[:40] += 0.2
    assert empty_level(strength, labels)[40:] == pytest.approx(np.full(3, 0.15))


def test_empty_level_follows_a_bolder_print():
    # Bolder letters and thicker outlines: every empty bubble reads 0.18 .. 0.27 over the sharp render.
    rng = np.random.default_rng(3)
    labels = np.repeat(np.arange(6), 20)
    print_level = np.array([0.18, 0.27, 0.2, 0.22, 0.25, 0.19])
    strength = print_level[labels] + rng.normal(0, 0.005, labels.size)
    marked = rng.choice(labels.size, 25, replace=False)
    strength[marked] += 0.6
    level = empty_level(strength, labels)
    assert np.abs(level - print_level[labels]).max() < 0.01
    assert (strength[marked] - level[marked] > 0.55).all()


def test_a_label_marked_throughout_keeps_its_marks():
    # A student who answered A on 16 of 20 questions: A's low percentile is a mark, not its empty level.
    labels = np.repeat(np.arange(4), 20)
    strength = np.full(labels.size, 0.02)
    strength[:16] = 0.7
    level = empty_level(strength, labels)
    assert level == pytest.approx(np.full(labels.size, 0.02))


def test_empty_level_is_bounded_so_a_page_of_marks_cannot_shift_everything():
    labels = np.zeros(30, np.int64)
    assert empty_level(np.full(30, 0.9), labels) == pytest.approx(np.full(30, 0.3))
    assert empty_level(np.full(30, -0.4), labels) == pytest.approx(np.full(30, -0.05))
    few = np.arange(5)  # no label seen often enough: the page's percentile within the old limits
    assert empty_level(np.full(5, 0.9), few) == pytest.approx(np.full(5, 0.15))


def _small_bubble_page(rng: np.random.Generator, print_level: np.ndarray, questions: int = 40,
                       mark: float = 0.55) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A page of single-choice questions A-E whose empty bubbles read ``print_level`` (per letter) above the blank
    render, each answered once by ``mark`` more: (strength, label_index, group_starts, answers)."""
    labels = np.tile(np.arange(5), questions)
    strength = print_level[labels] + rng.normal(0, 0.015, labels.size)
    answers = 5 * np.arange(questions) + rng.integers(0, 5, questions)
    strength[answers] += mark
    return strength, labels, _starts(*[5] * questions), answers


def test_small_bubbles_take_the_empty_level_their_own_print_shows():
    # 2.8 mm circles at 150 dpi, letters printed bolder: empty bubbles read 0.45 .. 0.65 (seed 9006 of us-letter-70
    # on the hard profile). Held to the 0.3 ceiling, an empty B read 0.35 and was taken for a mark.
    rng = np.random.default_rng(9006)
    print_level = np.array([0.49, 0.66, 0.45, 0.68, 0.50])
    strength, labels, starts, answers = _small_bubble_page(rng, print_level)
    level = empty_level(strength, labels, starts, np.ones(40, bool))
    assert np.abs(level - print_level[labels]).max() < 0.03
    empties = np.setdiff1d(np.arange(labels.size), answers)
    assert (strength[empties] - level[empties]).max() < PROFILE.empty_max
    assert (strength[answers] - level[answers]).min() > PROFILE.filled_floor
    # Without the sheet's structure the old ceiling holds: the empty B and D read 0.36 .. 0.38, above filled_floor.
    assert (strength - empty_level(strength, labels))[empties].max() > PROFILE.filled_floor


def test_structural_empties_keep_a_label_answered_throughout():
    # A student who answered A on 30 of 40 questions: A's empties are the ten others, its level theirs.
    rng = np.random.default_rng(2)
    labels = np.tile(np.arange(5), 40)
    strength = 0.5 + rng.normal(0, 0.01, labels.size)
    answers = 5 * np.arange(40) + np.where(np.arange(40) < 30, 0, rng.integers(1, 5, 40))
    strength[answers] += 0.6
    level = empty_level(strength, labels, _starts(*[5] * 40), np.ones(40, bool))
    assert level == pytest.approx(np.full(labels.size, 0.5), abs=0.03)


def test_a_page_of_marks_keeps_them_though_it_has_structure():
    # Every bubble of every question filled alike (a defaced sheet): no answer stands above the rest, so nothing
    # says the print reads that dark, and the level stays within the ceiling: the marks still read as marks.
    labels = np.tile(np.arange(5), 40)
    strength = 0.9 + np.random.default_rng(4).normal(0, 0.01, labels.size)
    level = empty_level(strength, labels, _starts(*[5] * 40), np.ones(40, bool))
    assert level.max() <= 0.3 + 1e-12
    # Nor do multi-select questions (no single answer to leave out) lift it.
    assert empty_level(strength, labels, _starts(*[5] * 40), np.zeros(40, bool)).max() <= 0.3 + 1e-12


def test_marks_below_the_floor_do_not_set_the_page_level():
    # Many faint smudges (below filled_floor) are not "confident marks".
    strength = np.array([0.3] * 50 + [0.9] * 3)
    thresholds = page_thresholds(strength, PROFILE)
    assert not thresholds.measured_level
    assert thresholds.mark_level == PROFILE.default_mark_level


# ----------------------------------------------------------------------------------------------------------
# classify_bubbles


FIXED = PageThresholds(empty_max=0.09, filled_min=0.5, mark_level=0.8, measured_level=False)


def _classify(strength, sizes, single, thresholds=FIXED):
    strength = np.asarray(strength, np.float64)
    return classify_bubbles(strength, thresholds, _starts(*sizes), np.asarray(single, bool), PROFILE)


def test_bands_empty_uncertain_filled():
    # One multi-select group holding clear marks, so only the bands apply (no blank-group trace rule).
    strength = [0.0, 0.09, 0.11, 0.3, 0.49, 0.5, 0.9]
    state, margin = _classify(strength, [7], [False])
    assert state.tolist() == [EMPTY, EMPTY, UNCERTAIN, UNCERTAIN, UNCERTAIN, FILLED, FILLED]
    assert np.all(margin[state == UNCERTAIN] < 0)
    assert np.all(margin[state != UNCERTAIN] >= 0)
    # Margin is the distance to the uncertain band: deeper inside a band, larger margin.
    assert margin[0] > margin[1] and margin[6] > margin[5]
    assert margin[3] < margin[2] and margin[3] < margin[4]  # middle of the band is the least sure


def test_single_choice_lighter_of_two_unequal_marks_is_uncertain():
    state, margin = _classify([0.95, 0.55, 0.0, 0.0], [4], [True])
    assert state.tolist() == [FILLED, UNCERTAIN, EMPTY, EMPTY]
    assert margin[1] < 0


def test_single_choice_two_equal_marks_stay_filled():
    state, _ = _classify([0.9, 0.0, 0.85, 0.0], [4], [True])
    assert state.tolist() == [FILLED, EMPTY, FILLED, EMPTY]


def test_multi_select_unequal_marks_stay_filled():
    state, _ = _classify([0.95, 0.55, 0.0, 0.0], [4], [False])
    assert state.tolist() == [FILLED, FILLED, EMPTY, EMPTY]


def test_single_choice_light_residue_beside_a_dominant_mark_is_empty():
    state, _ = _classify([0.9, 0.15, 0.0, 0.0], [4], [True])
    assert state.tolist() == [FILLED, EMPTY, EMPTY, EMPTY]
    # Too dark to be residue of this mark: stays uncertain.
    state, _ = _classify([0.5, 0.18, 0.0, 0.0], [4], [True])
    assert state[1] == UNCERTAIN


def test_light_mark_without_a_dominant_mark_or_in_multi_select_stays_uncertain():
    alone, _ = _classify([0.15, 0.0, 0.0, 0.0], [4], [True])
    assert alone[0] == UNCERTAIN  # it may be a faint answer
    multi, _ = _classify([0.9, 0.15, 0.9, 0.0], [4], [False])
    assert multi.tolist() == [FILLED, UNCERTAIN, FILLED, EMPTY]  # it may be a faint extra option


def test_group_that_would_read_blank_is_held_to_the_trace_level():
    trace = (PROFILE.blank_trace + PROFILE.empty_max) / 2
    blank_group, _ = _classify([trace, 0.0, 0.0, 0.0], [4], [True])
    assert blank_group[0] == UNCERTAIN
    answered_group, _ = _classify([0.9, trace, 0.0, 0.0], [4], [True])
    assert answered_group[1] == EMPTY


def test_ratio_rule_stays_within_each_group():
    # A dark mark in the first group must not make a lighter mark in the next group uncertain.
    state, _ = _classify([1.0, 0.0, 0.0, 0.0, 0.55, 0.0], [3, 3], [True, True])
    assert state.tolist() == [FILLED, EMPTY, EMPTY, EMPTY, FILLED, EMPTY]


# ----------------------------------------------------------------------------------------------------------
# decide_groups


def _decide(strength, sizes, single):
    state, margin = _classify(strength, sizes, single)
    return decide_groups(state, margin, _starts(*sizes), np.asarray(single, bool), PROFILE.confidence_span)


def test_group_statuses():
    strength = [
        0.9, 0.0, 0.0, 0.0,  # ok
        0.0, 0.02, 0.0, 0.0,  # blank
        0.9, 0.85, 0.0, 0.0,  # multiple (single-choice, two equal marks)
        0.0, 0.3, 0.0, 0.0,  # uncertain (in the band)
        0.9, 0.8, 0.95, 0.0,  # multi-select with three marks: ok
        0.0, 0.3, 0.95, 0.0,  # multi-select, one uncertain: uncertain
    ]
    sizes = [4] * 6
    single = [True, True, True, True, False, False]
    decisions = _decide(strength, sizes, single)
    assert [d.status for d in decisions] == ["ok", "blank", "multiple", "uncertain", "ok", "uncertain"]
    assert decisions[0].marked.tolist() == [True, False, False, False]
    assert decisions[2].marked.tolist() == [True, True, False, False]
    assert decisions[3].marked.tolist() == [False] * 4
    assert decisions[3].uncertain.tolist() == [False, True, False, False]
    assert decisions[4].marked.tolist() == [True, True, True, False]
    assert decisions[5].marked.tolist() == [False, False, True, False]  # uncertain bubbles are never "marked"
    for decision in decisions:
        if decision.status == "uncertain":
            assert 0.0 <= decision.confidence < 0.5
        else:
            assert 0.5 <= decision.confidence <= 1.0


def test_confidence_grows_with_the_margin():
    near = _decide([0.52, 0.0, 0.0], [3], [True])[0]  # just over filled_min
    far = _decide([0.95, 0.0, 0.0], [3], [True])[0]
    assert near.status == far.status == "ok"
    assert near.confidence < far.confidence
    barely = _decide([0.12, 0.0], [2], [True])[0]  # just over empty_max
    deep = _decide([0.3, 0.0], [2], [True])[0]  # middle of the uncertain band
    assert barely.status == deep.status == "uncertain"
    assert deep.confidence < barely.confidence < 0.5


def test_clear_reading_gets_full_confidence():
    clear = _decide([0.95, 0.0, 0.0, 0.0], [4], [True])[0]
    assert clear.status == "ok"
    assert clear.confidence == 1.0


def test_groups_of_one_bubble_and_varied_sizes():
    decisions = _decide([0.9, 0.0, 0.0, 0.9, 0.0], [1, 1, 3], [True, True, True])
    assert [d.status for d in decisions] == ["ok", "blank", "ok"]
    assert [len(d.marked) for d in decisions] == [1, 1, 3]
    assert decisions[2].marked.tolist() == [False, True, False]


def _page_with(first_group, *, noise: float, groups: int = 30, seed: int = 0):
    """A page of ``groups`` answered four-bubble single-choice questions (a 0.85 mark in each), empty bubbles
    reading ``|N(0, noise)|``-ish strengths around 0, after ``first_group`` (a list of strengths, its own group)."""
    rng = np.random.default_rng(seed)
    rest = np.clip(rng.normal(0.0, noise, (groups, 4)), -0.3, PROFILE.empty_max)
    rest[:, 0] = 0.85
    strength = np.concatenate([np.asarray(first_group, np.float64), rest.ravel()])
    sizes = [len(first_group)] + [4] * groups
    return strength, _starts(*sizes), np.ones(len(sizes), bool)


def _classify_page(first_group, *, noise: float):
    strength, starts, single = _page_with(first_group, noise=noise)
    thresholds = page_thresholds(strength, PROFILE)
    state, margin = classify_bubbles(strength, thresholds, starts, single, PROFILE)
    return state, margin, starts, single


LONE = 0.42  # below the fill threshold (0.55 * 0.85), above lone_ratio (0.45) of the writer's 0.85 marks


def test_lone_mark_clear_of_this_pages_empty_bubbles_is_read_filled():
    # Far above empty bubbles that read within ~0.015 of 0.
    state, margin, starts, single = _classify_page([0.0, LONE, 0.0, 0.0], noise=0.015)
    assert state[:4].tolist() == [EMPTY, FILLED, EMPTY, EMPTY]
    assert margin[1] > 0
    _, _, statuses, confidences = group_outcomes(state, margin, starts, single, PROFILE.confidence_span)
    assert statuses[0] == "ok" and confidences[0] >= 0.5


def test_lone_mark_on_a_noisy_page_stays_uncertain():
    # The same mark where empty bubbles scatter by ~0.06: less than lone_sigmas spreads above them.
    state, *_ = _classify_page([0.0, LONE, 0.0, 0.0], noise=0.06)
    assert state[1] == UNCERTAIN


def test_lone_mark_much_lighter_than_its_writers_marks_stays_uncertain():
    # Clear of the empty level, but under lone_ratio of the writer's 0.85: it may be an answer rubbed out.
    state, *_ = _classify_page([0.0, 0.3, 0.0, 0.0], noise=0.015)
    assert state[1] == UNCERTAIN
    lighter_writer = _page_with([0.0, 0.3, 0.0, 0.0], noise=0.015)
    strength = np.where(lighter_writer[0] == 0.85, 0.6, lighter_writer[0])  # this writer's marks read 0.6
    state, _ = classify_bubbles(strength, page_thresholds(strength, PROFILE), lighter_writer[1], lighter_writer[2],
                                PROFILE)
    assert state[1] == FILLED


def test_faint_lone_mark_near_the_empty_level_stays_uncertain():
    # As light as erasure residue (at most residue_max): it may be an answer rubbed out and left blank.
    state, *_ = _classify_page([0.0, PROFILE.residue_max - 0.01, 0.0, 0.0], noise=0.005)
    assert state[1] == UNCERTAIN


def test_two_light_marks_or_residue_beside_a_mark_are_not_lone_marks():
    two, *_ = _classify_page([LONE, LONE, 0.0, 0.0], noise=0.015)
    assert two[:2].tolist() == [UNCERTAIN, UNCERTAIN]  # which one is the answer?
    residue, *_ = _classify_page([0.9, 0.15, 0.0, 0.0], noise=0.015)
    assert residue[:4].tolist() == [FILLED, EMPTY, EMPTY, EMPTY]  # residue beside a dominant mark, as before
    beside, *_ = _classify_page([0.5, 0.3, 0.0, 0.0], noise=0.015)
    assert beside[1] == UNCERTAIN  # too dark to be residue of the 0.5 mark, and not alone


def _classify_multi_select(first_group, *, noise: float):
    strength, starts, single = _page_with(first_group, noise=noise)
    single[0] = False
    state, _ = classify_bubbles(strength, page_thresholds(strength, PROFILE), starts, single, PROFILE)
    return state


def test_light_option_of_a_multi_select_question_is_read_like_a_lone_mark():
    # Each option is chosen on its own: one as dark as the writer's lighter marks and clear of this page's empty
    # bubbles is chosen, beside darker options or alone, even below the fill threshold.
    assert _classify_multi_select([0.9, LONE, 0.0, 0.0], noise=0.015)[:4].tolist() == [FILLED, FILLED, EMPTY, EMPTY]
    assert _classify_multi_select([LONE, LONE, 0.0, 0.9], noise=0.015)[:4].tolist() == [FILLED, FILLED, EMPTY, FILLED]
    # Under lone_ratio of the writer's marks (it may be an option rubbed out), on a noisy page, or as light as
    # residue: still uncertain.
    assert _classify_multi_select([0.9, 0.3, 0.0, 0.0], noise=0.015)[1] == UNCERTAIN
    assert _classify_multi_select([0.9, LONE, 0.0, 0.0], noise=0.06)[1] == UNCERTAIN
    assert _classify_multi_select([0.9, PROFILE.residue_max - 0.01, 0.0, 0.0], noise=0.005)[1] == UNCERTAIN


def test_light_marks_no_darker_than_this_pages_erasures_stay_uncertain():
    # The page shows heavy erasures (0.45, 0.44) beside dominant marks in single-choice questions: where the
    # eraser leaves that much, a light option or lone mark no darker may be one more answer rubbed out.
    strength, starts, single = _page_with([0.9, 0.45, 0.0, 0.0, 0.9, 0.44, 0.0, 0.0, 0.9, LONE, 0.0, 0.0,
                                           LONE, 0.0, 0.0, 0.0], noise=0.015)
    starts = np.r_[0, 4, 8, 12, starts[1:]]
    single = np.r_[True, True, False, True, single[1:]]
    state, _ = classify_bubbles(strength, page_thresholds(strength, PROFILE), starts, single, PROFILE)
    assert state[1] == UNCERTAIN  # the erasure itself: too dark for residue, not a mark of its own
    assert state[9] == UNCERTAIN and state[12] == UNCERTAIN  # the light option; the lone mark
    # With one of them alone (it may be a light double mark) both are read, as on a page without erasures.
    strength[5] = 0.0
    state, _ = classify_bubbles(strength, page_thresholds(strength, PROFILE), starts, single, PROFILE)
    assert state[9] == FILLED and state[12] == FILLED


def test_lone_mark_in_a_one_bubble_group_is_read_against_the_page_and_its_writer():
    # A proctor's absence mark or a half-point box: no alternatives in the group, but this page's empty bubbles
    # and the writer's marks say as much about it as about any lone mark.
    state, *_ = _classify_page([LONE], noise=0.015)
    assert state[0] == FILLED
    for light, noise in ((0.3, 0.015), (LONE, 0.06), (PROFILE.residue_max - 0.01, 0.005)):
        state, *_ = _classify_page([light], noise=noise)
        assert state[0] == UNCERTAIN


def test_lone_mark_min_is_a_robust_spread_above_the_empty_centre():
    rng = np.random.default_rng(1)
    empties = rng.normal(0.01, 0.02, 4000)
    empties = empties[empties <= PROFILE.empty_max]  # what the page calls empty: the cut leaves the lower half
    sigmas = ScannerProfile(lone_sigmas=12.0)
    assert lone_mark_min(empties, sigmas) == pytest.approx(0.01 + 12.0 * 0.02, abs=0.02)
    assert lone_mark_min(empties, PROFILE) == PROFILE.residue_max  # a quiet page: the residue limit holds
    assert lone_mark_min(empties[:PROFILE.lone_min_empties - 1], PROFILE) is None  # too few to measure


# ----------------------------------------------------------------------------------------------------------
# ScannerProfile and its JSON


@pytest.mark.parametrize("changes", [
    {"empty_max": 0.45},  # at/above filled_floor
    {"empty_max": -0.01},
    {"blank_trace": 0.2},  # above empty_max
    {"residue_max": 0.45},  # at/above filled_floor
    {"residue_ratio": 0.8},  # above multiple_ratio
    {"filled_floor": 0.6},  # above filled_min
    {"filled_min": 1.2},
    {"inner_fraction": 1.0},
    {"inner_fraction": 0.0},
    {"ring_fraction": 0.9},
    {"multiple_ratio": 0.0},
    {"multiple_ratio": 1.5},
    {"identity_on": 0.3, "identity_off": 0.3},
    {"lone_sigmas": 0.0},
    {"lone_min_empties": 1},
    {"lone_ratio": 1.5},
])
def test_profile_rejects_inconsistent_values(changes):
    with pytest.raises(ValueError):
        ScannerProfile(**changes)


def test_profile_accepts_consistent_changes():
    profile = ScannerProfile(name="light", empty_max=0.05, blank_trace=0.04, filled_floor=0.3, filled_min=0.45,
                             residue_max=0.2)
    assert profile.filled_floor == 0.3 and profile.blank_trace == 0.04


def test_load_profile_rejects_unknown_keys(tmp_path):
    path = tmp_path / "scanner.json"
    data = asdict(ScannerProfile())
    data["filled_minimum"] = 0.4  # a typo of filled_min
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ValueError, match="filled_minimum"):
        load_profile(path)


def test_load_profile_rejects_inconsistent_thresholds(tmp_path):
    path = tmp_path / "scanner.json"
    path.write_text(json.dumps({"empty_max": 0.6}), encoding="utf-8")
    with pytest.raises(ValueError, match="empty_max"):
        load_profile(path)


def test_profile_round_trips_through_json(tmp_path):
    path = tmp_path / "scanner.json"
    profile = replace(ScannerProfile(), name="office-3", filled_min=0.55, min_marks_for_level=7)
    save_profile(profile, path)
    assert load_profile(path) == profile
    partial = tmp_path / "partial.json"
    partial.write_text(json.dumps({"name": "p", "multiple_ratio": 0.8}), encoding="utf-8")
    loaded = load_profile(partial)
    assert loaded.multiple_ratio == 0.8 and loaded.filled_min == ScannerProfile().filled_min


def test_score_box_rows_share_one_residue_unit():
    # Tens row [0,1,2] with an erased "1" (0.15), units row with a clear "6": a changed score, read as 6.
    strength = np.array([0.0, 0.15, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.9, 0.0, 0.0, 0.0])
    starts = _starts(3, 10)
    single = np.array([True, True])
    own_rows, _ = classify_bubbles(strength, page_thresholds(strength, PROFILE), starts, single, PROFILE)
    assert own_rows[1] == UNCERTAIN  # each row alone: the tens row would read blank, so its trace is unsure
    one_box, _ = classify_bubbles(strength, page_thresholds(strength, PROFILE), starts, single, PROFILE,
                                  residue_unit=np.zeros(13, np.int64))
    assert one_box[1] == EMPTY and one_box[9] == FILLED
    # Too dark for residue of the 0.9 mark: still unsure.
    strength[1] = 0.3
    darker, _ = classify_bubbles(strength, page_thresholds(strength, PROFILE), starts, single, PROFILE,
                                 residue_unit=np.zeros(13, np.int64))
    assert darker[1] == UNCERTAIN


def test_a_light_digit_in_another_score_row_is_not_taken_for_this_pages_erasure():
    # A score box (one residue unit): a clear "6" in the units row and a light "1" in the tens row, the tens
    # row's only mark. It is a digit, not residue, so the light multi-select option elsewhere is still read.
    box = [0.0, 0.44, 0.0] + [0.0] * 6 + [0.9, 0.0, 0.0, 0.0]
    strength, starts, single = _page_with(box + [0.9, LONE, 0.0, 0.0], noise=0.015)
    starts = np.r_[0, 3, 13, starts[1:]]
    single = np.r_[True, True, False, single[1:]]
    unit = np.r_[np.zeros(13, np.int64), np.full(strength.size - 13, -1)]
    state, _ = classify_bubbles(strength, page_thresholds(strength, PROFILE), starts, single, PROFILE, unit)
    assert state[1] == FILLED and state[14] == FILLED
