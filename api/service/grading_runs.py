"""Marking a school's sheets of an exam, and what is made from a marking run: results rows, analytics, reports,
key changes and the city-wide view. No HTTP here: the routes in ``routes/results.py`` and ``routes/municipal.py``
call these functions.

A grade run lives in ``settings.runs_dir / <run id>``: ``grade/`` (``grading.report_io.write_outputs``),
``exam.json`` (the key it was marked with: a later key change does not alter an existing run), and, made on the
first request and kept, ``analytics.json``, ``reports/`` and, per set of classes a teacher teaches, ``scoped/``
(their grade workbook and scores table, with their classes' students only; and each class's 错题本 per bank).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import os
import shutil
import tempfile
import threading
from collections import OrderedDict
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Collection, Sequence

import numpy as np
from pydantic import ValidationError
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from api.service.models import (Correction, Exam, GradeRun, School, SchoolClass, ScoreCell, Student, StudentResult,
                                utcnow)
from api.service.settings import Settings
from api.service.sheets import sheets_file

__all__ = ["parse_definition", "roster_for", "corrections_for", "grade_school", "store_run", "discard_run_files",
           "run_dir", "newest_run", "newest_runs", "run_summary", "run_exam", "analytics_document",
           "ensure_reports", "scoped_grade_workbook", "scoped_scores", "report_names", "class_wrongbook",
           "KeyChangeOutcome", "apply_key_change", "CityData", "city_data", "finite"]

_REPORT_LOCKS: dict[int, threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()


def finite(value: Any) -> float | None:
    """A float for JSON and the database: NaN and inf become None."""
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def parse_definition(row: Exam):
    """The :class:`grading.exam.Exam` stored in an exam row (validated when it was stored)."""
    from grading.exam import parse_exam

    return parse_exam(row.definition)


def roster_for(session: Session, school_id: str, grade: str | None = None):
    """(roster, warnings): the school's students as a :class:`grading.roster.Roster` (None when it has none).

    With ``grade`` (年级, the exam's), only students of classes of that grade: a 高一 exam must not count every
    高二 student as absent. The school code goes on every student, so that the scores table and the analyses
    name the school.
    """
    from grading.roster import Roster
    from grading.roster import Student as RosterStudent

    students, warnings = [], []
    query = select(Student).where(Student.school_id == school_id)
    if grade:
        query = query.where(Student.class_name.in_(select(SchoolClass.name).where(SchoolClass.school_id == school_id,
                                                                               SchoolClass.grade == grade)))
    for row in session.scalars(query.order_by(Student.exam_id)):
        data = dict(exam_id=row.exam_id, student_no=row.student_no, name=row.name, class_name=row.class_name,
                    version=row.version)
        try:
            students.append(RosterStudent(**data, school_code=school_id))
        except ValidationError:
            try:  # a school id that is not a valid 学校标识码 must not drop the student
                students.append(RosterStudent(**data))
            except ValidationError as error:
                warnings.append(f"roster student {row.exam_id} left out: {error.errors()[0]['msg']}")
    return (Roster(students, source=f"school {school_id}") if students else None), warnings


def corrections_for(session: Session, school_id: str, exam_id: int) -> list:
    """Every stored correction of one school's exam as :class:`grading.corrections.Correction`, oldest first.

    They name the sheet by its id, which is the sheet number :func:`api.service.sheets.sheets_file` gives, so
    grading applies each to the sheet the reviewer looked at (the exam id is only needed when no sheet is named).
    """
    from grading.corrections import Correction as GradingCorrection

    rows = session.scalars(select(Correction).where(Correction.school_id == school_id,
                                                    Correction.exam_id == exam_id).order_by(Correction.id))
    return [GradingCorrection(question=c.question, value=c.value, sheet=c.sheet_id, by=c.by, reason=c.reason)
            for c in rows]


def grade_school(session: Session, exam_row: Exam, school_id: str, *, policy: str = "pending", exam=None):
    """Mark one school's sheets of ``exam_row`` (with ``exam``, a key other than the stored one) in memory; the
    final scores of online marking (网上阅卷) are its written questions' scores.

    Returns a :class:`grading.pipeline.GradingRun`.
    """
    from api.service.marking import final_scores  # online marking's final scores: subjective scores
    from grading.pipeline import GradingException, grade_sheets

    exam = exam if exam is not None else parse_definition(exam_row)
    roster, warnings = roster_for(session, school_id, exam_row.grade)
    run = grade_sheets(exam, sheets_file(session, school_id, exam_row.id), roster,
                       corrections=corrections_for(session, school_id, exam_row.id),
                       subjective=final_scores(session, school_id, exam_row.id), policy=policy)
    run.static_exceptions.extend(GradingException("roster", w) for w in warnings)
    return run


def run_dir(settings: Settings, run_id: int) -> Path:
    return settings.runs_dir / str(int(run_id))


def store_run(session: Session, settings: Settings, run, *, exam_row: Exam, school_id: str, by: str) -> GradeRun:
    """Add a :class:`GradeRun` for ``run`` to ``session`` with its files and its result rows (bulk).

    The caller commits; if the commit fails it should call :func:`discard_run_files`.
    """
    from grading.exam import save_exam
    from grading.report_io import write_outputs

    summary = run.summary()
    summary["exceptions_count"] = int(sum(summary["exceptions"].values()))
    row = GradeRun(school_id=school_id, exam_id=exam_row.id, by=by, summary=summary, output_dir="",
                   created_at=utcnow())
    session.add(row)
    session.flush()
    folder = run_dir(settings, row.id)
    try:
        write_outputs(run, folder / "grade")
        save_exam(run.exam, folder / "exam.json")
        row.output_dir = str(folder / "grade")
        _write_results(session, row, run)
        session.flush()
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return row


def discard_run_files(settings: Settings, rows: Sequence[GradeRun]) -> None:
    """Remove the folders of runs whose rows were never committed."""
    for row in rows:
        if row.id is not None:
            shutil.rmtree(run_dir(settings, row.id), ignore_errors=True)


def _write_results(session: Session, run_row: GradeRun, run) -> None:
    """StudentResult and ScoreCell rows of a run, with the database's bulk path: COPY on PostgreSQL, one
    executemany on SQLite."""
    statuses = run.statuses()
    totals = run.grades.totals
    scores = run.grades.scores
    question_ids = run.exam.question_ids
    results = []
    cells = []
    for i, student_row in enumerate(run.rows):
        student = student_row.student
        results.append((run_row.id, run_row.school_id, student_row.exam_id, student.name if student else "",
                        student.class_name if student else "", statuses[i], finite(totals[i])))
        values = scores[i].tolist()
        cells.extend((run_row.id, student_row.exam_id, qid, finite(values[j])) for j, qid in enumerate(question_ids))
    result_columns = ("run_id", "school_id", "exam_id", "name", "class_name", "status", "total")
    cell_columns = ("run_id", "exam_id", "question", "score")
    if session.get_bind().dialect.name == "postgresql":
        _copy(session, "student_results", result_columns, results)
        _copy(session, "score_cells", cell_columns, cells)
        return
    if results:
        session.execute(insert(StudentResult), [dict(zip(result_columns, r)) for r in results])
    if cells:
        session.execute(insert(ScoreCell), [dict(zip(cell_columns, c)) for c in cells])


def _copy(session: Session, table: str, columns: Sequence[str], rows: Sequence[tuple]) -> None:
    """COPY ``rows`` into ``table`` on the session's own connection (inside its transaction)."""
    if not rows:
        return
    connection = session.connection().connection.driver_connection  # psycopg, in the session's transaction
    with connection.cursor() as cursor:
        with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)


def newest_run(session: Session, school_id: str, exam_id: int) -> GradeRun | None:
    """The school's newest grade run of the exam (what results and reports show), or None."""
    return session.scalar(select(GradeRun).where(GradeRun.school_id == school_id, GradeRun.exam_id == exam_id)
                          .order_by(GradeRun.id.desc()).limit(1))


def newest_run_ids(exam_id: int):
    """A subquery: the id of each school's newest run of the exam."""
    return select(func.max(GradeRun.id)).where(GradeRun.exam_id == exam_id).group_by(GradeRun.school_id)


def newest_runs(session: Session, exam_id: int) -> list[GradeRun]:
    """Each school's newest run of the exam, by school id."""
    return list(session.scalars(select(GradeRun).where(GradeRun.id.in_(newest_run_ids(exam_id)))
                                .order_by(GradeRun.school_id)))


def run_summary(row: GradeRun) -> dict[str, Any]:
    """The fields of :class:`api.service.schemas.results.GradeRunPublic`."""
    s = row.summary
    created = row.created_at if row.created_at.tzinfo else row.created_at.replace(tzinfo=dt.timezone.utc)  # SQLite
    return dict(run_id=row.id, exam_id=row.exam_id, school_id=row.school_id, created_at=created, by=row.by,
                policy=s.get("policy", "pending"), full_marks=s.get("full_marks", 0.0), students=s.get("students", 0),
                graded=s.get("graded", 0), pending=s.get("pending", 0), absent=s.get("absent", 0),
                duplicate=s.get("duplicate", 0), unmatched_sheets=s.get("unmatched_sheets", 0),
                corrections_applied=s.get("corrections_applied", 0),
                exceptions_count=s.get("exceptions_count", sum(s.get("exceptions", {}).values())),
                exceptions=s.get("exceptions", {}), mean_total=s.get("mean_total"))


def run_exam(settings: Settings, row: GradeRun):
    """The key a run was marked with (its ``exam.json``)."""
    from grading.exam import load_exam

    return load_exam(run_dir(settings, row.id) / "exam.json")


def _lock(run_id: int) -> threading.Lock:
    with _LOCKS_GUARD:
        return _REPORT_LOCKS.setdefault(run_id, threading.Lock())


def _run_data(settings: Settings, row: GradeRun):
    """The :class:`analytics.model.ExamData` of one run (its scores.csv under the key it was marked with)."""
    from analytics.load import load_grade_output

    data = load_grade_output(run_dir(settings, row.id) / "grade", run_exam(settings, row))
    # One school per run: students the roster does not know (no school code) still belong to this school, so
    # the reports are this school's grade and class workbooks.
    return replace(data, schools=np.full(data.n, row.school_id, dtype=object))


def _analysis(settings: Settings, row: GradeRun):
    """The analysis of one run (:func:`analytics.analysis.analyse` of its scores.csv); ValueError when no
    student is graded."""
    from analytics.analysis import analyse

    return analyse(_run_data(settings, row))


def progress_document(settings: Settings, rows: Sequence[GradeRun], *,
                      classes: Collection[str] | None = None) -> dict:
    """Students over time (:func:`analytics.report_json.progress_json`) of one school's newest runs of several
    exams, oldest first, the exam asked about last: linked by 学籍号, with value-added from the last but one.
    Ranks are left out unless every exam allows publishing them (``publish_ranks``). With ``classes`` (a
    teacher's own), the students listed are those of these classes in the last exam
    (:func:`analytics.report_json.limit_progress`); the value-added tables stay."""
    from analytics.longitudinal import exam_scores_of
    from analytics.progress import progress_of
    from analytics.report_json import limit_progress, progress_json

    datasets = [_run_data(settings, row) for row in rows]
    document = progress_json(progress_of([exam_scores_of(data) for data in datasets]),
                             ranks=all(data.exam.publish_ranks for data in datasets))
    if classes is None:
        return document
    latest, allowed = datasets[-1], set(classes)
    mine = [i for i, name in enumerate(latest.classes.tolist()) if str(name) in allowed]
    return limit_progress(document, [str(latest.exam_ids[i]) for i in mine],
                          [str(latest.student_nos[i] or "") for i in mine], allowed)


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".incoming-")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def analytics_document(settings: Settings, row: GradeRun, *, classes: Collection[str] | None = None) -> bytes:
    """``analytics.json`` of a run (:func:`analytics.report_json.analysis_json`), computed once and kept; with
    ``classes`` (a teacher's own), as a reader of those classes may see it
    (:func:`analytics.report_json.limit_analysis`)."""
    from analytics.report_json import limit_analysis

    data = _analytics_json(settings, row)
    if classes is None:
        return data
    document = limit_analysis(json.loads(data), classes)
    return json.dumps(document, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode("utf-8")


def _analytics_json(settings: Settings, row: GradeRun) -> bytes:
    from analytics.report_json import analysis_json

    path = run_dir(settings, row.id) / "analytics.json"
    if path.is_file():
        return path.read_bytes()
    with _lock(row.id):
        if path.is_file():
            return path.read_bytes()
        document = analysis_json(_analysis(settings, row))
        data = json.dumps(document, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode("utf-8")
        _atomic_write(path, data)
    return data


def ensure_reports(settings: Settings, row: GradeRun) -> Path:
    """The run's ``reports/`` folder: grade and class workbooks and the students' PDFs
    (:func:`analytics.reports.write_reports`, level class), written once into a temporary folder and renamed,
    so a request never sees half of them."""
    from analytics.reports import write_reports

    return _made_once(row, run_dir(settings, row.id) / "reports", lambda tmp: write_reports(
        _analysis(settings, row), tmp, level="class", students_pdf=True))


def _made_once(row: GradeRun, folder: Path, make: Callable[[Path], object]) -> Path:
    """``folder`` of a run's files, written by ``make(tmp)`` into a temporary folder beside it and renamed, once:
    a request never sees half of them, and later requests read what is there."""
    if folder.is_dir():
        return folder
    with _lock(row.id):
        if folder.is_dir():
            return folder
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
        try:
            make(tmp)
            try:
                os.rename(tmp, folder)
            except OSError:
                if not folder.is_dir():  # not another process finishing first
                    raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return folder


def _scoped_folder(settings: Settings, row: GradeRun, what: str, classes: Collection[str],
                   make: Callable[[Path], object]) -> Path:
    """The folder of the run's ``what`` for the readers of ``classes`` (a teacher's own), written once by
    ``make(folder)`` (:func:`_made_once`): kept under ``scoped/``, named by a digest of the sorted class set (class
    names are any text), so teachers with the same classes share it."""
    names = sorted(set(classes))
    digest = hashlib.sha256(json.dumps(names, ensure_ascii=False).encode("utf-8")).hexdigest()[:32]
    return _made_once(row, run_dir(settings, row.id) / "scoped" / f"{what}_{digest}", make)


def scoped_grade_workbook(settings: Settings, row: GradeRun, classes: Collection[str]) -> Path:
    """The grade workbook (``grade.xlsx``) of a run for the teacher of ``classes``: the grade's figures, and
    students of those classes only (:func:`analytics.workbook.write_grade_workbook` ``classes``); made on the
    first request and kept. ValueError when no student is graded."""
    from analytics.workbook import write_grade_workbook

    return _scoped_folder(settings, row, "grade", classes, lambda folder: write_grade_workbook(
        _analysis(settings, row), folder / "grade.xlsx", classes=classes)) / "grade.xlsx"


def scoped_scores(settings: Settings, row: GradeRun, classes: Collection[str]) -> Path:
    """A folder with the run's ``scores.csv`` and ``scores.xlsx`` for the teacher of ``classes``: their
    students only (:func:`grading.report_io.write_class_scores`); made on the first request and kept."""
    from grading.report_io import write_class_scores

    return _scoped_folder(settings, row, "scores", classes, lambda folder: write_class_scores(
        run_dir(settings, row.id) / "grade", run_exam(settings, row), classes, folder))


def class_wrongbook(settings: Settings, row: GradeRun, class_name: str, bank_sha256: str,
                    bank_json: Callable[[], bytes]) -> Path:
    """The 错题本 PDF of one class of a run (``wrongbook_<班级>.pdf``, its ``wrongbook.json`` beside it), built
    with the school's bank (``bank_json()``, its bytes, read only when it is built) as ``yuejuan report
    --wrongbook`` builds it (:func:`analytics.wrongbook_pdf.make_wrongbooks`, default practice options, no stem
    images: the service keeps none). Made on the first request and kept per run, bank (its SHA-256) and class
    under ``scoped/``. ValueError when no student is graded; the path does not exist when the class has no
    graded student. ``class_name`` must be a class of the run (never text from a request)."""
    from analytics.workbook import safe_name
    from analytics.wrongbook_pdf import make_wrongbooks
    from itembank.store import bank_from_json

    def make(folder: Path) -> None:
        bank = bank_from_json(bank_json(), source="the school's item bank")
        make_wrongbooks(_analysis(settings, row), bank, folder, classes=[class_name])

    folder = _scoped_folder(settings, row, f"wrongbook_{bank_sha256[:16]}", [class_name], make)
    return folder / f"wrongbook_{safe_name(class_name)}.pdf"


def report_names(class_name: str) -> tuple[str, str]:
    """(class workbook, students' PDF) file names that :func:`analytics.reports.write_reports` gives a class of
    a one-school run; ``class_name`` must be a class of the run (never text from a request)."""
    from analytics.workbook import safe_name

    return f"class_{safe_name(class_name)}.xlsx", f"students_{safe_name(class_name)}.pdf"


@dataclass
class KeyChangeOutcome:
    """A key change applied: the changed exam, and per regraded school its new run row and change record."""

    exam: Any
    before: dict[str, Any]
    after: dict[str, Any]
    full_marks_before: float
    runs: list[tuple[GradeRun, Any]]


def apply_key_change(session: Session, settings: Settings, exam_row: Exam, change, schools: Sequence[str], *,
                     by: str) -> KeyChangeOutcome:
    """Apply ``change`` (a :class:`grading.regrade.KeyChange`) to the stored key and regrade ``schools`` that
    have a grade run of the exam: each is marked again with the old key (current sheets and corrections, the
    run's policy), then :func:`grading.regrade.regrade` re-scores the changed question and gives the change
    record. Raises :class:`grading.exam.ExamError` when the change cannot apply (nothing is changed then).
    The caller commits (and calls :func:`discard_run_files` on the runs if that fails).
    """
    from grading.exam import exam_to_dict
    from grading.regrade import apply_change, regrade

    old = parse_definition(exam_row)
    changed = apply_change(old, change)
    before = old.question(change.question).model_dump(mode="json", exclude_none=True)
    after = changed.question(change.question).model_dump(mode="json", exclude_none=True)
    runs: list[tuple[GradeRun, Any]] = []
    try:
        for school in schools:
            prior = newest_run(session, school, exam_row.id)
            if prior is None:
                continue
            marked = grade_school(session, exam_row, school, policy=prior.summary.get("policy", "pending"),
                                  exam=old)
            grades, record = regrade(marked.grades, change, by=by)
            row = store_run(session, settings, marked.with_grades(grades), exam_row=exam_row, school_id=school,
                            by=by)
            runs.append((row, record))
    except BaseException:
        discard_run_files(settings, [r for r, _ in runs])
        raise
    exam_row.definition = exam_to_dict(changed)
    exam_row.updated_at = utcnow()
    return KeyChangeOutcome(changed, before, after, old.full_marks, runs)


@dataclass
class CityData:
    """Every school's newest run of one exam as arrays (N students x k questions that count).

    ``scores`` is NaN where a student has no score (absent, pending cells, a question the run did not mark).
    """

    exam: Any
    runs: list[GradeRun]
    school_names: dict[str, str]
    schools: np.ndarray
    classes: np.ndarray
    exam_ids: np.ndarray
    status: np.ndarray
    totals: np.ndarray
    item_ids: tuple[str, ...]
    points: np.ndarray
    scores: np.ndarray

    @property
    def graded(self) -> np.ndarray:
        """Students in the statistics: graded with a total and a score on every question that counts."""
        return (self.status == "graded") & np.isfinite(self.totals) & ~np.isnan(self.scores).any(axis=1)


#: City data of the last few (exam, key version, newest runs) asked for: grade runs never change once written
#: (a regrade or key change makes new runs), so the same key means the same data. Reading 20 000 students x 58
#: questions from the result rows takes ~2.7 s; the bureau asks for several breakdowns of one exam in a row.
_CITY_CACHE: OrderedDict[tuple, CityData] = OrderedDict()
_CITY_CACHE_SIZE = 4
_CITY_LOCK = threading.Lock()


def city_data(session: Session, exam_row: Exam) -> CityData:
    """Each school's newest run of ``exam_row``, read from the result rows (not the files); cached while the key
    and every school's newest run stay the same. The arrays are read-only."""
    runs = newest_runs(session, exam_row.id)
    key = (exam_row.id, exam_row.updated_at, tuple(r.id for r in runs))
    with _CITY_LOCK:
        if key in _CITY_CACHE:
            _CITY_CACHE.move_to_end(key)
            return _CITY_CACHE[key]
    data = _read_city_data(session, exam_row, runs)
    for array in (data.schools, data.classes, data.exam_ids, data.status, data.totals, data.points, data.scores):
        array.setflags(write=False)
    with _CITY_LOCK:
        _CITY_CACHE[key] = data
        while len(_CITY_CACHE) > _CITY_CACHE_SIZE:
            _CITY_CACHE.popitem(last=False)
    return data


def _read_city_data(session: Session, exam_row: Exam, runs: list[GradeRun]) -> CityData:
    from analytics.load import active_questions

    exam = parse_definition(exam_row)
    questions = active_questions(exam)
    item_ids = tuple(q.id for q in questions)
    column = {qid: j for j, qid in enumerate(item_ids)}
    run_ids = [r.id for r in runs]
    names = {s.id: s.name for s in session.scalars(select(School).where(School.id.in_([r.school_id
                                                                                      for r in runs])))}
    rows = session.execute(
        select(StudentResult.run_id, StudentResult.school_id, StudentResult.exam_id, StudentResult.class_name,
               StudentResult.status, StudentResult.total)
        .where(StudentResult.run_id.in_(run_ids)).order_by(StudentResult.school_id, StudentResult.exam_id)).all()
    index = {(r.run_id, r.exam_id): i for i, r in enumerate(rows)}
    scores = np.full((len(rows), len(item_ids)), np.nan)
    if rows:
        cells = session.execute(select(ScoreCell.run_id, ScoreCell.exam_id, ScoreCell.question, ScoreCell.score)
                                .where(ScoreCell.run_id.in_(run_ids), ScoreCell.question.in_(item_ids)))
        for run_id, exam_id, question, score in cells:
            i = index.get((run_id, exam_id))
            if i is not None and score is not None:
                scores[i, column[question]] = score
    text = lambda k: np.array([getattr(r, k) for r in rows], dtype=object)  # noqa: E731
    totals = np.array([np.nan if r.total is None else r.total for r in rows], dtype=float)
    return CityData(exam, runs, names, text("school_id"), text("class_name"), text("exam_id"), text("status"),
                    totals, item_ids, np.array([q.points for q in questions], float), scores)
