"""The 网上阅卷 pages of those who run the marking: setting up a question (school admin, an exam's subject leader),
supervising it (the school admin, the question's leader: progress, each marker against the group, 问题卷 and the
leader's ruling, reassignment, loading new answers), and the municipal system's pooled city marking (联考).

Every form carries the CSRF token and goes through the marking API's own functions
(``api/service/routes/marking.py``): the same roles, per-school isolation, checks and audit entries.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import ValidationError
from sqlalchemy import select
from starlette.datastructures import FormData

from api.service.deps import KIB, CurrentPrincipal, ReadSession, RowId, ServiceDep, WriteSession, not_found, permit
from api.service.models import Exam, School, User
from api.service.routes import exams
from api.service.routes import marking as marking_api
from api.service.schemas.marking import (PROBLEM_NAMES, CityMarkingCreate, MarkingSetupCreate, MarkingSetupUpdate,
                                         ProblemResolve, Reassign)
from api.service.security import Principal
from api.web.guard import csrf_form
from api.web.render import render

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
CheckedForm = Annotated[FormData, Depends(csrf_form)]
_FORM = 16 * KIB
#: What the final-score rules are called on the page.
FINAL_RULE_NAMES = {"closest_two": "三评后取最接近两评的均分, 仍超阈值由题组长仲裁", "ruling": "超过阈值直接由题组长仲裁"}


def _problem(error: Exception) -> str:
    from api.web.pages import _problem as problem

    return problem(error)


def _written_questions(exam_row: Exam) -> list[dict]:
    """The exam's written (subjective) questions: id and points."""
    from api.service.grading_runs import parse_definition

    return [{"id": q.id, "points": q.points} for q in parse_definition(exam_row).questions if q.type == "subjective"]


def _answer_regions(exam_row: Exam) -> list[dict]:
    """The card's answer regions a 题块 may name, page by page: id, page, question and the other pages it
    continues on. A region of no question (the handwritten name) is not offered: the crop blanks it as an
    identity area."""
    from api.service.marking import answer_regions

    return [{"id": r.id, "page": r.page, "question": r.question, "continues": r.pages[1:]}
            for r in answer_regions(exam_row.template or {}).values() if r.question]


def _block_view(exam_row: Exam, regions: list[str]) -> list[dict]:
    """The set-up's regions in its order, with their pages, for the supervision page."""
    from api.service.marking import answer_regions

    known = answer_regions(exam_row.template or {})
    return [{"id": name, "page": known[name].page, "continues": known[name].pages[1:]} if name in known
            else {"id": name, "page": None, "continues": ()} for name in regions]


def _people(session, school_id: str | None) -> list[User]:
    """Active people who may mark: of one school, or of every school (a pooled city marking)."""
    query = select(User).where(User.active.is_(True)).order_by(User.school_id, User.username)
    if school_id is not None:
        query = query.where(User.school_id == school_id)
    return list(session.scalars(query))


def _number(form: FormData, name: str, default: float | None = None) -> float | None:
    raw = str(form.get(name) or "").strip()
    if not raw:
        return default
    try:
        return float(raw)
    except ValueError:
        raise HTTPException(422, f"{name}: 请输入数字") from None


def _ids(form: FormData, name: str) -> list[int]:
    values = []
    for raw in form.getlist(name):
        if not str(raw).isdigit():
            raise HTTPException(422, f"{name}: 不是有效的用户")
        values.append(int(raw))
    return values


def _setup_body(form: FormData, model=MarkingSetupCreate):
    """The set-up a form asks for (checked by the API's own model)."""
    leader = str(form.get("leader_id") or "").strip()
    step = _number(form, "step", 1)
    regions = [str(name) for name in form.getlist("regions")]
    return model(question=str(form.get("question") or ""), regions=regions or None,
                 full_marks=_number(form, "full_marks"),
                 step=1 if step == 1 else step, double=form.get("double") in ("1", "on"),
                 tolerance=_number(form, "tolerance", 0), final_rule=str(form.get("final_rule") or "closest_two"),
                 self_check_rate=(_number(form, "self_check_percent", 0) or 0) / 100,
                 markers=_ids(form, "markers"), leader_id=int(leader) if leader.isdigit() else None)


# --- set-up (a school's marking) ------------------------------------------------------------------------------

def _setup_form(request: Request, principal: Principal, session, *, error: str | None = None, status_code=200,
                chosen: int | None = None) -> Response:
    listed = [e for e in exams.list_exams(principal, session)]
    exam_row = session.get(Exam, chosen) if chosen else None
    if exam_row is None and listed:
        exam_row = session.get(Exam, listed[0].id)
    return render(request, "marking_setup.html", principal, exams=listed, exam=exam_row,
                  questions=_written_questions(exam_row) if exam_row is not None else [],
                  regions=_answer_regions(exam_row) if exam_row is not None else [],
                  people=_people(session, principal.school_id), rules=FINAL_RULE_NAMES, error=error,
                  status_code=status_code)


@router.get("/marking/setup", dependencies=[permit("marking:manage", roles=("teacher", "school_admin"))])
def setup_page(request: Request, principal: CurrentPrincipal, session: ReadSession, exam: int | None = None
               ) -> Response:
    """The form that sets up the marking of one written question (题块: the answer regions shown, from one page
    of the card or several): full marks, step, markers, 双评 and its 误差阈值, leader, final-score rule, 自评
    share."""
    return _setup_form(request, principal, session, chosen=exam)


@router.post("/marking/setup", dependencies=[permit("marking:manage", roles=("teacher", "school_admin"),
                                                    body=_FORM)])
def create_setup(request: Request, form: CheckedForm, principal: CurrentPrincipal, session: WriteSession,
                 service: ServiceDep) -> Response:
    exam_id = str(form.get("exam_id") or "")
    try:
        if not exam_id.isdigit():
            raise HTTPException(422, "请选择考试")
        made = marking_api.create_setup(int(exam_id), _setup_body(form), principal, session, service)
    except (HTTPException, ValidationError) as error:
        if isinstance(error, HTTPException) and error.status_code == 404:
            raise
        session.rollback()
        return _setup_form(request, principal, session, error=_problem(error), status_code=422,
                           chosen=int(exam_id) if exam_id.isdigit() else None)
    return RedirectResponse(f"/marking/{made.id}/supervise", status_code=303)


# --- supervision -----------------------------------------------------------------------------------------------

def _supervision(request: Request, principal: Principal, session, setup_id: int, *, message: str | None = None,
                 error: str | None = None, status_code: int = 200) -> Response:
    setup = marking_api._managed(session, principal, setup_id)
    figures = marking_api.progress(setup_id, principal, session)
    problems = marking_api.problems(setup_id, principal, session)
    public = marking_api.read_setup(setup_id, principal, session)
    exam_row = session.get(Exam, setup.exam_id)
    names = dict(session.execute(select(User.id, User.username).where(
        User.id.in_(public.markers + [public.leader_id]))).all())
    return render(request, "marking_supervise.html", principal, setup=public, figures=figures, problems=problems,
                  names=names, exam=exam_row, block=_block_view(exam_row, public.regions), rules=FINAL_RULE_NAMES,
                  problem_names=PROBLEM_NAMES, message=message, error=error, status_code=status_code,
                  people=_people(session, None if setup.pooled else setup.school_id))


@router.get("/marking/{setup_id}/supervise", dependencies=[permit("marking:manage")])
def supervise_page(request: Request, setup_id: RowId, principal: CurrentPrincipal, session: ReadSession,
                   done: str | None = None) -> Response:
    """Progress of the question and of each marker (mean and spread against the group, agreement with the
    co-marker, 自评 consistency), the 问题卷 waiting for the leader's ruling, reassignment."""
    return _supervision(request, principal, session, setup_id, message=_DONE.get(done or ""))


_DONE = {"load": "已载入新扫描的答卷.", "reassign": "已转移任务.", "resolve": "问题卷已处理.", "change": "设置已保存."}


def _after(request: Request, principal: Principal, session, setup_id: int, done: str, action) -> Response:
    """Run a supervision form's ``action``; back to the page (with what was done, or why not)."""
    try:
        action()
    except (HTTPException, ValidationError) as error:
        if isinstance(error, HTTPException) and error.status_code in (403, 404):
            raise
        session.rollback()
        return _supervision(request, principal, session, setup_id, error=_problem(error), status_code=422)
    return RedirectResponse(f"/marking/{setup_id}/supervise?done={done}", status_code=303)


@router.post("/marking/{setup_id}/load", dependencies=[permit("marking:manage", body=_FORM)])
def load_answers(request: Request, setup_id: RowId, form: CheckedForm, principal: CurrentPrincipal,
                 session: WriteSession, service: ServiceDep) -> Response:
    return _after(request, principal, session, setup_id, "load",
                  lambda: marking_api.load_answers(setup_id, principal, session, service))


@router.post("/marking/{setup_id}/reassign", dependencies=[permit("marking:manage", body=_FORM)])
def reassign(request: Request, setup_id: RowId, form: CheckedForm, principal: CurrentPrincipal,
             session: WriteSession) -> Response:
    """A marker's tasks in hand to another marker, or back to the pool."""
    def apply():
        source, target = str(form.get("from_user") or ""), str(form.get("to_user") or "")
        if not source.isdigit():
            raise HTTPException(422, "请选择阅卷人")
        body = Reassign(from_user=int(source), to_user=int(target) if target.isdigit() else None)
        marking_api.reassign(setup_id, body, principal, session)

    return _after(request, principal, session, setup_id, "reassign", apply)


@router.post("/marking/{setup_id}/change", dependencies=[permit("marking:manage", body=_FORM)])
def change_setup(request: Request, setup_id: RowId, form: CheckedForm, principal: CurrentPrincipal,
                 session: WriteSession) -> Response:
    """The markers, the leader and the 自评 share (the rules themselves are fixed once marking began)."""
    def apply():
        leader = str(form.get("leader_id") or "")
        body = MarkingSetupUpdate(markers=_ids(form, "markers") or None,
                                  leader_id=int(leader) if leader.isdigit() else None,
                                  self_check_rate=(_number(form, "self_check_percent", 0) or 0) / 100)
        marking_api.update_setup(setup_id, body, principal, session)

    return _after(request, principal, session, setup_id, "change", apply)


@router.post("/marking/{setup_id}/problems/{token}", dependencies=[permit("marking:manage", body=_FORM)])
def resolve_problem(request: Request, setup_id: RowId, token: marking_api.Token, form: CheckedForm,
                    principal: CurrentPrincipal, session: ReadSession, service: ServiceDep) -> Response:
    """The leader's ruling on a 问题卷: a score (the final score) or back to the markers."""
    def apply():
        action = "return" if form.get("action") == "return" else "score"
        body = ProblemResolve(action=action, score=_number(form, "score") if action == "score" else None)
        if action == "score" and body.score is None:
            raise HTTPException(422, "请输入分数")
        marking_api.resolve_problem(token, body, principal, service)

    return _after(request, principal, session, setup_id, "resolve", apply)


@router.get("/marking/problems/{token}/image", dependencies=[permit("marking:manage")])
def problem_image(token: marking_api.Token, principal: CurrentPrincipal, service: ServiceDep) -> Response:
    """A problem paper's crop, for those who manage the question."""
    return marking_api.task_image(token, principal, service)


# --- the city's pooled marking (municipal) ----------------------------------------------------------------------

def _city_page(request: Request, principal: Principal, session, exam_id: int, *, error: str | None = None,
               status_code: int = 200) -> Response:
    exam_row = session.get(Exam, exam_id)
    if exam_row is None or exam_row.school_id is not None:
        raise not_found("city exam not found")
    schools = dict(session.execute(select(School.id, School.name)).all())
    return render(request, "city_marking.html", principal, exam=exam_row, questions=_written_questions(exam_row),
                  regions=_answer_regions(exam_row),
                  pooled=marking_api.city_progress(exam_id, session), people=_people(session, None),
                  schools=schools, rules=FINAL_RULE_NAMES, error=error, status_code=status_code)


@router.get("/city/exams/{exam_id}/marking", dependencies=[permit("aggregates:read")])
def city_marking(request: Request, exam_id: RowId, principal: CurrentPrincipal, session: ReadSession) -> Response:
    """The city exam's pooled markings with their progress, and the form that sets one up."""
    return _city_page(request, principal, session, exam_id)


@router.post("/city/exams/{exam_id}/marking", dependencies=[permit("exams:write", roles=("municipal",), body=_FORM)])
def create_city_marking(request: Request, exam_id: RowId, form: CheckedForm, principal: CurrentPrincipal,
                        session: WriteSession, service: ServiceDep) -> Response:
    try:
        marking_api.create_city_setup(exam_id, _setup_body(form, CityMarkingCreate), principal, session, service)
    except (HTTPException, ValidationError) as error:
        if isinstance(error, HTTPException) and error.status_code == 404:
            raise
        session.rollback()
        return _city_page(request, principal, session, exam_id, error=_problem(error), status_code=422)
    return RedirectResponse(f"/city/exams/{exam_id}/marking", status_code=303)
