"""Exams: subject, full marks, paper versions and, per question, type, points, key, scoring rule and blueprint.

An exam is JSON, validated on load. Questions are listed in *canonical* order (usually the A paper's); each
paper version (AB卷) maps the numbers printed on its sheet to canonical questions, so every student ends up in
one canonical table whatever version they sat.

Scoring rules, per question type:

``single`` / ``truefalse``
    Full points when the one marked option is an accepted answer; anything else (blank, two marks) is 0.
``multi``, rule ``all_or_nothing``
    Full points only for exactly an accepted option set.
``multi``, rule ``gaokao``
    Exactly an accepted set = full points; a non-empty subset of it with nothing wrong = ``partial_points``;
    any wrong option = 0.
``multi``, rule ``per_option``
    Each correct option marked earns its ``option_points`` (by default the points shared equally among the
    answer's options); any wrong option = 0 (the 2024 new-gaokao rule).
``subjective``
    Score from the sheet's score boxes or an imported table, capped at the question's points.

选考题 (``optional_groups``): the student answers one of a group's questions (same type and points), says which
on the sheet's chooser, and only that one is marked; the group counts once in ``full_marks``.
违纪 (``violation_policy``): a sheet whose proctor filled the violation mark keeps its score and is listed for the
exam office (``list``, the default: in Chinese practice the office decides), or scores 0 (``zero``), or waits
unscored for the decision (``hold``).

Several accepted answers (``answers: ["A", "C"]``, or ``["ACD", "AC"]`` for multi) score the best match.
``status`` ``bonus`` (送分) gives every sitting student full points; ``void`` (作废) removes the question from
totals and statistics, so ``full_marks`` must equal the sum of the points of questions that are not void.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

__all__ = [
    "Exam", "ExamError", "Question", "KnowledgePoint", "Section", "OptionalGroup", "ViolationPolicy",
    "QuestionType", "MultiRule", "QuestionStatus",
    "DEFAULT_OPTIONS", "parse_exam", "load_exam", "save_exam", "exam_to_dict", "options_span",
    "format_validation_error",
]

QuestionType = Literal["single", "multi", "truefalse", "subjective"]
MultiRule = Literal["all_or_nothing", "gaokao", "per_option"]
QuestionStatus = Literal["normal", "bonus", "void"]
ViolationPolicy = Literal["list", "zero", "hold"]

#: Options a question of each type gets when the exam does not list them.
DEFAULT_OPTIONS: dict[str, str] = {"single": "ABCD", "multi": "ABCD", "truefalse": "TF", "subjective": ""}

_TOLERANCE = 1e-6  # points are decimals like 1.5 or 0.5; sums compare with this slack


class ExamError(ValueError):
    """An exam that cannot be used, with the offending question or field named in the message."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def options_span(options: str) -> str:
    """How options read in a message: 'A–D' for a run of consecutive letters, else 'A, C, E'."""
    if len(options) > 2 and all(ord(b) - ord(a) == 1 for a, b in zip(options, options[1:])):
        return f"{options[0]}–{options[-1]}"
    return ", ".join(options)


class KnowledgePoint(_Strict):
    """A knowledge point a question assesses (双向细目表), with its relative weight within the question."""

    id: str = Field(min_length=1, max_length=64)
    name: str = ""
    weight: float = Field(default=1.0, gt=0)


class Section(_Strict):
    """A part of the paper (大题) whose subtotal is reported, e.g. ``{"id": "I", "name": "一、单项选择题"}``."""

    id: str = Field(min_length=1, max_length=64)
    name: str = ""


class OptionalGroup(_Strict):
    """选考题: the student answers one of ``questions`` ("choose 1 of N", each worth the same points)."""

    id: str = Field(min_length=1, max_length=64)
    name: str = ""
    questions: list[str] = Field(min_length=2, max_length=10)


class Question(_Strict):
    """One canonical question: how it is answered, what it is worth, how it is scored and what it assesses."""

    id: str = Field(pattern=r"^Q[1-9][0-9]{0,3}$")
    type: QuestionType
    points: float = Field(gt=0, le=1000)
    options: str = ""
    answers: list[str] = []
    rule: MultiRule | None = None
    partial_points: float | None = None
    option_points: dict[str, float] | None = None
    status: QuestionStatus = "normal"
    knowledge_points: list[KnowledgePoint] = []
    cognitive_level: str = ""
    difficulty: float | None = Field(default=None, ge=0, le=1)  # expected difficulty (预估难度), 0..1
    section: str = ""
    # The item's id in the item bank (题库): the same item in two exams carries the same id, which links their IRT
    # scales through common items and finds the stem for a 错题本.
    item_id: str | None = Field(default=None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")

    @model_validator(mode="before")
    @classmethod
    def _normalise(cls, data: Any) -> Any:
        # Fill type defaults and put answers in one spelling ("ca " -> "AC") before the checks below.
        if not isinstance(data, dict):
            return data
        data = dict(data)
        kind = data.get("type")
        if kind in DEFAULT_OPTIONS and not data.get("options"):
            data["options"] = DEFAULT_OPTIONS[kind]
        if kind == "multi" and data.get("rule") is None:
            data["rule"] = "all_or_nothing"
        options = data.get("options")
        answers = data.get("answers")
        if isinstance(options, str) and isinstance(answers, list) and all(isinstance(a, str) for a in answers):
            data["options"] = options = options.strip().upper()
            normalised: list[str] = []
            for answer in answers:
                letters = "".join(ch for ch in answer.upper() if not ch.isspace())
                if kind == "multi":
                    letters = "".join(sorted(set(letters), key=lambda ch: (ch not in options, options.find(ch), ch)))
                if letters not in normalised:
                    normalised.append(letters)
            data["answers"] = normalised
        return data

    @model_validator(mode="after")
    def _check(self) -> "Question":
        where = self.id
        if self.type == "subjective":
            if self.options or self.answers:
                raise ValueError(f"{where}: a subjective question has no options or answers")
        else:
            if len(set(self.options)) != len(self.options) or not self.options.isalnum() or len(self.options) < 2:
                raise ValueError(f"{where}: options {self.options!r} must be 2 or more distinct letters")
            if len(self.options) > 10:
                raise ValueError(f"{where}: at most 10 options, got {len(self.options)}")
            if self.type == "truefalse" and len(self.options) != 2:
                raise ValueError(f"{where}: a true/false question has 2 options, got {self.options!r}")
            if not self.answers and self.status == "normal":
                raise ValueError(f"{where}: no answer given (mark the question bonus or void if it has none)")
            for answer in self.answers:
                if not answer:
                    raise ValueError(f"{where}: empty answer")
                for letter in answer:
                    if letter not in self.options:
                        what = f"answer {answer!r}" if len(answer) == 1 else f"answer {answer!r}: {letter!r}"
                        raise ValueError(f"{where}: {what} not among options {options_span(self.options)}")
                if self.type != "multi" and len(answer) != 1:
                    raise ValueError(f"{where}: answer {answer!r} has {len(answer)} options; a {self.type} answer "
                                     "is one option (list several accepted answers separately)")
        if self.type != "multi" and self.rule is not None:
            raise ValueError(f"{where}: rule {self.rule!r} applies to multi-select questions only")
        if self.rule == "gaokao":
            if self.partial_points is None:
                raise ValueError(f"{where}: rule gaokao needs partial_points (部分分)")
            if not 0 < self.partial_points < self.points:
                raise ValueError(f"{where}: partial_points {self.partial_points:g} must be above 0 and below the "
                                 f"question's {self.points:g} points")
        elif self.partial_points is not None:
            raise ValueError(f"{where}: partial_points apply to rule gaokao only")
        if self.rule == "per_option":
            self._check_option_points()
        elif self.option_points is not None:
            raise ValueError(f"{where}: option_points apply to rule per_option only")
        ids = [kp.id for kp in self.knowledge_points]
        if len(set(ids)) != len(ids):
            raise ValueError(f"{where}: a knowledge point is listed twice")
        return self

    def _check_option_points(self) -> None:
        if self.option_points is None:
            return
        for letter, value in self.option_points.items():
            if letter not in self.options:
                raise ValueError(f"{self.id}: option_points: {letter!r} not among options "
                                 f"{options_span(self.options)}")
            if not value > 0:
                raise ValueError(f"{self.id}: option_points: {letter}={value:g} must be above 0")
        for answer in self.answers:
            missing = [letter for letter in answer if letter not in self.option_points]
            if missing:
                raise ValueError(f"{self.id}: option_points give no points for {', '.join(missing)} of answer "
                                 f"{answer!r}")
            total = sum(self.option_points[letter] for letter in answer)
            if abs(total - self.points) > _TOLERANCE:
                raise ValueError(f"{self.id}: option_points of answer {answer!r} add up to {total:g}, not the "
                                 f"question's {self.points:g} points")

    @property
    def objective(self) -> bool:
        """True for questions scored from bubbles against a key."""
        return self.type != "subjective"

    def points_for_option(self, answer: str) -> dict[str, float]:
        """Points each option of ``answer`` earns under rule per_option (equal shares unless given)."""
        if self.option_points is not None:
            return {letter: self.option_points[letter] for letter in answer}
        return {letter: self.points / len(answer) for letter in answer}


class Exam(_Strict):
    """One subject's paper: questions in canonical order, paper versions, sections and full marks."""

    id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    name: str = ""
    subject: str = Field(min_length=1)
    sitting: str = ""  # exams of one sitting (one 考试 with several subjects) share it; 总分 adds them up
    full_marks: float = Field(gt=0)
    template: str | None = None  # answer-sheet template id
    versions: dict[str, dict[str, str]] = {}  # version -> {question number on that sheet -> canonical question}
    default_version: str | None = None
    sections: list[Section] = []
    questions: list[Question] = Field(min_length=1)
    #: A sure double mark on a single-choice question is scored by the question's rule and reported either way;
    #: it sends the sheet to review only when the exam asks for it.
    review_multiple: bool = False
    #: Whether reports print students' exact ranks (班级/年级/全市排名). Many regions forbid publishing them:
    #: with False, reports keep bands, percentile ranks and 前/后 n % positions but no rank.
    publish_ranks: bool = True
    #: Who a sheet belongs to: ``grid`` (the 考号 grid; a sticker's barcode only helps) or ``barcode`` for
    #: personalised sheets (个性化答题卡), whose printed barcode is the student (:func:`grading.match.match_sheets`).
    identity: Literal["grid", "barcode"] = "grid"
    #: 选考题: groups of questions of which each student answers one; only the chosen one is marked.
    optional_groups: list[OptionalGroup] = []
    #: A sheet with the proctor's 违纪 mark: ``list`` keeps its score and lists it for the exam office (the
    #: default), ``zero`` scores the subject 0, ``hold`` leaves it unscored until a decision (a correction).
    violation_policy: ViolationPolicy = "list"

    @model_validator(mode="before")
    @classmethod
    def _drop_identity(cls, data: Any) -> Any:
        # "Q16": "Q16" says nothing: dropping it makes a version read from a spreadsheet equal its JSON.
        if isinstance(data, dict) and isinstance(data.get("versions"), dict):
            data = dict(data)
            data["versions"] = {
                v: ({k: c for k, c in m.items() if k != c} if isinstance(m, dict) else m)
                for v, m in data["versions"].items()
            }
        return data

    @model_validator(mode="after")
    def _check(self) -> "Exam":
        ids = [q.id for q in self.questions]
        seen: set[str] = set()
        for qid in ids:
            if qid in seen:
                raise ValueError(f"question {qid} listed twice")
            seen.add(qid)
        section_ids = [s.id for s in self.sections]
        if len(set(section_ids)) != len(section_ids):
            raise ValueError("a section id is listed twice")
        if self.sections:
            for q in self.questions:
                if q.section and q.section not in section_ids:
                    raise ValueError(f"{q.id}: section {q.section!r} is not among sections "
                                     f"{', '.join(section_ids)}")
        by_id = {q.id: q for q in self.questions}
        optional_extra = self._check_optional_groups(by_id)
        counted = sum(q.points for q in self.questions if q.status != "void") - optional_extra
        if abs(counted - self.full_marks) > _TOLERANCE:
            void = [q.id for q in self.questions if q.status == "void"]
            note = f" (void questions {', '.join(void)} not counted)" if void else ""
            if optional_extra:
                note += " (each optional group counted once)"
            raise ValueError(f"full_marks {self.full_marks:g} differs from the sum of question points "
                             f"{counted:g}{note}")
        for version, mapping in self.versions.items():
            if not re.fullmatch(r"[A-Za-z0-9]{1,8}", version):
                raise ValueError(f"version {version!r}: use a short name such as 'A' or 'B'")
            self._check_version(version, mapping, by_id)
        if self.default_version is not None and self.default_version not in self.versions:
            raise ValueError(f"default_version {self.default_version!r} is not among versions "
                             f"{', '.join(self.versions) or '(none)'}")
        return self

    def _check_optional_groups(self, by_id: dict[str, Question]) -> float:
        """Check the 选考题 groups; return the points they add beyond one question each (not in full marks)."""
        extra = 0.0
        seen: dict[str, str] = {}
        for group in self.optional_groups:
            where = f"optional group {group.id}"
            for qid in group.questions:
                if qid not in by_id:
                    raise ValueError(f"{where}: {qid} is not a question of the exam")
                if qid in seen:
                    raise ValueError(f"{where}: {qid} is already in optional group {seen[qid]}")
                seen[qid] = group.id
            members = [by_id[qid] for qid in group.questions]
            first = members[0]
            for q in members[1:]:
                if q.type != first.type or abs(q.points - first.points) > _TOLERANCE:
                    raise ValueError(f"{where}: {q.id} ({q.type}, {q.points:g} points) differs from {first.id} "
                                     f"({first.type}, {first.points:g} points); a student chooses one of equals")
            if any(q.status != first.status for q in members):
                raise ValueError(f"{where}: its questions must share one status (normal, bonus or void)")
            if first.status != "void":
                extra += first.points * (len(members) - 1)
        ids = [group.id for group in self.optional_groups]
        if len(set(ids)) != len(ids):
            raise ValueError("an optional group id is listed twice")
        for version, mapping in self.versions.items():
            for sheet_q, canonical in mapping.items():
                if seen.get(sheet_q) != seen.get(canonical):
                    raise ValueError(f"version {version}: {sheet_q} and {canonical} are not in the same optional "
                                     f"group")
        return extra

    def optional_group_of(self, qid: str) -> OptionalGroup | None:
        """The 选考题 group ``qid`` belongs to, or None."""
        return next((group for group in self.optional_groups if qid in group.questions), None)

    @staticmethod
    def _check_version(version: str, mapping: dict[str, str], by_id: dict[str, Question]) -> None:
        where = f"version {version}"
        for sheet_q, canonical in mapping.items():
            for qid in (sheet_q, canonical):
                if qid not in by_id:
                    raise ValueError(f"{where}: {qid} is not a question of the exam")
            a, b = by_id[sheet_q], by_id[canonical]
            # The sheet's bubbles for sheet_q are what the student used to answer canonical: they must agree.
            if a.type != b.type or a.options != b.options:
                raise ValueError(f"{where}: sheet {sheet_q} ({a.type} {a.options}) cannot hold {canonical} "
                                 f"({b.type} {b.options})")
        targets = list(mapping.values())
        if len(set(targets)) != len(targets):
            twice = sorted({t for t in targets if targets.count(t) > 1})
            raise ValueError(f"{where}: {', '.join(twice)} mapped from two sheet questions")
        # Unlisted numbers map to themselves, so the listed ones must be a permutation of themselves.
        unmapped = sorted(set(mapping) - set(targets), key=_qkey)
        if unmapped:
            raise ValueError(f"{where}: nothing maps to {', '.join(unmapped)}, which the version moves elsewhere")

    # -- lookups ------------------------------------------------------------------------------------------

    @property
    def question_ids(self) -> list[str]:
        """Canonical question ids in order."""
        return [q.id for q in self.questions]

    def question(self, qid: str) -> Question:
        """The canonical question ``qid``; KeyError names the exam when it has none."""
        for q in self.questions:
            if q.id == qid:
                return q
        raise KeyError(f"exam {self.id} has no question {qid}")

    def sheet_to_canonical(self, version: str | None) -> dict[str, str]:
        """Sheet question number -> canonical question for a paper version (identity for unlisted numbers)."""
        mapping = {qid: qid for qid in self.question_ids}
        if version is not None:
            if version not in self.versions:
                raise ExamError(f"exam {self.id} has no paper version {version!r} "
                                f"(versions: {', '.join(self.versions) or 'none'})")
            mapping.update(self.versions[version])
        return mapping

    def canonical_of(self, sheet_question: str, version: str | None) -> str | None:
        """The canonical question a sheet's question number means on paper ``version`` (an unknown version
        falls back to the default numbering); None when the exam has no such question."""
        try:
            mapping = self.sheet_to_canonical(version or self.default_version)
        except ExamError:
            mapping = self.sheet_to_canonical(None)
        return mapping.get(sheet_question)

    def section_ids(self) -> list[str]:
        """Sections in paper order: those declared, else as the questions first name them."""
        if self.sections:
            return [s.id for s in self.sections]
        order: list[str] = []
        for q in self.questions:
            if q.section and q.section not in order:
                order.append(q.section)
        return order

    def section_name(self, section_id: str) -> str:
        """A section's display name (its id when it has none)."""
        for s in self.sections:
            if s.id == section_id:
                return s.name or s.id
        return section_id


def _qkey(qid: str) -> tuple[int, str]:
    digits = qid[1:]
    return (int(digits), qid) if digits.isdigit() else (1 << 30, qid)


def format_validation_error(error: ValidationError, questions: list | None = None) -> str:
    """One line per problem, naming the question (``questions.4`` -> ``Q5``) where pydantic gives an index."""
    lines = []
    for item in error.errors():
        loc = list(item["loc"])
        if len(loc) >= 2 and loc[0] == "questions" and isinstance(loc[1], int) and questions is not None:
            if loc[1] < len(questions) and isinstance(questions[loc[1]], dict):
                loc[1] = questions[loc[1]].get("id", loc[1])
        location = ".".join(str(part) for part in loc)
        message = item["msg"].removeprefix("Value error, ")
        lines.append(f"{location}: {message}" if location else message)
    return "; ".join(lines)


def parse_exam(data: dict | str | bytes) -> Exam:
    """Validate an exam given as a dict or JSON text; raise :class:`ExamError` naming the bad field."""
    try:
        if isinstance(data, (str, bytes)):
            data = json.loads(data)
    except json.JSONDecodeError as error:
        raise ExamError(f"exam is not valid JSON: line {error.lineno}: {error.msg}") from None
    if not isinstance(data, dict):
        raise ExamError("exam JSON must be an object")
    try:
        return Exam.model_validate(data)
    except ValidationError as error:
        questions = data.get("questions") if isinstance(data.get("questions"), list) else None
        raise ExamError(f"invalid exam: {format_validation_error(error, questions)}") from None


def load_exam(path: str | Path) -> Exam:
    """Load and validate an exam JSON file."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except OSError as error:
        raise ExamError(f"cannot read exam {path}: {error.strerror or error}") from None
    try:
        return parse_exam(text)
    except ExamError as error:
        raise ExamError(f"{path}: {error}") from None


def exam_to_dict(exam: Exam) -> dict:
    """A compact JSON-able dict: unset optional fields are left out."""
    return exam.model_dump(mode="json", exclude_none=True)


def _tidy(value: Any) -> Any:
    # 2.0 -> 2 in the file: points read as a teacher typed them
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _tidy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_tidy(v) for v in value]
    return value


def save_exam(exam: Exam, path: str | Path) -> None:
    """Write ``exam`` as UTF-8 JSON (Chinese kept readable): one question, section or version per line."""
    data = _tidy(exam_to_dict(exam))
    dump = lambda v: json.dumps(v, ensure_ascii=False)  # noqa: E731
    parts = []
    for key, value in data.items():
        if isinstance(value, list) and value:
            inner = ",\n  ".join(dump(item) for item in value)
            parts.append(f"{dump(key)}: [\n  {inner}\n ]")
        elif isinstance(value, dict) and value:
            inner = ",\n  ".join(f"{dump(k)}: {dump(v)}" for k, v in value.items())
            parts.append(f"{dump(key)}: {{\n  {inner}\n }}")
        else:
            parts.append(f"{dump(key)}: {dump(value)}")
    Path(path).write_text("{\n " + ",\n ".join(parts) + "\n}\n", encoding="utf-8")
