"""Corrections a reviewer supplies for sheets the scan could not read with certainty.

A correction names a sheet (by its number in the scan output, or by the exam id read from it), a question *as
printed on that sheet* (the reviewer looks at the paper) and the value: the letters marked ("" or "-" for
none), a score for a subjective question, or, with the question set to ``exam_id``, ``form`` or ``absent``,
the student's exam id, paper version or absent mark; ``exclude`` with value 1 drops a sheet (a second scan of
the same paper); ``choice`` (选考题) names the optional question the student answered ("23"); ``violation``
(违纪) 1 or 0 confirms or clears the proctor's mark (0 releases a sheet the exam holds for it). Files: CSV/xlsx
with columns exam_id (考号), sheet, question (题号), value (also ``marked`` or ``score``), who, reason; or JSON,
a list of such objects.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from omr.result import ChoiceReading, QuestionReading, ScoreReading

from grading.exam import Exam, options_span
from grading.roster import validate_exam_id
from grading.sheets import SheetRecord, normalise_marks
from grading.tabular import TableError, find_columns, parse_number, read_table

__all__ = ["Correction", "AppliedCorrection", "CorrectionOutcome", "load_corrections", "apply_corrections",
           "question_name"]

_SPECIAL = ("exam_id", "form", "absent", "exclude", "choice", "violation")
_SPECIAL_ZH = {"选考题": "choice", "选做题": "choice", "违纪": "violation"}
#: yes/no corrections: the sheet's attribute and what 1 and 0 mean
_FLAGS = {"absent": ("absent", "1 (absent) or 0 (sat the exam)"),
          "exclude": ("excluded", "1 (drop the sheet) or 0 (keep it)"),
          "violation": ("violation", "1 (违纪 confirmed) or 0 (no violation)")}
_YES = ("1", "yes", "true", "是", "y")
_NO = ("0", "no", "false", "否", "n")


class Correction(BaseModel):
    """One reviewer's decision about one reading."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    question: str
    value: str = ""
    exam_id: str | None = None
    sheet: int | None = None
    by: str = ""
    reason: str = ""
    row: int | None = None  # where in the corrections file, for messages

    @property
    def where(self) -> str:
        return f"correction row {self.row}" if self.row is not None else "correction"


@dataclass(frozen=True)
class AppliedCorrection:
    """A correction as applied: the sheet, what was read before and what stands now."""

    correction: Correction
    sheet: int
    exam_id: str | None
    question: str
    before: str
    after: str


@dataclass
class CorrectionOutcome:
    sheets: list[SheetRecord]
    applied: list[AppliedCorrection]
    problems: list[str]


_COLUMNS = {
    "exam_id": ("考号", "准考证号", "exam id", "student_id", "id"),
    "sheet": ("答题卡", "sheet no", "sheet number", "序号"),
    "question": ("题号", "item"),
    "value": ("marked", "score", "更正", "更正值", "答案", "分数"),
    "by": ("who", "更正人", "复核人", "reviewer"),
    "reason": ("原因", "说明", "note"),
}


def question_name(text: str) -> str:
    """A question as a reviewer may type it ("12", "q12", "Q12", "exam_id") in the form grading uses."""
    text = text.strip()
    if text.lower() in _SPECIAL:
        return text.lower()
    if text in _SPECIAL_ZH:
        return _SPECIAL_ZH[text]
    text = text.upper()
    return f"Q{int(text)}" if text.isdigit() else text


def load_corrections(path: str | Path) -> list[Correction]:
    """Read corrections from CSV, xlsx or JSON; every bad row is reported in one :class:`TableError`."""
    path = Path(path)
    errors: list[str] = []
    corrections: list[Correction] = []
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(path.read_text(encoding="utf-8-sig"))
        except (OSError, json.JSONDecodeError) as error:
            raise TableError(f"corrections {path}", [str(error)]) from None
        items = data.get("corrections", []) if isinstance(data, dict) else data
        rows = []
        for number, item in enumerate(items if isinstance(items, list) else [], start=1):
            if not isinstance(item, dict):
                errors.append(f"item {number}: not an object")
                continue
            item = dict(item)
            for alias in ("marked", "score"):
                if alias in item and "value" not in item:
                    item["value"] = item.pop(alias)
            if "who" in item and "by" not in item:
                item["by"] = item.pop("who")
            rows.append((number, {k: ("" if v is None else str(v)) for k, v in item.items()}))
    else:
        table = read_table(path, what="corrections")
        columns = find_columns(table.header, _COLUMNS)
        if "question" not in columns:
            raise TableError(f"corrections {path}", ["row 1: no question (题号) column"])
        rows = [(number, {k: table.cell(row, i) for k, i in columns.items()}) for number, row in table.rows]
    for number, cells in rows:
        sheet_text = cells.pop("sheet", "").strip()
        if sheet_text and not sheet_text.isdigit():
            errors.append(f"row {number}: sheet {sheet_text!r} is not a sheet number")
            continue
        try:
            corrections.append(Correction(
                question=question_name(cells.pop("question", "")), value=cells.pop("value", "").strip(),
                exam_id=cells.pop("exam_id", "").strip() or None,
                sheet=int(sheet_text) if sheet_text else None, by=cells.pop("by", "").strip(),
                reason=cells.pop("reason", "").strip(), row=number, **cells,
            ))
        except ValidationError as error:
            errors.append(f"row {number}: " + "; ".join(
                f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors()))
            continue
        if corrections[-1].sheet is None and corrections[-1].exam_id is None:
            errors.append(f"row {number}: give the sheet number or the exam id the correction is for")
    if errors:
        raise TableError(f"corrections {path}", errors)
    return corrections


def _describe_question(reading: QuestionReading | None) -> str:
    if reading is None:
        return "(no reading)"
    text = reading.marked or "(blank)"
    if reading.status == "uncertain":
        text += f" ?{reading.uncertain}" if reading.uncertain else " ?"
    return text


def _describe_score(reading: ScoreReading | None) -> str:
    if reading is None:
        return "(no reading)"
    return f"{reading.value:g}" if reading.value is not None else f"({reading.status})"


def apply_corrections(sheets: list[SheetRecord], corrections: list[Correction], exam: Exam) -> CorrectionOutcome:
    """Apply corrections to copies of the sheets: exam ids first, then versions and absent marks, then answers.

    A correction that cannot apply (no such sheet, an id on two sheets, a letter not among the options ...) is
    reported in ``problems`` and skipped; the others still apply.
    """
    out = [s.copy() for s in sheets]
    by_number = {s.sheet: s for s in out}
    applied: list[AppliedCorrection] = []
    problems: list[str] = []
    order = {"exclude": 0, "exam_id": 0, "form": 1, "absent": 1, "violation": 1, "choice": 2}
    for correction in sorted(corrections, key=lambda c: order.get(c.question, 2)):
        where = correction.where
        if correction.question == "exclude" and correction.sheet is None:
            problems.append(f"{where}: exclude needs the sheet number")
            continue
        if correction.sheet is not None:
            sheet = by_number.get(correction.sheet)
            if sheet is None:
                problems.append(f"{where}: no sheet {correction.sheet}")
                continue
        else:
            found = [s for s in out if s.exam_id == correction.exam_id and not s.excluded]
            if len(found) != 1:
                problems.append(f"{where}: exam id {correction.exam_id} is on {len(found)} sheets"
                                + ("; give the sheet number" if found else ""))
                continue
            sheet = found[0]
        try:
            before, after = _apply(sheet, correction, exam)
        except ValueError as error:
            problems.append(f"{where} (sheet {sheet.sheet}): {error}")
            continue
        applied.append(AppliedCorrection(correction, sheet.sheet, sheet.exam_id, correction.question, before, after))
    return CorrectionOutcome(out, applied, problems)


def _apply_choice(sheet: SheetRecord, printed: str, exam: Exam) -> tuple[str, str]:
    """The 选考题 the student answered, as printed on the sheet: its chooser reads that question from now on."""
    canonical = exam.canonical_of(printed, sheet.form)
    group = exam.optional_group_of(canonical) if canonical else None
    if group is None:
        raise ValueError(f"choice {printed}: not an optional question (选考题) of exam {exam.id}")
    mapping = exam.sheet_to_canonical(sheet.form if sheet.form in exam.versions else None)
    on_sheet = {c: q for q, c in mapping.items()}
    for chooser, reading in sheet.choices.items():
        if {mapping.get(q, q) for q in reading.questions} & set(group.questions):
            sheet.choices[chooser] = ChoiceReading(printed, "ok", 1.0, list(reading.questions))
            return (reading.chosen if reading.status == "ok" else f"({reading.status})"), printed
    sheet.choices[group.id] = ChoiceReading(printed, "ok", 1.0, [on_sheet.get(q, q) for q in group.questions])
    return "(no chooser)", printed


def _apply(sheet: SheetRecord, correction: Correction, exam: Exam) -> tuple[str, str]:
    value = correction.value
    if correction.question == "exam_id":
        before = sheet.exam_id or "(unread)"
        sheet.exam_id = validate_exam_id(value)
        sheet.id_status = "corrected"
        return before, sheet.exam_id
    if correction.question == "form":
        version = value.strip().upper().removesuffix("卷")
        if exam.versions and version not in exam.versions:
            raise ValueError(f"paper version {value!r} is not among {', '.join(exam.versions)}")
        before, sheet.form = sheet.form or "(none)", version
        return before, version
    if correction.question in _FLAGS:
        attribute, meaning = _FLAGS[correction.question]
        flag = value.strip().lower()
        if flag not in _YES + _NO:
            raise ValueError(f"{correction.question} value {value!r}: use {meaning}")
        before = {True: "1", False: "0", None: "(unread)"}[getattr(sheet, attribute)]
        setattr(sheet, attribute, flag in _YES)
        return before, "1" if flag in _YES else "0"
    if correction.question == "choice":
        return _apply_choice(sheet, question_name(value), exam)
    canonical = exam.canonical_of(correction.question, sheet.form)
    if canonical is None:
        raise ValueError(f"{correction.question} is not a question of exam {exam.id}")
    question = exam.question(canonical)
    if question.type == "subjective":
        try:
            score = parse_number(value)
        except ValueError:
            raise ValueError(f"{correction.question}: score {value!r} is not a number") from None
        if score < 0:
            raise ValueError(f"{correction.question}: score {score:g} is negative")
        before = _describe_score(sheet.scores.get(correction.question))
        sheet.scores[correction.question] = ScoreReading(score, "ok", 1.0)
        return before, f"{score:g}"
    letters = "" if value in ("", "-", "—") else normalise_marks(value)
    letters = "".join(sorted(set(letters), key=question.options.find))
    wrong = [ch for ch in letters if ch not in question.options]
    if wrong:
        raise ValueError(f"{correction.question}: {value!r} not among options {options_span(question.options)}")
    before = _describe_question(sheet.questions.get(correction.question))
    status = "blank" if not letters else ("multiple" if question.type != "multi" and len(letters) > 1 else "ok")
    sheet.questions[correction.question] = QuestionReading(letters, status, 1.0)
    return before, letters or "(blank)"
