"""The rules of marking one written question (or 题块): set-up, score steps, 双评, 三评, 仲裁, the final score.

A question is marked once (单评) or by two markers independently (双评). With 双评 the two scores *agree* when
they differ by at most the tolerance (误差阈值, inclusive); then the final score is their mean. When they do
not, the set-up's final-score rule says what happens:

``closest_two`` (取最接近两评的均分, the usual 高考 flow)
    a third marker scores the answer (三评); the final score is the mean of the third score and whichever first
    score is closer to it, provided that pair agrees; when both are equally close and agree, the third score
    lies midway and the final score is the mean of all three (which equals it); when neither agrees with the
    third, the question leader rules (仲裁) and the ruling is the final score.
``ruling`` (直接仲裁)
    no third marker: the question leader rules at once, and the ruling is the final score.

A ruling given for any reason (a 问题卷 the leader scored) is the final score. Means are not rounded to the
score step: the mean of 7 and 8 is 7.5 even with a step of 1 (the step is what a marker may enter).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

__all__ = ["FINAL_RULES", "STEPS", "SetupError", "MarkingRules", "validate_rules", "score_problem", "Decision",
           "agree", "decide"]

FinalRule = Literal["closest_two", "ruling"]
#: The final-score rules a set-up may choose (see the module's docstring).
FINAL_RULES: tuple[str, ...] = ("closest_two", "ruling")
#: Score steps a marker enters in: whole points or half points.
STEPS: tuple[float, ...] = (1.0, 0.5)
#: Full marks of one question: a 作文 is 60 or 70 points; nothing on a paper is worth more than this.
MAX_FULL_MARKS = 200.0
_EPS = 1e-9


class SetupError(ValueError):
    """A marking set-up that cannot be used (the message says why)."""


@dataclass(frozen=True)
class MarkingRules:
    """How one question is marked: its full marks, the step scores are entered in, 双评 with its tolerance, and
    the final-score rule used when the two markers disagree."""

    full_marks: float
    step: float = 1.0
    double: bool = True
    tolerance: float = 0.0
    final_rule: str = "closest_two"

    @property
    def markers_per_answer(self) -> int:
        """Independent first-round scores each answer needs (2 with 双评, else 1)."""
        return 2 if self.double else 1


def _is_multiple(value: float, step: float) -> bool:
    ratio = value / step
    return abs(ratio - round(ratio)) < 1e-6


def validate_rules(rules: MarkingRules) -> MarkingRules:
    """``rules`` when they can be used; :class:`SetupError` naming the first problem otherwise.

    Full marks are positive, at most :data:`MAX_FULL_MARKS` and a multiple of the step; the step is 1 or 0.5;
    the tolerance is between 0 and the full marks; the final rule is one of :data:`FINAL_RULES`.
    """
    for name in ("full_marks", "step", "tolerance"):
        value = getattr(rules, name)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise SetupError(f"{name} must be a finite number")
    if rules.step not in STEPS:
        raise SetupError(f"step must be 1 or 0.5, not {rules.step:g}")
    if not 0 < rules.full_marks <= MAX_FULL_MARKS:
        raise SetupError(f"full marks must be above 0 and at most {MAX_FULL_MARKS:g}")
    if not _is_multiple(rules.full_marks, rules.step):
        raise SetupError(f"full marks {rules.full_marks:g} are not a multiple of the step {rules.step:g}")
    if not 0 <= rules.tolerance <= rules.full_marks:
        raise SetupError("the tolerance (误差阈值) must be between 0 and the full marks")
    if rules.final_rule not in FINAL_RULES:
        raise SetupError(f"final rule must be one of {', '.join(FINAL_RULES)}")
    return rules


def score_problem(score: object, rules: MarkingRules) -> str | None:
    """Why ``score`` cannot be entered for a question marked under ``rules`` (None: it can).

    A score is a finite number from 0 to the full marks in whole steps (7.5 with a step of 0.5, never 7.3).
    """
    if isinstance(score, bool) or not isinstance(score, (int, float)) or not math.isfinite(score):
        return "the score must be a number"
    if score < 0 or score > rules.full_marks + _EPS:
        return f"the score must be between 0 and {rules.full_marks:g}"
    if not _is_multiple(score, rules.step):
        return f"the score must be in steps of {rules.step:g}"
    return None


State = Literal["marking", "third", "ruling", "final"]


@dataclass(frozen=True)
class Decision:
    """What an answer needs next.

    ``state`` is ``marking`` (first-round scores are missing), ``third`` (a 三评 score is needed), ``ruling``
    (the leader must rule) or ``final``; then ``final`` is the final score and ``how`` names the rule that gave
    it: ``single``, ``mean_of_two``, ``mean_of_closest_two``, ``mean_of_three`` or ``ruling``.
    """

    state: State
    final: float | None = None
    how: str | None = None


def agree(a: float, b: float, tolerance: float) -> bool:
    """Whether two scores of one answer agree: they differ by at most the tolerance (误差阈值, inclusive)."""
    return abs(a - b) <= tolerance + _EPS


def decide(first: Sequence[float], rules: MarkingRules, *, third: float | None = None,
           ruling: float | None = None) -> Decision:
    """The state of one answer from its scores so far (see the module's docstring for the rule).

    Parameters
    ----------
    first : sequence of float
        The first-round scores given so far (at most :attr:`MarkingRules.markers_per_answer` are used).
    rules : MarkingRules
    third : float, optional
        The 三评 score, once given.
    ruling : float, optional
        The leader's ruling (仲裁), once given: it is the final score.
    """
    if ruling is not None:
        return Decision("final", float(ruling), "ruling")
    needed = rules.markers_per_answer
    if len(first) < needed:
        return Decision("marking")
    if not rules.double:
        return Decision("final", float(first[0]), "single")
    a, b = float(first[0]), float(first[1])
    if agree(a, b, rules.tolerance):
        return Decision("final", (a + b) / 2, "mean_of_two")
    if rules.final_rule == "ruling":
        return Decision("ruling")
    if third is None:
        return Decision("third")
    c = float(third)
    da, db = abs(a - c), abs(b - c)
    if abs(da - db) <= _EPS and agree(a, c, rules.tolerance):
        return Decision("final", (a + b + c) / 3, "mean_of_three")
    closer = a if da < db else b
    if agree(closer, c, rules.tolerance):
        return Decision("final", (closer + c) / 2, "mean_of_closest_two")
    return Decision("ruling")
