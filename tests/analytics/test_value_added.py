"""Value-added recovers known class effects from a simulation, and is careful with small and unlinked classes."""

from __future__ import annotations

import numpy as np
import pytest

from analytics.value_added import value_added


def _grade(rng: np.random.Generator, sizes, effect_sd: float = 4.0, noise_sd: float = 8.0):
    """A grade whose classes add ``effects`` to what prior scores predict: current = 12 + 0.8 prior + u + e."""
    effects = rng.normal(0.0, effect_sd, len(sizes))
    classes, prior, current = [], [], []
    for index, size in enumerate(sizes):
        p = rng.normal(70.0, 15.0, size)
        classes += [f"高一({index + 1:02d})班"] * size
        prior.append(p)
        current.append(12.0 + 0.8 * p + effects[index] + rng.normal(0.0, noise_sd, size))
    return effects, np.array(classes, dtype=object), np.concatenate(prior), np.concatenate(current)


def test_known_class_effects_are_recovered_within_their_intervals():
    covered = total = 0
    for seed in range(6):
        rng = np.random.default_rng(seed)
        effects, classes, prior, current = _grade(rng, rng.integers(25, 55, 30))
        result = value_added(prior, current, classes)
        assert result.groups == tuple(sorted(set(classes)))  # sorted labels, one per class
        assert abs(result.slope - 0.8) < 0.06 and abs(result.residual_sd - np.hypot(8.0, 4.0)) < 1.5
        # Classes are labelled in order, so the sorted groups line up with the effects.
        inside = (result.low <= effects - effects.mean()) & (effects - effects.mean() <= result.high)
        covered += int(inside.sum())
        total += len(effects)
        assert np.corrcoef(result.estimate, effects)[0, 1] > 0.8
        assert 2.5 < result.between_sd < 6.0
    # 95 % intervals: about 171 of 180; fewer than 160 would mean they are too narrow.
    assert covered >= 0.89 * total, f"{covered} of {total} class effects inside their 95 % intervals"


def test_small_classes_are_shrunk_more_and_not_shown():
    rng = np.random.default_rng(7)
    effects, classes, prior, current = _grade(rng, [40] * 12 + [6, 4])
    result = value_added(prior, current, classes, min_n=10)
    assert result.shown.tolist() == [True] * 12 + [False, False]
    assert result.shrinkage[-1] < result.shrinkage[-2] < result.shrinkage[:12].min()
    assert np.all(np.abs(result.estimate) <= np.abs(result.raw) + 1e-12)
    assert np.all(result.high - result.low > 0)


def test_no_class_differences_shrinks_every_class_to_zero():
    rng = np.random.default_rng(3)
    _, classes, prior, current = _grade(rng, [40] * 10, effect_sd=0.0)
    # With no true effects the raw means vary only by chance; most seeds estimate sigma_u at 0.
    result = value_added(prior, current, classes)
    assert result.between_sd < 1.5
    assert np.all(np.abs(result.estimate) < np.abs(result.raw).max())


def test_students_without_a_prior_score_or_a_class_are_left_out():
    prior = np.array([60, 70, np.nan, 80, 90, 65, 75], float)
    current = np.array([62, 71, 50, 79, np.nan, 66, 77], float)
    groups = ["A", "A", "A", "B", "B", "", "B"]
    result = value_added(prior, current, groups, min_n=1)
    assert result.linked == 5
    assert result.groups == ("A", "B") and result.n.tolist() == [2, 2]


@pytest.mark.parametrize("prior, current, message", [
    ([1.0, 2.0], [1.0, 2.0], "three or more"),
    ([5.0, 5.0, 5.0, 5.0], [1.0, 2.0, 3.0, 4.0], "varying prior"),
    ([1.0, 2.0, 3.0], [1.0, 2.0], "differ in length"),
])
def test_unusable_input_is_refused_with_a_reason(prior, current, message):
    with pytest.raises(ValueError, match=message):
        value_added(np.array(prior), np.array(current), ["A"] * len(prior))
