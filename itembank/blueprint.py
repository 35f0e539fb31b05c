"""The 双向细目表 a paper is assembled to (组卷蓝图): a JSON file, validated on load.

Example (every field but ``exam_id``, ``subject`` and ``types`` is optional)::

    {"format": "yuejuan-blueprint-1", "exam_id": "m7-unit3", "name": "七年级数学第三单元", "subject": "数学",
     "types": {"single": {"count": 10, "points_each": 4}, "multi": {"count": 2, "points_each": 5,
               "rule": "gaokao", "partial_points": 2}, "subjective": {"count": 3, "points": 50}},
     "cells": [{"knowledge_point": "函数", "level": "应用", "count": 3}, ...],
     "difficulty": [0.6, 0.75], "item_p": [0.2, 0.95],
     "information": [{"theta": -1, "min": 2.0}, {"theta": 0, "min": 2.5}, {"theta": 1, "min": 2.0}],
     "classes": ["0701", "0702"], "unseen_since": "2026-03-01",
     "include": ["M0001"], "exclude": ["M0100"], "seed": 1}

``types``: per question type, ``count`` items; ``points_each`` scores every item of the type at that value on the
paper (else each item's own points); ``points`` is the type's total (it must equal count x points_each when both are
given). ``cells``: exact item counts per knowledge point x cognitive level; when cells are given, only items in a
listed cell are used (a 双向细目表 lists every question), and an item with two knowledge points counts in both.
``difficulty``: the band of the paper's expected mean score rate, Σ points·P / Σ points, with each item's P its
measured P (once :data:`MIN_P_STUDENTS` students answered it) or else the writer's estimate. ``item_p``: the band
every item's P must lie in. ``information``: Rasch test information Σ P(1 - P) at each θ (logits), from items
that have a Rasch b (items without one add nothing). ``classes`` and ``unseen_since``: no item any of these
classes sat on or after that date. ``include``/``exclude``: items that must / must not be on the paper.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from grading.exam import MultiRule, QuestionType, format_validation_error
from itembank.dedupe import NEAR_THRESHOLD
from itembank.model import ITEM_ID_PATTERN, BankError
from itembank.store import json_object, read_bounded

__all__ = ["Blueprint", "TypeTarget", "Cell", "InformationTarget", "MIN_P_STUDENTS", "TYPE_ORDER", "TYPE_NAMES",
           "load_blueprint", "parse_blueprint"]

#: Students an item's measured P needs before it replaces the writer's estimate: P over 30 students has a
#: standard error of at most 0.09 (sqrt(0.25 / 30)), about what a writer's estimate is off by.
MIN_P_STUDENTS = 30

#: Order of the paper's parts, and their headings.
TYPE_ORDER: tuple[str, ...] = ("single", "multi", "truefalse", "subjective")
TYPE_NAMES = {"single": "单项选择题", "multi": "多项选择题", "truefalse": "判断题", "subjective": "解答题"}

_MAX_BLUEPRINT_BYTES = 4 * 2**20


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TypeTarget(_Strict):
    """How many items of one question type, and their points."""

    count: int = Field(ge=0, le=500)
    points: float | None = Field(default=None, ge=0, le=10000)
    points_each: float | None = Field(default=None, gt=0, le=100)
    rule: MultiRule | None = None
    partial_points: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _consistent(self) -> "TypeTarget":
        if self.points is not None and self.points_each is not None \
                and abs(self.points - self.count * self.points_each) > 1e-6:
            raise ValueError(f"points {self.points:g} is not count {self.count} x points_each {self.points_each:g}")
        if self.partial_points is not None and self.rule != "gaokao":
            raise ValueError("partial_points apply to rule gaokao only")
        if self.rule == "gaokao" and self.partial_points is None:
            raise ValueError("rule gaokao needs partial_points")
        return self

    @property
    def total(self) -> float | None:
        """The type's points on the paper when the blueprint fixes them."""
        if self.points is not None:
            return self.points
        return None if self.points_each is None else self.count * self.points_each


class Cell(_Strict):
    """One cell of the 双向细目表: ``count`` items on ``knowledge_point`` at cognitive level ``level``."""

    knowledge_point: str = Field(min_length=1, max_length=64)
    level: str = Field(min_length=1, max_length=32)
    count: int = Field(ge=0, le=500)


class InformationTarget(_Strict):
    """Bounds on the Rasch test information at ability ``theta`` (logits)."""

    theta: float = Field(ge=-6, le=6)
    min: float | None = Field(default=None, ge=0)
    max: float | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _some_bound(self) -> "InformationTarget":
        if self.min is None and self.max is None:
            raise ValueError(f"information at θ={self.theta:g}: give min, max or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"information at θ={self.theta:g}: min {self.min:g} above max {self.max:g}")
        return self


def _band(value: tuple[float, float] | None, name: str) -> None:
    if value is not None and not 0 <= value[0] <= value[1] <= 1:
        raise ValueError(f"{name} [{value[0]:g}, {value[1]:g}]: give [low, high] with 0 <= low <= high <= 1")


class Blueprint(_Strict):
    """A paper's specification (see the module docstring)."""

    format: Literal["yuejuan-blueprint-1"] = "yuejuan-blueprint-1"
    exam_id: str = Field(min_length=1, max_length=58, pattern=r"^[A-Za-z0-9_.-]+$")
    name: str = Field(default="", max_length=200)
    subject: str = Field(min_length=1, max_length=32)
    grade: str = Field(default="", max_length=32)
    types: dict[QuestionType, TypeTarget] = Field(min_length=1)
    cells: list[Cell] = []
    knowledge_point_names: dict[str, str] = {}
    difficulty: tuple[float, float] | None = None
    item_p: tuple[float, float] | None = None
    information: list[InformationTarget] = []
    classes: list[str] = []
    unseen_since: date | None = None
    include: list[str] = []
    exclude: list[str] = []
    duplicate_threshold: float = Field(default=NEAR_THRESHOLD, gt=0, le=1)
    seed: int | None = None
    time_limit_s: float = Field(default=60.0, gt=0, le=3600)

    @model_validator(mode="after")
    def _check(self) -> "Blueprint":
        if sum(target.count for target in self.types.values()) == 0:
            raise ValueError("types: the paper needs at least one item")
        _band(self.difficulty, "difficulty")
        _band(self.item_p, "item_p")
        cells = [(cell.knowledge_point, cell.level) for cell in self.cells]
        if len(set(cells)) != len(cells):
            twice = sorted({c for c in cells if cells.count(c) > 1})
            raise ValueError(f"cells: {twice[0][0]} × {twice[0][1]} listed twice")
        if bool(self.classes) != (self.unseen_since is not None):
            raise ValueError("classes and unseen_since go together: which classes must not have seen an item, "
                             "since when")
        both = sorted(set(self.include) & set(self.exclude))
        if both:
            raise ValueError(f"item {both[0]} is both included and excluded")
        for item_id in (*self.include, *self.exclude):
            if not re.match(ITEM_ID_PATTERN, item_id):
                raise ValueError(f"include/exclude: {item_id!r} is not an item id")
        return self

    @property
    def item_count(self) -> int:
        """Items on the paper."""
        return sum(target.count for target in self.types.values())


def parse_blueprint(data: dict | str | bytes, *, source: str = "blueprint") -> Blueprint:
    """Validate a blueprint given as a dict or JSON text; :class:`BankError` naming the field otherwise."""
    data = json_object(data, source=source, what="a blueprint")
    try:
        return Blueprint.model_validate(data)
    except ValidationError as error:
        raise BankError(f"{source}: {format_validation_error(error)}") from None


def load_blueprint(path: str | Path) -> Blueprint:
    """Read and validate a blueprint JSON file."""
    return parse_blueprint(read_bounded(path, _MAX_BLUEPRINT_BYTES, what="a blueprint"), source=str(path))
