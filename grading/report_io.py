"""Marking outputs: ``scores.csv``, ``scores.xlsx``, ``grading_exceptions.csv``, ``summary.json`` and more.

``scores.csv`` (UTF-8 with BOM, one row per roster student) has the columns of :func:`score_columns`:
``exam_id, student_no, name, class, school_code, version, status, reasons, total``, one ``section_<id>``
subtotal per section, then per canonical question ``<Q>_response`` (letters as read, ``?`` before an uncertain
reading, ``*`` after a mark outside the options; the score read for subjective questions) and ``<Q>_score``
(empty when void, pending or not sitting). ``status`` is graded | pending | absent | duplicate.

``scores.xlsx`` has the same table with Chinese headers (every id cell stored as text, header row frozen, the
reasons in Chinese) and an 异常 sheet with the exceptions; ``grading_exceptions.csv`` holds the same rows. Both show
each kind and reason in a teacher's words (:mod:`grading.reason_text`) and, in 类别代码 and 原文, as grading states
them (stable English for scripts). ``scores.csv`` stays the machine interchange file (English keys, read back by
``yuejuan report``).
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Iterator

import numpy as np

from grading.corrections import AppliedCorrection
from grading.mark import Reading, SittingTotals, SubjectScores, response_labels
from grading.pipeline import GradingRun
from grading.reason_text import kind_zh, reason_zh
from grading.safe_cells import csv_cell, csv_row, from_csv_cell, text_workbook

__all__ = ["score_columns", "score_rows", "write_scores_csv", "write_scores_xlsx", "write_exceptions_csv",
           "write_corrections_csv", "write_summary_json", "write_outputs", "read_subject_scores",
           "write_sitting_totals_csv", "EXCEPTION_HEADERS"]

#: grading_exceptions.csv and the 异常 sheet: what a teacher reads, then the stable codes scripts match
EXCEPTION_HEADERS = ["类别", "考号", "姓名", "班级", "答题卡", "来源", "原因", "类别代码", "原文"]
_LABELS = {"exam_id": "考号", "student_no": "学籍号", "name": "姓名", "class": "班级", "school_code": "学校标识码",
           "version": "卷型", "status": "状态", "reasons": "说明", "total": "总分", "kind": "类别", "sheet": "答题卡",
           "source": "来源", "reason": "原因"}
_STATUS_LABELS = {"graded": "已评", "pending": "待复核", "absent": "缺考", "duplicate": "重复答题卡"}
_TEXT_COLUMNS = {"exam_id", "student_no", "school_code", "version"}


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


def write_scores_csv(run: GradingRun, path: str | Path) -> None:
    """``scores.csv`` (UTF-8 with BOM so that Excel opens the Chinese correctly), rows of :func:`score_rows`."""
    with open(path, "w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(score_columns(run))
        writer.writerows(score_rows(run))


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
    workbook = text_workbook(path, constant_memory=True)
    header_format = workbook.add_format({"bold": True, "bg_color": "#DDEBF7"})
    id_format = workbook.add_format({"num_format": "@"})  # an id edited in Excel stays text
    keys = score_columns(run)
    sheet = workbook.add_worksheet("成绩")
    sheet.freeze_panes(1, 1)  # header row and the exam id column stay in view
    for index, key in enumerate(keys):
        sheet.set_column(index, index, {"exam_id": 13, "student_no": 21, "school_code": 12, "reasons": 30,
                                        "name": 9}.get(key, 8))
    for index, key in enumerate(keys):
        sheet.write_string(0, index, _header_label(run, key), header_format)
    ids = {index for index, key in enumerate(keys) if key in _TEXT_COLUMNS}
    formats = [id_format if index in ids else None for index in range(len(keys))]
    status_index = keys.index("status")
    write_string, write_number = sheet.write_string, sheet.write_number
    reasons_index = keys.index("reasons")
    for r, values in enumerate(_raw_rows(run), start=1):
        values[status_index] = _STATUS_LABELS.get(values[status_index], values[status_index])
        values[reasons_index] = reason_zh(values[reasons_index])
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
    for r, values in enumerate(_exception_rows(run), start=1):
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


def write_outputs(run: GradingRun, out_dir: str | Path, *, xlsx: bool = True) -> list[Path]:
    """Write every output of a run to ``out_dir``; returns the paths written."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = [out / "scores.csv", out / "grading_exceptions.csv", out / "summary.json"]
    write_scores_csv(run, written[0])
    write_exceptions_csv(run, written[1])
    write_summary_json(run, written[2])
    if xlsx:
        written.append(out / "scores.xlsx")
        write_scores_xlsx(run, written[-1])
    if run.corrections:
        written.append(out / "corrections_applied.csv")
        write_corrections_csv(run.corrections, written[-1])
    return written


def read_subject_scores(out_dir: str | Path) -> tuple[SubjectScores, dict[str, tuple[str, str]]]:
    """One subject's totals from a ``yuejuan grade`` output folder, and {exam id: (name, class)}."""
    out = Path(out_dir)
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    ids, totals, people = [], [], {}
    with open(out / "scores.csv", encoding="utf-8-sig", newline="") as handle:
        for record in csv.DictReader(handle):
            exam_id = from_csv_cell(record["exam_id"])
            ids.append(exam_id)
            totals.append(float(record["total"]) if record["total"] else np.nan)
            people[exam_id] = (from_csv_cell(record["name"]), from_csv_cell(record["class"]))
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
