"""The item bank's data: one :class:`Item` per question that can go on a paper, and the :class:`Bank` holding them.

An item is what a teacher writes once and uses in many exams: its stem (text, optionally an image in the bank's
image folder), its options and key, what it assesses (knowledge points, cognitive level) and what past use showed
(difficulty P, discrimination, Rasch b). An exam's question carries the item's id (``Question.item_id``), so a grade
of that exam feeds the item's statistics back and a 错题本 finds the stem.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from grading.exam import QuestionType

__all__ = ["Item", "ItemStats", "ItemUse", "Bank", "BankError", "ITEM_ID_PATTERN"]

#: Item ids are text (never numbers): letters, digits and ``_ . : -``, as ``Question.item_id`` accepts.
ITEM_ID_PATTERN = r"^[A-Za-z0-9_.:-]+$"


class BankError(ValueError):
    """An item or bank that cannot be used, with the item and field named in the message."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ItemUse(_Strict):
    """One past use of an item: which exam, when, and which classes (班级) sat it."""

    exam_id: str = Field(min_length=1, max_length=64)
    date: date
    classes: list[str] = []  # class codes as text, e.g. "0701"


class ItemStats(_Strict):
    """What past use showed, over ``students`` students who answered the item.

    ``p`` is classical difficulty (mean score / points), ``discrimination`` the corrected item–total (point-biserial
    or polyserial) correlation, ``rasch_b`` the Rasch difficulty in logits on the scale it was estimated on (kept only
    once enough students answered: see ``itembank.stats``).
    """

    students: int = Field(default=0, ge=0)
    p: float | None = Field(default=None, ge=0, le=1)
    discrimination: float | None = Field(default=None, ge=-1, le=1)
    rasch_b: float | None = Field(default=None, ge=-10, le=10)


class Item(_Strict):
    """One bank item (试题)."""

    id: str = Field(min_length=1, max_length=64, pattern=ITEM_ID_PATTERN)
    subject: str = Field(min_length=1, max_length=32)
    type: QuestionType
    stem: str = Field(min_length=1, max_length=20000)  # the question text (题干)
    stem_image: str | None = Field(default=None, max_length=255)  # file name inside the bank's image folder
    options: dict[str, str] = {}  # label -> option text, in print order; empty for subjective items
    answer: str = ""  # key letters ("B", "ACD", "T"); empty for subjective items
    points: float = Field(default=1.0, gt=0, le=100)
    knowledge_points: list[str] = Field(default=[], max_length=16)  # knowledge-point ids of the exam blueprint
    cognitive_level: str = Field(default="", max_length=32)  # 识记 / 理解 / 应用 / 分析 …
    grade: str = Field(default="", max_length=32)  # e.g. 七年级
    difficulty: float | None = Field(default=None, ge=0, le=1)  # the writer's estimate (预估难度), 0..1
    stats: ItemStats = ItemStats()
    uses: list[ItemUse] = []

    @model_validator(mode="after")
    def _key_matches_options(self) -> "Item":
        if self.type == "subjective":
            if self.options or self.answer:
                raise ValueError(f"item {self.id}: a subjective item has no options or answer")
            return self
        if not self.options and self.type != "truefalse":
            raise ValueError(f"item {self.id}: a {self.type} item needs its options")
        labels = "".join(self.options) or "TF"
        if not self.answer or any(ch not in labels for ch in self.answer):
            raise ValueError(f"item {self.id}: answer {self.answer!r} is not among the options {labels!r}")
        if self.type in ("single", "truefalse") and len(self.answer) != 1:
            raise ValueError(f"item {self.id}: a {self.type} item has exactly one answer letter")
        return self

    def seen_by(self, class_code: str, since: date) -> bool:
        """True when class ``class_code`` sat this item in an exam on or after ``since``."""
        return any(use.date >= since and class_code in use.classes for use in self.uses)


class Bank(_Strict):
    """A subject's (or a school's) item bank: items by id, plus where their images live (relative folder)."""

    format: Literal["yuejuan-itembank-1"] = "yuejuan-itembank-1"
    items: list[Item] = []

    @model_validator(mode="after")
    def _ids_unique(self) -> "Bank":
        seen: set[str] = set()
        for item in self.items:
            if item.id in seen:
                raise ValueError(f"item id {item.id!r} appears twice in the bank")
            seen.add(item.id)
        return self

    def by_id(self) -> dict[str, Item]:
        """The items keyed by id."""
        return {item.id: item for item in self.items}
