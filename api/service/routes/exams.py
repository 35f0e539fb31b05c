"""Exams: the grading definition (key, points, versions, knowledge points: the 双向细目表) and its sheet template."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, UploadFile, status
from pydantic import Field
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from api.service import audit
from api.service.deps import (IMPORT_BODY, MIB, CurrentPrincipal, ReadSession, RowId, SettingsDep, WriteSession,
                              not_found, permit)
from api.service.json_body import LimitedJSONRoute
from api.service.models import Exam, School, utcnow
from api.service.schemas.common import Input, Output, column_length, text
from api.service.security import Principal
from api.service.uploaded import uploaded_table

router = APIRouter(tags=["exams"], route_class=LimitedJSONRoute)
ExamGrade = text(Exam.grade, min_length=1)  # 年级 sitting an exam (高一 …)


class ExamCreate(Input):
    definition: dict[str, Any] = Field(description="the exam JSON (see grading/samples/cn-a4-55-exam.json)")
    template: dict[str, Any] | None = Field(default=None, description="the sheet template JSON; default: the "
                                                                      "bundled template the exam names")
    grade: ExamGrade | None = Field(
        default=None, description="年级 sitting the exam (高一 …): its roster is the students of classes of that "
                                  "grade; default: every student of the school")


class ExamPublic(Output):
    id: int
    code: str
    school_id: str | None
    subject: str
    grade: str | None
    definition: dict[str, Any]
    template_id: str
    warnings: list[str] = []


def exam_public(exam: Exam, warnings: list[str] | None = None) -> ExamPublic:
    return ExamPublic(id=exam.id, code=exam.code, school_id=exam.school_id, subject=exam.subject,
                      grade=exam.grade, definition=exam.definition, template_id=str(exam.template.get("id", "")),
                      warnings=warnings or [])


def visible_exam(session: Session, principal: Principal, exam_id: int) -> Exam:
    """The exam if the caller may see it (its school's own, or a city-wide one); 404 otherwise."""
    exam = session.get(Exam, exam_id)
    if exam is None or (principal.school_id is not None and exam.school_id not in (None, principal.school_id)):
        raise not_found("exam not found")
    return exam


def owned_exam(session: Session, principal: Principal, exam_id: int) -> Exam:
    """The exam if the caller may change it: its school's (teachers, admins) or a city-wide one (municipal)."""
    exam = visible_exam(session, principal, exam_id)
    if exam.school_id != principal.school_id:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "a city-wide exam is changed by the municipal system")
    return exam


def _text_problem(value: Any, where: str) -> str | None:
    """The first string (key or value) of a JSON document that breaks the text rule, with where it is, or None:
    an exam's names end up in workbooks, PDFs and the database, which refuse control characters."""
    from grading.text import text_problem

    if isinstance(value, str):
        problem = text_problem(value)
        return f"{where}: {problem}" if problem else None
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        found = _text_problem(key, where) or _text_problem(item, f"{where}.{key}")
        if found:
            return found
    return None


def _validated(definition: dict[str, Any], template: dict[str, Any] | None) -> tuple[Any, Any, list[str]]:
    from grading.exam import ExamError, parse_exam
    from grading.exam_io import template_problems
    from grading.text import clean_text
    from omr.template import Template
    from pydantic import ValidationError
    from sample_sheets import bundled_templates, resolve_template

    problem = _text_problem(definition, "exam") or _text_problem(template, "template")
    if problem:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, problem)
    try:
        exam = parse_exam(definition)
        clean_text(exam.subject, field="subject", max_length=column_length(Exam.subject))  # its column's length
    except (ExamError, ValueError) as error:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"exam: {error}") from None
    if template is not None:
        try:
            sheet = Template.model_validate(template)
        except ValidationError as error:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"template: {error}") from None
    elif exam.template in bundled_templates():  # never a path: a client must not name files on the server
        sheet = resolve_template(exam.template)
    else:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                            f"exam names template {exam.template!r}: send its JSON as 'template' (bundled: "
                            f"{', '.join(bundled_templates())})")
    return exam, sheet, template_problems(exam, sheet)


def _store(session: Session, principal: Principal, exam: Any, sheet: Any, warnings: list[str],
           grade: str | None = None) -> ExamPublic:
    from grading.exam import exam_to_dict

    school = principal.school_id
    if session.scalar(select(Exam.id).where(Exam.code == exam.id, Exam.school_id.is_(None) if school is None
                                            else Exam.school_id == school)):
        raise HTTPException(status.HTTP_409_CONFLICT, f"exam {exam.id} exists")
    if school is not None and session.get(School, school) is None:
        raise not_found("school not found")
    row = Exam(code=exam.id, school_id=school, subject=exam.subject, grade=grade, definition=exam_to_dict(exam),
               template=sheet.model_dump(mode="json"))
    session.add(row)
    session.flush()
    audit.record(session, principal, "exam.create", "exam", row.id, school_id=school,
                 after={"code": exam.id, "subject": exam.subject, "grade": grade, "template": sheet.id,
                        "warnings": warnings})
    session.commit()
    return exam_public(row, warnings)


@router.post("/exams", response_model=ExamPublic, status_code=201, dependencies=[permit("exams:write", body=MIB)])
def create_exam(body: ExamCreate, principal: CurrentPrincipal, session: WriteSession) -> ExamPublic:
    """A school's exam (teachers, admins) or a city-wide one (the municipal system); warnings say where exam
    and sheet disagree."""
    exam, sheet, warnings = _validated(body.definition, body.template)
    return _store(session, principal, exam, sheet, warnings, body.grade)


@router.post("/exams/import", response_model=ExamPublic, status_code=201,
             dependencies=[permit("exams:write", body=IMPORT_BODY)])
def import_exam(file: UploadFile, principal: CurrentPrincipal, session: WriteSession, settings: SettingsDep,
                template: Annotated[str | None, Form(description="bundled template id, when the workbook "
                                                                 "names none")] = None,
                grade: Annotated[ExamGrade | None, Form(description="年级 sitting it")] = None
                ) -> ExamPublic:
    """An exam from a key workbook (xlsx/csv: 题号, 题型, 答案, 分值, 知识点 ...)."""
    from grading.exam import exam_to_dict
    from grading.exam_io import ExamImportError, load_exam_any

    with uploaded_table(file, settings.max_file_bytes, "key workbook", keep_stem=True) as path:
        try:
            imported = load_exam_any(path, **({"template": template} if template else {}))
        except (ExamImportError, ValueError, KeyError) as error:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(error)) from None
    exam, sheet, warnings = _validated(exam_to_dict(imported), None)
    return _store(session, principal, exam, sheet, warnings, grade)


@router.get("/exams", response_model=list[ExamPublic], dependencies=[permit("exams:read")])
def list_exams(principal: CurrentPrincipal, session: ReadSession) -> list[ExamPublic]:
    query = select(Exam).order_by(Exam.id)
    if principal.school_id is not None:
        query = query.where(or_(Exam.school_id.is_(None), Exam.school_id == principal.school_id))
    return [exam_public(e) for e in session.scalars(query)]


@router.get("/exams/{exam_id}", response_model=ExamPublic, dependencies=[permit("exams:read")])
def read_exam(exam_id: RowId, principal: CurrentPrincipal, session: ReadSession) -> ExamPublic:
    return exam_public(visible_exam(session, principal, exam_id))


def touch(exam: Exam) -> None:
    exam.updated_at = utcnow()
