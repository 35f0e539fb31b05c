"""The page routes: log-in, and per role what it may do. Each route declares ``permit``/``public`` like an API
route; the work is done by the API's own route functions (same school checks, same audit entries)."""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import secrets
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Path, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse
from pydantic import ValidationError
from sqlalchemy import func, select
from starlette.datastructures import FormData

from api.service import audit
from api.service.deps import (IMPORT_BODY, KIB, UPLOAD_LIMIT, CurrentPrincipal, ReadSession, RowId, ServiceDep,
                              SettingsDep, WriteSession, authenticate, client_address, not_found, permit,
                              public)
from api.service.models import AccessToken, Exam, KeySession, Sheet, utcnow
from api.service.routes import admin, bank, batches, exams, municipal, results, review, teaching
from api.service.schemas.admin import ApiKeyCreate, TokenRequest, UserCreate
from api.service.schemas.review import CorrectionItem, CorrectionsCreate, PageResolve
from api.service.security import ROLES, Principal, new_token, secret_hash
from api.service.stored_pages import decode_page, page_of, sheet_of, stored_file
from api.web import arrange_pages, assets, marking_admin, marking_pages
from api.web.charts import bars_svg
from api.web.guard import (clear_session_cookie, csrf_form, csrf_header_checked, new_csrf_cookie, session_credentials,
                           set_session_cookie)
from api.web.render import ROLE_NAMES, render
from grading.review_reasons import correction_needs, listed_questions, page_hint

__all__ = ["include_pages", "router"]

router = APIRouter(include_in_schema=False)
SCHOOL_PEOPLE = ("teacher", "school_admin")
CheckedForm = Annotated[FormData, Depends(csrf_form)]
_HOME = {"teacher": "/exams", "school_admin": "/exams", "station": "/station", "municipal": "/city"}
#: What a teacher typed for a reviewed question, kept to what a correction can hold.
_FIELD = re.compile(r"^q:(.{1,40})$")


def include_pages(app: FastAPI, *, docs_url: str) -> None:
    """Add the pages, their assets and the offline API docs at ``docs_url`` to ``app`` (before its declarations
    are checked)."""
    app.include_router(router)
    app.include_router(marking_admin.router)  # before the marker's pages: /marking/setup is no set-up id
    app.include_router(marking_pages.router)
    app.include_router(arrange_pages.router)
    app.include_router(assets.router)

    def docs(request: Request) -> Response:
        return assets.docs_page(request, app.openapi_url)

    app.add_api_route(docs_url, docs, methods=["GET"], include_in_schema=False, dependencies=[public(body=0)])


def _problem(error: Exception) -> str:
    """A refusal of the API's functions as one line a teacher can read."""
    if isinstance(error, HTTPException):
        detail = error.detail
        return "; ".join(map(str, detail)) if isinstance(detail, list) else str(detail)
    if isinstance(error, ValidationError):
        return "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
    return str(error)


# --- log-in and out -------------------------------------------------------------------------------------------

@router.get("/", dependencies=[permit(None, roles=ROLES)])
def home(principal: CurrentPrincipal) -> RedirectResponse:
    return RedirectResponse(_HOME[principal.role], status_code=303)


@router.get("/login", dependencies=[public(body=0)])
def login_page(request: Request) -> Response:
    """The log-in form; before a session, a fresh ``yj_csrf`` cookie that the form's token must match."""
    if request.cookies.get("yj_session") or request.cookies.get("yj_csrf"):
        return render(request, "login.html")
    token = secrets.token_urlsafe(32)
    response = render(request, "login.html", csrf_override=token)
    new_csrf_cookie(response, request, token)
    return response


@router.post("/login", dependencies=[public(body=4 * KIB)])
def log_in(request: Request, form: CheckedForm, session: WriteSession, settings: SettingsDep,
           service: ServiceDep) -> Response:
    """A person with username and password (the API's log-in: the same locks, throttling and audit), or a
    scanner station or the municipal system with its API key."""
    key = str(form.get("api_key") or "").strip()
    try:
        if key:
            principal = authenticate(service, key, None, client_address(request))
            value = "t." + _key_session(session, settings, principal)
            audit.record(session, principal, "auth.web_login", "api_key", principal.actor.removeprefix("key:"),
                         school_id=principal.school_id)
            session.commit()
        else:
            body = TokenRequest(username=str(form.get("username") or ""), password=str(form.get("password") or ""))
            value = "t." + admin.log_in(body, request, session, settings).access_token
    except (HTTPException, ValidationError) as error:
        code = error.status_code if isinstance(error, HTTPException) else 422
        message = {401: "用户名或密码错误 (或密钥无效)", 423: "密码错误次数过多, 账号暂时锁定, 请稍后再试",
                   429: "此地址登录失败次数过多, 请稍后再试"}.get(code, "请输入用户名和密码")
        return render(request, "login.html", error=message, status_code=code)
    response = RedirectResponse("/", status_code=303)
    set_session_cookie(response, request, value)
    return response


def _key_session(session, settings, principal: Principal) -> str:
    """A browser session for a key's log-in: the cookie holds this secret, never the key itself (a cookie that
    leaks, or a log-out, must not cost the station its key). Expires as a person's token does."""
    secret, secret_digest = new_token()
    now = utcnow()
    session.add(KeySession(token_hash=secret_digest, key_id=principal.key_id, created_at=now,
                           expires_at=now + dt.timedelta(hours=settings.token_hours)))
    return secret


@router.post("/logout", dependencies=[permit(None, roles=ROLES, body=4 * KIB)])
def log_out(request: Request, form: CheckedForm, principal: CurrentPrincipal, session: WriteSession) -> Response:
    """End this browser's session: the cookie's token (a person's, or the session a key opened) is revoked, so
    the cookie is worthless even if kept. A key itself stays valid for its station; revoking it is the keys
    page's."""
    _, bearer = session_credentials(request.headers)
    if bearer:
        digest = secret_hash(bearer)
        for row in (session.scalar(select(AccessToken).where(AccessToken.token_hash == digest)),
                    session.scalar(select(KeySession).where(KeySession.token_hash == digest))):
            if row is not None:
                row.revoked = True
    audit.record(session, principal, "auth.logout", "user" if principal.user_id else "api_key",
                 principal.actor.split(":", 1)[-1], school_id=principal.school_id)
    session.commit()
    response = RedirectResponse("/login", status_code=303)
    clear_session_cookie(response, request)
    return response


# --- exams, progress, results and downloads (teachers, school admins) ---------------------------------------------

@router.get("/exams", dependencies=[permit("exams:read", roles=SCHOOL_PEOPLE)])
def exams_page(request: Request, principal: CurrentPrincipal, session: ReadSession) -> Response:
    listed = exams.list_exams(principal, session)
    counts = dict(session.execute(select(Sheet.exam_id, func.count()).where(Sheet.school_id == principal.school_id)
                                  .group_by(Sheet.exam_id)).all())
    flagged = dict(session.execute(select(Sheet.exam_id, func.count()).where(
        Sheet.school_id == principal.school_id, Sheet.status == "flagged", Sheet.resolved.is_(False))
        .group_by(Sheet.exam_id)).all())
    rows = [{"exam": e, "sheets": counts.get(e.id, 0), "flagged": flagged.get(e.id, 0)} for e in listed]
    return render(request, "exams.html", principal, rows=rows)


@router.get("/exams/{exam_id}", dependencies=[permit("exams:read", roles=SCHOOL_PEOPLE)])
def exam_page(request: Request, exam_id: RowId, principal: CurrentPrincipal, session: ReadSession) -> Response:
    """An exam's progress: batches and how far they are read, sheets to review, the newest grading, classes."""
    exam = exams.read_exam(exam_id, principal, session)
    listed = batches.list_batches(principal, session, limit=50, offset=0, exam_id=exam_id)
    by_status = dict(session.execute(select(Sheet.status, func.count()).where(
        Sheet.school_id == principal.school_id, Sheet.exam_id == exam_id).group_by(Sheet.status)).all())
    waiting = session.scalar(select(func.count()).select_from(Sheet).where(
        Sheet.school_id == principal.school_id, Sheet.exam_id == exam_id, Sheet.status == "flagged",
        Sheet.resolved.is_(False)))
    graded = classes = None
    try:  # a teacher's results hold their own classes' students only
        found = results.results(exam_id, principal, session, school_id=None, detail=False, class_name=None)
        graded = found.run
        classes = sorted({r.class_name for r in found.items if r.class_name})
    except HTTPException:
        pass  # not graded yet
    taught = teaching.taught_classes(session, principal)
    return render(request, "exam.html", principal, exam=exam, batches=listed, by_status=by_status,
                  waiting=waiting, run=graded, classes=classes or [], teacher=taught is not None,
                  no_classes=taught is not None and not taught,
                  has_bank=bank.current_bank(session, principal.school_id) is not None)


@router.post("/exams/{exam_id}/grade", dependencies=[permit("exams:grade", roles=SCHOOL_PEOPLE, body=4 * KIB)])
def grade_exam(request: Request, exam_id: RowId, form: CheckedForm, principal: CurrentPrincipal,
               session: WriteSession, settings: SettingsDep) -> Response:
    """Grade the school's sheets of the exam now (the API's grading; audited)."""
    try:
        results.grade(exam_id, principal, session, settings, body=None, school_id=None)
    except HTTPException as error:
        return render(request, "message.html", principal, title="无法评分", message=_problem(error),
                      back=f"/exams/{exam_id}", status_code=error.status_code)
    return RedirectResponse(f"/exams/{exam_id}", status_code=303)


def _class_figures(document: dict, class_name: str) -> dict | None:
    """The class's figures in the run's analytics document (``analytics.report_json``: its histogram and
    knowledge-point score rates, as the workbooks show them), or None when the class has no graded student."""
    return next((g for g in document.get("classes", []) if g.get("class") == class_name), None)


@router.get("/exams/{exam_id}/classes/{class_name}", dependencies=[permit("results:read", roles=SCHOOL_PEOPLE)])
def class_page(request: Request, exam_id: RowId, class_name: str, principal: CurrentPrincipal,
               session: ReadSession, settings: SettingsDep) -> Response:
    """A class's results: the score distribution and the knowledge points' score rates as charts (from the
    run's analytics), the students' totals, and the class's downloads."""
    found = results.class_results(exam_id, class_name, principal, session, school_id=None)
    known = found.items[0].class_name if found.items else class_name  # as the run stores it
    try:
        document = json.loads(results.analytics(exam_id, principal, session, settings, school_id=None).body)
    except HTTPException:  # nobody graded yet: the table alone
        document = {}
    figures = _class_figures(document, known)
    distribution = knowledge = ""
    if figures is not None:
        edges, counts = figures["histogram"]["edges"], figures["histogram"]["counts"]
        distribution = bars_svg([f"{lo:g}–{hi:g}" for lo, hi in zip(edges, edges[1:])], counts,
                                f"{known} 成绩分布", limit=4 * math.ceil(max(max(counts, default=1), 1) / 4),
                                fmt="{:.0f}")
        knowledge = bars_svg([p["name"] or p["id"] for p in document["knowledge_points"]],
                             [r if r is not None else 0.0 for r in figures["knowledge_rates"]],
                             f"{known} 知识点得分率", limit=1.0, fmt="{:.0%}")
    return render(request, "class.html", principal, exam=session.get(Exam, exam_id), class_name=known,
                  items=found.items, figures=figures, full_marks=document.get("exam", {}).get("full_marks"),
                  distribution=distribution, knowledge=knowledge,
                  has_bank=bank.current_bank(session, principal.school_id) is not None)


@router.get("/exams/{exam_id}/grade.xlsx", dependencies=[permit("results:read", roles=SCHOOL_PEOPLE)])
def grade_workbook(exam_id: RowId, principal: CurrentPrincipal, session: ReadSession, service: ServiceDep):
    return results.grade_workbook(exam_id, principal, session, service, school_id=None)


@router.get("/exams/{exam_id}/classes/{class_name}/workbook.xlsx",
            dependencies=[permit("results:read", roles=SCHOOL_PEOPLE)])
def class_workbook(exam_id: RowId, class_name: str, principal: CurrentPrincipal, session: ReadSession,
                   service: ServiceDep):
    return results.class_workbook(exam_id, class_name, principal, session, service, school_id=None)


@router.get("/exams/{exam_id}/classes/{class_name}/students.pdf",
            dependencies=[permit("results:read", roles=SCHOOL_PEOPLE)])
def class_pdf(exam_id: RowId, class_name: str, principal: CurrentPrincipal, session: ReadSession,
              service: ServiceDep):
    return results.class_students_pdf(exam_id, class_name, principal, session, service, school_id=None)


@router.get("/exams/{exam_id}/classes/{class_name}/wrongbook.pdf",
            dependencies=[permit("results:read", roles=SCHOOL_PEOPLE)])
def class_wrongbook(exam_id: RowId, class_name: str, principal: CurrentPrincipal, session: ReadSession,
                    service: ServiceDep):
    """The class's 错题本, through the API's own call (audited; 409 as a page when the school has no bank)."""
    return results.class_wrongbook_pdf(exam_id, class_name, principal, session, service, school_id=None)


# --- the review queue ----------------------------------------------------------------------------------------

@router.get("/review", dependencies=[permit("review:read", roles=SCHOOL_PEOPLE)])
def review_page(request: Request, principal: CurrentPrincipal, session: ReadSession) -> Response:
    queue = review.review_queue(principal, session, school_id=None, exam_id=None, batch_id=None, limit=200,
                                cursor=None)
    return render(request, "review.html", principal, queue=queue)


def _next_after(principal: Principal, session, kind: str, item_id: int) -> str:
    """The page of the next thing in the queue after this one (sheets, then unreadable pages), else the queue."""
    queue = review.review_queue(principal, session, school_id=None, exam_id=None, batch_id=None, limit=2,
                                cursor=f"{kind[0]}{item_id}")
    for item in queue.items:
        if not (item.kind == kind and item.id == item_id):
            return f"/review/{item.kind}s/{item.id}"
    return "/review"


#: What a reviewer decides for a reason that names no question (the correction's name -> what the page says).
_ITEMS = {"exam_id": "考号", "absent": "缺考 (1 缺考, 0 参加)", "form": "试卷类型 (A, B …)", "exclude": "作废此卡 (填 1)",
          "violation": "违纪 (1 确认, 0 无违纪)", "choice": "选考题 (填所答题号, 如 23)"}


def _fields(sheet, exam_row) -> list[dict]:
    """What the reviewer decides on this sheet, one field per question or item a reason names: the question's
    name, what OMR read, the options to click (choice questions) or the points (scored questions)."""
    from api.service import grading_runs

    definition = grading_runs.parse_definition(exam_row)
    form = (sheet.result or {}).get("form") or None
    readings = (sheet.result or {}).get("questions") or {}
    scores = (sheet.result or {}).get("scores") or {}
    done = {c.question: c.value for c in sheet.corrections}
    fields: list[dict] = []
    for reason in sheet.reasons:
        listed = listed_questions(reason)
        names = listed or []
        for name in names:
            canonical = definition.canonical_of(name, form)
            question = definition.question(canonical) if canonical else None
            scored = name in scores or (question is not None and question.type == "subjective")
            read = scores.get(name, {}).get("value") if scored else readings.get(name, {}).get("marked")
            fields.append({"name": name, "label": name, "reason": reason, "scored": scored,
                           "options": question.options if question is not None and not scored else "",
                           "points": question.points if question is not None else None,
                           "read": "" if read is None else (f"{read:g}" if scored else str(read)),
                           "value": done.get(name, "")})
        needs = None if listed is not None else correction_needs(reason)
        if needs:
            name = sorted(needs[0])[0]
            fields.append({"name": name, "label": _ITEMS.get(name, name), "reason": reason, "scored": False,
                           "options": "", "points": None,
                           "read": (sheet.student_id or "") if name == "exam_id" else "",
                           "value": done.get(name, ""), "item": True})
    return fields


@router.get("/review/sheets/{sheet_id}", dependencies=[permit("review:read", roles=SCHOOL_PEOPLE)])
def review_sheet(request: Request, sheet_id: RowId, principal: CurrentPrincipal, session: ReadSession) -> Response:
    """One flagged sheet: its pages with the overlay, the flagged questions large with what OMR read, and a
    form that sends the corrections (Enter: save and go to the next sheet)."""
    return _sheet_page(request, sheet_id, principal, session)


def _sheet_page(request: Request, sheet_id: int, principal: Principal, session, *, error: str | None = None,
                status_code: int = 200) -> Response:
    sheet = review.read_sheet(sheet_id, principal, session)
    fields = _fields(sheet, session.get(Exam, sheet.exam_id))
    return render(request, "sheet.html", principal, sheet=sheet, fields=fields, error=error,
                  next_url=_next_after(principal, session, "sheet", sheet_id), status_code=status_code)


def _corrections(form: FormData) -> tuple[CorrectionsCreate, bool]:
    """The corrections a review form sends: every ``q:<question>`` field with a value (a reviewed question left
    empty is not a decision), and ``resolved``."""
    items = []
    for key, value in form.multi_items():
        match = _FIELD.match(key)
        if match and isinstance(value, str) and value.strip():
            items.append(CorrectionItem(question=match.group(1), value=value.strip().upper(), reason="网页复核"))
    resolved = form.get("resolved") in ("1", "on", "true")
    return CorrectionsCreate(corrections=items, resolved=resolved), resolved


@router.post("/review/sheets/{sheet_id}", dependencies=[permit("review:write", roles=SCHOOL_PEOPLE, body=64 * KIB)])
def correct_sheet(request: Request, sheet_id: RowId, form: CheckedForm, principal: CurrentPrincipal,
                  session: WriteSession) -> Response:
    """Save a reviewer's decisions through the API's corrections (checked against the exam, audited), then on to
    the next sheet; JSON for the page's script (``Accept: application/json``), a redirect for a plain form."""
    wants_json = "application/json" in request.headers.get("accept", "")
    try:
        body, _ = _corrections(form)
        outcome = review.correct_sheet(sheet_id, body, principal, session)
    except (HTTPException, ValidationError) as error:
        if isinstance(error, HTTPException) and error.status_code in (403, 404):
            raise
        if wants_json:
            return JSONResponse({"detail": _problem(error)}, status_code=422)
        session.rollback()
        return _sheet_page(request, sheet_id, principal, session, error=_problem(error), status_code=422)
    following = _next_after(principal, session, "sheet", sheet_id)
    if wants_json:
        return JSONResponse({"resolved": outcome.sheet.resolved, "uncovered": outcome.uncovered,
                             "applied": [a.model_dump() for a in outcome.applied], "next": following})
    return RedirectResponse(following if outcome.sheet.resolved else f"/review/sheets/{sheet_id}",
                            status_code=303)


@router.get("/review/pages/{page_id}", dependencies=[permit("review:read", roles=SCHOOL_PEOPLE)])
def review_unreadable(request: Request, page_id: RowId, principal: CurrentPrincipal, session: ReadSession
                      ) -> Response:
    """A page that could not be read: its image, why, and what to do."""
    page = review.read_page_result(page_id, principal, session)
    return render(request, "page.html", principal, page=page, fix=page_hint(page.reasons),
                  next_url=_next_after(principal, session, "page", page_id))


@router.post("/review/pages/{page_id}/resolve",
             dependencies=[permit("review:write", roles=SCHOOL_PEOPLE, body=16 * KIB)])
def resolve_unreadable(request: Request, page_id: RowId, form: CheckedForm, principal: CurrentPrincipal,
                       session: WriteSession) -> Response:
    try:
        review.resolve_page(page_id, PageResolve(reason=str(form.get("reason") or "")), principal, session)
    except (HTTPException, ValidationError) as error:
        if isinstance(error, HTTPException) and error.status_code in (403, 404):
            raise
        return render(request, "message.html", principal, title="无法处理", message=_problem(error),
                      back=f"/review/pages/{page_id}", status_code=422)
    return RedirectResponse(_next_after(principal, session, "page", page_id), status_code=303)


@router.get("/review/pages/{page_id}/image", dependencies=[permit("review:read", roles=SCHOOL_PEOPLE)])
def page_image(page_id: RowId, principal: CurrentPrincipal, session: ReadSession, service: ServiceDep):
    return review.page_image(page_id, principal, session, service)


@router.get("/review/pages/{page_id}/overlay", dependencies=[permit("review:read", roles=SCHOOL_PEOPLE)])
def page_overlay(page_id: RowId, principal: CurrentPrincipal, session: ReadSession, service: ServiceDep):
    return review.page_overlay(page_id, principal, session, service)


@router.get("/review/sheets/{sheet_id}/questions/{question}",
            dependencies=[permit("review:read", roles=SCHOOL_PEOPLE)])
def question_zoom(sheet_id: RowId, question: Annotated[str, Path(pattern=r"^[A-Za-z0-9_]{1,40}$")],
                  principal: CurrentPrincipal, session: ReadSession, service: ServiceDep) -> Response:
    """The question's bubbles enlarged from the overlay of the sheet's page that holds it (read again, so the
    crop and the drawing always agree)."""
    from omr.batch import decode_min_side_px

    from api.service.processing import prepared_template
    from api.web.zoom import question_zoom_png

    sheet = sheet_of(session, principal, sheet_id)
    prepared = prepared_template(session.get(Exam, sheet.exam_id).template)
    for page_id in sheet.page_ids or []:
        page, file = page_of(session, principal, page_id)
        stored = page.result or {}
        if question not in (stored.get("questions") or {}) and question not in (stored.get("scores") or {}):
            continue
        path = stored_file(service, file)
        image = decode_page(service, path, page.page_index, decode_min_side_px(prepared.template))
        png = question_zoom_png(image, prepared, question, source=file.filename, page_index=page.page_index) \
            if image is not None else None
        if png is not None:
            return Response(png, media_type="image/png", headers={"Cache-Control": "private, max-age=300"})
    raise not_found("this sheet has no such question to show")


# --- school administration ---------------------------------------------------------------------------------------

def _users(request: Request, principal: Principal, session, **context) -> Response:
    """The users page: the school's people, each teacher's classes (任课班级) with the form that sets them."""
    people = admin.list_users(principal, session, school_id=None)
    taught = {u.id: {c.id for c in teaching.user_classes(u.id, principal, session)}
              for u in people if u.role == "teacher"}
    return render(request, "users.html", principal, users=people, roles=ROLE_NAMES, taught=taught,
                  classes=admin.list_classes(principal, session, school_id=None), **context)


@router.get("/admin/users", dependencies=[permit("users:read", roles=("school_admin",))])
def users_page(request: Request, principal: CurrentPrincipal, session: ReadSession, made: str | None = None,
               done: str | None = None) -> Response:
    return _users(request, principal, session, made=made, done=done)


@router.post("/admin/users/{user_id}/classes",
             dependencies=[permit("users:write", roles=("school_admin",), body=16 * KIB)])
def set_classes(request: Request, user_id: RowId, form: CheckedForm, principal: CurrentPrincipal,
                session: WriteSession) -> Response:
    """A teacher's classes, through the API's own call (audited)."""
    from api.service.schemas.teaching import TeacherClassesUpdate

    try:
        chosen = [int(c) for c in form.getlist("classes") if str(c).isdigit()]
        done = teaching.set_user_classes(user_id, TeacherClassesUpdate(classes=chosen), principal, session)
    except (HTTPException, ValidationError) as error:
        if isinstance(error, HTTPException) and error.status_code in (403, 404):
            raise
        session.rollback()
        return _users(request, principal, session, error=_problem(error), status_code=422)
    return RedirectResponse(f"/admin/users?done={len(done)}", status_code=303)


@router.post("/admin/users", dependencies=[permit("users:write", roles=("school_admin",), body=4 * KIB)])
def create_user(request: Request, form: CheckedForm, principal: CurrentPrincipal, session: WriteSession
                ) -> Response:
    try:
        body = UserCreate(username=str(form.get("username") or ""), password=str(form.get("password") or ""),
                          role=str(form.get("role") or "teacher"), school_id=principal.school_id)
        made = admin.create_user(body, principal, session)
    except (HTTPException, ValidationError) as error:
        return _users(request, principal, session, error=_problem(error), status_code=422)
    return RedirectResponse(f"/admin/users?made={made.username}", status_code=303)


@router.get("/admin/keys", dependencies=[permit("keys:read", roles=("school_admin",))])
def keys_page(request: Request, principal: CurrentPrincipal, session: ReadSession) -> Response:
    return render(request, "keys.html", principal, keys=admin.list_api_keys(principal, session, school_id=None))


@router.post("/admin/keys", dependencies=[permit("keys:write", roles=("school_admin",), body=4 * KIB)])
def create_key(request: Request, form: CheckedForm, principal: CurrentPrincipal, session: WriteSession
               ) -> Response:
    """A scanner station's key, shown once on the page that answers (never stored in clear)."""
    try:
        made = admin.create_api_key(ApiKeyCreate(name=str(form.get("name") or "")), principal, session)
    except (HTTPException, ValidationError) as error:
        return render(request, "keys.html", principal, keys=admin.list_api_keys(principal, session, school_id=None),
                      error=_problem(error), status_code=422)
    return render(request, "keys.html", principal, keys=admin.list_api_keys(principal, session, school_id=None),
                  new_key=made.key)


@router.get("/admin/roster", dependencies=[permit("roster:read", roles=("school_admin",))])
def roster_page(request: Request, principal: CurrentPrincipal, session: ReadSession) -> Response:
    return render(request, "roster.html", principal, classes=admin.list_classes(principal, session, school_id=None),
                  students=len(admin.list_students(principal, session, school_id=None, class_name=None)))


@router.post("/admin/roster", dependencies=[permit("roster:write", roles=("school_admin",), body=IMPORT_BODY)])
def import_roster(request: Request, form: CheckedForm, principal: CurrentPrincipal, session: WriteSession,
                  settings: SettingsDep) -> Response:
    """A roster workbook or CSV, imported by the API's import (checked row by row, audited)."""
    upload = form.get("file")
    outcome = error = None
    try:
        if upload is None or isinstance(upload, str):
            raise HTTPException(422, "请选择名册文件 (xlsx 或 csv)")
        outcome = admin.import_roster(upload, principal, session, settings, school_id=None, grade=None)
    except (HTTPException, ValidationError) as problem:
        error = _problem(problem)
    return render(request, "roster.html", principal, classes=admin.list_classes(principal, session, school_id=None),
                  students=len(admin.list_students(principal, session, school_id=None, class_name=None)),
                  outcome=outcome, error=error, status_code=200 if error is None else 422)


# --- scanner stations -------------------------------------------------------------------------------------------

@router.get("/station", dependencies=[permit("upload")])
def station_page(request: Request, principal: CurrentPrincipal, session: ReadSession) -> Response:
    return render(request, "station.html", principal,
                  exams=[e for e in exams.list_exams(principal, session)],
                  batches=batches.list_batches(principal, session, limit=20, offset=0, exam_id=None))


@router.post("/station/batches", dependencies=[permit("upload", body=UPLOAD_LIMIT),
                                               Depends(csrf_header_checked)])
async def station_upload(request: Request, response: Response, principal: CurrentPrincipal,
                         service: ServiceDep):
    """The batch upload of the API (streamed, bounded, audited); the page's script sends it with its CSRF token in
    the header, checked before a byte of the body is read."""
    return await batches.upload_batch(request, response, principal, service, idempotency_key=None)


@router.get("/station/batches/{batch_id}", dependencies=[permit("batches:read")])
def batch_page(request: Request, batch_id: str, principal: CurrentPrincipal, session: ReadSession) -> Response:
    return render(request, "batch.html", principal, batch=batches.read_batch(batch_id[:36], principal, session))


@router.get("/station/batches/{batch_id}/status", dependencies=[permit("batches:read")])
def batch_status(batch_id: str, principal: CurrentPrincipal, session: ReadSession):
    """What the batch page polls while the workers read."""
    return batches.read_batch(batch_id[:36], principal, session)


# --- the city (municipal) ---------------------------------------------------------------------------------------

@router.get("/city", dependencies=[permit("aggregates:read")])
def city_page(request: Request, principal: CurrentPrincipal, session: ReadSession) -> Response:
    listed = exams.list_exams(principal, session) if "exams:read" in principal.scopes else []
    return render(request, "city.html", principal, exams=listed)


@router.get("/city/exams/{exam_id}", dependencies=[permit("aggregates:read")])
def city_exam(request: Request, exam_id: RowId, principal: CurrentPrincipal, session: ReadSession) -> Response:
    """City figures of one exam: each school's mean and 四率 from its newest grading, as a chart and a table."""
    figures = municipal.aggregates(exam_id, session, by="school")
    schools = figures.schools or []
    chart = bars_svg([s.school_name or s.school_id for s in schools], [s.mean for s in schools],
                     f"{figures.subject} 各校平均分", limit=figures.full_marks, fmt="{:.1f}")

    return render(request, "city_exam.html", principal, figures=figures, schools=schools, chart=chart,
                  exam=session.get(Exam, exam_id))
