"""Marking outputs: ``scores.csv``, ``scores.xlsx``, ``grading_exceptions.csv``, ``summary.json`` and more.

The scores table has the columns of :func:`score_columns` (keys):
``exam_id, student_no, name, class, school_code, version, status, reasons, total``, one ``section_<id>``
subtotal per section, then per canonical question ``<Q>_response`` (letters as read, ``?`` before an uncertain
reading, ``*`` after a mark outside the options; the score read for subjective questions) and ``<Q>_score``
(empty when void, pending or not sitting). ``status`` is graded | pending | absent | duplicate.

``scores.csv`` (UTF-8 with BOM, one row per roster student) is what teachers open in Excel: Chinese headers
(考号, 学籍号, 姓名, 班级, 学校标识码, 卷型, 状态, 说明, 总分, the sections' names, Q1作答, Q1得分 ...), the status and
reasons in a teacher's words, then, as ``grading_exceptions.csv`` does, the stable English for scripts in two last
columns: 状态代码 (graded, pending ...) and 原文 (grading's reasons). ``--lang en`` writes the English file of
earlier versions (the keys as headers). :func:`read_scores_csv` reads either, bounded like every table we read.

``scores.xlsx`` has the same table (every id cell stored as text, header row frozen) and an 异常 sheet with the
exceptions; ``grading_exceptions.csv`` holds the same rows. Both show each kind and reason in a teacher's words
(:mod:`grading.reason_text`) and, in 类别代码 and 原文, as grading states them (stable English for scripts).
"""

from __future__ import annotations

import csv
import json
import math
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Collection, Iterable, Iterator, Mapping, Sequence

import numpy as np

from grading.corrections import AppliedCorrection
from grading.exam import Exam
from grading.mark import Reading, SittingTotals, SubjectScores, response_labels
from grading.pipeline import GradingRun
from grading.reason_text import kind_zh, reason_zh
from grading.safe_cells import csv_cell, csv_row, from_csv_cell, text_workbook
from grading.tabular import DEFAULT_LIMITS, TableLimits, read_rows

__all__ = ["score_columns", "score_rows", "write_scores_csv", "write_scores_xlsx", "write_exceptions_csv",
           "write_corrections_csv", "write_summary_json", "write_outputs", "read_subject_scores",
           "write_sitting_totals_csv", "EXCEPTION_HEADERS", "read_scores_csv", "ScoresTable", "SCORES_LIMITS",
           "CODE_HEADERS", "write_class_scores"]

#: grading_exceptions.csv and the 异常 sheet: what a teacher reads, then the stable codes scripts match
EXCEPTION_HEADERS = ["类别", "考号", "姓名", "班级", "答题卡", "来源", "原因", "类别代码", "原文"]
_LABELS = {"exam_id": "考号", "student_no": "学籍号", "name": "姓名", "class": "班级", "school_code": "学校标识码",
           "version": "卷型", "status": "状态", "reasons": "说明", "total": "总分", "kind": "类别", "sheet": "答题卡",
           "source": "来源", "reason": "原因"}
_STATUS_LABELS = {"graded": "已评", "pending": "待复核", "absent": "缺考", "duplicate": "重复答题卡"}
_TEXT_COLUMNS = {"exam_id", "student_no", "school_code", "version"}
_FIXED_KEYS = ("exam_id", "student_no", "name", "class", "school_code", "version", "total")
#: the Chinese scores table ends with these: the status and reasons as grading states them (for scripts)
CODE_HEADERS = ("状态代码", "原文")
#: scores.csv is wider and longer than a roster: a 400-question exam of a city (a row per student)
SCORES_LIMITS = replace(DEFAULT_LIMITS, columns=1_000, cells=40_000_000)


def _fmt(value: float) -> str:
    return "" if value is None or math.isnan(value) else f"{value:g}"


def score_columns(run: GradingRun) -> list[str]:
    """Column keys of the scores table, in order."""
    exam = run.exam
    head = ["exam_id", "student_no", "name", "class", "school_code", "version", "status", "reasons", "total"]
    head += [f"section_{s}" for s in run.grades.section_ids]
    for qid in exam.question_ids:
        head += [f"{qid}_response", f"{qid}_score"]
    return head


def _response_texts(run: GradingRun) -> list[np.ndarray]:
    """Per question, every student's response: letters (str) for choice questions, the score read (float) for
    subjective ones."""
    grades, exam = run.grades, run.exam
    responses = grades.responses
    labels = response_labels(exam)
    texts = []
    for j, q in enumerate(exam.questions):
        status = responses.status[:, j]
        if q.type == "subjective":
            column = np.array(responses.values[:, j].tolist(), dtype=object)  # the score read, as a number
            column[~responses.sitting] = math.nan
            texts.append(column)
            continue
        column = labels[j][responses.marked[:, j].astype(np.intp)].copy()
        unsure = status == Reading.UNCERTAIN
        column[unsure] = "?" + column[unsure]
        odd = responses.foreign[:, j]
        column[odd] = column[odd] + "*"
        column[~responses.sitting] = ""
        texts.append(column)
    return texts


def _raw_rows(run: GradingRun) -> Iterator[list]:
    """Rows in :func:`score_columns` order: text as str, scores as float (NaN when empty)."""
    grades = run.grades
    statuses = run.statuses()
    texts = _response_texts(run)
    n_questions = len(texts)
    for i, row in enumerate(run.rows):
        student = row.student
        out: list = [row.exam_id, (student.student_no or "") if student else "", student.name if student else "",
                     student.class_name if student else "", (student.school_code or "") if student else "",
                     row.version or "", statuses[i], "; ".join(run.row_reasons(i)), float(grades.totals[i])]
        out += grades.section_totals[i].tolist()
        score_row = grades.scores[i].tolist()
        for j in range(n_questions):
            out += [texts[j][i], score_row[j]]
        yield out


def score_rows(run: GradingRun) -> Iterator[list[str]]:
    """Rows of the scores table as ``scores.csv`` holds them, in :func:`score_columns` order: numbers formatted,
    text through :func:`grading.safe_cells.csv_cell` (never a formula)."""
    for row in _raw_rows(run):
        yield [_fmt(v) if isinstance(v, float) else csv_cell(v) for v in row]


def _teacher_rows(run: GradingRun) -> Iterator[list]:
    """:func:`_raw_rows` as a teacher reads them: the status and reasons in Chinese, then (:data:`CODE_HEADERS`)
    the status code and the reasons as grading states them."""
    keys = score_columns(run)
    status_index, reasons_index = keys.index("status"), keys.index("reasons")
    for values in _raw_rows(run):
        status, reasons = values[status_index], values[reasons_index]
        values[status_index] = _STATUS_LABELS.get(status, status)
        values[reasons_index] = reason_zh(reasons)
        values += [status, reasons]
        yield values


def write_scores_csv(run: GradingRun, path: str | Path, *, lang: str = "zh") -> None:
    """``scores.csv`` (UTF-8 with BOM so that Excel opens the Chinese correctly): Chinese headers, status and
    reasons, and the codes in :data:`CODE_HEADERS` (``lang="zh"``), or the English keys and codes of
    :func:`score_rows` (``lang="en"``). Text never starts like a formula (:func:`grading.safe_cells.csv_cell`)."""
    if lang not in ("zh", "en"):
        raise ValueError(f"scores.csv language {lang!r}: zh or en")
    if lang == "en":
        with open(path, "w", encoding="utf-8-sig", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(score_columns(run))
            writer.writerows(score_rows(run))
        return
    _write_teacher_csv(path, [*(_header_label(run, key) for key in score_columns(run)), *CODE_HEADERS],
                       _teacher_rows(run))


def _write_teacher_csv(path: str | Path, headers: Sequence[str], rows: Iterable[list]) -> None:
    """The Chinese scores.csv: ``headers``, then ``rows`` of :func:`_teacher_rows`' values (text never a formula,
    numbers formatted, NaN empty)."""
    with open(path, "w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(headers)
        writer.writerows([_fmt(v) if isinstance(v, float) else csv_cell(v) for v in row] for row in rows)


def _header_label(run: GradingRun, key: str) -> str:
    if key in _LABELS:
        return _LABELS[key]
    if key.startswith("section_"):
        return run.exam.section_name(key[len("section_"):])
    qid, _, part = key.rpartition("_")
    question = run.exam.question(qid)
    note = {"void": "(作废)", "bonus": "(送分)"}.get(question.status, "")
    return f"{qid}{'作答' if part == 'response' else '得分'}{note}"


def write_scores_xlsx(run: GradingRun, path: str | Path) -> None:
    """``scores.xlsx``: 成绩 (scores, Chinese headers, ids as text, numbers as numbers) and 异常 (exceptions).

    Written by XlsxWriter in constant-memory mode: every text cell a string (never a formula), scores numbers."""
    keys = score_columns(run)
    _write_teacher_xlsx(path, keys, [*(_header_label(run, key) for key in keys), *CODE_HEADERS], _teacher_rows(run),
                        _exception_rows(run))


def _write_teacher_xlsx(path: str | Path, keys: Sequence[str], headers: Sequence[str], rows: Iterable[list],
                        exception_rows: Iterable[list]) -> None:
    """scores.xlsx: 成绩 with ``headers`` over ``rows`` (:func:`_teacher_rows`' values; ``keys`` the columns'
    :func:`score_columns` keys) and 异常 with ``exception_rows`` (:func:`_exception_rows`' values)."""
    workbook = text_workbook(path, constant_memory=True)
    header_format = workbook.add_format({"bold": True, "bg_color": "#DDEBF7"})
    id_format = workbook.add_format({"num_format": "@"})  # an id edited in Excel stays text
    sheet = workbook.add_worksheet("成绩")
    sheet.freeze_panes(1, 1)  # header row and the exam id column stay in view
    for index, key in enumerate(keys):
        sheet.set_column(index, index, {"exam_id": 13, "student_no": 21, "school_code": 12, "reasons": 30,
                                        "name": 9}.get(key, 8))
    sheet.set_column(len(keys), len(keys), 9)
    sheet.set_column(len(keys) + 1, len(keys) + 1, 30)
    for index, header in enumerate(headers):
        sheet.write_string(0, index, header, header_format)
    ids = {index for index, key in enumerate(keys) if key in _TEXT_COLUMNS}
    formats = [id_format if index in ids else None for index in range(len(keys) + len(CODE_HEADERS))]
    write_string, write_number = sheet.write_string, sheet.write_number
    for r, values in enumerate(rows, start=1):
        for c, value in enumerate(values):
            if isinstance(value, str):
                if value:
                    write_string(r, c, value, formats[c])
            elif value == value:  # not NaN: an empty score is an empty cell
                write_number(r, c, value)
    problems = workbook.add_worksheet("异常")
    problems.freeze_panes(1, 0)
    for index, header in enumerate(EXCEPTION_HEADERS):
        problems.write_string(0, index, header, header_format)
    for r, values in enumerate(exception_rows, start=1):
        for c, value in enumerate(values):
            if isinstance(value, str):
                if value:
                    problems.write_string(r, c, value, id_format if c == 1 else None)
            else:
                problems.write_number(r, c, value)
    workbook.close()


def _exception_rows(run: GradingRun) -> Iterator[list]:
    """Rows under :data:`EXCEPTION_HEADERS`: the kind and reason in Chinese, then as grading states them."""
    for e in run.exceptions():
        yield [kind_zh(e.kind), e.exam_id or "", e.name, e.class_name, "" if e.sheet is None else e.sheet, e.source,
               reason_zh(e.reason), e.kind, e.reason]


def write_exceptions_csv(run: GradingRun, path: str | Path) -> None:
    """``grading_exceptions.csv`` with Chinese headers (:data:`EXCEPTION_HEADERS`): 类别, 考号, 姓名, 班级, 答题卡,
    来源, 原因 in a teacher's words, then 类别代码 and 原文, the kind and reason as grading states them."""
    with open(path, "w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(EXCEPTION_HEADERS)
        writer.writerows(csv_row(row) for row in _exception_rows(run))


def write_corrections_csv(applied: list[AppliedCorrection], path: str | Path) -> None:
    """``corrections_applied.csv``: the audit trail of reviewer corrections."""
    with open(path, "w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["sheet", "exam_id", "question", "before", "after", "by", "reason"])
        for a in applied:
            writer.writerow(csv_row([a.sheet, a.exam_id or "", a.question, a.before, a.after, a.correction.by,
                                     a.correction.reason]))


def write_summary_json(run: GradingRun, path: str | Path) -> None:
    """``summary.json``: the counts of :meth:`GradingRun.summary`."""
    Path(path).write_text(json.dumps(run.summary(), ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


def write_outputs(run: GradingRun, out_dir: str | Path, *, xlsx: bool = True, lang: str = "zh") -> list[Path]:
    """Write every output of a run to ``out_dir``; returns the paths written. ``lang`` is scores.csv's
    (:func:`write_scores_csv`)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = [out / "scores.csv", out / "grading_exceptions.csv", out / "summary.json"]
    write_scores_csv(run, written[0], lang=lang)
    write_exceptions_csv(run, written[1])
    write_summary_json(run, written[2])
    if xlsx:
        written.append(out / "scores.xlsx")
        write_scores_xlsx(run, written[-1])
    if run.corrections:
        written.append(out / "corrections_applied.csv")
        write_corrections_csv(run.corrections, written[-1])
    return written


#: Chinese header -> key; 状态 and 说明 hold the teacher's words, 状态代码 and 原文 the codes readers use
_KEYS_ZH = {**{_LABELS[key]: key for key in _FIXED_KEYS},
            "状态": "status_zh", "说明": "reasons_zh", CODE_HEADERS[0]: "status", CODE_HEADERS[1]: "reasons"}
_HEADERS_ZH = {key: header for header, key in _KEYS_ZH.items()}
_QUESTION_HEADER = re.compile(r"^(.+?)(作答|得分)(?:\((?:作废|送分)\))?$")
_STATUS_CODES = {label: code for code, label in _STATUS_LABELS.items()}


def _key_of(header: str, sections: Mapping[str, str]) -> str:
    """The key of one Chinese header of scores.csv: a fixed column, a section (by name), or a question's."""
    if header in _KEYS_ZH:
        return _KEYS_ZH[header]
    if header in sections:
        return f"section_{sections[header]}"
    match = _QUESTION_HEADER.match(header)
    if match:
        return f"{match[1]}_{'response' if match[2] == '作答' else 'score'}"
    return header


@dataclass(frozen=True)
class ScoresTable:
    """A ``scores.csv`` as read: the column of each key (:func:`score_columns`' English keys, whichever language
    the file's headers are in) and the rows (cells as written; :meth:`texts` undoes the formula quote).

    :meth:`statuses` gives the codes (graded, pending, absent, duplicate) of either file: the Chinese file's
    状态代码, or its 状态 read back when a teacher removed the code column.
    """

    path: Path
    index: dict[str, int]
    rows: list[list[str]]
    english: bool = False

    @property
    def n(self) -> int:
        return len(self.rows)

    def cells(self, key: str) -> list[str]:
        """The column ``key`` as written ('' for short rows; every cell '' when the file has no such column)."""
        k = self.index.get(key)
        if k is None:
            return [""] * len(self.rows)
        return [row[k] if k < len(row) else "" for row in self.rows]

    def texts(self, key: str) -> list[str]:
        """Text cells as a person typed them (:func:`grading.safe_cells.from_csv_cell`)."""
        return [from_csv_cell(cell) for cell in self.cells(key)]

    def statuses(self) -> list[str]:
        if "status" in self.index:
            return self.cells("status")
        return [_STATUS_CODES.get(cell, cell) for cell in self.cells("status_zh")]

    def missing(self, keys: Sequence[str]) -> list[str]:
        """The headers of those of ``keys`` the file has no column for, in the file's language (status counts
        when 状态 or 状态代码 is there)."""
        have = set(self.index) | ({"status"} if "status_zh" in self.index else set())
        return [self.header_of(key) for key in keys if key not in have]

    def header_of(self, key: str) -> str:
        """The header a column ``key`` has in this file (a section's key as it is: its name is not known)."""
        if self.english:
            return key
        if key in _HEADERS_ZH:
            return _HEADERS_ZH[key]
        qid, _, part = key.rpartition("_")
        return f"{qid}{'作答' if part == 'response' else '得分'}" if part in ("response", "score") else key


def read_scores_csv(path: str | Path, *, sections: Mapping[str, str] | None = None,
                    limits: TableLimits = SCORES_LIMITS) -> ScoresTable:
    """Read a ``scores.csv`` of ``yuejuan grade``, with Chinese headers or the English keys of earlier files.

    ``sections`` maps a section's display name to its id (the Chinese file names sections by name). The file is
    read through :func:`grading.tabular.read_rows`: refused beyond ``limits`` (rows, columns, cells, bytes, line
    length), blank rows skipped. Raises ValueError (a :class:`grading.tabular.TableError` when too large or
    unreadable) naming the file.
    """
    path = Path(path)
    rows = [row for _, row in read_rows(path, what="scores table", limits=limits)]
    if not rows:
        raise ValueError(f"{path}: empty file")
    header = rows[0]
    english = "exam_id" in header
    index: dict[str, int] = {}
    for k, name in enumerate(header):
        # the first column of a key wins: a section named like a fixed column (总分) does not replace it
        index.setdefault(name if english else _key_of(name, sections or {}), k)
    return ScoresTable(path, index, rows[1:], english)


def _typed_cells(row: Sequence[str], numeric: Sequence[bool]) -> list:
    """A row of a CSV we wrote back to :func:`_teacher_rows`' values: numbers as floats (NaN when empty), text as
    it was given (:func:`grading.safe_cells.from_csv_cell`)."""
    cells = [*row, *[""] * (len(numeric) - len(row))]  # the reader drops a row's trailing empty cells
    return [(float(cell) if cell else math.nan) if number else from_csv_cell(cell)
            for cell, number in zip(cells, numeric)]


def write_class_scores(grade_dir: str | Path, exam: Exam, classes: Collection[str], out_dir: str | Path
                       ) -> tuple[Path, Path]:
    """``scores.csv`` and ``scores.xlsx`` of the Chinese output folder ``grade_dir`` (:func:`write_outputs` of a
    run of ``exam``) with the students of ``classes`` only, and in 异常 the exceptions that name one of those
    classes: the same columns and cells as :func:`write_scores_csv` and :func:`write_scores_xlsx` write (ids as
    text, never a formula).

    Reads ``grade_dir``'s ``scores.csv`` and ``grading_exceptions.csv`` (bounded by :data:`SCORES_LIMITS`);
    returns the two paths written in ``out_dir``. Raises ValueError when ``scores.csv`` is not the Chinese file.
    """
    grade_dir, out = Path(grade_dir), Path(out_dir)
    rows = [row for _, row in read_rows(grade_dir / "scores.csv", what="scores table", limits=SCORES_LIMITS)]
    headers = rows[0] if rows else []
    if tuple(headers[-len(CODE_HEADERS):]) != CODE_HEADERS:
        raise ValueError(f"{grade_dir / 'scores.csv'}: not a Chinese scores table of write_outputs")
    sections = {exam.section_name(sid): sid for sid in exam.section_ids()}
    keys = [_key_of(header, sections) for header in headers[:-len(CODE_HEADERS)]]
    subjective = {q.id for q in exam.questions if q.type == "subjective"}
    numeric = [key == "total" or key.startswith("section_") or key.endswith("_score")
               or (key.endswith("_response") and key[:-len("_response")] in subjective) for key in keys]
    numeric += [False] * len(CODE_HEADERS)
    wanted, column = set(classes), keys.index("class")
    chosen = [_typed_cells(row, numeric) for row in rows[1:]
              if column < len(row) and from_csv_cell(row[column]) in wanted]
    problems = []
    exceptions = grade_dir / "grading_exceptions.csv"
    class_column, sheet_column = EXCEPTION_HEADERS.index("班级"), EXCEPTION_HEADERS.index("答题卡")
    if exceptions.is_file():
        for _, row in read_rows(exceptions, what="exceptions table", limits=SCORES_LIMITS)[1:]:
            cells = [from_csv_cell(cell) for cell in row] + [""] * (len(EXCEPTION_HEADERS) - len(row))
            if cells[class_column] in wanted:
                sheet = cells[sheet_column]
                cells[sheet_column] = int(sheet) if sheet.isdecimal() and sheet.isascii() else sheet
                problems.append(cells)
    out.mkdir(parents=True, exist_ok=True)
    paths = out / "scores.csv", out / "scores.xlsx"
    _write_teacher_csv(paths[0], headers, chosen)
    _write_teacher_xlsx(paths[1], keys, headers, chosen, problems)
    return paths


def read_subject_scores(out_dir: str | Path) -> tuple[SubjectScores, dict[str, tuple[str, str]]]:
    """One subject's totals from a ``yuejuan grade`` output folder, and {exam id: (name, class)}."""
    out = Path(out_dir)
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    table = read_scores_csv(out / "scores.csv")
    missing = table.missing(["exam_id", "name", "class", "total"])
    if missing:
        raise ValueError(f"{table.path}: missing column(s) {', '.join(missing)}")
    ids = table.texts("exam_id")
    totals = [float(cell) if cell else np.nan for cell in table.cells("total")]
    people = dict(zip(ids, zip(table.texts("name"), table.texts("class"))))
    return (SubjectScores(summary["subject"], summary["exam"], float(summary["full_marks"]),
                          np.array(ids, dtype=object), np.array(totals, dtype=float), summary.get("sitting", "")),
            people)


def write_sitting_totals_csv(totals: SittingTotals, path: str | Path,
                             people: dict[str, tuple[str, str]] | None = None) -> None:
    """总分 table: exam_id, name, class, one column per subject, total (empty unless complete), partial_total,
    missing (subjects without a score)."""
    people = people or {}
    with open(path, "w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["exam_id", "name", "class", *totals.subjects, "total", "partial_total", "missing"])
        for i, eid in enumerate(totals.exam_ids.tolist()):
            name, class_name = people.get(eid, ("", ""))
            row = totals.scores[i].tolist()
            missing = [s for s, v in zip(totals.subjects, row) if math.isnan(v)]
            writer.writerow([*csv_row([eid, name, class_name]), *[_fmt(v) for v in row], _fmt(totals.total[i]),
                             _fmt(totals.partial_total[i]), " ".join(missing)])
