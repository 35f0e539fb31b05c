"""网上阅卷 (online marking of written answers): set-up per question, tasks served to markers by opaque tokens
(a marker never sees the student, the sheet, the page or the school), scores with the next tasks in the same
answer, 回评, 问题卷, the leader's 仲裁 and problem queue, supervision and reassignment.

Who may do what, on top of the scopes (``marking:score``, ``marking:manage``): a set-up is made by the school
admin or the exam's subject leader (a teacher holding the exam's grant); it is managed (markers, answers,
problem papers, progress, reassignment) by the school admin and the set-up's leader (题组长); it is marked by
its markers, and its leader rules. Everything belongs to a school: another school's set-up or task is 404.

A pooled city marking (联考) is set up by the municipal system for one question of a city exam: the answers of
every school that sat it, markers of several schools, a leader who manages it (the host school's admin does not:
the answers are other schools'); a marker sees the crop only, so nothing tells them whose answer it is.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, status
from fastapi.responses import FileResponse, Response
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api.service import audit, marking
from api.service.context import Service
from api.service.deps import (CurrentPrincipal, ReadSession, RowId, ServiceDep, WriteSession, not_found, of_school,
                              permit)
from api.service.grading_runs import parse_definition
from api.service.json_body import LimitedJSONRoute
from api.service.marking_jobs import jobs_of
from api.service.models import Exam, ExamGrant, MarkingItem, MarkingMarker, MarkingSetup, MarkingTask, User
from api.service.routes.exams import visible_exam
from api.service.schemas.marking import (PROBLEM_NAMES, CityMarkingCreate, MarkingSetupCreate, MarkingSetupPublic,
                                         MarkingSetupUpdate, MarkerProgress, ProblemCreate, ProblemPublic,
                                         ProblemResolve, QuestionProgress, Reassign, ReassignResult, ScoreCreate,
                                         ScoreResult, TaskPublic)
from api.service.security import Principal

router = APIRouter(tags=["marking"], route_class=LimitedJSONRoute)
Prefetch = Annotated[int, Query(ge=0, le=20, description="how many next tasks to hand out with the answer")]
Count = Annotated[int, Query(ge=1, le=20, description="tasks to hold (the current one and those fetched ahead)")]
Token = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$", description="a task's opaque id")]
_IMAGE_HEADERS = {"Cache-Control": "private, max-age=300", "X-Content-Type-Options": "nosniff"}
_CLAIM_TRIES = 3


# --- who may ------------------------------------------------------------------------------------------------------

def _forbidden(detail: str) -> HTTPException:
    return HTTPException(status.HTTP_403_FORBIDDEN, detail)


def _setup(session: Session, principal: Principal, setup_id: int) -> MarkingSetup:
    """The set-up when it is the caller's school's, or a pooled city marking the caller marks or leads; else 404."""
    setup = session.get(MarkingSetup, setup_id)
    if setup is not None and setup.pooled:
        if principal.user_id == setup.leader_id or _is_marker(session, setup.id, principal.user_id):
            return setup
        raise not_found("marking set-up not found")
    return of_school(setup, principal, "marking set-up")


def _manages(principal: Principal, setup: MarkingSetup) -> bool:
    """The set-up's leader, and the school admin of a school's own marking (not of a pooled city marking)."""
    return principal.user_id == setup.leader_id or (
        principal.role == "school_admin" and not setup.pooled and setup.school_id == principal.school_id)


def _managed(session: Session, principal: Principal, setup_id: int) -> MarkingSetup:
    """The set-up when the caller manages it (the school admin, its leader); 403 for others of its school."""
    setup = _setup(session, principal, setup_id)
    if not _manages(principal, setup):
        raise _forbidden("managing this marking is for the school admin and the question's leader")
    return setup


def _is_marker(session: Session, setup_id: int, user_id: int | None) -> bool:
    return user_id is not None and session.get(MarkingMarker, (setup_id, user_id)) is not None


def _marked_by(session: Session, principal: Principal, setup_id: int) -> MarkingSetup:
    """The set-up when the caller marks or leads it; 403 for others of its school."""
    setup = _setup(session, principal, setup_id)
    if principal.user_id != setup.leader_id and not _is_marker(session, setup.id, principal.user_id):
        raise _forbidden("you are not a marker of this question")
    return setup


def _task(session: Session, principal: Principal, token: str) -> tuple[MarkingTask, MarkingSetup]:
    """The caller's own task (404 for anyone else's: a token says nothing about another marker's work).
    Not locked here: a change locks the task's answer first, then reads the task again (one lock order)."""
    task = session.scalar(select(MarkingTask).where(MarkingTask.token == token))
    if task is None or principal.user_id is None or task.marker_id != principal.user_id or task.status == "cancelled":
        raise not_found("task not found")
    return task, session.get(MarkingSetup, task.setup_id)


def _school_users(session: Session, principal: Principal, ids: list[int], *, any_school: bool = False) -> None:
    """422 unless every id is an active person of the caller's school (of any school: a pooled city marking)."""
    query = select(User.id).where(User.id.in_(ids), User.active.is_(True))
    if not any_school:
        query = query.where(User.school_id == principal.school_id)
    found = set(session.scalars(query))
    missing = [i for i in ids if i not in found]
    if missing:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                            f"user {missing[0]} is not an active teacher or admin of "
                            f"{'a school' if any_school else 'your school'}")


# --- views -------------------------------------------------------------------------------------------------------

def _setup_public(session: Session, setup: MarkingSetup, added: int = 0) -> MarkingSetupPublic:
    answers = session.scalar(select(func.count()).select_from(MarkingItem).where(MarkingItem.setup_id == setup.id))
    return MarkingSetupPublic(id=setup.id, exam_id=setup.exam_id, school_id=setup.school_id,
                              question=setup.question, regions=list(setup.regions), full_marks=setup.full_marks,
                              step=setup.step, double=setup.double, tolerance=setup.tolerance,
                              final_rule=setup.final_rule, self_check_rate=setup.self_check_rate,
                              leader_id=setup.leader_id, markers=marking.markers_of(session, setup.id),
                              answers=answers or 0, added=added, pooled=setup.pooled)


def _image_path(token: str) -> str:
    return f"/api/v1/marking/tasks/{token}/image"


def _task_public(session: Session, setup: MarkingSetup, task: MarkingTask, item_state: str | None = None
                 ) -> TaskPublic:
    view = marking.task_view(session, task, item_state)
    # A 自评 paper looks like any other to its marker (kind, changeable), or the check would check nothing.
    return TaskPublic(token=task.token, setup_id=setup.id, question=setup.question,
                      kind="first" if task.kind == "self" else task.kind, full_marks=setup.full_marks,
                      step=setup.step, image=_image_path(task.token), score=task.score, problem=task.problem,
                      scored_at=task.scored_at,
                      changeable=task.status == "assigned" or (task.status == "done" and view.item_state != "final"),
                      earlier=view.earlier)


def _next_tasks(session: Session, principal: Principal, setup: MarkingSetup, count: int) -> list[TaskPublic]:
    """The marker's next ``count`` tasks, claimed in a savepoint of the caller's transaction: a claim that lost
    a race with the same marker's other request (the database's unique rule) is tried again, and after a few
    losses the answer holds none (the page asks again) rather than losing what the transaction did before."""
    may_mark = _is_marker(session, setup.id, principal.user_id)
    for _ in range(_CLAIM_TRIES):
        try:
            with session.begin_nested():
                tasks = marking.hand_out(session, setup, principal.user_id, count, may_mark=may_mark)
        except IntegrityError:
            continue
        states = marking.item_states(session, tasks)
        return [_task_public(session, setup, t, states[t.item_id]) for t in tasks]
    return []


def _hand_out(service: Service, principal: Principal, setup_id: int, count: int) -> list[TaskPublic]:
    """:func:`_next_tasks` in a transaction of its own."""
    with marking.writing(service) as session:
        views = _next_tasks(session, principal, session.get(MarkingSetup, setup_id), count)
        session.commit()  # the views are made: they need nothing more from the transaction
        return views


# --- set-up --------------------------------------------------------------------------------------------------------

def _question_rules(exam: Exam, body: MarkingSetupCreate) -> tuple[float, list[str]]:
    """(full marks, template regions) of the set-up ``body`` asks for; 422 naming the problem."""
    from grading.exam import ExamError
    from grading.marking import MarkingRules, SetupError, validate_rules

    try:
        question = parse_definition(exam).question(body.question)
    except (ExamError, KeyError):
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"the exam has no question {body.question}"
                            ) from None
    if question.type != "subjective":
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"{body.question} is not a written question")
    full_marks = float(body.full_marks if body.full_marks is not None else question.points)
    if full_marks > question.points + 1e-9:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                            f"full marks {full_marks:g} are above the question's {question.points:g} points")
    try:
        validate_rules(MarkingRules(full_marks=full_marks, step=float(body.step), double=body.double,
                                    tolerance=body.tolerance, final_rule=body.final_rule))
        regions = marking.question_regions(exam.template, body.question, body.regions)
    except (SetupError, ValueError) as error:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(error)) from None
    return full_marks, regions


@router.post("/exams/{exam_id}/marking", response_model=MarkingSetupPublic, status_code=201,
             dependencies=[permit("marking:manage")])
def create_setup(exam_id: RowId, body: MarkingSetupCreate, principal: CurrentPrincipal, session: WriteSession,
                 service: ServiceDep) -> MarkingSetupPublic:
    """Set up the marking of one written question (or 题块) for the caller's school's sheets of the exam, and
    load every answer scanned so far. The school admin, or the exam's subject leader (its grant)."""
    exam = visible_exam(session, principal, exam_id)
    if principal.role != "school_admin" and session.scalar(select(ExamGrant.id).where(
            ExamGrant.exam_id == exam.id, ExamGrant.user_id == principal.user_id,
            ExamGrant.school_id == principal.school_id, ExamGrant.revoked_at.is_(None))) is None:
        raise _forbidden("setting up marking is for the school admin and the exam's subject leader")
    full_marks, regions = _question_rules(exam, body)
    leader = body.leader_id if body.leader_id is not None else principal.user_id
    markers = list(dict.fromkeys(body.markers))
    _school_users(session, principal, markers + [leader])
    if session.scalar(select(MarkingSetup.id).where(MarkingSetup.exam_id == exam.id,
                                                    MarkingSetup.question == body.question,
                                                    (MarkingSetup.school_id == principal.school_id)
                                                    | MarkingSetup.pooled.is_(True))):
        raise HTTPException(status.HTTP_409_CONFLICT, f"{body.question} already has a marking set-up (the "
                                                      "school's or the city's pooled marking)")
    setup = MarkingSetup(school_id=principal.school_id, exam_id=exam.id, question=body.question, regions=regions,
                         full_marks=full_marks, step=float(body.step), double=body.double,
                         tolerance=float(body.tolerance), final_rule=body.final_rule,
                         self_check_rate=float(body.self_check_rate), leader_id=leader, created_by=principal.actor)
    session.add(setup)
    session.flush()
    session.add_all(MarkingMarker(setup_id=setup.id, user_id=m) for m in markers)
    added = marking.load_items(session, setup, exam)
    audit.record(session, principal, "marking.setup", "marking_setup", setup.id,
                 after={"exam": exam.id, "question": setup.question, "regions": regions, "full_marks": full_marks,
                        "step": setup.step, "double": setup.double, "tolerance": setup.tolerance,
                        "final_rule": setup.final_rule, "self_check_rate": setup.self_check_rate,
                        "leader": leader, "markers": markers, "answers": added})
    session.commit()
    jobs_of(service).cut_crops(setup.id)
    return _setup_public(session, setup, added)


@router.get("/exams/{exam_id}/marking", response_model=list[MarkingSetupPublic],
            dependencies=[permit("marking:score")])
def list_setups(exam_id: RowId, principal: CurrentPrincipal, session: ReadSession) -> list[MarkingSetupPublic]:
    """The exam's marked questions of the caller's school (all for the school admin, else those the caller marks
    or leads), and the pooled city markings the caller marks or leads."""
    exam = visible_exam(session, principal, exam_id)
    query = select(MarkingSetup).where(MarkingSetup.exam_id == exam.id,
                                       (MarkingSetup.school_id == principal.school_id) | MarkingSetup.pooled.is_(True)
                                       ).order_by(MarkingSetup.id)
    setups = [s for s in session.scalars(query) if _manages(principal, s) or s.leader_id == principal.user_id
              or _is_marker(session, s.id, principal.user_id)]
    return [_setup_public(session, s) for s in setups]


@router.get("/marking/{setup_id}", response_model=MarkingSetupPublic, dependencies=[permit("marking:score")])
def read_setup(setup_id: RowId, principal: CurrentPrincipal, session: ReadSession) -> MarkingSetupPublic:
    setup = _setup(session, principal, setup_id)
    if not _manages(principal, setup):
        setup = _marked_by(session, principal, setup_id)
    return _setup_public(session, setup)


@router.patch("/marking/{setup_id}", response_model=MarkingSetupPublic, dependencies=[permit("marking:manage")])
def update_setup(setup_id: RowId, body: MarkingSetupUpdate, principal: CurrentPrincipal, session: WriteSession
                 ) -> MarkingSetupPublic:
    """Change the markers (tasks in the hands of a marker removed go back to the pool), the leader (open rulings
    move to the new one) or the 自评 share."""
    setup = _managed(session, principal, setup_id)
    before = {"markers": marking.markers_of(session, setup.id), "leader": setup.leader_id,
              "self_check_rate": setup.self_check_rate}
    if body.markers is not None:
        markers = list(dict.fromkeys(body.markers))
        _school_users(session, principal, markers, any_school=setup.pooled)
        for gone in set(before["markers"]) - set(markers):
            marking.reassign(session, principal, setup, gone, None)
            session.delete(session.get(MarkingMarker, (setup.id, gone)))
        session.add_all(MarkingMarker(setup_id=setup.id, user_id=m) for m in markers if m not in before["markers"])
    if body.leader_id is not None and body.leader_id != setup.leader_id:
        _school_users(session, principal, [body.leader_id], any_school=setup.pooled)
        session.execute(update(MarkingTask).where(MarkingTask.setup_id == setup.id, MarkingTask.kind == "ruling",
                                                  MarkingTask.status == "assigned")
                        .values(marker_id=body.leader_id).execution_options(synchronize_session=False))
        setup.leader_id = body.leader_id
    if body.self_check_rate is not None:
        setup.self_check_rate = body.self_check_rate
    session.flush()
    after = {"markers": marking.markers_of(session, setup.id), "leader": setup.leader_id,
             "self_check_rate": setup.self_check_rate}
    audit.record(session, principal, "marking.setup_change", "marking_setup", setup.id, before=before, after=after,
                 school_id=None if setup.pooled else setup.school_id)
    session.commit()
    return _setup_public(session, setup)


@router.post("/marking/{setup_id}/load", response_model=MarkingSetupPublic, dependencies=[permit("marking:manage")])
def load_answers(setup_id: RowId, principal: CurrentPrincipal, session: WriteSession, service: ServiceDep
                 ) -> MarkingSetupPublic:
    """Add the answers of sheets scanned since the set-up (or the last load); their crops are cut ahead."""
    setup = _managed(session, principal, setup_id)
    added = marking.load_items(session, setup, session.get(Exam, setup.exam_id))
    audit.record(session, principal, "marking.load", "marking_setup", setup.id, after={"answers": added},
                 school_id=None if setup.pooled else setup.school_id)
    session.commit()
    jobs_of(service).cut_crops(setup.id)
    return _setup_public(session, setup, added)


# --- marking -----------------------------------------------------------------------------------------------------

@router.get("/marking/{setup_id}/tasks", response_model=list[TaskPublic], dependencies=[permit("marking:score")])
def next_tasks(setup_id: RowId, principal: CurrentPrincipal, service: ServiceDep, count: Count = 1
               ) -> list[TaskPublic]:
    """The caller's next tasks: those in hand first (the one on screen, those fetched ahead, the leader's 仲裁),
    then new ones, up to ``count``; empty when nothing is left to mark."""
    with service.db.read() as session:
        _marked_by(session, principal, setup_id)
    return _hand_out(service, principal, setup_id, count)


@router.post("/marking/tasks/{token}/score", response_model=ScoreResult, dependencies=[permit("marking:score")])
def score_task(token: Token, body: ScoreCreate, principal: CurrentPrincipal, service: ServiceDep,
               prefetch: Prefetch = 1) -> ScoreResult:
    """Score a task in hand, or change one's earlier score (回评) while the answer's final score is not decided;
    the answer holds the next ``prefetch`` tasks, so the page shows the next crop without asking again."""
    from grading.marking import score_problem

    with marking.writing(service) as session:
        task, setup = _task(session, principal, token)
        problem = score_problem(body.score, marking.rules_of(setup))
        if problem:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, problem)
        return _change(service, session, principal, setup, task,
                       lambda: marking.record_score(session, principal, setup, task, body.score), prefetch)


def _change(service: Service, session: Session, principal: Principal, setup: MarkingSetup, task: MarkingTask,
            apply, prefetch: int = 0) -> ScoreResult:
    """Apply a change to an answer, hand out the caller's next ``prefetch`` tasks, commit (one transaction for
    all of it); 409 when the answer's state refuses the change. When the final score changed, the answer's school
    is regraded soon after if it was graded already (a late score: :mod:`api.service.marking_jobs`), not inside
    this request."""
    try:
        final_changed = apply()
    except marking.MarkingConflict as error:
        raise HTTPException(status.HTTP_409_CONFLICT, str(error)) from None
    item = session.get(MarkingItem, task.item_id)
    answer = ScoreResult(saved=_task_public(session, setup, task, item.state),
                         next=_next_tasks(session, principal, setup, prefetch) if prefetch else [])
    school_id = item.school_id
    session.commit()
    if final_changed:
        jobs_of(service).regrade(school_id, setup.exam_id, principal)
    return answer


@router.post("/marking/tasks/{token}/problem", response_model=ScoreResult, dependencies=[permit("marking:score")])
def report_problem(token: Token, body: ProblemCreate, principal: CurrentPrincipal, service: ServiceDep,
                   prefetch: Prefetch = 1) -> ScoreResult:
    """问题卷: the answer cannot be scored (blank, illegible, wrong region, suspected cheating); it goes to the
    question's leader. Answers with the next tasks, as a score does."""
    with marking.writing(service) as session:
        task, setup = _task(session, principal, token)
        return _change(service, session, principal, setup, task,
                       lambda: marking.report_problem(session, principal, setup, task, body.kind, body.note),
                       prefetch)


@router.get("/marking/{setup_id}/history", response_model=list[TaskPublic], dependencies=[permit("marking:score")])
def history(setup_id: RowId, principal: CurrentPrincipal, session: ReadSession,
            limit: Annotated[int, Query(ge=1, le=200)] = 20) -> list[TaskPublic]:
    """回评: the caller's last ``limit`` scores of this question, newest first (``changeable`` while the answer's
    final score is not decided: POST the task's score again to change it)."""
    setup = _marked_by(session, principal, setup_id)
    tasks = list(session.scalars(select(MarkingTask).where(
        MarkingTask.setup_id == setup.id, MarkingTask.marker_id == principal.user_id,
        MarkingTask.status.in_(("done", "problem"))).order_by(MarkingTask.scored_at.desc(), MarkingTask.id.desc())
        .limit(limit)))
    states = marking.item_states(session, tasks)
    return [_task_public(session, setup, t, states[t.item_id]) for t in tasks]


@router.get("/marking/tasks/{token}/image", response_class=Response, dependencies=[permit("marking:score")],
            responses={200: {"content": {"image/png": {}}, "description": "the answer's crop"}})
def task_image(token: Token, principal: CurrentPrincipal, service: ServiceDep) -> Response:
    """The answer's crop: its regions cut from the scan (cut ahead when the answers were loaded, else when first
    asked for, then kept). For the task's marker, and for those who manage the question (problem papers). No
    database connection is held while a crop is cut."""
    with service.db.read() as session:
        task = session.scalar(select(MarkingTask).where(MarkingTask.token == token))
        if task is None or task.status == "cancelled":
            raise not_found("task not found")
        setup = session.get(MarkingSetup, task.setup_id)
        mine = principal.user_id is not None and task.marker_id == principal.user_id
        if not mine and not (_manages(principal, setup) and (setup.pooled or task.school_id == principal.school_id)):
            raise not_found("task not found")
        item = session.get(MarkingItem, task.item_id)
        kept = item.crop_sha256
        source = None if kept and service.blobs.exists(kept) else marking.crop_source(session, setup, item)
    if source is None:
        return FileResponse(service.blobs.path(kept), media_type="image/png", headers=_IMAGE_HEADERS)
    png = marking.cut_crop(service, source)
    if png is None:
        raise not_found("the crop cannot be cut from this scan: report it as a problem paper")
    try:  # only a cache: when keeping fails, the next request cuts it again
        marking.keep_crops(service, [(item.id, png)])
    except Exception:
        marking.log.exception("could not keep the crop of answer %d", item.id)
    return Response(png, media_type="image/png", headers=_IMAGE_HEADERS)


# --- the leader ---------------------------------------------------------------------------------------------------

@router.get("/marking/{setup_id}/problems", response_model=list[ProblemPublic],
            dependencies=[permit("marking:manage")])
def problems(setup_id: RowId, principal: CurrentPrincipal, session: ReadSession) -> list[ProblemPublic]:
    """问题卷 waiting for the leader, oldest first."""
    setup = _managed(session, principal, setup_id)
    tasks = session.scalars(select(MarkingTask).where(MarkingTask.setup_id == setup.id,
                                                      MarkingTask.status == "problem")
                            .order_by(MarkingTask.scored_at, MarkingTask.id))
    return [ProblemPublic(token=t.token, kind=t.kind, problem=t.problem or "",
                          problem_name=PROBLEM_NAMES.get(t.problem or "", t.problem or ""), note=t.note or "",
                          reported_at=t.scored_at, image=_image_path(t.token)) for t in tasks]


@router.post("/marking/problems/{token}/resolve", response_model=TaskPublic, dependencies=[permit("marking:manage")])
def resolve_problem(token: Token, body: ProblemResolve, principal: CurrentPrincipal, service: ServiceDep
                    ) -> TaskPublic:
    """The leader scores a problem paper (the ruling is its final score) or returns it to the markers."""
    from grading.marking import score_problem

    with marking.writing(service) as session:
        task = session.scalar(select(MarkingTask).where(MarkingTask.token == token))
        setup = session.get(MarkingSetup, task.setup_id) if task is not None else None
        if setup is None or not (setup.pooled or task.school_id == principal.school_id):
            raise not_found("task not found")
        setup = _managed(session, principal, setup.id)
        if body.action == "score":
            problem = score_problem(body.score, marking.rules_of(setup))
            if problem:
                raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, problem)
        return _change(service, session, principal, setup, task,
                       lambda: marking.resolve_problem(session, principal, setup, task, body.action, body.score)
                       ).saved


@router.get("/marking/{setup_id}/progress", response_model=QuestionProgress, dependencies=[permit("marking:manage")])
def progress(setup_id: RowId, principal: CurrentPrincipal, session: ReadSession) -> QuestionProgress:
    """Progress of the question and each marker's figures: scored, in hand, problem papers, mean and spread
    against the group, agreement with the co-marker, 自评 consistency."""
    return _progress_public(session, _managed(session, principal, setup_id))


def _progress_public(session: Session, setup: MarkingSetup) -> QuestionProgress:
    figures = marking.progress(session, setup)
    figures["markers"] = [MarkerProgress(**m) for m in figures["markers"]]
    return QuestionProgress(**figures)


@router.post("/marking/{setup_id}/reassign", response_model=ReassignResult, dependencies=[permit("marking:manage")])
def reassign(setup_id: RowId, body: Reassign, principal: CurrentPrincipal, session: WriteSession) -> ReassignResult:
    """Move a marker's tasks in hand to another marker of the question, or back to the pool."""
    setup = _managed(session, principal, setup_id)
    if body.to_user is not None and not _is_marker(session, setup.id, body.to_user):
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"user {body.to_user} is not a marker of it")
    moved = marking.reassign(session, principal, setup, body.from_user, body.to_user)
    session.commit()
    return ReassignResult(moved=moved)


# --- pooled city marking (the municipal system) ------------------------------------------------------------------

@router.post("/exams/{exam_id}/marking/city", response_model=MarkingSetupPublic, status_code=201,
             dependencies=[permit("exams:write", roles=("municipal",))])
def create_city_setup(exam_id: RowId, body: CityMarkingCreate, principal: CurrentPrincipal, session: WriteSession,
                      service: ServiceDep) -> MarkingSetupPublic:
    """Pooled city marking (联考) of one written question of a city exam: every school's answers, marked by
    markers of any school (they see the crop only) and led by ``leader_id``, whose school hosts it (阅卷点);
    each final score goes to its own school's grading. Refused when a school already marks the question."""
    exam = session.get(Exam, exam_id)
    if exam is None or exam.school_id is not None:
        raise not_found("city exam not found")
    full_marks, regions = _question_rules(exam, body)
    markers = list(dict.fromkeys(body.markers))
    _school_users(session, principal, markers + [body.leader_id], any_school=True)
    if session.scalar(select(MarkingSetup.id).where(MarkingSetup.exam_id == exam.id,
                                                    MarkingSetup.question == body.question)):
        raise HTTPException(status.HTTP_409_CONFLICT, f"{body.question} is already marked (by a school or the city)")
    setup = MarkingSetup(school_id=session.get(User, body.leader_id).school_id, exam_id=exam.id, pooled=True,
                         question=body.question, regions=regions, full_marks=full_marks, step=float(body.step),
                         double=body.double, tolerance=float(body.tolerance), final_rule=body.final_rule,
                         self_check_rate=float(body.self_check_rate), leader_id=body.leader_id,
                         created_by=principal.actor)
    session.add(setup)
    session.flush()
    session.add_all(MarkingMarker(setup_id=setup.id, user_id=m) for m in markers)
    added = marking.load_items(session, setup, exam)
    audit.record(session, principal, "marking.setup", "marking_setup", setup.id, school_id=None,
                 after={"exam": exam.id, "question": setup.question, "pooled": True, "host": setup.school_id,
                        "regions": regions, "full_marks": full_marks, "step": setup.step, "double": setup.double,
                        "tolerance": setup.tolerance, "final_rule": setup.final_rule,
                        "self_check_rate": setup.self_check_rate, "leader": body.leader_id, "markers": markers,
                        "answers": added})
    session.commit()
    jobs_of(service).cut_crops(setup.id)
    return _setup_public(session, setup, added)


@router.get("/exams/{exam_id}/marking/city", response_model=list[QuestionProgress],
            dependencies=[permit("aggregates:read")])
def city_progress(exam_id: RowId, session: ReadSession) -> list[QuestionProgress]:
    """The city exam's pooled markings and their progress (figures per marker, no answer's school)."""
    exam = session.get(Exam, exam_id)
    if exam is None or exam.school_id is not None:
        raise not_found("city exam not found")
    return [_progress_public(session, setup) for setup in session.scalars(
        select(MarkingSetup).where(MarkingSetup.exam_id == exam.id, MarkingSetup.pooled.is_(True))
        .order_by(MarkingSetup.id))]
