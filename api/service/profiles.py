"""Scanner profiles per school and scanner station: which one a batch is read with, new versions, activation,
and labelled pages made from the review queue's corrections (what :func:`calibration.fit.fit_profile` learns from).

A profile is chosen when a batch is uploaded: the uploading station's active profile, else the school's, else the
default (:class:`omr.profile.ScannerProfile`), and the batch keeps it (``Batch.profile_id``), so a batch is read
with one profile however long it waits and whichever worker reads it. Versions are never changed: uploading or
learning adds the next one; activating one deactivates the others of its school/station, in one transaction.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from api.service import audit
from api.service.context import Service
from api.service.deps import not_found
from api.service.models import ApiKey, Batch, BatchFile, Correction, Exam, Page, ScannerProfileVersion, Sheet, utcnow
from api.service.security import Principal

__all__ = ["SCHOOL", "target_of", "active_profile", "add_version", "activate", "ReviewedPage", "reviewed_pages",
           "answers_of", "labelled_pages", "split_held_back", "LabelOutcome", "station_key"]

log = logging.getLogger(__name__)

#: The target of a school's own profile (a station's is "station:<key id>").
SCHOOL = "school"
#: Every HELD_BACK_EVERY-th labelled page (in page order) is held back to judge the fit, never trained on.
HELD_BACK_EVERY = 3
_SURE_READING = ("ok", "blank", "multiple")
_YES = ("1", "yes", "true", "是", "y")


def target_of(station_key_id: int | None) -> str:
    return SCHOOL if station_key_id is None else f"station:{station_key_id}"


def active_profile(session: Session, school_id: str, station_key_id: int | None) -> ScannerProfileVersion | None:
    """The profile an upload is read with: the station's active version, else the school's, else None (the
    default profile)."""
    targets = [SCHOOL] if station_key_id is None else [target_of(station_key_id), SCHOOL]
    rows = {row.target: row for row in session.scalars(
        select(ScannerProfileVersion).where(ScannerProfileVersion.school_id == school_id,
                                            ScannerProfileVersion.target.in_(targets),
                                            ScannerProfileVersion.active.is_(True)))}
    return next((rows[target] for target in targets if target in rows), None)


def add_version(session: Session, principal: Principal, school_id: str, station_key_id: int | None,
                profile: dict[str, Any], *, source: str, report: dict[str, Any] | None = None
                ) -> ScannerProfileVersion:
    """Store ``profile`` (already checked by :func:`omr.profile.profile_from_dict`) as the next version of the
    school's or station's profile, inactive; audited. Two writers racing for one version number: the unique
    constraint refuses the second (409)."""
    target = target_of(station_key_id)
    latest = session.scalar(select(func.max(ScannerProfileVersion.version)).where(
        ScannerProfileVersion.school_id == school_id, ScannerProfileVersion.target == target)) or 0
    row = ScannerProfileVersion(school_id=school_id, station_key_id=station_key_id, target=target,
                                version=latest + 1, name=str(profile.get("name", "default")), profile=profile,
                                source=source, report=report, active=False, created_by=principal.actor,
                                created_at=utcnow())
    session.add(row)
    session.flush()
    audit.record(session, principal, "profile.create", "scanner_profile", row.id, school_id=school_id,
                 after={"target": target, "version": row.version, "name": row.name, "source": source,
                        "profile": profile, **({"report": report} if report is not None else {})})
    return row


def activate(session: Session, principal: Principal, row: ScannerProfileVersion) -> None:
    """Make ``row`` its school's/station's active version (the one active before is deactivated); audited."""
    if row.active:
        return
    before = session.scalar(select(ScannerProfileVersion).where(
        ScannerProfileVersion.school_id == row.school_id, ScannerProfileVersion.target == row.target,
        ScannerProfileVersion.active.is_(True)))
    # Two statements in this order: the partial unique index allows one active version at any moment.
    session.execute(update(ScannerProfileVersion)
                    .where(ScannerProfileVersion.school_id == row.school_id,
                           ScannerProfileVersion.target == row.target, ScannerProfileVersion.active.is_(True))
                    .values(active=False).execution_options(synchronize_session=False))
    session.flush()
    row.active, row.activated_by, row.activated_at = True, principal.actor, utcnow()
    session.flush()
    audit.record(session, principal, "profile.activate", "scanner_profile", row.id, school_id=row.school_id,
                 before={"target": row.target, "active_version": before.version if before else None},
                 after={"target": row.target, "active_version": row.version, "name": row.name})


def station_key(session: Session, principal: Principal, school_id: str, key_id: int) -> ApiKey:
    """The school's station key ``key_id`` (404 for another school's, a municipal key or a missing one)."""
    key = session.get(ApiKey, key_id)
    if key is None or key.school_id != school_id or key.role != "station":
        raise not_found("station key not found")
    return key


# --- labelled pages from the review queue ---------------------------------------------------------------------------

@dataclass(frozen=True)
class ReviewedPage:
    """A page of a reviewed sheet: where its image is and what a person confirmed is marked on it."""

    page_id: int
    blob_sha256: str
    page_index: int
    template_page: int
    page_to_image: list[list[float]]
    exam_id: int
    answers: dict[str, str]


def answers_of(sheet: Sheet, corrections: list[Correction], exam: Any) -> dict[str, str] | None:
    """What a reviewer confirmed on a sheet, by question (letters, "" for blank): each corrected question's
    corrected value, and every sure reading left as it was (the reviewer saw it and let it stand). Uncertain
    readings nobody corrected say nothing; a sheet dropped as a second scan (``exclude``) gives None."""
    from grading.corrections import Correction as GradingCorrection
    from grading.corrections import apply_corrections
    from grading.sheets import sheet_from_json

    if any(c.question == "exclude" and c.value.strip().lower() in _YES for c in corrections):
        return None
    raw = sheet_from_json({**sheet.result, "sheet_index": 0}, f"sheet {sheet.id}")
    outcome = apply_corrections([raw], [GradingCorrection(question=c.question, value=c.value, sheet=1)
                                        for c in corrections], exam)
    corrected = {applied.question for applied in outcome.applied}
    readings = outcome.sheets[0].questions
    return {question: reading.marked for question, reading in readings.items()
            if question in corrected or reading.status in _SURE_READING}


def reviewed_pages(session: Session, school_id: str, station_key_id: int | None, exam_id: int | None,
                   limit: int) -> tuple[list[ReviewedPage], list[str]]:
    """Pages of sheets a person reviewed (corrected, or resolved) in the school's batches, or the station's,
    newest first: at most ``limit``. Returns them and the pages left out with why (a page whose fit failed
    verification or could not be read has nothing to measure)."""
    from api.service.grading_runs import parse_definition

    query = (select(Sheet).join(Batch, Batch.id == Sheet.batch_id)
             .where(Sheet.school_id == school_id,
                    or_(Sheet.resolved.is_(True), select(Correction.id).where(Correction.sheet_id == Sheet.id)
                        .exists()))
             .order_by(Sheet.id.desc()))
    if station_key_id is not None:
        query = query.where(Batch.station_key_id == station_key_id)
    if exam_id is not None:
        query = query.where(Sheet.exam_id == exam_id)
    pages: list[ReviewedPage] = []
    skipped: list[str] = []
    exams: dict[int, Any] = {}
    for sheet in session.scalars(query.limit(limit)):
        if sheet.exam_id not in exams:
            exams[sheet.exam_id] = parse_definition(session.get(Exam, sheet.exam_id))
        corrections = list(session.scalars(select(Correction).where(Correction.sheet_id == sheet.id)
                                           .order_by(Correction.id)))
        answers = answers_of(sheet, corrections, exams[sheet.exam_id])
        if answers is None:
            skipped.append(f"sheet {sheet.id}: dropped as a second scan")
            continue
        for page_id in sheet.page_ids or []:
            row = session.execute(select(Page, BatchFile.sha256).join(BatchFile, BatchFile.id == Page.file_id)
                                  .where(Page.id == page_id, Page.school_id == school_id)).first()
            if row is None:
                continue
            page, sha = row
            why = _unmeasurable(page)
            if why:
                skipped.append(f"page {page.id}: {why}")
                continue
            pages.append(ReviewedPage(page.id, sha, page.page_index, int(page.result["page"]),
                                      page.result["page_to_image"], sheet.exam_id, answers))
            if len(pages) >= limit:
                return pages, skipped
    return pages, skipped


def _unmeasurable(page: Page) -> str | None:
    from omr.read import REGISTRATION_UNSURE

    result = page.result or {}
    if page.status == "error" or not result.get("page_to_image") or not result.get("page"):
        return "not read (no registration to measure it with)"
    if REGISTRATION_UNSURE in (page.reasons or []):
        return "registration unsure (its fit failed verification)"
    return None


@dataclass
class LabelOutcome:
    labelled: list[Any] = field(default_factory=list)  # calibration.labels.LabelledPage
    skipped: list[str] = field(default_factory=list)


def labelled_pages(service: Service, pages: list[ReviewedPage], templates: dict[int, dict[str, Any]],
                   base: Any) -> LabelOutcome:
    """Re-measure each reviewed page's stored image at the scale the workers read it, with the registration
    they found, into :class:`calibration.labels.LabelledPage` (one image in memory at a time)."""
    if not pages:
        return LabelOutcome()
    import numpy as np

    from api.service.processing import prepared_template
    from api.service.stored_pages import decode_page  # the page image exactly as the review queue shows it
    from calibration.labels import label_page
    from omr.batch import decode_min_side_px

    outcome = LabelOutcome()
    for page in pages:
        try:
            prepared = prepared_template(templates[page.exam_id], profile=base)
            if not 1 <= page.template_page <= len(prepared.pages):
                outcome.skipped.append(f"page {page.page_id}: not a page of its exam's template")
                continue
            on_page = {group.id for group in prepared.pages[page.template_page - 1].expanded.groups}
            path = service.blobs.path(page.blob_sha256)
            image = decode_page(service, path, page.page_index, decode_min_side_px(prepared.template)) \
                if path.is_file() else None
            if image is None:
                outcome.skipped.append(f"page {page.page_id}: its image can no longer be decoded")
                continue
            if np.isin(image[::8, ::8], (0, 255)).all():  # label_page measures gray scans only
                outcome.skipped.append(f"page {page.page_id}: a 1-bit scan")
                continue
            outcome.labelled.append(label_page(
                image, np.asarray(page.page_to_image, dtype=np.float64), prepared, page.template_page,
                {group: marked for group, marked in page.answers.items() if group in on_page}))
        except (ValueError, KeyError, IndexError, OSError) as error:  # one odd page never stops the learning
            log.warning("page %d not labelled: %s", page.page_id, error)
            outcome.skipped.append(f"page {page.page_id}: {type(error).__name__}: {error}")
    return outcome


def split_held_back(labelled: list[Any]) -> tuple[list[Any], list[Any]]:
    """(train, held back): every :data:`HELD_BACK_EVERY`-th page held back, the same split every time."""
    held = [p for k, p in enumerate(labelled) if k % HELD_BACK_EVERY == HELD_BACK_EVERY - 1]
    train = [p for k, p in enumerate(labelled) if k % HELD_BACK_EVERY != HELD_BACK_EVERY - 1]
    return train, held
