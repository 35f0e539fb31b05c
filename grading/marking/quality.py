"""Supervision figures of one question's marking (质检): each marker against the group, agreement with the
co-marker, and 自评 consistency. Pure functions over plain numbers."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from grading.marking.rules import agree

__all__ = ["MarkerFigures", "marker_figures", "agreement_rate", "self_consistency"]


@dataclass(frozen=True)
class MarkerFigures:
    """One marker's scores of one question against the whole group's.

    ``mean`` is the arithmetic mean and ``spread`` the sample standard deviation (divisor n - 1; None under two
    scores) of the marker's scores; ``mean_vs_group`` is the marker's mean minus the group's mean (all markers'
    scores pooled), and ``spread_vs_group`` the marker's spread divided by the group's (1: as spread as the group;
    None when either is undefined or the group's is 0): a marker far above 0 is lenient, one well under 1
    gives everyone much the same score.
    """

    count: int
    mean: float | None
    spread: float | None
    mean_vs_group: float | None
    spread_vs_group: float | None


def _mean(values: Sequence[float]) -> float | None:
    return math.fsum(values) / len(values) if values else None


def _sample_sd(values: Sequence[float]) -> float | None:
    """Sample standard deviation (divisor n - 1)."""
    if len(values) < 2:
        return None
    mean = math.fsum(values) / len(values)
    return math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (len(values) - 1))


def marker_figures(scores: Mapping[str, Sequence[float]]) -> dict[str, MarkerFigures]:
    """:class:`MarkerFigures` of every marker in ``scores`` ({marker: the scores they gave})."""
    pooled = [float(v) for values in scores.values() for v in values]
    group_mean, group_sd = _mean(pooled), _sample_sd(pooled)
    figures = {}
    for marker, values in scores.items():
        values = [float(v) for v in values]
        mean, spread = _mean(values), _sample_sd(values)
        figures[marker] = MarkerFigures(
            len(values), mean, spread,
            None if mean is None or group_mean is None else mean - group_mean,
            None if spread is None or not group_sd else spread / group_sd)
    return figures


def agreement_rate(pairs: Sequence[tuple[float, float]], tolerance: float) -> float | None:
    """Share of double-marked answers where the marker and the co-marker agree (differ by at most the tolerance);
    None with no such answer. ``pairs`` are (own score, co-marker's score)."""
    if not pairs:
        return None
    return sum(agree(a, b, tolerance) for a, b in pairs) / len(pairs)


def self_consistency(pairs: Sequence[tuple[float, float]], tolerance: float) -> tuple[float | None, float | None]:
    """自评: (share of papers re-served to the same marker scored within the tolerance of their first score,
    mean absolute difference between the two scores); (None, None) when none was re-served.
    ``pairs`` are (first score, score when served again)."""
    if not pairs:
        return None, None
    return (sum(agree(a, b, tolerance) for a, b in pairs) / len(pairs),
            math.fsum(abs(a - b) for a, b in pairs) / len(pairs))
