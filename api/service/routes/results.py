"""Marking (grade runs), key changes with instant regrading, results, analytics and report downloads.

Every route works on one school's newest grade run of an exam: the caller's school, or for the municipal system
the school named by ``?school_id=``. Another school's exam or results are not found (404); scanner stations
may not use any of these (403).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Callable, Collection
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Query, status
from fastapi.responses import FileResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.service import audit, grading_runs
from api.service.deps import (CurrentPrincipal, ReadSession, RowId, SchoolQuery, ServiceDep, SettingsDep,
                              WriteSession, not_found, permit, school_of)
from api.service.json_body import LimitedJSONRoute
from api.service.models import Exam, GradeRun, School, ScoreCell, StudentResult
from api.service.routes import teaching
from api.service.routes.bank import current_bank
from api.service.routes.exams import owned_exam, visible_exam
from api.service.routes.grants import require_key_right
from api.service.schemas.results import (GradeRequest, GradeRunPublic, KeyChangeCreate, KeyChangeResult,
                                         KeyChangeSchoolRecord, ResultsPublic, StudentResultPublic)
from api.service.security import Principal

router = APIRouter(tags=["results"], route_class=LimitedJSONRoute)
ClassName = Annotated[str, Query(min_length=1, max_length=100)]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _exam_and_school(session: Session, principal: Principal, exam_id: int, school_id: str | None
                     ) -> tuple[Exam, str]:
    school = school_of(principal, school_id)
    if session.get(School, school) is None:
        raise not_found("school not found")
    exam = visible_exam(session, principal, exam_id)
    if exam.school_id is not None and exam.school_id != school:
        raise not_found("exam not found")  # the municipal system naming a school the exam does not belong to
    return exam, school


def _newest(session: Session, principal: Principal, exam_id: int, school_id: str | None
            ) -> tuple[Exam, str, GradeRun]:
    exam, school = _exam_and_school(session, principal, exam_id, school_id)
    run = grading_runs.newest_run(session, school, exam.id)
    if run is None:
        raise not_found("this exam has not been graded for this school yet (POST .../grade)")
    return exam, school, run


@router.post("/exams/{exam_id}/grade", response_model=GradeRunPublic, status_code=201,
             dependencies=[permit("exams:grade")])
def grade(exam_id: RowId, principal: CurrentPrincipal, session: WriteSession, settings: SettingsDep,
          body: GradeRequest | None = None, school_id: SchoolQuery = None) -> GradeRunPublic:
    """Mark the school's sheets of the exam against its roster, with every stored correction.

    Writes a new grade run (the newest is what results and reports show) and returns its summary.
    """
    exam, school = _exam_and_school(session, principal, exam_id, school_id)
    policy = (body or GradeRequest()).policy
    run = grading_runs.grade_school(session, exam, school, policy=policy)
    row = grading_runs.store_run(session, settings, run, exam_row=exam, school_id=school, by=principal.actor)
    audit.record(session, principal, "exam.grade", "grade_run", row.id, school_id=school,
                 after={"exam_id": exam.id, "policy": policy, "graded": row.summary["graded"],
                        "pending": row.summary["pending"]})
    try:
        session.commit()
    except BaseException:
        grading_runs.discard_run_files(settings, [row])
        raise
    return GradeRunPublic(**grading_runs.run_summary(row))


@router.post("/exams/{exam_id}/key-changes", response_model=KeyChangeResult, status_code=201,
             dependencies=[permit("exams:write")])
def change_key(exam_id: RowId, body: KeyChangeCreate, principal: CurrentPrincipal, session: WriteSession,
               settings: SettingsDep) -> KeyChangeResult:
    """Change the key (void, bonus, accept an answer, points ...) and regrade at once: a school's own exam by
    its school admin or its subject leader (a teacher granted ``key`` on it) for their school; a city-wide exam by
    the municipal system for every school marked so far."""
    from grading.exam import ExamError
    from grading.regrade import KeyChange

    exam = owned_exam(session, principal, exam_id)
    require_key_right(session, principal, exam)
    # lock the exam row (PostgreSQL; SQLite's write transaction already excludes other writers): two key changes
    # at once must not both start from the same key
    exam = session.get(Exam, exam.id, with_for_update=True, populate_existing=True)
    change = KeyChange.model_validate(body.model_dump(exclude_none=True))
    if principal.school_id is None:
        schools = list(session.scalars(select(GradeRun.school_id).where(GradeRun.exam_id == exam.id).distinct()
                                       .order_by(GradeRun.school_id)))
    else:
        schools = [principal.school_id]
    try:
        outcome = grading_runs.apply_key_change(session, settings, exam, change, schools, by=principal.actor)
    except ExamError as error:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(error)) from None
    regraded = [KeyChangeSchoolRecord(school_id=row.school_id, run_id=row.id,
                                      students_changed=record.students_changed, mean_before=record.mean_before,
                                      mean_after=record.mean_after, full_marks_before=record.full_marks_before,
                                      full_marks_after=record.full_marks_after) for row, record in outcome.runs]
    audit.record(session, principal, "exam.key_change", "exam", exam.id, school_id=exam.school_id,
                 before={"question": outcome.before, "full_marks": outcome.full_marks_before},
                 after={"question": outcome.after, "full_marks": outcome.exam.full_marks,
                        "change": change.model_dump(mode="json", exclude_none=True),
                        "regraded": [{"school_id": r.school_id, "run_id": r.run_id,
                                      "students_changed": r.students_changed} for r in regraded]})
    try:
        session.commit()
    except BaseException:
        grading_runs.discard_run_files(settings, [row for row, _ in outcome.runs])
        raise
    return KeyChangeResult(exam_id=exam.id, change=change.model_dump(mode="json", exclude_none=True),
                           before=outcome.before, after=outcome.after,
                           full_marks_before=outcome.full_marks_before,
                           full_marks_after=outcome.exam.full_marks, regraded=regraded)


def _rows(session: Session, run: GradeRun, *, detail: bool, class_name: str | None = None,
          exam_id: str | None = None, classes: Collection[str] | None = None) -> list[StudentResultPublic]:
    """Result rows of the run: one class's, one student's, or (``classes``, a teacher's own) those classes'."""
    query = select(StudentResult).where(StudentResult.run_id == run.id)
    if class_name is not None:
        query = query.where(StudentResult.class_name == class_name)
    if classes is not None:
        query = query.where(StudentResult.class_name.in_(sorted(classes)))
    if exam_id is not None:
        query = query.where(StudentResult.exam_id == exam_id)
    rows = list(session.scalars(query.order_by(StudentResult.class_name, StudentResult.exam_id)))
    scores: dict[str, dict[str, float | None]] = {}
    if detail and rows:
        cells = select(ScoreCell.exam_id, ScoreCell.question, ScoreCell.score).where(ScoreCell.run_id == run.id)
        if len(rows) <= 500:  # a class or one student: only their cells
            cells = cells.where(ScoreCell.exam_id.in_([r.exam_id for r in rows]))
        for student, question, score in session.execute(cells.order_by(ScoreCell.id)):
            scores.setdefault(student, {})[question] = score
    return [StudentResultPublic(exam_id=r.exam_id, name=r.name, class_name=r.class_name, status=r.status,
                                total=r.total, scores=scores.get(r.exam_id, {}) if detail else None)
            for r in rows]


@router.get("/exams/{exam_id}/results", response_model=ResultsPublic, dependencies=[permit("results:read")])
def results(exam_id: RowId, principal: CurrentPrincipal, session: ReadSession, school_id: SchoolQuery = None,
            detail: bool = False, class_name: Annotated[str | None, Query(max_length=100)] = None
            ) -> ResultsPublic:
    """The school's newest results: one row per student (考号, name, class, status, total; per-question scores
    with ``detail=true``); a teacher's own classes' students only (none when no class is theirs)."""
    _, _, run = _newest(session, principal, exam_id, school_id)
    if class_name is not None:
        teaching.require_class(session, principal, class_name)
    return ResultsPublic(run=GradeRunPublic(**grading_runs.run_summary(run)),
                         items=_rows(session, run, detail=detail, class_name=class_name,
                                     classes=teaching.taught_classes(session, principal)))


@router.get("/exams/{exam_id}/results/{student_exam_id}", response_model=StudentResultPublic,
            dependencies=[permit("results:read")])
def student_result(exam_id: RowId, student_exam_id: str, principal: CurrentPrincipal, session: ReadSession,
                   school_id: SchoolQuery = None) -> StudentResultPublic:
    """One student's result with the score of every question; for a teacher, a student of their own classes
    (another is not found, as an unknown one: who sat the exam is not told)."""
    _, _, run = _newest(session, principal, exam_id, school_id)
    rows = _rows(session, run, detail=True, exam_id=student_exam_id,
                 classes=teaching.taught_classes(session, principal))
    if not rows:
        raise not_found("no such student in this exam's results")
    return rows[0]


def _known_class(session: Session, principal: Principal, run: GradeRun, class_name: str) -> str:
    """``class_name`` as the run knows it (the stored value, never the request's text), else 404; 403 for a
    teacher whose class it is not (:func:`api.service.routes.teaching.require_class`)."""
    known = session.scalar(select(StudentResult.class_name).where(StudentResult.run_id == run.id,
                                                                  StudentResult.class_name == class_name).limit(1))
    if known is None or known == "":
        raise not_found("no such class in this exam's results")
    teaching.require_class(session, principal, known)
    return known


@router.get("/exams/{exam_id}/classes/{class_name}/results", response_model=ResultsPublic,
            dependencies=[permit("results:read")])
def class_results(exam_id: RowId, class_name: str, principal: CurrentPrincipal, session: ReadSession,
                  school_id: SchoolQuery = None) -> ResultsPublic:
    """One class's results with per-question scores."""
    _, _, run = _newest(session, principal, exam_id, school_id)
    known = _known_class(session, principal, run, class_name)
    return ResultsPublic(run=GradeRunPublic(**grading_runs.run_summary(run)),
                         items=_rows(session, run, detail=True, class_name=known))


@router.get("/exams/{exam_id}/analytics", dependencies=[permit("results:read")],
            responses={200: {"content": {"application/json": {}},
                             "description": "analytics JSON (yuejuan.analytics/1: analytics/report_json.py)"}})
def analytics(exam_id: RowId, principal: CurrentPrincipal, session: ReadSession, settings: SettingsDep,
              school_id: SchoolQuery = None) -> Response:
    """Score, item and knowledge-point analysis of the school's newest run (computed once, then kept); for a
    teacher, the students listed are their own classes' and another class too small to show without giving a
    student away keeps its head count only (``analytics.report_json.limit_analysis``)."""
    _, _, run = _newest(session, principal, exam_id, school_id)
    try:
        data = grading_runs.analytics_document(settings, run, classes=teaching.taught_classes(session, principal))
    except ValueError as error:  # no graded student yet: nothing to analyse
        raise HTTPException(status.HTTP_409_CONFLICT, str(error)) from None
    return Response(data, media_type="application/json")


@router.get("/exams/{exam_id}/progress", dependencies=[permit("results:read")],
            responses={200: {"content": {"application/json": {}},
                             "description": "students over time: trend and value-added (analytics/report_json.py "
                                            "progress_json)"}})
def progress(exam_id: RowId, principal: CurrentPrincipal, session: ReadSession, settings: SettingsDep,
             previous: Annotated[list[int], Query(min_length=1, max_length=10,
                                                  description="earlier exams, oldest first")],
             school_id: SchoolQuery = None) -> Response:
    """The school's students over time: this exam's newest run against the newest runs of ``previous`` exams,
    linked by 学籍号 (考号 change between exams), with value-added per class from the last of them; for a
    teacher, the students of their own classes in this exam."""
    current = _newest(session, principal, exam_id, school_id)  # first: another school's exam is a 404, not a 422
    distinct = len(set(previous)) == len(previous)
    if not distinct or exam_id in previous or any(not 1 <= each <= 2**31 - 1 for each in previous):
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                            "previous: distinct earlier exam ids, none of them this exam")
    runs = [_newest(session, principal, each, school_id)[2] for each in previous] + [current[2]]
    try:
        document = grading_runs.progress_document(settings, runs,
                                                  classes=teaching.taught_classes(session, principal))
    except ValueError as error:  # a run with nothing to read
        raise HTTPException(status.HTTP_409_CONFLICT, str(error)) from None
    return Response(json.dumps(document, ensure_ascii=False, allow_nan=False), media_type="application/json")


def _download(path: Path, filename: str, media_type: str) -> FileResponse:
    """The file with a Content-Disposition that keeps a Chinese name (RFC 5987 ``filename*``) and an ASCII
    fallback for old clients."""
    if not path.is_file():
        raise not_found("no such report (a class without graded students has none)")
    fallback = "".join(ch if ch.isascii() and (ch.isalnum() or ch in "._-") else "_" for ch in filename)
    disposition = f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"
    return FileResponse(path, media_type=media_type, headers={"Content-Disposition": disposition})


def _exported(service, principal: Principal, exam: Exam, run: GradeRun, response: FileResponse, what: str,
              class_name: str | None = None, classes: Collection[str] | None = None) -> FileResponse:
    """``response``, once the download of results (``what``) is in the audit log, with the classes it holds
    when it is a teacher's (``classes``: their own; null for the whole school)."""
    audit.record_now(service, principal, "results.export", "grade_run", run.id, school_id=run.school_id,
                     after={"exam_id": exam.id, "file": what, "class_name": class_name,
                            "classes": None if classes is None else sorted(classes)})
    return response


def _reports(settings, run: GradeRun) -> Path:
    return _made(grading_runs.ensure_reports, settings, run)


def _made(make: Callable[..., Path], *args) -> Path:
    """``make(*args)``, a report of a run; 409 when no student is graded yet (nothing to report)."""
    try:
        return make(*args)
    except ValueError as error:
        raise HTTPException(status.HTTP_409_CONFLICT, str(error)) from None


@router.get("/exams/{exam_id}/reports/grade.xlsx", response_class=FileResponse, dependencies=[permit("results:read")])
def grade_workbook(exam_id: RowId, principal: CurrentPrincipal, session: ReadSession, service: ServiceDep,
                   school_id: SchoolQuery = None) -> FileResponse:
    """The grade's workbook (年级: the school's classes compared); audited. A teacher's lists the students of
    their own classes only, with the grade's figures (built for their set of classes, then kept)."""
    exam, _, run = _newest(session, principal, exam_id, school_id)
    taught = teaching.taught_classes(session, principal)
    path = (_reports(service.settings, run) / "grade.xlsx" if taught is None
            else _made(grading_runs.scoped_grade_workbook, service.settings, run, taught))
    return _exported(service, principal, exam, run, _download(
        path, f"{exam.code}_{run.school_id}_年级.xlsx", XLSX), "grade.xlsx", classes=taught)


@router.get("/exams/{exam_id}/reports/classes/{class_name}.xlsx", response_class=FileResponse,
            dependencies=[permit("results:read")])
def class_workbook(exam_id: RowId, class_name: str, principal: CurrentPrincipal, session: ReadSession,
                   service: ServiceDep, school_id: SchoolQuery = None) -> FileResponse:
    """A class's workbook; audited."""
    exam, _, run = _newest(session, principal, exam_id, school_id)
    known = _known_class(session, principal, run, class_name)
    workbook, _ = grading_runs.report_names(known)
    return _exported(service, principal, exam, run, _download(
        _reports(service.settings, run) / workbook, f"{exam.code}_{known}.xlsx", XLSX), "class.xlsx", known)


@router.get("/exams/{exam_id}/reports/classes/{class_name}/students.pdf", response_class=FileResponse,
            dependencies=[permit("results:read")])
def class_students_pdf(exam_id: RowId, class_name: str, principal: CurrentPrincipal, session: ReadSession,
                       service: ServiceDep, school_id: SchoolQuery = None) -> FileResponse:
    """One diagnosis page per student of the class; audited."""
    exam, _, run = _newest(session, principal, exam_id, school_id)
    known = _known_class(session, principal, run, class_name)
    _, pdf = grading_runs.report_names(known)
    return _exported(service, principal, exam, run, _download(
        _reports(service.settings, run) / pdf, f"{exam.code}_{known}_学生报告.pdf", "application/pdf"),
        "students.pdf", known)


@router.get("/exams/{exam_id}/reports/classes/{class_name}/wrongbook.pdf", response_class=FileResponse,
            dependencies=[permit("results:read")])
def class_wrongbook_pdf(exam_id: RowId, class_name: str, principal: CurrentPrincipal, session: ReadSession,
                        service: ServiceDep, school_id: SchoolQuery = None) -> FileResponse:
    """The class's 错题本 (each student's wrong questions with the item bank's stems, practice for each weak
    knowledge point, the practice key last), built with the school's item bank (``PUT /bank``) as ``yuejuan
    report --wrongbook`` builds it, once per run and bank; audited. 409 when the school has no bank."""
    exam, school, run = _newest(session, principal, exam_id, school_id)
    known = _known_class(session, principal, run, class_name)
    bank = current_bank(session, school)
    if bank is None:
        raise HTTPException(status.HTTP_409_CONFLICT, "this school has no item bank: a school admin uploads it "
                                                      "(PUT /api/v1/bank) before the 错题本 can be made")
    sha = bank.sha256
    path = _made(grading_runs.class_wrongbook, service.settings, run, known, sha, lambda: service.blobs.read(sha))
    return _exported(service, principal, exam, run, _download(
        path, f"{exam.code}_{known}_错题本.pdf", "application/pdf"), "wrongbook.pdf", known)


@router.get("/exams/{exam_id}/scores.xlsx", response_class=FileResponse, dependencies=[permit("scores:export")])
def scores_workbook(exam_id: RowId, principal: CurrentPrincipal, session: ReadSession, service: ServiceDep,
                    school_id: SchoolQuery = None) -> FileResponse:
    """The scores table of the newest run (成绩 and 异常 sheets; 考号 as text); audited. A teacher's holds the
    students of their own classes only."""
    exam, _, run = _newest(session, principal, exam_id, school_id)
    folder, taught = _scores_folder(session, principal, service.settings, run)
    return _exported(service, principal, exam, run, _download(
        folder / "scores.xlsx", f"{exam.code}_{run.school_id}_成绩.xlsx", XLSX), "scores.xlsx", classes=taught)


@router.get("/exams/{exam_id}/scores.csv", response_class=FileResponse, dependencies=[permit("scores:export")])
def scores_csv(exam_id: RowId, principal: CurrentPrincipal, session: ReadSession, service: ServiceDep,
               school_id: SchoolQuery = None) -> FileResponse:
    """The scores table of the newest run as CSV (UTF-8 with BOM); audited. A teacher's holds the students of
    their own classes only."""
    exam, _, run = _newest(session, principal, exam_id, school_id)
    folder, taught = _scores_folder(session, principal, service.settings, run)
    return _exported(service, principal, exam, run, _download(
        folder / "scores.csv", f"{exam.code}_{run.school_id}_成绩.csv", "text/csv; charset=utf-8"), "scores.csv",
        classes=taught)


def _scores_folder(session: Session, principal: Principal, settings, run: GradeRun
                   ) -> tuple[Path, set[str] | None]:
    """The folder of the scores table the caller may have (the run's own; a teacher's classes' for a teacher)
    and the teacher's classes (None: the whole school)."""
    taught = teaching.taught_classes(session, principal)
    if taught is None:
        return grading_runs.run_dir(settings, run.id) / "grade", None
    return _made(grading_runs.scoped_scores, settings, run, taught), taught
