"""The durable job table: every uploaded file is one job that a worker claims with a lease, reads, and completes.

Nothing here keeps state outside the database, so any number of worker processes (or a Dask dispatcher) on any
number of machines share one queue, and a worker killed at any moment loses nothing:

* :func:`claim` takes queued jobs, and running jobs whose lease has expired (their worker died), with an
  optimistic conditional ``UPDATE`` per job that only one claimant can win (PostgreSQL also skips rows another
  claimant has locked). A job tried before (its worker died, or its reading raised) is claimed on its own, so a
  file that kills its workers never uses up the attempts of files claimed with it. A job claimed
  ``max_attempts`` times without finishing is given up: it becomes ``failed`` and its file shows up as one
  error page saying why, so the batch still finishes and nothing is lost silently.
* :func:`renew` (:func:`renew_many` for all the jobs a worker holds, in one statement) is the heartbeat that
  keeps a lease while a long file is read.
* :func:`complete` marks the job done and stores its pages in ONE transaction, and only if the caller still
  holds the lease: a worker whose job was taken over after its lease expired has its late result dropped
  (the pages' unique ``(file_id, page_index)`` makes a double count impossible in any case).
  :func:`complete_many` does the same for several jobs in one transaction, each job on its own lease, the
  pages inserted in bulk from any iterable (a worker's spool file), a few hundred rows at a time.
* :func:`finalize_batch_if_done` marks a batch done exactly once, when its last job finished, and assembles
  its sheets in the same transaction; :func:`sweep` catches any batch left behind.

Times are UTC. On SQLite every write transaction starts with ``BEGIN IMMEDIATE`` (see :mod:`api.service.db`), so
claims are serialised; on PostgreSQL the conditional updates decide under READ COMMITTED.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from itertools import chain
from typing import Any, Iterable, Sequence

from sqlalchemy import and_, exists, func, insert, or_, select, update
from sqlalchemy.orm import Session

from api.service.db import Database
from api.service.models import Batch, BatchFile, Blob, Exam, Job, Page, ScannerProfileVersion, utcnow
from api.service.processing import NO_PAGE, error_page
from api.service.storage import BlobStore

__all__ = ["ClaimedJob", "claim", "waiting", "renew", "renew_many", "complete", "complete_many", "fail", "release",
           "finalize_batch_if_done", "sweep", "ensure_blob", "ensure_blobs", "template_json", "UNFINISHED"]

log = logging.getLogger(__name__)

#: Job states that still owe a result.
UNFINISHED = ("queued", "running")
#: Extra candidates looked at per claim: some may be given up (attempts exhausted) or won by another worker.
_SPARE_CANDIDATES = 8
#: Longest student id the pages table holds (the full reading always stays in ``result``).
_MAX_STUDENT_ID = 32
#: Page rows sent to the database per statement when a job is completed (bounded memory, few round trips).
_INSERT_ROWS = 200


@dataclass(frozen=True)
class ClaimedJob:
    """What a worker needs to read one file, without going back to the database.

    ``template_json`` is the exam's sheet template as canonical JSON text and ``template_hash`` its SHA-256, so
    workers prepare each template once (:mod:`api.service.processing` caches by the hash). ``media_type`` is
    the stored file's type as recognised at upload (``image/tiff`` and ``application/pdf`` may hold many pages).
    ``others_json`` holds the templates of the school's other exams (canonical JSON), so a page of one of them
    uploaded here is named as such (:func:`api.service.processing.prepared_template`). ``profile`` is the
    scanner profile the batch was uploaded with (:mod:`api.service.profiles`; None: the worker's default).
    """

    job_id: int
    file_id: int
    batch_id: str
    school_id: str
    exam_id: int
    sha256: str
    blob_path: str
    filename: str
    template_json: str
    template_hash: str
    attempts: int
    media_type: str = ""
    others_json: tuple[str, ...] = ()
    profile: dict[str, Any] | None = None


def template_json(template: dict[str, Any]) -> tuple[str, str]:
    """(canonical JSON text of ``template``, its SHA-256): equal templates give equal text and hash."""
    from api.service.processing import canonical_template

    return canonical_template(template)


def ensure_blob(session: Session, sha256: str, size: int, media_type: str) -> None:
    """Add the :class:`Blob` row for stored bytes unless it exists (two writers racing both succeed)."""
    ensure_blobs(session, [(sha256, size, media_type)])


def ensure_blobs(session: Session, blobs: Iterable[tuple[str, int, str]]) -> None:
    """:func:`ensure_blob` for many (SHA-256, size, media type) in one statement."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    now = utcnow()
    rows = [{"sha256": sha, "size": size, "media_type": media_type, "created_at": now}
            for sha, size, media_type in dict.fromkeys(blobs)]
    if rows:
        session.execute(dialect_insert(Blob).on_conflict_do_nothing(index_elements=["sha256"]), rows)


def _takeable(now: dt.datetime):
    """Jobs a worker may claim: queued ones, and running ones whose lease has run out."""
    return or_(Job.status == "queued", and_(Job.status == "running", Job.lease_until < now))


def _error_page(session: Session, job_id: int, reason: str, worker_id: str | None) -> str:
    """Record a given-up file as one error page (index 0) carrying ``reason``; return the batch id."""
    file = session.execute(select(BatchFile).join(Job, Job.file_id == BatchFile.id).where(Job.id == job_id)
                           ).scalar_one()
    already = session.scalar(select(exists().where(Page.file_id == file.id)))
    if not already:  # pages are only ever written together with 'done', so this holds; checked all the same
        session.add(Page(**_page_row(file, error_page(file.filename, 0, reason), worker_id)))
    return file.batch_id


def _give_up(session: Session, job_id: int, condition, reason: str, now: dt.datetime,
             worker_id: str | None) -> str | None:
    """Mark the job failed (only if ``condition`` still holds) with its error page; the batch id, or None."""
    updated = session.execute(
        update(Job).where(Job.id == job_id, condition)
        .values(status="failed", error=reason[:4000], finished_at=now, lease_until=None)
        .execution_options(synchronize_session=False))
    if updated.rowcount != 1:
        return None
    return _error_page(session, job_id, reason, worker_id)


def claim(db: Database, worker_id: str, lease_seconds: float, limit: int = 1, *, max_attempts: int = 3,
          blobs: BlobStore | None = None) -> list[ClaimedJob]:
    """Claim up to ``limit`` jobs for ``worker_id`` with a lease of ``lease_seconds``; oldest first.

    Parameters
    ----------
    db : Database
    worker_id : str
        Who holds the lease (unique per worker process).
    lease_seconds : float
        The lease; keep it with :func:`renew` while reading, or another worker takes the job over.
    limit : int
        Most jobs to claim. A job tried before is only ever claimed alone.
    max_attempts : int
        A job already claimed this often (each time its worker vanished or failed) is given up instead:
        ``failed``, with one error page for its file saying why.
    blobs : BlobStore, optional
        Where uploaded files are stored, to fill :attr:`ClaimedJob.blob_path`.

    Returns
    -------
    list[ClaimedJob]
        Possibly empty.
    """
    if limit < 1:
        return []
    now = utcnow()
    until = now + dt.timedelta(seconds=lease_seconds)
    claimed: list[int] = []
    given_up: set[str] = set()
    with db.write() as session:
        query = (select(Job.id, Job.attempts, Job.error).where(_takeable(now)).order_by(Job.id)
                 .limit(limit + _SPARE_CANDIDATES))
        if db.dialect == "postgresql":
            query = query.with_for_update(skip_locked=True)  # claimants spread over different rows
        for job_id, attempts, error in session.execute(query).all():
            if len(claimed) >= limit:
                break
            if attempts >= max_attempts:
                why = error or "the worker reading it stopped (crashed, was killed or ran out of time) each time"
                batch_id = _give_up(session, job_id, _takeable(now),
                                    f"file not read: gave up after {attempts} attempts: {why}", now, worker_id)
                if batch_id is not None:
                    given_up.add(batch_id)
                continue
            if attempts and claimed:  # a retry goes alone: the next claim takes it
                break
            won = session.execute(
                update(Job).where(Job.id == job_id, _takeable(now))
                .values(status="running", lease_owner=worker_id, lease_until=until, attempts=Job.attempts + 1)
                .execution_options(synchronize_session=False))
            if won.rowcount == 1:  # 0: another worker was faster; its claim stands
                claimed.append(job_id)
                if attempts:
                    break
        rows = []
        if claimed:
            rows = session.execute(
                select(Job.id, Job.attempts, BatchFile.id, BatchFile.batch_id, BatchFile.school_id, BatchFile.exam_id,
                       BatchFile.sha256, BatchFile.filename, Exam.template, Blob.media_type,
                       ScannerProfileVersion.profile)
                .join(BatchFile, BatchFile.id == Job.file_id).join(Exam, Exam.id == BatchFile.exam_id)
                .join(Batch, Batch.id == BatchFile.batch_id)
                .outerjoin(ScannerProfileVersion, ScannerProfileVersion.id == Batch.profile_id)
                .outerjoin(Blob, Blob.sha256 == BatchFile.sha256)
                .where(Job.id.in_(claimed)).order_by(Job.id)).all()
        others = {(school_id, exam_id): _other_templates(session, school_id, exam_id, template)
                  for _, _, _, _, school_id, exam_id, _, _, template, _, _ in rows}
        session.commit()
    for batch_id in given_up:
        finalize_batch_if_done(db, batch_id)
    jobs = []
    for job_id, attempts, file_id, batch_id, school_id, exam_id, sha, filename, template, media_type, profile in rows:
        text, digest = template_json(template)
        path = str(blobs.path(sha)) if blobs is not None else ""
        jobs.append(ClaimedJob(job_id, file_id, batch_id, school_id, exam_id, sha, path, filename, text, digest,
                               attempts, media_type or "", others[(school_id, exam_id)], profile))
    return jobs


#: Other exams whose templates a claimed job is read against, at most (the school's latest, city-wide ones too).
_OTHER_EXAMS = 16


def _other_templates(session: Session, school_id: str, exam_id: int, template: dict[str, Any]) -> tuple[str, ...]:
    """Canonical JSON of the templates of the school's other recent exams that differ from ``template``: one
    query per claimed exam; exams on the same card are one template, and a bundled card is added anyway."""
    seen = {(template.get("id"), template.get("code"))}
    texts = []
    for other in session.scalars(
            select(Exam.template).where(Exam.id != exam_id, or_(Exam.school_id == school_id, Exam.school_id.is_(None)))
            .order_by(Exam.updated_at.desc(), Exam.id.desc()).limit(_OTHER_EXAMS)):
        if isinstance(other, dict) and (other.get("id"), other.get("code")) not in seen:
            seen.add((other.get("id"), other.get("code")))
            texts.append(template_json(other)[0])
    return tuple(texts)


def waiting(db: Database) -> bool:
    """Whether a job could be claimed now: a read (no write lock), what an idle worker asks before :func:`claim`."""
    now = utcnow()
    with db.read() as session:
        return session.scalar(select(Job.id).where(_takeable(now)).limit(1)) is not None


def renew(db: Database, job_id: int, worker_id: str, lease_seconds: float) -> bool:
    """Extend the lease of a job ``worker_id`` still holds; False when it no longer does (taken over, done)."""
    return job_id in renew_many(db, [job_id], worker_id, lease_seconds)


def renew_many(db: Database, job_ids: Iterable[int], worker_id: str, lease_seconds: float) -> set[int]:
    """Extend the leases of the jobs ``worker_id`` holds, in one statement; the ids whose lease it still had."""
    ids = sorted(set(job_ids))
    if not ids:
        return set()
    with db.write() as session:
        kept = set(session.scalars(
            update(Job).where(Job.id.in_(ids), Job.lease_owner == worker_id, Job.status == "running")
            .values(lease_until=utcnow() + dt.timedelta(seconds=lease_seconds))
            .returning(Job.id).execution_options(synchronize_session=False)))
        session.commit()
        return kept


def _page_row(file: BatchFile, page: dict[str, Any], worker_id: str) -> dict[str, Any]:
    student_id = page.get("student_id")
    if student_id is not None and len(str(student_id)) > _MAX_STUDENT_ID:
        student_id = None  # no room in the column: the full reading stays in result, never a cut-off id
    return {"file_id": file.id, "batch_id": file.batch_id, "school_id": file.school_id,
            "page_index": int(page["page_index"]), "status": str(page["status"]),
            "reasons": [str(r) for r in page.get("reasons") or []], "student_id": student_id, "result": page["result"],
            "overlay_sha256": page.get("overlay_sha256"), "worker": worker_id}


def _insert_pages(session: Session, file: BatchFile, pages: Iterable[dict[str, Any]], worker_id: str) -> None:
    """Insert a file's pages a few hundred rows per statement, taking them from ``pages`` as it goes."""
    rows: list[dict[str, Any]] = []
    for page in pages:
        if page.get("overlay_sha256"):
            ensure_blob(session, page["overlay_sha256"], int(page.get("overlay_size") or 0), "image/jpeg")
        rows.append(_page_row(file, page, worker_id))
        if len(rows) >= _INSERT_ROWS:
            session.execute(insert(Page), rows)
            rows = []
    if rows:
        session.execute(insert(Page), rows)


def complete(db: Database, job_id: int, worker_id: str, pages: Iterable[dict[str, Any]]) -> bool:
    """Store a job's pages and mark it done, in one transaction, if ``worker_id`` still holds its lease.

    Parameters
    ----------
    pages : iterable of dict
        From :func:`api.service.processing.iter_file`: ``page_index``, ``status``, ``reasons``, ``student_id``,
        ``result`` and, for a stored overlay, ``overlay_sha256`` and ``overlay_size`` (the bytes already in
        the blob store). Read once, as the rows are inserted.

    Returns
    -------
    bool
        False when the lease was lost (another worker took the job over after it expired, or it was given up):
        nothing is stored, the other worker's result counts.
    """
    return complete_many(db, worker_id, [(job_id, pages)]) == {job_id}


def complete_many(db: Database, worker_id: str, finished: Sequence[tuple[int, Iterable[dict[str, Any]]]]
                  ) -> set[int]:
    """Complete several jobs in one transaction (see :func:`complete`); each is stored only if ``worker_id``
    still holds its lease. Returns the ids of the jobs stored; the others' pages are not read."""
    ids = [job_id for job_id, _ in finished]
    if not ids:
        return set()
    with db.write() as session:
        won = set(session.scalars(
            update(Job).where(Job.id.in_(ids), Job.lease_owner == worker_id, Job.status == "running")
            .values(status="done", finished_at=utcnow(), lease_until=None, error=None)
            .returning(Job.id).execution_options(synchronize_session=False)))
        if not won:
            session.rollback()
            return set()
        files = {job_id: file for job_id, file in session.execute(
            select(Job.id, BatchFile).join(BatchFile, BatchFile.id == Job.file_id).where(Job.id.in_(won)))}
        for job_id, pages in finished:
            if job_id not in won:
                continue
            file, remaining = files[job_id], iter(pages)
            first = next(remaining, None)
            _insert_pages(session, file, [error_page(file.filename, 0, NO_PAGE)] if first is None else chain([first], remaining),
                          worker_id)
        session.commit()
        batches = sorted({files[job_id].batch_id for job_id in won})
    for batch_id in batches:
        finalize_batch_if_done(db, batch_id)
    return won


def fail(db: Database, job_id: int, worker_id: str, error: str, *, max_attempts: int = 3) -> bool:
    """Give back a job whose reading raised: queued again, or ``failed`` (with its error page) once it has been
    attempted ``max_attempts`` times. False when ``worker_id`` no longer held it."""
    error = str(error)[:4000]
    now = utcnow()
    batch_id = None
    with db.write() as session:
        held = and_(Job.lease_owner == worker_id, Job.status == "running")
        attempts = session.scalar(select(Job.attempts).where(Job.id == job_id, held))
        if attempts is None:
            session.rollback()
            return False
        if attempts >= max_attempts:
            batch_id = _give_up(session, job_id, held, f"file not read: gave up after {attempts} attempts: {error}",
                                now, worker_id)
            ok = batch_id is not None
        else:
            ok = session.execute(
                update(Job).where(Job.id == job_id, held)
                .values(status="queued", lease_owner=None, lease_until=None, error=error)
                .execution_options(synchronize_session=False)).rowcount == 1
        session.commit()
    if batch_id is not None:
        finalize_batch_if_done(db, batch_id)
    return ok


def release(db: Database, job_id: int, worker_id: str) -> bool:
    """Hand a held job back untouched (a worker shutting down): queued again, the attempt not counted."""
    with db.write() as session:
        updated = session.execute(
            update(Job).where(Job.id == job_id, Job.lease_owner == worker_id, Job.status == "running")
            # a running job was counted when claimed (attempts >= 1): take that count back
            .values(status="queued", lease_owner=None, lease_until=None, attempts=Job.attempts - 1)
            .execution_options(synchronize_session=False))
        session.commit()
        return updated.rowcount == 1


def _unfinished(session: Session, batch_id: str) -> int:
    return session.scalar(select(func.count()).select_from(Job)
                          .where(Job.batch_id == batch_id, Job.status.in_(UNFINISHED))) or 0


def finalize_batch_if_done(db: Database, batch_id: str) -> bool:
    """When no job of the batch is queued or running: mark it done and assemble its sheets, in one transaction.

    Returns True for the one call that finalised the batch (a batch is finalised exactly once).
    """
    from api.service.sheets import assemble_batch

    with db.read() as session:  # cheap check first: on SQLite a write transaction takes the database's lock
        if _unfinished(session, batch_id) or session.scalar(
                select(Batch.status).where(Batch.id == batch_id)) != "processing":
            return False
    with db.write() as session:
        if _unfinished(session, batch_id):
            session.rollback()
            return False
        won = session.execute(
            update(Batch).where(Batch.id == batch_id, Batch.status == "processing")
            .values(status="done", finished_at=utcnow()).execution_options(synchronize_session=False))
        if won.rowcount != 1:
            session.rollback()
            return False
        school_id, exam_id, template = session.execute(
            select(Batch.school_id, Batch.exam_id, Exam.template).join(Exam, Exam.id == Batch.exam_id)
            .where(Batch.id == batch_id)).one()
        assemble_batch(session, batch_id, school_id, exam_id, len(template.get("pages", [])) or 1)
        session.commit()
    log.info("batch %s done", batch_id)
    return True


def sweep(db: Database) -> int:
    """Finalise every batch still ``processing`` whose jobs have all finished; the number finalised."""
    with db.read() as session:
        pending = session.scalars(
            select(Batch.id).where(Batch.status == "processing",
                                   ~exists().where(Job.batch_id == Batch.id, Job.status.in_(UNFINISHED)))).all()
    return sum(finalize_batch_if_done(db, batch_id) for batch_id in pending)
