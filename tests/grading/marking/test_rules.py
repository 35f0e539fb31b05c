"""The marking rules: set-up checks, score steps, 双评 agreement, 三评, 仲裁 and the final score."""

from __future__ import annotations

import math

import pytest

from grading.marking import Decision, MarkingRules, SetupError, decide, score_problem, validate_rules

DOUBLE = MarkingRules(full_marks=12, step=1, double=True, tolerance=2, final_rule="closest_two")


@pytest.mark.parametrize("changes, problem", [
    (dict(step=0.25), "step must be 1 or 0.5"),
    (dict(full_marks=0), "full marks must be above 0"),
    (dict(full_marks=12.5), "not a multiple of the step"),
    (dict(tolerance=-1), "tolerance"),
    (dict(tolerance=13), "tolerance"),
    (dict(final_rule="max"), "final rule"),
    (dict(full_marks=math.nan), "finite number"),
    (dict(full_marks=True), "finite number"),
    (dict(full_marks=500), "at most"),
])
def test_bad_setups_are_refused_with_the_reason(changes, problem):
    rules = MarkingRules(**{**DOUBLE.__dict__, **changes})
    with pytest.raises(SetupError, match=problem):
        validate_rules(rules)


def test_a_good_setup_passes_and_half_steps_allow_half_marks():
    assert validate_rules(MarkingRules(full_marks=12.5, step=0.5)) .full_marks == 12.5


@pytest.mark.parametrize("score, ok", [(0, True), (12, True), (7, True), (7.5, False), (12.5, False), (-1, False),
                                       (math.inf, False), (math.nan, False), (True, False), ("7", False)])
def test_scores_are_checked_against_full_marks_and_step(score, ok):
    assert (score_problem(score, DOUBLE) is None) is ok


def test_half_steps():
    rules = MarkingRules(full_marks=10, step=0.5)
    assert score_problem(7.5, rules) is None
    assert "steps of 0.5" in score_problem(7.3, rules)


def test_single_marking_takes_the_one_score():
    rules = MarkingRules(full_marks=10, double=False)
    assert decide([], rules) == Decision("marking")
    assert decide([6], rules) == Decision("final", 6.0, "single")


def test_two_agreeing_scores_give_their_mean_and_the_tolerance_is_inclusive():
    assert decide([7], DOUBLE) == Decision("marking")
    assert decide([7, 9], DOUBLE) == Decision("final", 8.0, "mean_of_two")
    assert decide([7, 8], DOUBLE) == Decision("final", 7.5, "mean_of_two")  # never rounded to the step
    assert decide([7, 10], DOUBLE) == Decision("third")


def test_third_marker_agreeing_with_one_gives_the_mean_of_the_closest_two():
    assert decide([4, 10], DOUBLE, third=9) == Decision("final", 9.5, "mean_of_closest_two")
    assert decide([4, 10], DOUBLE, third=5) == Decision("final", 4.5, "mean_of_closest_two")


def test_third_marker_midway_gives_the_mean_of_the_three():
    assert decide([4, 8], DOUBLE, third=6) == Decision("final", 6.0, "mean_of_three")


def test_third_marker_agreeing_with_neither_goes_to_the_leader():
    assert decide([0, 12], DOUBLE, third=6) == Decision("ruling")
    assert decide([0, 12], DOUBLE, third=6, ruling=5) == Decision("final", 5.0, "ruling")


def test_rule_ruling_skips_the_third_marker():
    rules = MarkingRules(full_marks=12, tolerance=1, final_rule="ruling")
    assert decide([3, 9], rules) == Decision("ruling")
    assert decide([3, 9], rules, ruling=6) == Decision("final", 6.0, "ruling")
    assert decide([3, 4], rules) == Decision("final", 3.5, "mean_of_two")


def test_a_ruling_always_wins():
    assert decide([], DOUBLE, ruling=3) == Decision("final", 3.0, "ruling")
