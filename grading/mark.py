"""Marking, vectorised over students x questions.

Readings are encoded once into arrays (:class:`Responses`): per cell the options marked as a bitmask (bit k =
k-th option), the uncertain options as a second mask, a status code and, for subjective questions, the score
read. Every objective question's rule compiles into a lookup table over all option masks (``2**options``
entries, e.g. 16 for A–D), built with bitmask arithmetic, so scoring all students is one gather
``table[q, marked[:, q]]``; a key change rebuilds one table row and re-gathers one column (:mod:`grading.regrade`).

Doubtful readings (an uncertain bubble, a question with no reading, a score box that is blank, uncertain, double
marked or above the box maximum) are never scored silently. ``policy``:

``pending`` (default)
    The cell stays unscored and the student ``pending`` until a correction is supplied.
``score_as_read``
    Uncertain bubbles count as not marked, missing readings as blank, doubtful score boxes as 0 (a value above
    the maximum is capped); the number of cells so scored is reported.
``zero``
    Every doubtful cell scores 0; reported likewise.

Bonus questions give every sitting student full points; void questions are NaN and left out of every total.

选考题 (``Exam.optional_groups``): only the question the student chose is marked; the others are
``Reading.NOT_CHOSEN``, NaN in the scores and left out of totals, so item statistics count the chosen question's
takers only. The choice is the sheet's chooser; a sheet without one (a responses table) chose the one question of
the group it answered. When the chooser is blank, double or unclear, or several questions were answered with no
chooser, the first answered question (else the first) stands for the group and is doubtful (``choice_doubt``):
pending under ``pending``, scored as read under ``score_as_read`` (多做按第一题计分), 0 under ``zero``.

违纪 (``Exam.violation_policy``): under ``zero`` a sheet with the proctor's violation mark scores 0 on every
question (listed by :mod:`grading.pipeline`); ``list`` and ``hold`` leave marking as it is.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import IntEnum
from pathlib import Path
from typing import Literal, Mapping, Sequence

import numpy as np

from grading.exam import Exam, Question
from grading.sheets import SheetRecord
from grading.tabular import TableError, find_columns, parse_number, read_table

__all__ = [
    "Reading", "Hold", "Policy", "POLICIES", "Responses", "Grades", "encode_responses", "grade", "score_table",
    "score_tables", "score_columns", "totals_for", "letters_to_mask", "mask_to_letters", "response_labels",
    "load_subjective_scores", "apply_subjective", "SubjectScores", "SittingTotals", "subject_scores",
    "sitting_totals", "chosen_question",
]

Policy = Literal["pending", "score_as_read", "zero"]
POLICIES: tuple[str, ...] = ("pending", "score_as_read", "zero")


class Reading(IntEnum):
    """Status code of one cell."""

    OK = 0
    BLANK = 1
    MULTIPLE = 2  # two marks on a single-choice question (a sure reading: scores 0); a double-marked score box
    UNCERTAIN = 3
    MISSING = 4  # no reading at all (page missing, column absent, student not sitting)
    OVER_MAX = 5  # score box reads above its maximum
    NOT_CHOSEN = 6  # a 选考题 the student did not choose: not marked, not counted


class Hold(IntEnum):
    """Why a whole row may wait, whatever its cells say."""

    NONE = 0
    DOUBT = 1  # e.g. absent mark uncertain: pending under policy 'pending' only
    BLOCK = 2  # e.g. paper version unknown: cannot be scored under any policy


_CODES = {"ok": Reading.OK, "blank": Reading.BLANK, "multiple": Reading.MULTIPLE, "uncertain": Reading.UNCERTAIN,
          "over_max": Reading.OVER_MAX}


def letters_to_mask(letters: str, options: str) -> int:
    """Bitmask of ``letters`` (bit k = ``options[k]``); letters not among the options raise ValueError."""
    mask = 0
    for letter in letters:
        index = options.find(letter)
        if index < 0:
            raise ValueError(f"{letter!r} not among options {options}")
        mask |= 1 << index
    return mask


def mask_to_letters(mask: int, options: str) -> str:
    """Letters of a bitmask, in option order."""
    return "".join(letter for k, letter in enumerate(options) if mask >> k & 1)


@dataclass(frozen=True)
class Responses:
    """Encoded readings: ``S`` students x ``Q`` canonical questions.

    Attributes
    ----------
    exam_ids : ndarray of str, (S,)
    question_ids : tuple of str, (Q,)
    marked : ndarray of uint16, (S, Q)
        Options read as marked (never an uncertain one); 0 for subjective questions.
    uncertain : ndarray of uint16, (S, Q)
        Options read as uncertain.
    foreign : ndarray of bool, (S, Q)
        A mark outside the question's options (e.g. E on a 4-option question printed on a 5-option sheet):
        always wrong.
    status : ndarray of int8, (S, Q)
        :class:`Reading` codes.
    values : ndarray of float64, (S, Q)
        Subjective scores as read (NaN when none).
    sitting : ndarray of bool, (S,)
        A sheet was matched and the student was not absent.
    hold : ndarray of int8, (S,)
        :class:`Hold` codes.
    choice_doubt : ndarray of bool, (S, Q), optional
        The cell stands for its 选考题 group although the choice is unclear (see the module docstring).
    violation : ndarray of bool, (S,), optional
        The proctor's 违纪 mark.
    """

    exam_ids: np.ndarray
    question_ids: tuple[str, ...]
    marked: np.ndarray
    uncertain: np.ndarray
    foreign: np.ndarray
    status: np.ndarray
    values: np.ndarray
    sitting: np.ndarray
    hold: np.ndarray
    choice_doubt: np.ndarray | None = None
    violation: np.ndarray | None = None

    @property
    def shape(self) -> tuple[int, int]:
        return self.marked.shape

    def row_of(self) -> dict[str, int]:
        """Exam id -> row."""
        return {eid: i for i, eid in enumerate(self.exam_ids.tolist())}


def encode_responses(exam: Exam, entries: Sequence[tuple[str, SheetRecord | None, str | None]],
                     hold: Sequence[int] | None = None) -> Responses:
    """Encode sheets into :class:`Responses` in canonical question order.

    Parameters
    ----------
    exam : Exam
    entries : sequence of (exam_id, sheet or None, version or None)
        One per student row; ``None`` for a student who did not sit (absent, no sheet, duplicate sheets). The
        version maps the sheet's question numbers to canonical ones.
    hold : sequence of int, optional
        :class:`Hold` code per row.
    """
    qids = exam.question_ids
    n_students, n_questions = len(entries), len(qids)
    marked = np.zeros((n_students, n_questions), np.uint16)
    uncertain = np.zeros_like(marked)
    foreign = np.zeros((n_students, n_questions), bool)
    status = np.full((n_students, n_questions), Reading.MISSING, np.int8)
    values = np.full((n_students, n_questions), np.nan)
    sitting = np.zeros(n_students, bool)
    column = {qid: j for j, qid in enumerate(qids)}
    questions = exam.questions
    maps: dict[str | None, dict[str, str]] = {}
    cache: dict[tuple[str, str], tuple[int, bool]] = {}  # (options, letters) -> (mask, any foreign letter)

    def encode(letters: str, options: str) -> tuple[int, bool]:
        key = (options, letters)
        if key not in cache:
            mask, odd = 0, False
            for letter in letters:
                index = options.find(letter)
                if index < 0:
                    odd = True
                else:
                    mask |= 1 << index
            cache[key] = (mask, odd)
        return cache[key]

    for i, (_, sheet, version) in enumerate(entries):
        if sheet is None:
            continue
        sitting[i] = True
        if version not in maps:
            maps[version] = exam.sheet_to_canonical(version if version in exam.versions else None)
        mapping = maps[version]
        for sheet_q, reading in sheet.questions.items():
            j = column.get(mapping.get(sheet_q, ""), -1)
            if j < 0 or questions[j].type == "subjective":
                continue
            options = questions[j].options
            marked[i, j], foreign[i, j] = encode(reading.marked, options)
            if reading.uncertain:
                uncertain[i, j] = encode(reading.uncertain, options)[0]
            status[i, j] = _CODES.get(reading.status, Reading.UNCERTAIN)
        for sheet_q, score in sheet.scores.items():
            j = column.get(mapping.get(sheet_q, ""), -1)
            if j < 0 or questions[j].type != "subjective":
                continue
            status[i, j] = _CODES.get(score.status, Reading.UNCERTAIN)
            if score.value is not None and score.status in ("ok", "over_max"):
                values[i, j] = score.value
    hold_array = np.zeros(n_students, np.int8) if hold is None else np.asarray(hold, np.int8)
    choice_doubt = np.zeros((n_students, n_questions), bool)
    if exam.optional_groups:
        for i, (_, sheet, version) in enumerate(entries):
            if sheet is not None:
                _apply_choices(exam, i, sheet, maps[version], column, status, choice_doubt)
        unchosen = status == Reading.NOT_CHOSEN
        marked[unchosen], uncertain[unchosen], foreign[unchosen], values[unchosen] = 0, 0, False, np.nan
    violation = np.array([bool(sheet is not None and sheet.violation) for _, sheet, _ in entries], bool)
    return Responses(np.array([e[0] for e in entries], dtype=object), tuple(qids), marked, uncertain, foreign,
                     status, values, sitting, hold_array, choice_doubt, violation)


def chosen_question(group_questions: Sequence[str], sheet: SheetRecord, mapping: Mapping[str, str],
                    answered: Sequence[str]) -> tuple[str, str | None]:
    """(the canonical question a sheet chose in a 选考题 group, why the choice is unclear or None).

    The sheet's chooser decides (its questions as printed, mapped by the paper version); without a chooser the
    one question answered is the choice. Unclear: the first answered question (else the first) with the reason.
    """
    members = set(group_questions)
    for chooser in sheet.choices.values():
        printed = {mapping.get(q, q) for q in chooser.questions}
        if not printed & members:
            continue
        if chooser.status == "ok" and mapping.get(chooser.chosen, chooser.chosen) in members:
            return mapping.get(chooser.chosen, chooser.chosen), None
        return (answered or group_questions)[0], f"choice {chooser.status}"
    if len(answered) == 1:
        return answered[0], None
    if not answered:
        return group_questions[0], None  # nothing answered: the first stands for the group, as blank
    return answered[0], "several answered"


def _apply_choices(exam: Exam, row: int, sheet: SheetRecord, mapping: Mapping[str, str], column: Mapping[str, int],
                   status: np.ndarray, choice_doubt: np.ndarray) -> None:
    for group in exam.optional_groups:
        answered = [q for q in group.questions if status[row, column[q]] not in (Reading.BLANK, Reading.MISSING)]
        chosen, unclear = chosen_question(group.questions, sheet, mapping, answered)
        for q in group.questions:
            if q != chosen:
                status[row, column[q]] = Reading.NOT_CHOSEN
        choice_doubt[row, column[chosen]] = unclear is not None


# ----------------------------------------------------------------------------------------------------------
# Rules as lookup tables over option masks


def score_table(question: Question, size: int | None = None) -> np.ndarray:
    """Points for every option mask ``0 .. size-1`` under the question's rule and accepted answers.

    The table ignores ``status`` (bonus and void are applied per column by :func:`score_columns`) so that
    restoring a question needs no new table. Subjective questions get zeros.
    """
    n_options = len(question.options)
    size = size or (1 << n_options)
    table = np.zeros(size)
    if question.type == "subjective" or not question.answers:
        return table
    masks = np.arange(size, dtype=np.int64)
    bits = (masks[:, None] >> np.arange(n_options)) & 1  # (size, options)
    for answer in question.answers:
        key = letters_to_mask(answer, question.options)
        exact = masks == key
        if question.type != "multi" or question.rule == "all_or_nothing":
            points = np.where(exact, question.points, 0.0)
        else:
            nothing_wrong = ((masks & ~key) == 0) & (masks != 0)
            if question.rule == "gaokao":
                points = np.where(exact, question.points, np.where(nothing_wrong, question.partial_points, 0.0))
            else:  # per_option: each correct option marked earns its points, anything wrong = 0
                earn = np.zeros(n_options)
                for letter, value in question.points_for_option(answer).items():
                    earn[question.options.index(letter)] = value
                points = np.where(exact, question.points, np.where(nothing_wrong, bits @ earn, 0.0))
        table = np.maximum(table, points)
    return table


def score_tables(exam: Exam) -> np.ndarray:
    """One :func:`score_table` row per canonical question, padded to the widest option count."""
    size = 1 << max((len(q.options) for q in exam.questions), default=1)
    return np.stack([score_table(q, size) for q in exam.questions])


def score_columns(exam: Exam, responses: Responses, tables: np.ndarray, columns: Sequence[int] | np.ndarray,
                  policy: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Score some columns: returns (scores, pending, by_policy, capped), each (S, len(columns)).

    ``scores`` is NaN for void questions, students not sitting, blocked rows and, under policy ``pending``,
    doubtful cells.
    """
    if policy not in POLICIES:
        raise ValueError(f"policy {policy!r}: use one of {', '.join(POLICIES)}")
    columns = np.asarray(columns, dtype=np.intp)
    status = responses.status[:, columns]
    n_students = status.shape[0]
    scores = np.zeros(status.shape)
    doubtful = np.zeros(status.shape, bool)
    capped = np.zeros(status.shape, bool)
    kinds = [exam.questions[j] for j in columns]
    objective = np.array([q.type != "subjective" for q in kinds], bool)
    points = np.array([q.points for q in kinds])
    if objective.any():
        obj = columns[objective]
        gathered = tables[obj[None, :], responses.marked[:, obj].astype(np.intp)]
        gathered[responses.foreign[:, obj]] = 0.0
        scores[:, objective] = gathered
        doubtful[:, objective] = (status[:, objective] == Reading.UNCERTAIN) | (status[:, objective] == Reading.MISSING)
    if (~objective).any():
        sub = columns[~objective]
        values = responses.values[:, sub]
        limit = points[~objective]
        with np.errstate(invalid="ignore"):
            capped[:, ~objective] = values > limit
        scores[:, ~objective] = np.where(np.isnan(values), 0.0, np.minimum(values, limit))
        doubtful[:, ~objective] = status[:, ~objective] != Reading.OK
    not_chosen = status == Reading.NOT_CHOSEN
    doubtful[not_chosen] = False
    if responses.choice_doubt is not None:
        doubtful |= responses.choice_doubt[:, columns]
    if policy == "pending":
        pending = doubtful.copy()
        scores[pending] = np.nan
        by_policy = np.zeros_like(doubtful)
    else:
        pending = np.zeros_like(doubtful)
        by_policy = doubtful.copy()
        if policy == "zero":
            scores[doubtful] = 0.0
    flags = np.array([q.status for q in kinds])
    bonus, void = flags == "bonus", flags == "void"
    scores[:, bonus] = points[bonus]
    if exam.violation_policy == "zero" and responses.violation is not None:
        scores[responses.violation] = 0.0  # 违纪: the subject scores 0, whatever was read
        for array in (pending, by_policy, capped):
            array[responses.violation] = False
    scores[not_chosen] = np.nan
    for array in (pending, by_policy, capped):
        array[not_chosen] = False
    scores[:, void] = np.nan
    for array in (pending, by_policy, capped):
        array[:, bonus | void] = False
    out = ~responses.sitting | (responses.hold == Hold.BLOCK)
    scores[out] = np.nan
    for array in (pending, by_policy, capped):
        array[out] = False
    if n_students == 0:
        scores = scores.reshape(0, len(columns))
    return scores, pending, by_policy, capped


@dataclass(frozen=True)
class Grades:
    """Marked scores of one exam and everything needed to regrade them.

    Attributes
    ----------
    exam : Exam
    responses : Responses
    policy : str
    tables : ndarray, (Q, 2**max_options)
        The rules as lookup tables.
    scores : ndarray of float64, (S, Q)
        NaN = void question, student not sitting, or (policy pending) a doubtful cell.
    pending, by_policy, capped : ndarray of bool, (S, Q)
        Cells waiting for a correction; cells scored by the policy instead of a sure reading; subjective
        scores capped at the question's points.
    totals : ndarray, (S,)
        Sum over questions that are not void; NaN unless the student sat and nothing is pending.
    section_ids : tuple of str
    section_totals : ndarray, (S, sections)
    """

    exam: Exam
    responses: Responses
    policy: str
    tables: np.ndarray
    scores: np.ndarray
    pending: np.ndarray
    by_policy: np.ndarray
    capped: np.ndarray
    totals: np.ndarray
    section_ids: tuple[str, ...]
    section_totals: np.ndarray

    @property
    def row_pending(self) -> np.ndarray:
        """Students waiting for a correction (a pending cell or a held row)."""
        hold = self.responses.hold
        held = (hold == Hold.BLOCK) | ((hold == Hold.DOUBT) & (self.policy == "pending"))
        return self.responses.sitting & (self.pending.any(axis=1) | held)

    @property
    def student_status(self) -> np.ndarray:
        """Per student: ``graded``, ``pending`` or ``not_sitting``."""
        status = np.full(len(self.totals), "graded", dtype=object)
        status[self.row_pending] = "pending"
        status[~self.responses.sitting] = "not_sitting"
        return status


def totals_for(exam: Exam, scores: np.ndarray, sitting: np.ndarray, row_pending: np.ndarray,
               not_chosen: np.ndarray | None = None) -> tuple[np.ndarray, tuple[str, ...], np.ndarray]:
    """(totals, section ids, section totals) of a score matrix.

    Totals are NaN for rows not sitting or pending; a section subtotal is NaN for rows not sitting or with a
    pending cell in that section (a pending student's complete sections still add up). ``not_chosen`` cells
    (选考题 not chosen, NaN in ``scores``) add nothing.
    """
    if not_chosen is not None and not_chosen.any():
        scores = np.where(not_chosen, 0.0, scores)
    active = np.array([q.status != "void" for q in exam.questions], bool)
    hidden = ~sitting | row_pending
    totals = scores[:, active].sum(axis=1) if scores.size else np.zeros(scores.shape[0])
    totals[hidden] = np.nan
    section_ids = tuple(exam.section_ids())
    section_of = np.array([q.section for q in exam.questions], dtype=object)
    subtotals = np.zeros((scores.shape[0], len(section_ids)))
    for k, section in enumerate(section_ids):
        chosen = active & (section_of == section)
        subtotals[:, k] = scores[:, chosen].sum(axis=1)
    subtotals[~sitting] = np.nan
    return totals, section_ids, subtotals


def grade(exam: Exam, responses: Responses, *, policy: str = "pending") -> Grades:
    """Score every student on every question and add up totals and section subtotals."""
    if responses.question_ids != tuple(exam.question_ids):
        raise ValueError("responses were encoded for other questions than the exam's")
    tables = score_tables(exam)
    scores, pending, by_policy, capped = score_columns(exam, responses, tables, np.arange(len(exam.questions)),
                                                       policy)
    partial = Grades(exam, responses, policy, tables, scores, pending, by_policy, capped,
                     np.zeros(0), (), np.zeros((0, 0)))
    totals, section_ids, section_totals = totals_for(exam, scores, responses.sitting, partial.row_pending,
                                                     responses.status == Reading.NOT_CHOSEN)
    return replace(partial, totals=totals, section_ids=section_ids, section_totals=section_totals)


def response_labels(exam: Exam) -> list[np.ndarray]:
    """Per question, the text shown for each option mask ('' for blank), for reports."""
    labels = []
    for q in exam.questions:
        size = 1 << len(q.options)
        labels.append(np.array([mask_to_letters(m, q.options) for m in range(size)], dtype=object))
    return labels


# ----------------------------------------------------------------------------------------------------------
# Subjective scores from online marking


_ID_COLUMNS = ("考号", "准考证号", "exam id", "exam_id", "student_id", "student id", "id")


def load_subjective_scores(path: str | Path, exam: Exam) -> dict[str, dict[str, float]]:
    """Scores of subjective questions from a table (exam_id, Q56, Q57 ...): {exam id: {question: score}}.

    Question columns are canonical question ids (``56`` works too). Empty cells are skipped. Every bad cell
    is reported, with its row, in one :class:`~grading.tabular.TableError`.
    """
    table = read_table(path, what="subjective scores")
    columns = find_columns(table.header, {"exam_id": _ID_COLUMNS})
    errors: list[str] = []
    if "exam_id" not in columns:
        raise TableError(f"subjective scores {path}", ["row 1: no 考号 (exam_id) column"])
    question_columns: list[tuple[int, str]] = []
    for index, name in enumerate(table.header):
        if index == columns["exam_id"] or not name.strip():
            continue
        qid = name.strip().upper()
        qid = f"Q{int(qid)}" if qid.isdigit() else qid
        if qid not in exam.question_ids:
            if qid.startswith("Q") or qid[1:].isdigit():
                errors.append(f"row 1: {name} is not a question of exam {exam.id}")
            continue  # other columns (name, class) are fine
        if exam.question(qid).type != "subjective":
            errors.append(f"row 1: {qid} is not a subjective question")
            continue
        question_columns.append((index, qid))
    result: dict[str, dict[str, float]] = {}
    for number, row in table.rows:
        exam_id = table.cell(row, columns["exam_id"]).strip()
        if not exam_id.isdigit():
            errors.append(f"row {number}: 考号 {exam_id!r} must be digits")
            continue
        if exam_id in result:
            errors.append(f"row {number}: 考号 {exam_id} listed twice")
            continue
        scores: dict[str, float] = {}
        for index, qid in question_columns:
            text = table.cell(row, index)
            if not text:
                continue
            try:
                value = parse_number(text)
            except ValueError:
                errors.append(f"row {number}: {qid} {text!r} is not a number")
                continue
            if value < 0:
                errors.append(f"row {number}: {qid} {value:g} is negative")
                continue
            scores[qid] = value
        result[exam_id] = scores
    if errors:
        raise TableError(f"subjective scores {path}", errors)
    return result


def apply_subjective(responses: Responses, scores: Mapping[str, Mapping[str, float]]
                     ) -> tuple[Responses, list[tuple[str, str]]]:
    """Imported subjective scores win over score boxes. Returns new responses and (exam id, problem) pairs."""
    values = responses.values.copy()
    status = responses.status.copy()
    rows = responses.row_of()
    column = {qid: j for j, qid in enumerate(responses.question_ids)}
    problems: list[tuple[str, str]] = []
    for exam_id, by_question in scores.items():
        i = rows.get(exam_id)
        if i is None:
            problems.append((exam_id, "subjective scores imported for an exam id with no student row"))
            continue
        if not responses.sitting[i] and by_question:
            problems.append((exam_id, "subjective scores imported for a student who did not sit the exam"))
            continue
        for qid, value in by_question.items():
            if status[i, column[qid]] == Reading.NOT_CHOSEN:
                problems.append((exam_id, f"subjective score imported for {qid}, an optional question (选考题) the "
                                          "student did not choose: ignored"))
                continue
            values[i, column[qid]] = value
            status[i, column[qid]] = Reading.OK
    return replace(responses, values=values, status=status), problems


# ----------------------------------------------------------------------------------------------------------
# 总分 across the subjects of one sitting


@dataclass(frozen=True)
class SubjectScores:
    """One subject's totals per exam id (NaN = not graded: absent, pending, no row)."""

    subject: str
    exam: str
    full_marks: float
    exam_ids: np.ndarray
    totals: np.ndarray
    sitting: str = ""


def subject_scores(grades: Grades) -> SubjectScores:
    """The totals of one graded exam, for :func:`sitting_totals`."""
    return SubjectScores(grades.exam.subject, grades.exam.id, grades.exam.full_marks, grades.responses.exam_ids,
                         grades.totals, grades.exam.sitting)


@dataclass(frozen=True)
class SittingTotals:
    """Per student (union of exam ids, first-seen order): each subject's total, 总分 and completeness.

    ``total`` is NaN unless every subject is graded; ``partial_total`` adds what is graded.
    """

    exam_ids: np.ndarray
    subjects: tuple[str, ...]
    scores: np.ndarray  # (N, subjects)
    total: np.ndarray
    partial_total: np.ndarray
    complete: np.ndarray
    full_marks: float


def sitting_totals(subjects: Sequence[SubjectScores]) -> SittingTotals:
    """Add up the subjects of one sitting by exam id.

    Raises ValueError when two inputs share a subject or name different sittings.
    """
    names = [s.subject for s in subjects]
    if len(set(names)) != len(names):
        raise ValueError(f"subject listed twice: {', '.join(sorted({n for n in names if names.count(n) > 1}))}")
    sittings = {s.sitting for s in subjects if s.sitting}
    if len(sittings) > 1:
        raise ValueError(f"exams of different sittings: {', '.join(sorted(sittings))}")
    position: dict[str, int] = {}
    for s in subjects:
        for eid in s.exam_ids.tolist():
            position.setdefault(eid, len(position))
    scores = np.full((len(position), len(subjects)), np.nan)
    for k, s in enumerate(subjects):
        index = np.fromiter((position[e] for e in s.exam_ids.tolist()), np.intp, len(s.exam_ids))
        scores[index, k] = s.totals
    complete = ~np.isnan(scores).any(axis=1)
    partial = np.nansum(scores, axis=1)
    total = np.where(complete, partial, np.nan)
    return SittingTotals(np.array(list(position), dtype=object), tuple(names), scores, total, partial, complete,
                         float(sum(s.full_marks for s in subjects)))
