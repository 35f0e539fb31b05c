"""The 网上阅卷 pages: a marker's questions, and the marking page itself (the crop only, scored with the keyboard,
the next crop shown without a reload). Everything goes through the marking API's own functions
(``api/service/routes/marking.py``): the same anonymity, checks of full marks and step, 回评, 问题卷 and audit."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response

from api.service.deps import KIB, CurrentPrincipal, ReadSession, RowId, ServiceDep, permit
from api.service.routes import exams
from api.service.routes import marking as marking_api
from api.service.schemas.marking import PROBLEM_NAMES, ProblemCreate, ScoreCreate, ScoreResult, TaskPublic
from api.web.guard import csrf_header_checked
from api.web.render import render

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
#: Tasks a marker holds: the one on screen and those fetched ahead, so the next crop shows at once.
AHEAD = 3
_SCORES = [permit("marking:score", body=4 * KIB), Depends(csrf_header_checked)]


@router.get("/marking", dependencies=[permit("marking:score")])
def marking_home(request: Request, principal: CurrentPrincipal, session: ReadSession) -> Response:
    """The questions the caller marks or leads, exam by exam."""
    rows = []
    for exam in exams.list_exams(principal, session):
        for setup in marking_api.list_setups(exam.id, principal, session):
            leads = setup.leader_id == principal.user_id
            rows.append({"exam": exam, "setup": setup, "leads": leads,
                         "manages": leads or (principal.role == "school_admin" and not setup.pooled),
                         "marks": principal.user_id in setup.markers or leads})
    return render(request, "marking_home.html", principal, rows=rows)


@router.get("/marking/{setup_id}", dependencies=[permit("marking:score")])
def marking_page(request: Request, setup_id: RowId, principal: CurrentPrincipal, session: ReadSession) -> Response:
    """The marking page: its script fetches the tasks and crops (nothing on it names the student)."""
    setup = marking_api.read_setup(setup_id, principal, session)
    return render(request, "marking.html", principal, setup=setup, problems=PROBLEM_NAMES, ahead=AHEAD)


@router.get("/marking/{setup_id}/next", dependencies=[permit("marking:score")])
def next_tasks(setup_id: RowId, principal: CurrentPrincipal, service: ServiceDep) -> list[TaskPublic]:
    return marking_api.next_tasks(setup_id, principal, service, count=AHEAD)


@router.get("/marking/{setup_id}/history", dependencies=[permit("marking:score")])
def history(setup_id: RowId, principal: CurrentPrincipal, session: ReadSession) -> list[TaskPublic]:
    """回评: the caller's last scores of the question (those still ``changeable`` can be scored again)."""
    return marking_api.history(setup_id, principal, session, limit=20)


@router.post("/marking/tasks/{token}/score", dependencies=_SCORES)
def score(token: marking_api.Token, body: ScoreCreate, principal: CurrentPrincipal, service: ServiceDep
          ) -> ScoreResult:
    """A score (or a changed one, 回评), answered with the next tasks fetched ahead."""
    return marking_api.score_task(token, body, principal, service, prefetch=AHEAD)


@router.post("/marking/tasks/{token}/problem", dependencies=_SCORES)
def problem(token: marking_api.Token, body: ProblemCreate, principal: CurrentPrincipal, service: ServiceDep
            ) -> ScoreResult:
    """问题卷: to the question's leader; answered with the next tasks."""
    return marking_api.report_problem(token, body, principal, service, prefetch=AHEAD)


@router.get("/marking/tasks/{token}/image", dependencies=[permit("marking:score")])
def crop(token: marking_api.Token, principal: CurrentPrincipal, service: ServiceDep) -> Response:
    return marking_api.task_image(token, principal, service)
