"""The review queue (复核): flagged sheets and unreadable pages, what OMR read, the page images and overlays,
reviewers' corrections, and the audit log.

Every object belongs to a school: another school's sheet or page is not found (404). Scanner stations may not use
these routes (403); corrections are made by people (teachers, school admins), never by a key.
"""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status
from fastapi.responses import FileResponse, Response
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from api.service import audit, grading_runs
from api.service.context import Service
from api.service.deps import (KIB, CurrentPrincipal, ReadSession, RowId, SchoolQuery, ServiceDep, WriteSession,
                              not_found, permit, school_of)
from api.service.jobs import ensure_blob
from api.service.json_body import LimitedJSONRoute
from api.service.models import AuditEntry, Batch, BatchFile, Blob, Correction, Exam, Page, Sheet
from api.service.schemas.review import (AppliedCorrectionPublic, AuditPage, AuditPublic, CorrectionPublic,
                                        CorrectionsCreate, CorrectionsResult, PagePublic, PageResolve,
                                        RejectedUpload, ReviewItem, ReviewPage, SheetPublic)
from api.service.processing import overlay_jpeg, prepared_template
from api.service.stored_pages import decode_page, page_of, sheet_of, stored_file
from grading.review_reasons import correction_hint, page_hint, uncovered

router = APIRouter(tags=["review"], route_class=LimitedJSONRoute)
log = logging.getLogger(__name__)
Limit = Annotated[int, Query(ge=1, le=500)]

_SINGLE_IMAGE = {"jpeg": "image/jpeg", "png": "image/png", "bmp": "image/bmp"}
_IMAGE_HEADERS = {"Cache-Control": "private, max-age=300", "X-Content-Type-Options": "nosniff"}


# --- loading with the school check -------------------------------------------------------------------------------

def _corrections(session: Session, sheet_id: int) -> list[Correction]:
    return list(session.scalars(select(Correction).where(Correction.sheet_id == sheet_id).order_by(Correction.id)))


def _sheet_public(session: Session, sheet: Sheet) -> SheetPublic:
    return SheetPublic(id=sheet.id, batch_id=sheet.batch_id, exam_id=sheet.exam_id, sheet_index=sheet.sheet_index,
                       student_id=sheet.student_id, status=sheet.status, reasons=list(sheet.reasons or []),
                       resolved=sheet.resolved, page_ids=list(sheet.page_ids or []), result=sheet.result,
                       corrections=[CorrectionPublic.model_validate(c) for c in _corrections(session, sheet.id)])


# --- the queue ---------------------------------------------------------------------------------------------------

@router.get("/review", response_model=ReviewPage, dependencies=[permit("review:read")])
def review_queue(principal: CurrentPrincipal, session: ReadSession, school_id: SchoolQuery = None,
                 exam_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
                 batch_id: Annotated[str | None, Query(max_length=36)] = None, limit: Limit = 100,
                 cursor: Annotated[str | None, Query(pattern=r"^[sp]\d{1,18}$",
                                                     description="next_cursor of the previous page")] = None
                 ) -> ReviewPage:
    """Flagged sheets not yet resolved, then pages that could not be read at all, each with OMR's reasons and
    what a reviewer can do about them; ``next_cursor`` until the queue is done."""
    school = school_of(principal, school_id)
    sheets_query = select(Sheet).where(Sheet.school_id == school, Sheet.status == "flagged",
                                       Sheet.resolved.is_(False))
    pages_query = select(Page, BatchFile.exam_id).join(BatchFile, BatchFile.id == Page.file_id).where(
        Page.school_id == school, Page.status == "error", Page.resolved.is_(False))
    if exam_id is not None:
        sheets_query = sheets_query.where(Sheet.exam_id == exam_id)
        pages_query = pages_query.where(BatchFile.exam_id == exam_id)
    if batch_id is not None:
        sheets_query = sheets_query.where(Sheet.batch_id == batch_id)
        pages_query = pages_query.where(Page.batch_id == batch_id)
    kind, after = (cursor[0], int(cursor[1:])) if cursor else ("s", 0)
    rejected = [] if cursor else _rejected_files(session, school, exam_id, batch_id)
    items: list[ReviewItem] = []
    if kind == "s":
        sheets = session.scalars(sheets_query.where(Sheet.id > after).order_by(Sheet.id).limit(limit + 1)).all()
        items.extend(ReviewItem(kind="sheet", id=s.id, batch_id=s.batch_id, exam_id=s.exam_id,
                                student_id=s.student_id, status=s.status, reasons=list(s.reasons or []),
                                fix=[correction_hint(r) for r in s.reasons or []], page_ids=list(s.page_ids or []))
                     for s in sheets[:limit])
        if len(sheets) > limit:
            return ReviewPage(items=items, next_cursor=f"s{sheets[limit - 1].id}", rejected_files=rejected)
        after = 0
    room = limit - len(items)
    pages = session.execute(pages_query.where(Page.id > after).order_by(Page.id).limit(room + 1)).all()
    items.extend(ReviewItem(kind="page", id=p.id, batch_id=p.batch_id, exam_id=exam, student_id=p.student_id,
                            status=p.status, reasons=list(p.reasons or []),
                            fix=[page_hint(p.reasons or [])],
                            page_ids=[p.id]) for p, exam in pages[:room])
    next_cursor = None
    if len(pages) > room:
        next_cursor = f"p{pages[room - 1][0].id}" if room else f"p{after}"
    return ReviewPage(items=items, next_cursor=next_cursor, rejected_files=rejected)


#: Refused files listed with the first page of the queue, at most (they are also in each batch's ``rejected``).
_REJECTED_SHOWN = 500


def _rejected_files(session: Session, school: str, exam_id: int | None, batch_id: str | None
                    ) -> list[RejectedUpload]:
    """Files refused at upload in the school's batches (newest first): nothing may be lost without a word."""
    query = select(Batch.id, Batch.exam_id, Batch.rejected).where(Batch.school_id == school)
    if exam_id is not None:
        query = query.where(Batch.exam_id == exam_id)
    if batch_id is not None:
        query = query.where(Batch.id == batch_id)
    shown: list[RejectedUpload] = []
    for batch, exam, refused in session.execute(query.order_by(Batch.created_at.desc(), Batch.id)):
        for entry in refused or []:
            if len(shown) == _REJECTED_SHOWN:
                return shown
            shown.append(RejectedUpload(batch_id=batch, exam_id=exam, file=entry["file"], reason=entry["reason"]))
    return shown


# --- sheets and pages ----------------------------------------------------------------------------------------------

@router.get("/sheets/{sheet_id}", response_model=SheetPublic, dependencies=[permit("review:read")])
def read_sheet(sheet_id: RowId, principal: CurrentPrincipal, session: ReadSession) -> SheetPublic:
    """A sheet with its readings, reasons and the corrections made so far."""
    return _sheet_public(session, sheet_of(session, principal, sheet_id))


@router.get("/pages/{page_id}", response_model=PagePublic, dependencies=[permit("review:read")])
def read_page_result(page_id: RowId, principal: CurrentPrincipal, session: ReadSession) -> PagePublic:
    """What OMR read on one page (``omr.result.PageResult`` as JSON)."""
    page, file = page_of(session, principal, page_id)
    return PagePublic(id=page.id, batch_id=page.batch_id, file_id=page.file_id, filename=file.filename,
                      page_index=page.page_index, status=page.status, reasons=list(page.reasons or []),
                      student_id=page.student_id, has_overlay=page.overlay_sha256 is not None,
                      resolved=page.resolved, result=page.result)


@router.post("/pages/{page_id}/resolve", response_model=PagePublic, dependencies=[permit("review:write")])
def resolve_page(page_id: RowId, body: PageResolve, principal: CurrentPrincipal, session: WriteSession
                 ) -> PagePublic:
    """Take an unreadable page off the review queue, saying why (audited). A rescan is uploaded as a new file."""
    page, _file = page_of(session, principal, page_id)
    if page.status != "error":
        raise HTTPException(status.HTTP_409_CONFLICT, "only unreadable pages are resolved this way; a readable "
                                                      "page's sheet is corrected with POST /sheets/{id}/corrections")
    if not page.resolved:
        page.resolved = True
        audit.record(session, principal, "page.resolve", "page", page.id, school_id=page.school_id,
                     before={"resolved": False, "reasons": list(page.reasons or [])},
                     after={"resolved": True, "reason": body.reason})
        session.commit()
    return read_page_result(page_id, principal, session)


def _format(path) -> str | None:
    from omr.load import sniff_format

    with open(path, "rb") as handle:
        return sniff_format(handle.read(2048))


def _png(image) -> bytes:
    import cv2

    ok, encoded = cv2.imencode(".png", image)
    if not ok:  # pragma: no cover - OpenCV encodes any uint8 image
        raise HTTPException(status.HTTP_500_INTERNAL_SERVER_ERROR, "could not encode the image")
    return encoded.tobytes()


@router.get("/pages/{page_id}/image", response_class=Response, dependencies=[permit("review:read")],
            responses={200: {"content": {"image/png": {}, "image/jpeg": {}}, "description": "the page image"}})
def page_image(page_id: RowId, principal: CurrentPrincipal, session: ReadSession, service: ServiceDep) -> Response:
    """The scanned page: a JPEG/PNG/BMP file as stored; a page of a TIFF or PDF extracted and sent as PNG."""
    page, file = page_of(session, principal, page_id)
    path = stored_file(service, file)
    fmt = _format(path)
    if fmt in _SINGLE_IMAGE and page.page_index == 0:
        return FileResponse(path, media_type=_SINGLE_IMAGE[fmt], headers=_IMAGE_HEADERS)
    image = decode_page(service, path, page.page_index) if fmt is not None else None
    if image is None:
        raise not_found("the page cannot be decoded: " + "; ".join(page.reasons or ["not an image"]))
    return Response(_png(image), media_type="image/png", headers=_IMAGE_HEADERS)


@router.get("/pages/{page_id}/overlay", response_class=Response, dependencies=[permit("review:read")],
            responses={200: {"content": {"image/jpeg": {}},
                             "description": "the page with what OMR read drawn on it"}})
def page_overlay(page_id: RowId, principal: CurrentPrincipal, session: ReadSession, service: ServiceDep) -> Response:
    """The audit overlay: the stored one, else the page read again and drawn now (filled bubbles green,
    uncertain orange, multiple red, with the page's status and reasons) and kept for the next request."""

    from omr.batch import decode_min_side_px
    from omr.read import read_page
    from omr.result import PageResult

    page, file = page_of(session, principal, page_id)
    if page.overlay_sha256 and service.blobs.exists(page.overlay_sha256):
        stored = session.get(Blob, page.overlay_sha256)
        return FileResponse(service.blobs.path(page.overlay_sha256), headers=_IMAGE_HEADERS,
                            media_type=stored.media_type if stored is not None else "image/jpeg")
    exam = session.get(Exam, file.exam_id)
    path = stored_file(service, file)
    prepared = prepared_template(exam.template)  # the workers' own cache of prepared templates
    image = decode_page(service, path, page.page_index, decode_min_side_px(prepared.template))
    if image is None:
        raise not_found("the page cannot be decoded: " + "; ".join(page.reasons or ["not an image"]))
    try:
        result = read_page(image, prepared, source=file.filename, page_index=page.page_index)
    except Exception as error:  # the picture is still worth showing, with why it could not be read
        result = PageResult(source=file.filename, page_index=page.page_index, status="error",
                            reasons=[f"internal error reading page: {type(error).__name__}"])
    overlay = overlay_jpeg(image, result, prepared)
    if overlay is None:
        raise not_found("the overlay of this page cannot be drawn")
    _keep_overlay(service, page.id, overlay)
    return Response(overlay, media_type="image/jpeg", headers=_IMAGE_HEADERS)


def _keep_overlay(service: Service, page_id: int, jpeg: bytes) -> None:
    """Store an overlay drawn on demand and link it from its page (workers draw none: most pages are never
    looked at). Only a cache: when keeping it fails, the next request draws it again."""
    try:
        sha = service.blobs.put(jpeg)
        with service.db.write() as session:
            ensure_blob(session, sha, len(jpeg), "image/jpeg")
            session.execute(update(Page).where(Page.id == page_id, Page.overlay_sha256.is_(None))
                            .values(overlay_sha256=sha).execution_options(synchronize_session=False))
            session.commit()
    except Exception:
        log.exception("could not keep the overlay of page %d", page_id)


# --- corrections -----------------------------------------------------------------------------------------------------

@router.post("/sheets/{sheet_id}/corrections", response_model=CorrectionsResult, status_code=201,
             dependencies=[permit("review:write", body=256 * KIB)])
def correct_sheet(sheet_id: RowId, body: CorrectionsCreate, principal: CurrentPrincipal, session: WriteSession
                  ) -> CorrectionsResult:
    """Record a reviewer's decisions about a sheet's readings (checked against the exam: a question it does not
    have, a letter not among the question's options, a score above its points are refused with why).

    The sheet is resolved when every reason is covered by a correction, or when ``resolved`` is true. Each
    correction goes to the audit log with the value it replaces (before: the previous correction's, else what OMR
    read) and the new value (after).
    """
    from grading.corrections import Correction as GradingCorrection
    from grading.corrections import apply_corrections, question_name
    from grading.sheets import sheet_from_json

    sheet = sheet_of(session, principal, sheet_id)
    exam_row = session.get(Exam, sheet.exam_id)
    exam = grading_runs.parse_definition(exam_row)
    raw = sheet_from_json({**sheet.result, "sheet_index": sheet.id - 1}, f"sheet {sheet.id}")
    earlier = _corrections(session, sheet.id)
    current = apply_corrections([raw], [GradingCorrection(question=c.question, value=c.value, sheet=sheet.id)
                                        for c in earlier], exam).sheets
    new = [GradingCorrection(question=question_name(item.question), value=item.value.strip(), sheet=sheet.id,
                             by=principal.actor, reason=item.reason.strip()) for item in body.corrections]
    problems: list[str] = []
    changes: list[tuple[str, str]] = []  # (before, after) of each new correction
    for number, correction in enumerate(new, start=1):
        outcome = apply_corrections(current, [correction], exam)
        problems.extend(f"correction {number}: " + p.split("): ", 1)[-1] for p in outcome.problems)
        if outcome.problems:
            continue
        current = outcome.sheets
        # before = the value it replaces: the last correction's when there is one, else what OMR read
        changes.append((outcome.applied[0].before, outcome.applied[0].after))
        problems.extend(f"correction {number}: {p}" for p in _score_problems(exam, current[0], correction))
    if problems:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, problems)
    applied = []
    for correction, (before, after) in zip(new, changes):
        session.add(Correction(school_id=sheet.school_id, exam_id=sheet.exam_id, sheet_id=sheet.id,
                               question=correction.question, value=correction.value, reason=correction.reason,
                               by=principal.actor))
        audit.record(session, principal, "correction.create", "sheet", sheet.id, school_id=sheet.school_id,
                     before={"question": correction.question, "value": before},
                     after={"question": correction.question, "value": after, "reason": correction.reason})
        applied.append(AppliedCorrectionPublic(question=correction.question, before=before, after=after,
                                               reason=correction.reason))
    named = [(c.question, c.value) for c in earlier] + [(c.question, c.value) for c in new]
    left = uncovered(list(sheet.reasons or []), named)
    if not sheet.resolved and (body.resolved or not left):
        sheet.resolved = True
        audit.record(session, principal, "sheet.resolve", "sheet", sheet.id, school_id=sheet.school_id,
                     before={"resolved": False}, after={"resolved": True, "uncovered": left})
    session.commit()
    return CorrectionsResult(sheet=_sheet_public(session, sheet), applied=applied, uncovered=left)


def _score_problems(exam, sheet, correction) -> list[str]:
    """A subjective score above the question's points is a typing mistake, not a reading (grading would cap it)."""
    canonical = exam.canonical_of(correction.question, sheet.form)
    if canonical is None:
        return []
    question = exam.question(canonical)
    reading = sheet.scores.get(correction.question)
    if question.type == "subjective" and reading is not None and reading.value is not None \
            and reading.value > question.points + 1e-9:
        return [f"{correction.question}: score {reading.value:g} above its {question.points:g} points"]
    return []


# --- the audit log -------------------------------------------------------------------------------------------------

@router.get("/audit", response_model=AuditPage, tags=["audit"],
            dependencies=[permit("audit:read")])
def audit_log(principal: CurrentPrincipal, session: ReadSession, school_id: SchoolQuery = None,
              action: Annotated[str | None, Query(max_length=60)] = None,
              object_type: Annotated[str | None, Query(max_length=40)] = None, limit: Limit = 100,
              cursor: Annotated[str | None, Query(pattern=r"^\d{1,18}$")] = None) -> AuditPage:
    """The audit log, newest first: a school admin's school; the municipal system's whole city, or one school."""
    query = select(AuditEntry)
    if principal.school_id is not None or school_id is not None:
        query = query.where(AuditEntry.school_id == school_of(principal, school_id))
    if action is not None:
        query = query.where(AuditEntry.action == action)
    if object_type is not None:
        query = query.where(AuditEntry.object_type == object_type)
    if cursor is not None:
        query = query.where(AuditEntry.id < int(cursor))
    rows = session.scalars(query.order_by(AuditEntry.id.desc()).limit(limit + 1)).all()
    return AuditPage(items=[AuditPublic.model_validate(r) for r in rows[:limit]],
                     next_cursor=str(rows[limit - 1].id) if len(rows) > limit else None)
