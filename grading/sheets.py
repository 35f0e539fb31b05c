"""Answer sheets as marking sees them, read from ``yuejuan scan`` output or a plain responses table.

Three inputs, told apart by name and header:

``results.jsonl``
    The scan's full record: ``sheet`` lines become :class:`SheetRecord`; ``page`` lines with status ``error``
    (pages that could not be read at all) are kept as :class:`UnreadablePage` for the exceptions list.
``results.csv``
    One row per sheet (header starts ``sheet, student_id, status``). Statuses come back from the cells ("?A"
    is an uncertain reading) and the reasons ("multiple marks: Q5", "score uncertain: Q56"). A question a
    missing page would have held cannot be told from a blank one there, so on a sheet with missing pages
    every blank question counts as missing: prefer ``results.jsonl``.
plain responses (CSV or xlsx)
    From another system: an id column (id, 考号, exam_id ...) and one column per question with the letters
    marked ("AC"; empty = blank; "?A" = uncertain), numbers for subjective questions; optional 卷型/form
    and 缺考/absent columns. True/false answers may be T/F, √/× or 对/错.

Question ids in a record are those printed on the sheet (its paper version's numbering).
"""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

from omr.result import ChoiceReading, QuestionReading, ScoreReading

from grading.safe_cells import from_csv_cell
from grading.tabular import DEFAULT_LIMITS, TableError, find_columns, parse_number, read_table

__all__ = ["SheetRecord", "UnreadablePage", "SheetsFile", "read_sheets", "sheet_from_json", "read_results_jsonl",
           "read_results_csv", "read_responses_table", "normalise_marks", "review_reasons"]

_TRUE = {"√", "✓", "✔", "对", "正确", "是", "Y"}
_FALSE = {"×", "✗", "✘", "X", "错", "错误", "否", "N"}
_QUESTION = re.compile(r"^Q?([1-9]\d{0,3})$", re.I)
_REASON_LIST = re.compile(r"(?:page \d+: )?(uncertain marks|multiple marks|score (\w+)): (.+)$")
_SURE_MULTIPLE = re.compile(r"^(?:page \d+: )?multiple marks: ")


@dataclass
class SheetRecord:
    """One student's answer sheet: who (as read), paper version, readings per sheet question, why flagged.

    ``sheet`` is its 1-based number in the input (the ``sheet`` column of results.csv, or the data row of a
    responses table); ``source`` says where it came from for people.
    """

    sheet: int
    source: str
    exam_id: str | None = None
    id_status: str | None = None
    barcode: str | None = None
    absent: bool | None = None
    form: str | None = None
    status: str = "ok"
    reasons: list[str] = field(default_factory=list)
    questions: dict[str, QuestionReading] = field(default_factory=dict)
    scores: dict[str, ScoreReading] = field(default_factory=dict)
    missing_pages: bool = False
    template_id: str | None = None
    excluded: bool = False  # set by a correction (a rescan of the same paper): matching ignores the sheet
    violation: bool | None = None  # the proctor's 违纪 mark
    choices: dict[str, ChoiceReading] = field(default_factory=dict)  # 选考题 chooser id -> its reading

    def copy(self) -> "SheetRecord":
        """A copy whose dicts and lists can be changed without touching this one."""
        return replace(self, reasons=list(self.reasons), questions=dict(self.questions), scores=dict(self.scores),
                       choices=dict(self.choices))


@dataclass(frozen=True)
class UnreadablePage:
    """A scanned page no sheet could be made of (no anchors, another form ...)."""

    source: str
    page_index: int
    reasons: tuple[str, ...]


@dataclass
class SheetsFile:
    """What one input file holds."""

    path: str
    kind: str  # results_jsonl | results_csv | responses
    sheets: list[SheetRecord]
    unreadable: list[UnreadablePage] = field(default_factory=list)


def normalise_marks(text: str) -> str:
    """Letters as typed into a table: upper case, no spaces or commas; √/× and 对/错 become T/F."""
    value = re.sub(r"[\s,，、]", "", text).upper()
    if value in _TRUE:
        return "T"
    if value in _FALSE:
        return "F"
    return value


def review_reasons(reasons: list[str], *, review_multiple: bool = False) -> list[str]:
    """The reasons of a sheet that need a person: all of OMR's but a sure double mark ("multiple marks: Q5"),
    which the question's rule scores, unless the exam asks for those too (``Exam.review_multiple``). A
    double-marked score box ("score multiple: Q56") has no rule to score it and always stays."""
    return [reason for reason in reasons if review_multiple or not _SURE_MULTIPLE.match(reason)]


def read_results_jsonl(path: str | Path) -> SheetsFile:
    """Sheets and unreadable pages from a scan's ``results.jsonl``."""
    path = Path(path)
    sheets: list[SheetRecord] = []
    unreadable: list[UnreadablePage] = []
    errors: list[str] = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                data = json.loads(line)
                kind = data.get("type")
                if kind == "sheet":
                    sheets.append(sheet_from_json(data, path.name))
                elif kind == "page" and data.get("status") == "error":
                    unreadable.append(UnreadablePage(str(data.get("source", "")), int(data.get("page_index", 0)),
                                                     tuple(data.get("reasons") or ["unreadable page"])))
            except (ValueError, TypeError, KeyError, AttributeError) as error:
                errors.append(f"line {number}: {type(error).__name__}: {error}")
    if errors:
        raise TableError(f"results {path}", errors)
    return SheetsFile(str(path), "results_jsonl", sheets, unreadable)


def sheet_from_json(data: dict, file_name: str) -> SheetRecord:
    """A :class:`SheetRecord` from one ``sheet`` record of a scan (``omr.assemble.SheetResult`` as a dict);
    ``file_name`` names where it came from in messages."""
    pages = data.get("pages") or []
    where = ", ".join(f"{Path(p.get('source', '')).name}#{int(p.get('page_index', 0)) + 1}" for p in pages)
    reasons = list(data.get("reasons") or [])
    number = int(data["sheet_index"]) + 1
    return SheetRecord(
        sheet=number, source=f"{file_name} sheet {number}" + (f" ({where})" if where else ""),
        exam_id=data.get("student_id") or None, id_status=data.get("student_id_status"),
        barcode=data.get("barcode") or None, absent=data.get("absent"), form=(data.get("form") or None),
        status=data.get("status", "ok"), reasons=reasons,
        questions={q: QuestionReading(**r) for q, r in (data.get("questions") or {}).items()},
        scores={q: ScoreReading(**r) for q, r in (data.get("scores") or {}).items()},
        missing_pages=any("missing page" in r for r in reasons), template_id=data.get("template_id") or None,
        violation=data.get("violation"),
        choices={c: ChoiceReading(**r) for c, r in (data.get("choices") or {}).items()},
    )


def _listed(reasons: list[str]) -> dict[str, set[str]]:
    """'uncertain marks: Q3, Q17' and 'score uncertain: Q56' -> {'uncertain marks': {'Q3','Q17'}, ...}."""
    found: dict[str, set[str]] = {}
    for reason in reasons:
        match = _REASON_LIST.match(reason)
        if match:
            found.setdefault(match.group(1), set()).update(q.strip() for q in match.group(3).split(","))
    return found


def read_results_csv(path: str | Path) -> SheetsFile:
    """Sheets from a scan's ``results.csv`` (see the module docstring for what it cannot say)."""
    path = Path(path)
    table = read_table(path, what="results")
    header = [from_csv_cell(name) for name in table.header]  # yuejuan scan quotes formula-like text cells
    question_columns = [(i, name) for i, name in enumerate(header) if re.fullmatch(r"Q\d+", name)]
    score_columns = [(i, name[len("score_"):]) for i, name in enumerate(header) if name.startswith("score_")]
    col = {name: i for i, name in enumerate(header)}
    sheets = []
    errors = []
    for number, row in table.rows:
        cell = lambda name: from_csv_cell(table.cell(row, col.get(name)))  # noqa: E731
        reasons = [r.strip() for r in cell("reasons").split(";") if r.strip()]
        listed = _listed(reasons)
        multiple = listed.get("multiple marks", set())
        missing_pages = any("missing page" in r for r in reasons)
        questions: dict[str, QuestionReading] = {}
        for index, qid in question_columns:
            text = from_csv_cell(table.cell(row, index))
            if text.startswith("?"):
                questions[qid] = QuestionReading(text[1:], "uncertain", 0.0)
            elif text:
                questions[qid] = QuestionReading(text, "multiple" if qid in multiple else "ok", 1.0)
            elif not missing_pages:
                questions[qid] = QuestionReading("", "blank", 1.0)
        scores: dict[str, ScoreReading] = {}
        for index, qid in score_columns:
            text = table.cell(row, index)
            status = next((kind.split()[1] for kind, qs in listed.items() if kind.startswith("score ") and qid in qs),
                          None)
            try:
                value = parse_number(text) if text else None
            except ValueError:
                errors.append(f"row {number}: score_{qid} {text!r} is not a number")
                continue
            if status is None and value is None and missing_pages:
                continue
            scores[qid] = ScoreReading(value, status or ("ok" if value is not None else "blank"), 1.0)
        id_status = next((r.removeprefix("student id ") for r in reasons if re.fullmatch(r"student id \w+", r)),
                         None)
        sheet_no = int(cell("sheet")) if cell("sheet").isdigit() else len(sheets) + 1
        absent = {"1": True, "0": False}.get(cell("absent"))
        exam_id = cell("student_id") or None
        choices = {}
        for index, name in enumerate(header):  # 选考题: the question chosen, or "?Q22/Q23" when unclear
            text = from_csv_cell(table.cell(row, index)) if name.startswith("choice_") else ""
            if text:
                unclear = text.startswith("?")
                choices[name[len("choice_"):]] = ChoiceReading(
                    "" if unclear else text, "uncertain" if unclear else "ok", 1.0,
                    text[1:].split("/") if unclear else [text])
        sheets.append(SheetRecord(
            sheet=sheet_no, source=f"{path.name} sheet {sheet_no}" + (f" ({cell('pages')})" if cell("pages") else ""),
            exam_id=exam_id, id_status=id_status or ("ok" if exam_id else "blank"), absent=absent,
            form=cell("form") or None, status=cell("status") or "ok", reasons=reasons, questions=questions,
            scores=scores, missing_pages=missing_pages, violation={"1": True, "0": False}.get(cell("violation")),
            choices=choices,
        ))
    if errors:
        raise TableError(f"results {path}", errors)
    return SheetsFile(str(path), "results_csv", sheets)


_ID_ALIASES = ("id", "考号", "准考证号", "exam id", "exam_id", "student id", "student_id", "考生号")


def read_responses_table(path: str | Path, subjective: set[str] | frozenset[str] = frozenset()) -> SheetsFile:
    """Sheets from a plain responses table (CSV or xlsx) of another system.

    Parameters
    ----------
    path : str or Path
        The table.
    subjective : set of str
        Question ids whose cells are scores (numbers) rather than letters.
    """
    path = Path(path)
    table = read_table(path, what="responses")
    columns = find_columns(table.header, {"id": _ID_ALIASES, "form": ("卷型", "version", "AB卷"),
                                          "absent": ("缺考",)})
    if "id" not in columns:
        raise TableError(f"responses {path}", [f"row 1: no id column (id, 考号, exam_id) among "
                                               f"{', '.join(table.header)}"])
    question_columns = []
    for index, name in enumerate(table.header):
        match = _QUESTION.match(name.strip())
        if match and index not in columns.values():
            question_columns.append((index, f"Q{int(match.group(1))}"))
    if not question_columns:
        raise TableError(f"responses {path}", ["row 1: no question columns (Q1, Q2 ... or 1, 2 ...)"])
    sheets: list[SheetRecord] = []
    errors: list[str] = []
    for order, (number, row) in enumerate(table.rows, start=1):
        exam_id = table.cell(row, columns["id"]) or None
        absent_text = table.cell(row, columns.get("absent")).strip().lower()
        record = SheetRecord(sheet=order, source=f"{path.name} row {number}", exam_id=exam_id,
                             id_status="ok" if exam_id else "blank",
                             absent=absent_text in ("1", "y", "yes", "true", "是", "缺考", "√") or None,
                             form=(table.cell(row, columns.get("form")).upper().removesuffix("卷") or None))
        for index, qid in question_columns:
            text = table.cell(row, index).strip()
            if qid in subjective:
                if not text:
                    record.scores[qid] = ScoreReading(None, "blank", 1.0)
                    continue
                try:
                    record.scores[qid] = ScoreReading(parse_number(text), "ok", 1.0)
                except ValueError:
                    errors.append(f"row {number}: {qid} {text!r} is not a score")
                continue
            if text.startswith("?"):
                record.questions[qid] = QuestionReading(normalise_marks(text[1:]), "uncertain", 0.0)
            elif text in ("", "-", "—"):
                record.questions[qid] = QuestionReading("", "blank", 1.0)
            else:
                record.questions[qid] = QuestionReading(normalise_marks(text), "ok", 1.0)
        sheets.append(record)
    if errors:
        raise TableError(f"responses {path}", errors)
    return SheetsFile(str(path), "responses", sheets)


def read_sheets(path: str | Path, subjective: set[str] | frozenset[str] = frozenset()) -> SheetsFile:
    """Read any of the three inputs (see the module docstring); ``subjective`` as in
    :func:`read_responses_table`."""
    path = Path(path)
    if not path.exists():
        raise TableError(f"results {path}", ["no such file"])
    if path.suffix.lower() == ".jsonl":
        return read_results_jsonl(path)
    if path.suffix.lower() == ".csv":
        with open(path, "rb") as handle:
            first = handle.readline(DEFAULT_LIMITS.line_chars).decode("utf-8-sig", errors="replace")
        header = next(csv.reader([first]), [])
        if header[:3] == ["sheet", "student_id", "status"]:
            return read_results_csv(path)
    return read_responses_table(path, subjective)
