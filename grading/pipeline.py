"""One exam marked end to end: corrections -> matching -> versions -> encoding -> subjective import -> scores.

:func:`grade_sheets` is what ``yuejuan grade`` runs; :class:`GradingRun` holds the result, and after
:func:`grading.regrade.regrade` :meth:`GradingRun.with_grades` carries the new grades (the pending and capped
lists follow them, since a voided question can resolve a pending sheet).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Mapping, Sequence

import numpy as np

from grading.corrections import AppliedCorrection, Correction, apply_corrections
from grading.exam import Exam
from grading.mark import Grades, Hold, Reading, apply_subjective, encode_responses, grade, mask_to_letters
from grading.match import MatchException, StudentMatch, match_sheets
from grading.roster import Roster, Student
from grading.sheets import SheetRecord, SheetsFile, UnreadablePage

__all__ = ["GradingException", "StudentRow", "GradingRun", "grade_sheets", "resolve_version", "VIOLATION_REASONS"]

_ABSENT_UNCERTAIN = "absent mark (缺考) uncertain"
#: 违纪 as listed under each Exam.violation_policy
VIOLATION_REASONS = {
    "list": "violation marked (违纪): score kept, listed for the exam office",
    "zero": "violation marked (违纪): scored 0 by the exam's rule",
    "hold": "violation marked (违纪): held unscored until decided",
}


@dataclass(frozen=True)
class GradingException:
    """One line of ``grading_exceptions.csv``."""

    kind: str
    reason: str
    exam_id: str | None = None
    name: str = ""
    class_name: str = ""
    sheet: int | None = None
    source: str = ""


@dataclass
class StudentRow:
    """A student row of the scores table: who, what happened to their sheet, which paper version."""

    exam_id: str
    student: Student | None
    outcome: str  # sheet | absent | duplicate
    sheet: SheetRecord | None = None
    version: str | None = None
    notes: list[str] = field(default_factory=list)  # reasons that do not depend on the key
    blocking: list[str] = field(default_factory=list)  # why the row cannot be scored at all (version unknown)


def resolve_version(exam: Exam, sheet: SheetRecord | None, student: Student | None
                    ) -> tuple[str | None, list[str], bool]:
    """(version, notes, blocked): the sheet's version mark wins over the roster's 卷型, then the exam default.

    ``blocked`` is True when the exam has versions and none can be told (or the one given is not the exam's).
    """
    if not exam.versions:
        return None, [], False
    form = sheet.form if sheet is not None else None
    listed = student.version if student is not None else None
    notes: list[str] = []
    chosen = form or listed
    if form and listed and form != listed:
        notes.append(f"paper version {form} on the sheet, {listed} on the roster: the sheet's used")
    if chosen is None:
        chosen = exam.default_version or (next(iter(exam.versions)) if len(exam.versions) == 1 else None)
        if chosen is None:
            return None, ["paper version unknown (no version mark on the sheet, no 卷型 on the roster)"], True
    if chosen not in exam.versions:
        return None, [*notes, f"paper version {chosen} is not a version of exam {exam.id} "
                              f"({', '.join(exam.versions)})"], True
    return chosen, notes, False


@dataclass
class GradingRun:
    """Everything one marking run produced."""

    grades: Grades
    rows: list[StudentRow]
    static_exceptions: list[GradingException]
    corrections: list[AppliedCorrection] = field(default_factory=list)
    unmatched: list[SheetRecord] = field(default_factory=list)

    @property
    def exam(self) -> Exam:
        return self.grades.exam

    def with_grades(self, grades: Grades) -> "GradingRun":
        """This run with regraded grades."""
        return replace(self, grades=grades)

    def statuses(self) -> list[str]:
        """Per row: ``graded``, ``pending``, ``absent`` or ``duplicate``."""
        computed = self.grades.student_status
        return [row.outcome if row.outcome != "sheet" else str(computed[i]) for i, row in enumerate(self.rows)]

    def _sheet_question(self, row: StudentRow) -> dict[str, str]:
        mapping = self.exam.sheet_to_canonical(row.version)
        return {canonical: sheet_q for sheet_q, canonical in mapping.items()}

    def pending_reasons(self, i: int) -> list[str]:
        """What row ``i`` waits for, naming questions as printed on its sheet (canonical id after '='): e.g.
        'uncertain: Q3 (A ?C)', 'no reading: Q41', 'score blank: Q56'."""
        grades, row = self.grades, self.rows[i]
        hold = grades.responses.hold[i]
        reasons = list(row.blocking) if hold == Hold.BLOCK else []
        if hold == Hold.DOUBT and grades.policy == "pending":
            reasons.append(_ABSENT_UNCERTAIN)
        columns = np.flatnonzero(grades.pending[i])
        if not columns.size:
            return reasons
        on_sheet = self._sheet_question(row)
        groups: dict[str, list[str]] = {}
        doubt = grades.responses.choice_doubt
        for j in columns:
            q = self.exam.questions[j]
            label = on_sheet.get(q.id, q.id) + (f"={q.id}" if on_sheet.get(q.id, q.id) != q.id else "")
            code = Reading(int(grades.responses.status[i, j]))
            optional = self.exam.optional_group_of(q.id)
            if doubt is not None and doubt[i, j] and optional is not None:
                kind = "optional question choice unclear"
                label = "/".join(on_sheet.get(qid, qid) for qid in optional.questions)
            elif q.type == "subjective":
                kind = "score " + {Reading.MISSING: "missing"}.get(code, code.name.lower())
            elif code == Reading.UNCERTAIN:
                kind = "uncertain"
                marked = mask_to_letters(int(grades.responses.marked[i, j]), q.options)
                unsure = mask_to_letters(int(grades.responses.uncertain[i, j]), q.options)
                label += f" ({marked}{' ' if marked else ''}?{unsure})" if unsure else ""
            else:
                kind = "no reading"
            groups.setdefault(kind, []).append(label)
        reasons.extend(f"{kind}: {', '.join(labels)}" for kind, labels in groups.items())
        return reasons

    def row_reasons(self, i: int) -> list[str]:
        """Notes and pending reasons of row ``i``, for the scores table."""
        row = self.rows[i]
        return list(dict.fromkeys([*row.notes, *self.pending_reasons(i)]))

    def exceptions(self) -> list[GradingException]:
        """Static exceptions (matching, versions, corrections, imports) plus those that follow the grades:
        pending sheets, cells scored by the policy, capped scores, marks outside the options."""
        out = list(self.static_exceptions)
        grades = self.grades
        statuses = self.statuses()
        policy_rows = np.flatnonzero(grades.by_policy.any(axis=1))
        policy_set = set(policy_rows.tolist())
        capped_rows = set(np.flatnonzero(grades.capped.any(axis=1)).tolist())
        foreign = grades.responses.foreign & grades.responses.sitting[:, None]
        foreign_rows = set(np.flatnonzero(foreign.any(axis=1)).tolist())
        multiple = self.sure_multiple()
        multiple_rows = set(np.flatnonzero(multiple.any(axis=1)).tolist()) if self.exam.review_multiple else set()
        for i in sorted({*np.flatnonzero(grades.row_pending).tolist(), *policy_set, *capped_rows, *foreign_rows,
                         *multiple_rows}):
            row = self.rows[i]
            base = dict(exam_id=row.exam_id, name=row.student.name if row.student else "",
                        class_name=row.student.class_name if row.student else "",
                        sheet=row.sheet.sheet if row.sheet else None, source=row.sheet.source if row.sheet else "")
            on_sheet = self._sheet_question(row)
            if statuses[i] == "pending":
                out.append(GradingException("pending", "; ".join(self.pending_reasons(i)), **base))
            if i in policy_set:
                qs = [on_sheet.get(self.exam.questions[j].id, self.exam.questions[j].id)
                      for j in np.flatnonzero(grades.by_policy[i])]
                out.append(GradingException("scored_by_policy", f"policy {grades.policy}: {', '.join(qs)}", **base))
            if i in capped_rows:
                for j in np.flatnonzero(grades.capped[i]):
                    q = self.exam.questions[j]
                    out.append(GradingException(
                        "score_capped", f"{q.id} score {grades.responses.values[i, j]:g} above its {q.points:g} "
                                        f"points: capped", **base))
            if i in foreign_rows:
                qs = [on_sheet.get(self.exam.questions[j].id, self.exam.questions[j].id)
                      for j in np.flatnonzero(foreign[i])]
                out.append(GradingException("invalid_mark", f"marks outside the options (scored 0): "
                                                            f"{', '.join(qs)}", **base))
            if i in multiple_rows:
                qs = [on_sheet.get(self.exam.questions[j].id, self.exam.questions[j].id)
                      for j in np.flatnonzero(multiple[i])]
                out.append(GradingException("multiple_marks", f"重复涂卡（已按本题规则计分）：{', '.join(qs)}", **base))
        return out

    def sure_multiple(self) -> np.ndarray:
        """(S, Q) bool: a sure double mark on an objective question, scored by its rule; listed as an exception
        (``multiple_marks``) only when the exam sets ``review_multiple``."""
        objective = np.array([q.objective for q in self.exam.questions], bool)
        return (self.grades.responses.status == Reading.MULTIPLE) & objective[None, :]

    def summary(self) -> dict:
        """Counts for people and for ``summary.json``."""
        statuses = Counter(self.statuses())
        by_policy = self.grades.by_policy
        kinds = Counter(e.kind for e in self.exceptions())
        totals = self.grades.totals[np.isfinite(self.grades.totals)]
        return {
            "exam": self.exam.id, "subject": self.exam.subject, "sitting": self.exam.sitting,
            "full_marks": self.exam.full_marks, "policy": self.grades.policy, "students": len(self.rows),
            "graded": statuses.get("graded", 0), "pending": statuses.get("pending", 0),
            "absent": statuses.get("absent", 0), "duplicate": statuses.get("duplicate", 0),
            "unmatched_sheets": len(self.unmatched), "corrections_applied": len(self.corrections),
            "scored_by_policy": {"cells": int(by_policy.sum()), "students": int(by_policy.any(axis=1).sum())},
            "mean_total": round(float(totals.mean()), 3) if totals.size else None,
            "exceptions": dict(sorted(kinds.items())),
        }

    def summary_line(self) -> str:
        s = self.summary()
        line = (f"{s['exam']} ({s['subject']}, full marks {s['full_marks']:g}): students {s['students']}, graded "
                f"{s['graded']}, pending {s['pending']}, absent {s['absent']}, duplicate {s['duplicate']}, "
                f"unmatched sheets {s['unmatched_sheets']}, exceptions {sum(s['exceptions'].values())}")
        if s["policy"] != "pending":
            line += (f"; policy {s['policy']} scored {s['scored_by_policy']['cells']} reading(s) on "
                     f"{s['scored_by_policy']['students']} sheet(s)")
        if s["corrections_applied"]:
            line += f"; corrections applied {s['corrections_applied']}"
        return line


def _exception(match: MatchException, students: Mapping[str, Student]) -> GradingException:
    student = students.get(match.exam_id or "")
    return GradingException(match.kind, match.reason, match.exam_id, student.name if student else "",
                            student.class_name if student else "", match.sheet, match.source)


def grade_sheets(exam: Exam, sheets: SheetsFile | Sequence[SheetRecord], roster: Roster | None = None, *,
                 corrections: Sequence[Correction] = (), subjective: Mapping[str, Mapping[str, float]] | None = None,
                 policy: str = "pending") -> GradingRun:
    """Mark one exam.

    Parameters
    ----------
    exam : Exam
    sheets : SheetsFile or sequence of SheetRecord
        From :func:`grading.sheets.read_sheets` (its unreadable pages become exceptions).
    roster : Roster, optional
        Without one, every exam id read is a student.
    corrections : sequence of Correction
        Reviewer decisions, applied before matching (they may fix exam ids).
    subjective : mapping, optional
        {exam id: {canonical question: score}} from online marking; wins over score boxes.
    policy : {'pending', 'score_as_read', 'zero'}
        What doubtful readings become (see :mod:`grading.mark`).
    """
    unreadable: Sequence[UnreadablePage] = ()
    if isinstance(sheets, SheetsFile):
        unreadable, sheets = sheets.unreadable, sheets.sheets
    static: list[GradingException] = []
    applied: list[AppliedCorrection] = []
    sheet_list = list(sheets)
    if corrections:
        outcome = apply_corrections(sheet_list, list(corrections), exam)
        sheet_list, applied = outcome.sheets, outcome.applied
        static.extend(GradingException("correction_problem", p) for p in outcome.problems)
    other = Counter(s.template_id for s in sheet_list if s.template_id and exam.template
                    and s.template_id != exam.template)
    for template_id, count in other.items():  # most likely the wrong exam for these scans
        static.append(GradingException("template_mismatch", f"{count} sheet(s) read with template {template_id}, "
                                                            f"but exam {exam.id} is for {exam.template}"))
    match = match_sheets(sheet_list, roster, unreadable, identity=exam.identity)
    students = {s.exam_id: s for s in roster.students} if roster is not None else {}
    static.extend(_exception(m, students) for m in match.exceptions)
    rows: list[StudentRow] = []
    entries: list[tuple[str, SheetRecord | None, str | None]] = []
    hold: list[int] = []
    for m in match.students:
        row = _row(exam, m, static)
        rows.append(row)
        sitting = m.outcome == "sheet"
        entries.append((m.exam_id, m.sheet if sitting else None, row.version))
        hold.append(Hold.BLOCK if sitting and row.blocking else Hold.DOUBT if m.absent_uncertain else Hold.NONE)
    responses = encode_responses(exam, entries, hold)
    if subjective:
        responses, problems = apply_subjective(responses, subjective)
        static.extend(GradingException("subjective_import", reason, exam_id=eid) for eid, reason in problems)
    grades = grade(exam, responses, policy=policy)
    return GradingRun(grades, rows, static, applied, match.unmatched)


def _row(exam: Exam, match: StudentMatch, static: list[GradingException]) -> StudentRow:
    row = StudentRow(match.exam_id, match.student, match.outcome, match.sheet)
    if match.reason:
        row.notes.append(match.reason)
    if match.outcome == "sheet":
        version, notes, blocked = resolve_version(exam, match.sheet, match.student)
        row.version = version
        row.notes.extend(notes)
        if blocked:
            row.blocking.append(notes[-1])
        for note in notes:
            static.append(GradingException(
                "version", note, match.exam_id, match.student.name if match.student else "",
                match.student.class_name if match.student else "", match.sheet.sheet if match.sheet else None,
                match.sheet.source if match.sheet else ""))
    if match.absent_uncertain:
        row.notes.append(_ABSENT_UNCERTAIN)
    if match.outcome == "sheet" and match.sheet is not None and match.sheet.violation:
        reason = VIOLATION_REASONS[exam.violation_policy]
        row.notes.append(reason)
        if exam.violation_policy == "hold":
            row.blocking.append(reason)
        static.append(GradingException(
            "violation", reason, match.exam_id, match.student.name if match.student else "",
            match.student.class_name if match.student else "", match.sheet.sheet, match.sheet.source))
    return row
