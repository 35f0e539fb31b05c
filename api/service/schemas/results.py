"""Grading runs, results per student and class, and key changes."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints

from api.service.schemas.common import Input, Output, text

__all__ = ["GradeRequest", "GradeRunPublic", "StudentResultPublic", "ResultsPublic", "KeyChangeCreate",
           "KeyChangeSchoolRecord", "KeyChangeResult"]


class GradeRequest(Input):
    policy: Literal["pending", "score_as_read", "zero"] = Field(
        default="pending", description="doubtful readings: keep the sheet pending (default), score as read, or 0")


class GradeRunPublic(Output):
    """A marking run's summary (the counts of ``grading.pipeline.GradingRun.summary``)."""

    run_id: int
    exam_id: int
    school_id: str
    created_at: dt.datetime
    by: str
    policy: str
    full_marks: float
    students: int
    graded: int
    pending: int
    absent: int
    duplicate: int
    unmatched_sheets: int
    corrections_applied: int
    exceptions_count: int
    exceptions: dict[str, int]
    mean_total: float | None


class StudentResultPublic(Output):
    exam_id: str = Field(description="考号, text")
    name: str
    class_name: str
    status: str = Field(description="graded | pending | absent | duplicate")
    total: float | None
    scores: dict[str, float | None] | None = Field(default=None, description="per canonical question (detail)")


class ResultsPublic(Output):
    run: GradeRunPublic
    items: list[StudentResultPublic]


class KeyChangeCreate(Input):
    """One key change (``grading.regrade.KeyChange``): ``void`` / ``bonus`` / ``restore`` need only
    ``question``; ``accept`` adds ``answer``; ``set_answers`` replaces them with ``answers``; ``set_points`` sets
    ``points``; ``set_rule`` sets ``rule`` with its ``partial_points`` or ``option_points``."""

    action: Literal["void", "bonus", "restore", "accept", "set_answers", "set_points", "set_rule"]
    question: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_\-]{1,32}$")]
    answer: text(32) | None = None
    answers: list[text(32)] | None = Field(default=None, max_length=64)
    points: float | None = Field(default=None, ge=0, le=1000)
    partial_points: float | None = Field(default=None, ge=0, le=1000)
    option_points: dict[text(8), float] | None = None
    rule: Literal["all_or_nothing", "gaokao", "per_option"] | None = None
    reason: text(500, multiline=True) = ""


class KeyChangeSchoolRecord(Output):
    """What a key change did to one school's results (``grading.regrade.ChangeRecord``)."""

    school_id: str
    run_id: int
    students_changed: int
    mean_before: float | None
    mean_after: float | None
    full_marks_before: float
    full_marks_after: float


class KeyChangeResult(Output):
    exam_id: int
    change: dict[str, Any]
    before: dict[str, Any] = Field(description="the question before the change")
    after: dict[str, Any]
    full_marks_before: float
    full_marks_after: float
    regraded: list[KeyChangeSchoolRecord]
