"""Key changes after marking (a question voided, made a bonus, a second answer accepted, points changed).

:func:`regrade` applies one change to graded results: it rebuilds the changed question's lookup table,
re-scores that one column and adds totals up again, so a 100k-student exam regrades in tens of milliseconds.
Every change comes back as a :class:`ChangeRecord` (who, when, the question before and after, full marks before
and after, how many students' scores moved) for an append-only JSONL log (:func:`append_change_log`).

Full marks follow the key: voiding a question takes its points out, restoring or making it a bonus puts them
back, changing points changes full marks by the difference.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, ValidationError

from grading.exam import Exam, ExamError, MultiRule, format_validation_error
from grading.mark import Grades, Reading, score_columns, score_table, totals_for

__all__ = ["KeyChange", "ChangeRecord", "apply_change", "regrade", "load_changes", "append_change_log",
           "read_change_log"]

ChangeAction = Literal["void", "bonus", "restore", "accept", "set_answers", "set_points", "set_rule"]


class KeyChange(BaseModel):
    """One change to the key.

    ``void`` / ``bonus`` / ``restore`` (back to normal) need only ``question``; ``accept`` adds ``answer`` to
    the accepted answers; ``set_answers`` replaces them with ``answers``; ``set_points`` sets ``points`` (and
    ``partial_points`` / ``option_points`` if the rule needs new ones); ``set_rule`` sets ``rule`` with its
    ``partial_points`` or ``option_points``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    action: ChangeAction
    question: str
    answer: str | None = None
    answers: list[str] | None = None
    points: float | None = None
    partial_points: float | None = None
    option_points: dict[str, float] | None = None
    rule: MultiRule | None = None
    reason: str = ""


class ChangeRecord(BaseModel):
    """A change as applied: one line of the change log."""

    model_config = ConfigDict(extra="forbid")

    at: str
    by: str
    exam: str
    change: KeyChange
    before: dict[str, Any]
    after: dict[str, Any]
    full_marks_before: float
    full_marks_after: float
    students_changed: int
    mean_before: float | None = None
    mean_after: float | None = None


def _need(change: KeyChange, field: str) -> Any:
    value = getattr(change, field)
    if value is None:
        raise ExamError(f"{change.action} {change.question}: give {field}")
    return value


def apply_change(exam: Exam, change: KeyChange) -> Exam:
    """The exam with ``change`` applied (a new, validated exam); ExamError says why a change cannot apply."""
    try:
        question = exam.question(change.question)
    except KeyError:
        raise ExamError(f"{change.action}: exam {exam.id} has no question {change.question}") from None
    data = question.model_dump(mode="json", exclude_none=True)
    full_marks = exam.full_marks
    counted = question.status != "void"
    action = change.action
    if action in ("void", "bonus", "restore"):
        status = {"void": "void", "bonus": "bonus", "restore": "normal"}[action]
        if question.status == status:
            raise ExamError(f"{action} {question.id}: the question is already {status}")
        data["status"] = status
        full_marks += (status != "void") * question.points - counted * question.points
    elif action == "accept":
        answer = _need(change, "answer")
        data["answers"] = [*question.answers, answer]
    elif action == "set_answers":
        data["answers"] = list(_need(change, "answers"))
    elif action == "set_points":
        points = _need(change, "points")
        data["points"] = points
        if counted:
            full_marks += points - question.points
        if change.partial_points is not None:
            data["partial_points"] = change.partial_points
        if change.option_points is not None:
            data["option_points"] = change.option_points
    elif action == "set_rule":
        data["rule"] = _need(change, "rule")
        data.pop("partial_points", None)
        data.pop("option_points", None)
        if change.partial_points is not None:
            data["partial_points"] = change.partial_points
        if change.option_points is not None:
            data["option_points"] = change.option_points
    exam_data = exam.model_dump(mode="json", exclude_none=True)
    exam_data["full_marks"] = full_marks
    exam_data["questions"] = [data if q["id"] == question.id else q for q in exam_data["questions"]]
    try:
        changed = Exam.model_validate(exam_data)
    except ValidationError as error:
        raise ExamError(f"{action} {question.id}: {format_validation_error(error, exam_data['questions'])}") \
            from None
    if action == "accept" and changed.question(question.id).answers == question.answers:
        raise ExamError(f"accept {question.id}: {change.answer!r} is already accepted")
    return changed


def _mean(column: np.ndarray) -> float | None:
    finite = column[np.isfinite(column)]
    return round(float(finite.mean()), 4) if finite.size else None


def regrade(grades: Grades, change: KeyChange, *, by: str, at: dt.datetime | None = None
            ) -> tuple[Grades, ChangeRecord]:
    """Apply a key change to graded results: only the changed question's column is re-scored.

    Parameters
    ----------
    grades : Grades
        From :func:`grading.mark.grade` (or an earlier regrade).
    change : KeyChange
    by : str
        Who made the change (for the log).
    at : datetime, optional
        When (default: now, local time with its UTC offset).

    Returns
    -------
    (Grades, ChangeRecord)
        New grades (the input is not modified) and the log record.
    """
    exam = apply_change(grades.exam, change)
    j = exam.question_ids.index(change.question)
    tables = grades.tables.copy()
    tables[j] = score_table(exam.questions[j], tables.shape[1])
    column = score_columns(exam, grades.responses, tables, [j], grades.policy)
    arrays = []
    for old, new in zip((grades.scores, grades.pending, grades.by_policy, grades.capped), column):
        updated = old.copy()
        updated[:, j] = new[:, 0]
        arrays.append(updated)
    scores, pending, by_policy, capped = arrays
    updated = replace(grades, exam=exam, tables=tables, scores=scores, pending=pending, by_policy=by_policy,
                      capped=capped)
    totals, section_ids, section_totals = totals_for(exam, scores, grades.responses.sitting, updated.row_pending,
                                                     grades.responses.status == Reading.NOT_CHOSEN)
    updated = replace(updated, totals=totals, section_ids=section_ids, section_totals=section_totals)
    before, after = grades.scores[:, j], scores[:, j]
    same = (before == after) | (np.isnan(before) & np.isnan(after))
    when = at or dt.datetime.now(dt.timezone.utc).astimezone()
    record = ChangeRecord(
        at=when.isoformat(timespec="seconds"), by=by, exam=exam.id, change=change,
        before=grades.exam.question(change.question).model_dump(mode="json", exclude_none=True),
        after=exam.questions[j].model_dump(mode="json", exclude_none=True),
        full_marks_before=grades.exam.full_marks, full_marks_after=exam.full_marks,
        students_changed=int((~same & grades.responses.sitting).sum()),
        mean_before=_mean(before), mean_after=_mean(after),
    )
    return updated, record


def load_changes(path: str | Path) -> list[KeyChange]:
    """Key changes from JSON: a list of objects, or ``{"changes": [...]}``."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8-sig"))
    except OSError as error:
        raise ExamError(f"cannot read key changes {path}: {error.strerror or error}") from None
    except json.JSONDecodeError as error:
        raise ExamError(f"key changes {path} are not valid JSON: line {error.lineno}: {error.msg}") from None
    items = data.get("changes") if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise ExamError(f"key changes {path}: expected a list of changes")
    changes, errors = [], []
    for number, item in enumerate(items, start=1):
        try:
            changes.append(KeyChange.model_validate(item))
        except ValidationError as error:
            errors.append(f"change {number}: {format_validation_error(error)}")
    if errors:
        raise ExamError(f"key changes {path}: " + "; ".join(errors))
    return changes


def append_change_log(path: str | Path, record: ChangeRecord) -> None:
    """Append one record to a JSONL change log (created if missing; earlier lines are never rewritten)."""
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(record.model_dump_json() + "\n")


def read_change_log(path: str | Path) -> list[ChangeRecord]:
    """Every record of a change log, oldest first."""
    with open(path, encoding="utf-8") as handle:
        return [ChangeRecord.model_validate_json(line) for line in handle if line.strip()]
