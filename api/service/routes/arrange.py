"""考场编排 in the service: a school admin seats the school's students into rooms and downloads the files.

The students are the school's roster in the service (optionally one 年级's classes, or some classes); another
school's students are never read, and another school's exam (for its sheet template) is not found (404). The
answer is a ZIP of what ``yuejuan exam arrange`` writes (:mod:`api.arranging`); nothing is stored, and every
arrangement is in the audit log (who, how many students, the rooms, the seed and the 考号 format).
"""

from __future__ import annotations

import io
import tempfile
import zipfile
from pathlib import Path
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Response, status
from sqlalchemy import select

from api.service import audit
from api.service.deps import CurrentPrincipal, ReadSession, ServiceDep, not_found, permit, school_of
from api.service.json_body import LimitedJSONRoute
from api.service.models import Exam, SchoolClass, Student
from api.service.schemas.arrange import ArrangementCreate

router = APIRouter(tags=["arrangements"], route_class=LimitedJSONRoute)

#: Most students one request seats (a large school's grade is about 1 500; the PDFs grow with it).
MOST_STUDENTS = 5000


def _students(session, school: str, body: ArrangementCreate) -> list:
    from grading.roster import Student as RosterStudent

    query = select(Student).where(Student.school_id == school)
    if body.grade is not None:
        names = select(SchoolClass.name).where(SchoolClass.school_id == school, SchoolClass.grade == body.grade)
        query = query.where(Student.class_name.in_(names))
    if body.class_names is not None:
        query = query.where(Student.class_name.in_(body.class_names))
    rows = list(session.scalars(query.order_by(Student.exam_id).limit(MOST_STUDENTS + 1)))
    if not rows:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "no students to arrange (roster, grade or "
                                                                  "classes empty)")
    if len(rows) > MOST_STUDENTS:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"more than {MOST_STUDENTS} students: arrange "
                                                                  "one grade or some classes at a time")
    return [RosterStudent(exam_id=r.exam_id, student_no=r.student_no, name=r.name, class_name=r.class_name,
                          school_code=school, version=r.version) for r in rows]


def _zip(folder: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            archive.write(path, path.relative_to(folder).as_posix())
    return buffer.getvalue()


@router.post("/arrangements", status_code=200, dependencies=[permit("roster:write", roles=("school_admin",))],
             response_class=Response,
             responses={200: {"content": {"application/zip": {}}, "description": "the arrangement's files"},
                        422: {"description": "too few seats, a 考号 format that could collide, no students"}})
def create_arrangement(body: ArrangementCreate, principal: CurrentPrincipal, session: ReadSession,
                       service: ServiceDep) -> Response:
    """Seat the school's students into rooms, classmates apart, each seat with its 考号: a ZIP of 考场编排.csv/xlsx,
    新名单.csv/xlsx (the roster with the new 考号), 考场门贴/座位标签/签到表/缺考登记表.pdf and 个性化答题卡/考场NN.pdf.
    Audited."""
    from api.arranging import ArrangeOptions, arrange_students, write_arrangement
    from omr.template import Template

    school = school_of(principal)
    template: str | Template = "cn-a4-55"
    if body.exam_id is not None:
        exam = session.get(Exam, body.exam_id)
        if exam is None or exam.school_id not in (None, school):  # a city-wide exam (联考) is every school's
            raise not_found("exam not found")
        template = Template.model_validate(exam.template)
    options = ArrangeOptions(rooms=body.rooms, capacity=body.capacity, columns=body.columns,
                             school=body.school_number, grade=body.grade_number,
                             exam_id_format=body.exam_id_format, template=template, seed=body.seed,
                             title=body.title, sheets=body.sheets)
    try:
        students = _students(session, school, body)  # a stored row the roster's rules refuse is a ValueError too
        arrangement = arrange_students(students, options)
        with tempfile.TemporaryDirectory(prefix="yuejuan-arrange-") as folder:
            write_arrangement(arrangement, Path(folder), options)
            data = _zip(Path(folder))
    except ValueError as error:  # too few seats, a format that could collide, a sheet without a barcode field
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(error)) from None
    audit.record_now(service, principal, "arrangement.create", "arrangement", body.title or "考场编排",
                     school_id=school, after={"students": len(students), "rooms": body.rooms,
                                              "capacity": body.capacity, "seed": body.seed,
                                              "exam_id_format": body.exam_id_format, "exam_id": body.exam_id,
                                              "adjacent_classmates": arrangement.adjacent_classmates()})
    filename = f"{body.title or '考场编排'}.zip"
    fallback = "".join(ch if ch.isascii() and (ch.isalnum() or ch in "._-") else "_" for ch in filename)
    return Response(data, media_type="application/zip", headers={
        "Content-Disposition": f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"})
