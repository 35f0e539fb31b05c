"""What crosses module boundaries: the analysed exam's data (:class:`ExamData`), the report settings
(:class:`ReportConfig`) and the conversion of results to JSON-able values.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from analytics.diagnosis import DEFAULT_MASTERY
from analytics.items import UPPER_LOWER_FRACTION
from analytics.scores import DEFAULT_CUTOFFS, cut_lines

__all__ = ["ExamData", "ReportConfig", "Level", "LEVELS", "jsonable", "clean_float"]

Level = Literal["class", "grade", "school", "city"]
LEVELS: tuple[str, ...] = ("class", "grade", "school", "city")


@dataclass(frozen=True)
class ExamData:
    """One exam's marks as arrays: N students (every roster row) x k analysed items (void questions left out).

    Attributes
    ----------
    exam : grading.exam.Exam
    exam_ids, student_nos, names, classes, schools, status : ndarray of str, (N,)
        ``status`` is graded | pending | absent | duplicate (``yuejuan grade``'s).
    item_ids : tuple of str, (k,)
    points : ndarray, (k,)
    scores : ndarray, (N, k)
        Item scores; NaN unless the student is graded.
    totals : ndarray, (N,)
        NaN unless graded.
    masks : ndarray of uint16, (N, k)
        Options marked on choice questions (bit i = i-th option; 0 = blank, and 0 for subjective questions).
    section_ids, section_names : tuple of str
    section_totals : ndarray, (N, sections)
    """

    exam: Any
    exam_ids: np.ndarray
    student_nos: np.ndarray
    names: np.ndarray
    classes: np.ndarray
    schools: np.ndarray
    status: np.ndarray
    item_ids: tuple[str, ...]
    points: np.ndarray
    scores: np.ndarray
    totals: np.ndarray
    masks: np.ndarray
    section_ids: tuple[str, ...] = ()
    section_names: tuple[str, ...] = ()
    section_totals: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))

    def __post_init__(self) -> None:
        n, k = self.scores.shape
        for name in ("exam_ids", "student_nos", "names", "classes", "schools", "status", "totals"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"ExamData.{name} has {len(getattr(self, name))} rows, scores have {n}")
        if len(self.item_ids) != k or self.points.shape != (k,) or self.masks.shape != (n, k):
            raise ValueError("ExamData: item ids, points and masks must match the score matrix's columns")
        if not self.section_ids and self.section_totals.shape != (n, 0):
            object.__setattr__(self, "section_totals", np.zeros((n, 0)))  # frozen: the no-section default
        if self.section_totals.shape != (n, len(self.section_ids)):
            raise ValueError(f"ExamData: section totals {self.section_totals.shape} for {n} students and "
                             f"{len(self.section_ids)} sections")

    @property
    def n(self) -> int:
        return self.scores.shape[0]

    @property
    def full_marks(self) -> float:
        """The analysed items' points, each 选考题 group (choose 1 of N, equal points) counted once."""
        chosen_once = 0.0
        for group in getattr(self.exam, "optional_groups", ()):
            members = [j for j, qid in enumerate(self.item_ids) if qid in group.questions]
            chosen_once += float(self.points[members[1:]].sum()) if members else 0.0
        return float(self.points.sum()) - chosen_once

    @property
    def graded(self) -> np.ndarray:
        """Students in the statistics: graded with a total (absent, pending and duplicate rows are not)."""
        return (self.status == "graded") & np.isfinite(self.totals)


@dataclass(frozen=True)
class ReportConfig:
    """Settings of an analysis run (the defaults ``docs/statistics.md`` states)."""

    cutoffs: tuple[float, float, float, float] = DEFAULT_CUTOFFS
    band: float = 5.0
    segment_step: float = 1.0
    histogram_bins: int = 10
    fraction: float = UPPER_LOWER_FRACTION
    mastery: tuple[float, float] = DEFAULT_MASTERY
    weakest: int = 3
    correct_at: float = 0.6
    dina: bool = True
    rasch: bool = True
    lang: Literal["zh", "en"] = "zh"
    seed: int = 0
    ranks: bool = True  # print exact ranks (also needs the exam's publish_ranks)
    school_names: tuple[tuple[str, str], ...] = ()  # (学校标识码, 学校名称) pairs: reports name schools, not codes

    def school_name(self, code: str) -> str:
        """The school's name when known, else its code."""
        return dict(self.school_names).get(code, code)

    def lines(self, full_marks: float) -> np.ndarray:
        return cut_lines(full_marks, self.cutoffs)


def clean_float(value: float, digits: int = 6) -> float | None:
    """A float for JSON: NaN/inf -> None, rounded to ``digits`` decimals, integers kept integral."""
    value = float(value)
    if not math.isfinite(value):
        return None
    rounded = round(value, digits)
    return int(rounded) if rounded.is_integer() and abs(rounded) < 2 ** 53 else rounded


def jsonable(value: Any, digits: int = 6) -> Any:
    """Dataclasses, numpy arrays and scalars, tuples and dicts as plain JSON values (NaN -> null)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name), digits) for f in dataclasses.fields(value)}
    if isinstance(value, np.ndarray):
        if value.dtype.kind == "f":
            return _float_list(value, digits)
        return jsonable(value.tolist(), digits)
    if isinstance(value, (np.floating, float)):
        return clean_float(value, digits)
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.bool_,)):
        return bool(value)
    if isinstance(value, dict):
        return {str(k): jsonable(v, digits) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v, digits) for v in value]
    return value


def _float_list(array: np.ndarray, digits: int) -> Any:
    # round in bulk, then turn NaN into None (one pass through tolist instead of per-element numpy calls)
    rounded = np.round(array.astype(float), digits)
    listed = rounded.tolist()
    return _replace_nan(listed)


def _replace_nan(listed: Any) -> Any:
    if isinstance(listed, list):
        return [_replace_nan(v) for v in listed]
    if isinstance(listed, float):
        if listed != listed or listed in (math.inf, -math.inf):
            return None
        return int(listed) if listed.is_integer() and abs(listed) < 2 ** 53 else listed
    return listed

