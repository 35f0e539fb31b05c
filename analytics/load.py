"""Analytics inputs: a ``yuejuan grade`` output folder (``scores.csv`` + ``summary.json``) and the exam JSON, or a
:class:`grading.pipeline.GradingRun` in memory, as an :class:`~analytics.model.ExamData`.

Only this module (and the writers) touch files; everything else works on the arrays it returns. ``scores.csv`` is
read by :func:`grading.report_io.read_scores_csv`: the Chinese file or the English one of earlier versions, bounded
(rows, columns, cells, bytes) like every table yuejuan reads.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from analytics.items import masks_from_letters
from analytics.longitudinal import ExamScores, exam_scores_of
from analytics.model import ExamData
from grading.report_io import ScoresTable, read_scores_csv

__all__ = ["load_grade_output", "load_exam_scores", "from_grading_run", "active_questions", "load_exam_for_report"]

_REQUIRED = ("exam_id", "name", "class", "school_code", "status", "total")


def active_questions(exam) -> list:
    """The exam's questions that count (not void), in canonical order."""
    return [q for q in exam.questions if q.status != "void"]


def load_exam_for_report(path: str | Path):
    """The exam JSON (or key workbook) via :func:`grading.exam_io.load_exam_any`."""
    from grading.exam_io import load_exam_any

    return load_exam_any(path)


def _texts(table: ScoresTable, key: str) -> np.ndarray:
    """A text column as typed (:meth:`grading.report_io.ScoresTable.texts`), '' throughout when absent."""
    return np.array(table.texts(key), dtype=object)


def _numbers(table: ScoresTable, key: str) -> np.ndarray:
    """Floats from a column's cells (empty = NaN), converting each distinct text once."""
    if not table.n:
        return np.zeros(0)
    distinct, inverse = np.unique(np.array(table.cells(key), dtype=str), return_inverse=True)
    values = np.empty(len(distinct))
    for k, text in enumerate(distinct.tolist()):
        try:
            values[k] = float(text) if text.strip() else np.nan
        except ValueError:
            raise ValueError(f"scores.csv: {text!r} is not a number") from None
    return values[inverse]


def load_grade_output(scores_dir: str | Path, exam) -> ExamData:
    """Read ``scores.csv`` of a ``yuejuan grade --out`` folder for ``exam``.

    Raises ValueError (with the file named) when the folder has no scores.csv, a column is missing, or the
    scores were marked against another exam or other full marks (e.g. regraded: use the folder's exam.json).
    """
    folder = Path(scores_dir)
    path = folder / "scores.csv"
    if not folder.is_dir():
        raise ValueError(f"--scores {folder}: not a folder (give the --out folder of `yuejuan grade`)")
    if not path.is_file():
        raise ValueError(f"{path}: not found (give the --out folder of `yuejuan grade`)")
    summary_path = folder / "summary.json"
    if summary_path.is_file():
        summary = json.loads(summary_path.read_text(encoding="utf-8"))
        if summary.get("exam") not in (None, exam.id):
            raise ValueError(f"{folder}: scores are for exam {summary.get('exam')}, not {exam.id}")
        full = summary.get("full_marks")
        if full is not None and abs(float(full) - exam.full_marks) > 1e-6:
            hint = f" (the key these scores were marked with: --exam {folder / 'exam.json'})" \
                if (folder / "exam.json").is_file() else ""
            raise ValueError(f"{folder}: scores were marked to full marks {float(full):g}, exam {exam.id} has "
                             f"{exam.full_marks:g}{hint}")
    table = read_scores_csv(path, sections={exam.section_name(s): s for s in exam.section_ids()})
    questions = active_questions(exam)
    missing = table.missing(_REQUIRED) + table.missing([f"{q.id}_score" for q in questions])
    if missing:
        raise ValueError(f"{path}: missing column(s) {', '.join(missing[:6])}"
                         + (" ..." if len(missing) > 6 else "") + " (is this a scores.csv of this exam?)")
    n = table.n
    scores = np.full((n, len(questions)), np.nan)
    masks = np.zeros((n, len(questions)), np.uint16)
    for j, q in enumerate(questions):
        scores[:, j] = _numbers(table, f"{q.id}_score")
        if q.type != "subjective" and f"{q.id}_response" in table.index and n:
            masks[:, j] = masks_from_letters(np.array(table.cells(f"{q.id}_response"), dtype=object), q.options)
    status = np.array(table.statuses(), dtype=object)
    totals = _numbers(table, "total")
    graded = (status == "graded") & np.isfinite(totals)
    if graded.any():
        # An optional question (选考题) the student did not choose is empty: one per group must be scored.
        optional = [[j for j, q in enumerate(questions) if q.id in group.questions]
                    for group in getattr(exam, "optional_groups", ())]
        optional = [group for group in optional if group]  # a void group is not analysed at all
        required = np.ones(len(questions), bool)
        required[[j for group in optional for j in group]] = False
        incomplete = graded & np.isnan(scores[:, required]).any(axis=1)
        for group in optional:
            incomplete |= graded & (np.isfinite(scores[:, group]).sum(axis=1) != 1)
        if incomplete.any():
            first = np.flatnonzero(incomplete)[0]
            raise ValueError(f"{path}: row {first + 2} is graded but has empty question scores")
        drift = np.abs(np.nansum(scores[graded], axis=1) - totals[graded])
        if drift.max(initial=0.0) > 1e-6:
            raise ValueError(f"{path}: totals do not add up to the question scores of exam {exam.id} "
                             "(scores marked with another key? regraded?)")
    section_ids = tuple(s for s in exam.section_ids() if f"section_{s}" in table.index)
    section_totals = np.full((n, len(section_ids)), np.nan)
    for k, sid in enumerate(section_ids):
        section_totals[:, k] = _numbers(table, f"section_{sid}")
    text = lambda key: _texts(table, key)  # noqa: E731
    return ExamData(exam=exam, exam_ids=text("exam_id"), student_nos=text("student_no"), names=text("name"),
                    classes=text("class"), schools=text("school_code"), status=status,
                    item_ids=tuple(q.id for q in questions), points=np.array([q.points for q in questions], float),
                    scores=scores, totals=totals, masks=masks, section_ids=section_ids,
                    section_names=tuple(exam.section_name(s) for s in section_ids), section_totals=section_totals)


def load_exam_scores(scores_dir: str | Path) -> ExamScores:
    """Who sat an earlier exam and under which 学籍号, from a ``yuejuan grade --out`` folder (no exam JSON needed):
    ``exam_id``, ``student_no``, ``name``, ``class``, ``status`` and ``total`` of ``scores.csv``, labelled with
    ``summary.json``'s exam id, and knowledge-point rates when the folder holds the ``exam.json`` it was marked
    with. A total counts only for a graded student."""
    folder = Path(scores_dir)
    path, summary_path = folder / "scores.csv", folder / "summary.json"
    if not path.is_file() or not summary_path.is_file():
        raise ValueError(f"{folder}: not a `yuejuan grade` output folder (scores.csv, summary.json)")
    if (folder / "exam.json").is_file():  # the key it was marked with: knowledge-point rates too
        return exam_scores_of(load_grade_output(folder, load_exam_for_report(folder / "exam.json")))
    label = str(json.loads(summary_path.read_text(encoding="utf-8")).get("exam") or folder.name)
    table = read_scores_csv(path)
    missing = table.missing(("exam_id", "student_no", "status", "total"))
    if missing:
        raise ValueError(f"{path}: missing column(s) {', '.join(missing)}")
    graded = np.array(table.statuses(), dtype=object) == "graded"
    return ExamScores(label, _texts(table, "exam_id"), _texts(table, "student_no"),
                      np.where(graded, _numbers(table, "total"), np.nan), _texts(table, "name"),
                      _texts(table, "class"))


def from_grading_run(run) -> ExamData:
    """The :class:`ExamData` of a :class:`grading.pipeline.GradingRun` (no files)."""
    exam, grades = run.exam, run.grades
    active = np.array([q.status != "void" for q in exam.questions], bool)
    questions = active_questions(exam)
    n = len(run.rows)
    students = [row.student for row in run.rows]
    text = lambda get: np.array([(get(s) or "") if s else "" for s in students], dtype=object)  # noqa: E731
    masks = grades.responses.marked[:, active].astype(np.uint16).copy()
    subjective = np.array([q.type == "subjective" for q in questions], bool)
    masks[:, subjective] = 0
    status = np.array(run.statuses(), dtype=object)
    totals = np.where(status == "graded", grades.totals, np.nan)
    return ExamData(exam=exam, exam_ids=np.array([row.exam_id for row in run.rows], dtype=object),
                    student_nos=text(lambda s: s.student_no), names=text(lambda s: s.name),
                    classes=text(lambda s: s.class_name), schools=text(lambda s: s.school_code), status=status,
                    item_ids=tuple(q.id for q in questions), points=np.array([q.points for q in questions], float),
                    scores=grades.scores[:, active].copy() if n else np.zeros((0, len(questions))),
                    totals=totals, masks=masks, section_ids=tuple(grades.section_ids),
                    section_names=tuple(exam.section_name(s) for s in grades.section_ids),
                    section_totals=grades.section_totals.copy())
