"""Batches: scanner stations (and teachers) upload scans; workers read them; anyone of the school follows progress.

An upload is checked before anything is read: each file's type comes from its magic bytes (never its name),
zip archives are expanded in name order with every member's size and compression ratio checked before it is
extracted, and whatever is refused is listed with its reason in the batch (``rejected``). Accepted files go to
the content-addressed blob store; the same bytes uploaded again for the same school and exam are recorded as a
duplicate and not read twice. Each new file becomes one job in the same transaction as the batch, so an upload
either fully exists or not at all.
"""

from __future__ import annotations

import hashlib
import re
import uuid
import zipfile
import zlib
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import IO, Annotated

from fastapi import APIRouter, Header, HTTPException, Path, Query, Request, Response, UploadFile, status
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.service import audit, jobs, profiles
from api.service.context import Service
from api.service.deps import UPLOAD_LIMIT, CurrentPrincipal, ReadSession, ServiceDep, not_found, permit
from api.service.json_body import LimitedJSONRoute
from api.service.models import Batch, BatchFile, Job, Page, ScannerProfileVersion, Sheet
from api.service.routes.exams import visible_exam
from api.service.schemas.batches import BatchPublic, DuplicateFile, Progress, RejectedFile
from api.service.schemas.profiles import ProfileRef
from api.service.security import Principal
from api.service.settings import Settings
from api.service.storage import Staged

router = APIRouter(tags=["batches"], route_class=LimitedJSONRoute)

MEDIA_TYPES = {"jpeg": "image/jpeg", "png": "image/png", "bmp": "image/bmp", "tiff": "image/tiff",
               "pdf": "application/pdf"}
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")  # a member's local header; an empty archive's end record
_HEAD_BYTES = 2048  # what omr.load.sniff_format needs to recognise every supported format
_MAX_NAME = 255  # BatchFile.filename
_FORM_FIELDS = 16  # exam_id and little else: a form full of text fields is not an upload
_MAX_DB_INT = 2**31 - 1

_UPLOAD_BODY = {
    "required": True,
    "content": {"multipart/form-data": {"schema": {
        "type": "object", "required": ["exam_id", "files"],
        "properties": {
            "exam_id": {"type": "integer", "description": "the exam these scans belong to"},
            "files": {"type": "array", "items": {"type": "string", "format": "binary"},
                      "description": "scans in scan order: JPEG, PNG, BMP, TIFF (multi-page, 1-bit), PDF, or zip "
                                     "archives of them"},
        }}}},
}


# --- reading the upload ---------------------------------------------------------------------------------------

@dataclass
class _Stored:
    name: str
    staged: Staged
    media_type: str

    @property
    def sha256(self) -> str:
        return self.staged.sha256

    @property
    def size(self) -> int:
        return self.staged.size


@dataclass
class _Intake:
    """What an upload turned into: stored files in order, and refused ones with reasons."""

    stored: list[_Stored] = field(default_factory=list)
    rejected: list[dict[str, str]] = field(default_factory=list)

    def refuse(self, name: str, reason: str) -> None:
        self.rejected.append({"file": name, "reason": reason})


def _label(name: str) -> str:
    """A file name fit to show and store: no control characters, at most 255 characters (the end kept, since
    that is where an archive member's own name is). Only ever a label, never a path."""
    clean = "".join(c if c.isprintable() else "?" for c in name).strip() or "unnamed"
    return clean if len(clean) <= _MAX_NAME else "…" + clean[-(_MAX_NAME - 1):]


def _natural(name: str) -> tuple:
    """Sort key comparing runs of digits by value: scan2 before scan10 (as `yuejuan scan` orders files)."""
    return tuple((0, int(part), part) if part.isdigit() else (1, part.casefold(), part)
                 for part in re.split(r"(\d+)", name))


def _size(amount: int) -> str:
    return f"{amount / 2**20:.1f} MiB" if amount >= 2**20 else f"{amount} bytes"


def _unsupported(head: bytes) -> str:
    if head[:4] in _ZIP_MAGIC:
        return "nested zip archive refused: upload its files, or one flat zip"
    return (f"not a scan: the file is not JPEG, PNG, BMP, TIFF or PDF (it starts with {head[:8]!r}); "
            f"the type is recognised from the content, not the name")


class _Rejoined:
    """A stream's first bytes (already read, to recognise the file) followed by the rest of it."""

    def __init__(self, head: bytes, rest: IO[bytes]):
        self.head, self.rest = head, rest

    def read(self, size: int = -1) -> bytes:
        if self.head:
            block, self.head = self.head, b""
            return block
        return self.rest.read(size)


def _take(intake: _Intake, name: str, stream: IO[bytes], service: Service) -> None:
    """Check one file's content and stage it in the blob store (streamed: memory stays small whatever its
    size), or refuse it with the reason."""
    from omr.load import sniff_format

    limit = service.settings.max_file_bytes
    head = stream.read(_HEAD_BYTES)
    if not head:
        intake.refuse(name, "empty file (0 bytes)")
        return
    fmt = sniff_format(head)
    if fmt is None:
        intake.refuse(name, _unsupported(head))
        return
    staged = service.blobs.stage(_Rejoined(head, stream), limit)
    if staged is None:
        intake.refuse(name, f"file of more than {_size(limit)}: larger than the limit")
        return
    intake.stored.append(_Stored(name, staged, MEDIA_TYPES[fmt]))


def _is_zip(handle: IO[bytes]) -> bool:
    handle.seek(0)
    head = handle.read(4)
    handle.seek(0)
    return head in _ZIP_MAGIC


def _zip_members(handle: IO[bytes]) -> list[zipfile.ZipInfo]:
    """The files of an archive in name order (folders skipped); raises ``zipfile.BadZipFile`` and friends."""
    with zipfile.ZipFile(handle) as archive:
        return sorted((info for info in archive.infolist() if not info.is_dir()),
                      key=lambda info: _natural(info.filename))


_ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, NotImplementedError, RuntimeError, EOFError, OSError, ValueError)


def _take_zip(intake: _Intake, name: str, handle: IO[bytes], settings: Settings, service: Service) -> None:
    """Expand an archive member by member; every check happens before a member is extracted."""
    try:
        members = _zip_members(handle)
        archive = zipfile.ZipFile(handle)
    except _ZIP_ERRORS as error:
        intake.refuse(name, f"not a readable zip archive: {error}")
        return
    if len(members) > settings.max_zip_members:
        intake.refuse(name, f"zip archive of {len(members)} files: more than the limit of {settings.max_zip_members}")
        archive.close()
        return
    if not members:
        intake.refuse(name, "empty zip archive")
    with archive:
        for info in members:
            member = _label(f"{name}/{info.filename}")
            if info.flag_bits & 0x1:
                intake.refuse(member, "encrypted zip member")
                continue
            if info.filename.lower().endswith(".zip"):
                intake.refuse(member, _unsupported(_ZIP_MAGIC[0]))
                continue
            if info.file_size > settings.max_file_bytes:
                intake.refuse(member, f"file of {_size(info.file_size)} larger than the limit of "
                                      f"{_size(settings.max_file_bytes)}")
                continue
            ratio = info.file_size / max(info.compress_size, 1)
            if ratio > settings.max_zip_ratio:
                intake.refuse(member, f"compressed {ratio:.0f}:1, above the limit of {settings.max_zip_ratio:.0f}:1 "
                                      f"(a zip bomb?)")
                continue
            try:
                # Streamed: the member's CRC is checked as it is read, and at most the limit is kept.
                with archive.open(info) as opened:
                    _take(intake, member, opened, service)
            except _ZIP_ERRORS as error:
                intake.refuse(member, f"cannot extract from the zip archive: {error}")


def _count_files(uploads: list[UploadFile]) -> int:
    """How many files the upload holds, archives counted by their members (read from their directories)."""
    total = 0
    for upload in uploads:
        if _is_zip(upload.file):
            try:
                total += max(len(_zip_members(upload.file)), 1)
            except _ZIP_ERRORS:
                total += 1  # refused later, with the reason
        else:
            total += 1
    return total


def _intake(uploads: list[UploadFile], service: Service) -> _Intake:
    """Check and store every file of an upload: staged one by one, then made durable together."""
    settings = service.settings
    if _count_files(uploads) > settings.max_files_per_batch:
        raise _too_many(settings)
    intake = _Intake()
    try:
        for upload in uploads:
            name = _label(upload.filename or "unnamed")
            if _is_zip(upload.file):
                _take_zip(intake, name, upload.file, settings, service)
                continue
            if upload.size is not None and upload.size > settings.max_file_bytes:  # refused without reading it
                intake.refuse(name, f"file of {_size(upload.size)} larger than the limit of "
                                    f"{_size(settings.max_file_bytes)}")
                continue
            _take(intake, name, upload.file, service)
    except BaseException:
        service.blobs.discard([item.staged for item in intake.stored])
        raise
    service.blobs.commit([item.staged for item in intake.stored])
    return intake


def _too_many(settings: Settings) -> HTTPException:
    return HTTPException(status.HTTP_413_CONTENT_TOO_LARGE,
                         f"more than {settings.max_files_per_batch} files in one batch (zip members count as "
                         f"files): send them as several batches")


# --- recording the batch --------------------------------------------------------------------------------------

def _upload_lock(session: Session, school_id: str, exam_id: int) -> None:
    """PostgreSQL: one upload per school and exam at a time, so two concurrent uploads of the same scan cannot
    both miss each other as duplicates (SQLite's write transactions are serial already)."""
    if session.get_bind().dialect.name == "postgresql":
        digest = hashlib.sha256(f"yuejuan-upload:{school_id}:{exam_id}".encode()).digest()
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"),
                        {"key": int.from_bytes(digest[:8], "big", signed=True)})


def _existing(session: Session, school_id: str, key: str | None) -> Batch | None:
    if key is None:
        return None
    return session.scalar(select(Batch).where(Batch.school_id == school_id, Batch.idempotency_key == key))


def _record(service: Service, principal: Principal, exam_id: int, key: str | None, intake: _Intake
            ) -> tuple[str, bool, int]:
    """Store the batch, its files and one job per new file in one transaction.

    Returns (batch id, whether it is new, jobs made).
    """
    school = principal.school_id
    with service.db.write() as session:
        _upload_lock(session, school, exam_id)
        earlier = _existing(session, school, key)
        if earlier is not None:  # the same request again, racing the first
            session.rollback()
            return earlier.id, False, 0
        station = principal.key_id if principal.role == "station" else None
        profile = profiles.active_profile(session, school, station)
        batch = Batch(id=str(uuid.uuid4()), school_id=school, exam_id=exam_id, idempotency_key=key,
                      uploaded_by=principal.actor, status="processing", files_received=len(intake.stored),
                      duplicates=0, rejected=intake.rejected, station_key_id=station,
                      profile_id=profile.id if profile is not None else None)
        session.add(batch)
        session.flush()
        originals: dict[str, int] = {}
        shas = sorted({item.sha256 for item in intake.stored})
        for start in range(0, len(shas), 500):
            for sha, file_id in session.execute(
                    select(BatchFile.sha256, func.min(BatchFile.id))
                    .where(BatchFile.school_id == school, BatchFile.exam_id == exam_id,
                           BatchFile.sha256.in_(shas[start:start + 500]), BatchFile.duplicate_of.is_(None))
                    .group_by(BatchFile.sha256)):
                originals[sha] = file_id
        made = duplicates = 0
        jobs.ensure_blobs(session, [(item.sha256, item.size, item.media_type) for item in intake.stored])
        for seq, item in enumerate(intake.stored):
            row = BatchFile(batch_id=batch.id, school_id=school, exam_id=exam_id, seq=seq, filename=item.name,
                            sha256=item.sha256, duplicate_of=originals.get(item.sha256))
            session.add(row)
            session.flush()
            if row.duplicate_of is not None:
                duplicates += 1
                continue
            originals[item.sha256] = row.id
            session.add(Job(file_id=row.id, batch_id=batch.id, status="queued", attempts=0))
            made += 1
        batch.duplicates = duplicates
        audit.record(session, principal, "batch.upload", "batch", batch.id, school_id=school,
                     after={"exam_id": exam_id, "files": len(intake.stored), "jobs": made, "duplicates": duplicates,
                            "rejected": len(intake.rejected), "idempotency_key": key,
                            "profile": f"{profile.name} v{profile.version}" if profile is not None else None})
        session.commit()
        return batch.id, True, made


# --- progress -------------------------------------------------------------------------------------------------

def _public(session: Session, batches: list[Batch]) -> list[BatchPublic]:
    """Batches with their progress, counted for all of them at once."""
    ids = [b.id for b in batches]
    counts: dict[str, dict[str, Counter]] = defaultdict(lambda: defaultdict(Counter))
    duplicates: dict[str, list[DuplicateFile]] = defaultdict(list)
    if ids:
        for table, kind in ((Job, "jobs"), (Page, "pages"), (Sheet, "sheets")):
            for batch_id, state, n in session.execute(
                    select(table.batch_id, table.status, func.count()).where(table.batch_id.in_(ids))
                    .group_by(table.batch_id, table.status)):
                counts[batch_id][kind][state] = n
        original = aliased(BatchFile)
        for batch_id, name, first_batch in session.execute(
                select(BatchFile.batch_id, BatchFile.filename, original.batch_id)
                .join(original, original.id == BatchFile.duplicate_of)
                .where(BatchFile.batch_id.in_(ids)).order_by(BatchFile.batch_id, BatchFile.seq)):
            duplicates[batch_id].append(DuplicateFile(file=name, duplicate_of_batch=first_batch))
    profile_ids = {b.profile_id for b in batches if b.profile_id is not None}
    used = {row.id: ProfileRef.model_validate(row) for row in session.scalars(
        select(ScannerProfileVersion).where(ScannerProfileVersion.id.in_(profile_ids)))} if profile_ids else {}
    made = []
    for batch in batches:
        job, page, sheet = (counts[batch.id][kind] for kind in ("jobs", "pages", "sheets"))
        progress = Progress(
            status=batch.status, files_received=batch.files_received, duplicates=batch.duplicates,
            rejected=len(batch.rejected or []), jobs_queued=job["queued"], jobs_running=job["running"],
            jobs_done=job["done"], jobs_failed=job["failed"], pages_read=sum(page.values()), pages_ok=page["ok"],
            pages_flagged=page["flagged"], pages_failed=page["error"], sheets=sum(sheet.values()),
            sheets_ok=sheet["ok"], sheets_flagged=sum(sheet.values()) - sheet["ok"])
        made.append(BatchPublic(
            id=batch.id, exam_id=batch.exam_id, status=batch.status, uploaded_by=batch.uploaded_by,
            created_at=batch.created_at, finished_at=batch.finished_at, files_received=batch.files_received,
            duplicates=duplicates[batch.id], rejected=[RejectedFile(**r) for r in batch.rejected or []],
            progress=progress, profile=used.get(batch.profile_id)))
    return made


def _read_back(service: Service, batch_id: str) -> BatchPublic:
    with service.db.read() as session:
        return _public(session, [session.get(Batch, batch_id)])[0]


# --- routes ---------------------------------------------------------------------------------------------------

def _exam_id(value) -> int:
    if not isinstance(value, str) or not re.fullmatch(r"\d{1,10}", value.strip()):
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "exam_id: a form field holding the exam's id")
    return int(value.strip())


async def _form(request: Request, settings: Settings):
    try:
        return await request.form(max_files=settings.max_files_per_batch, max_fields=_FORM_FIELDS)
    except StarletteHTTPException as error:  # the multipart parser's own refusals
        if "too many files" in str(error.detail).lower():
            raise _too_many(settings) from None
        raise HTTPException(status.HTTP_400_BAD_REQUEST, f"malformed upload: {error.detail}") from None


@router.post("/batches", response_model=BatchPublic, status_code=202, openapi_extra={"requestBody": _UPLOAD_BODY},
             dependencies=[permit("upload", body=UPLOAD_LIMIT)],
             responses={200: {"model": BatchPublic, "description": "the batch an earlier request with the same "
                                                                   "Idempotency-Key made (nothing new stored)"},
                        413: {"description": "more files than max_files_per_batch, or a body above the limit"}})
async def upload_batch(request: Request, response: Response, principal: CurrentPrincipal, service: ServiceDep,
                       idempotency_key: Annotated[str | None, Header(
                           alias="Idempotency-Key", min_length=1, max_length=200,
                           description="repeat a request safely: the same key gives the same batch")] = None
                       ) -> BatchPublic:
    """Upload a batch of scans of one exam (multipart: ``exam_id`` and ``files``).

    Returns at once (202) with what was received: files stored, duplicates (the same bytes already uploaded by
    this school for this exam; not read again) and files refused with their reasons. Workers then read the
    files; follow with ``GET /batches/{id}``.
    """
    settings = service.settings
    form = await _form(request, settings)
    try:
        exam_id = _exam_id(form.get("exam_id"))
        uploads = [item for item in form.getlist("files") if not isinstance(item, str)]
        if not uploads:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "files: at least one file part")
        batch_id, new = await run_in_threadpool(_accept, service, principal, exam_id, idempotency_key, uploads)
    finally:
        await form.close()  # the parts spooled to temporary files
    if not new:
        response.status_code = status.HTTP_200_OK
    return await run_in_threadpool(_read_back, service, batch_id)


def _accept(service: Service, principal: Principal, exam_id: int, key: str | None, uploads: list[UploadFile]
            ) -> tuple[str, bool]:
    """Check, store and record an upload; (batch id, whether it is new)."""
    with service.db.read() as session:
        if exam_id > _MAX_DB_INT:
            raise not_found("exam not found")
        visible_exam(session, principal, exam_id)
        earlier = _existing(session, principal.school_id, key)
    if earlier is not None:
        if earlier.exam_id != exam_id:
            raise HTTPException(status.HTTP_409_CONFLICT, "this Idempotency-Key was used for another exam")
        return earlier.id, False
    intake = _intake(uploads, service)
    try:
        batch_id, new, made = _record(service, principal, exam_id, key, intake)
    except IntegrityError:  # the same key from a concurrent request won the race: answer with its batch
        with service.db.read() as session:
            earlier = _existing(session, principal.school_id, key)
        if earlier is None:
            raise
        return earlier.id, False
    if new and made == 0:  # nothing to read (all duplicates or refused): the batch is done now
        jobs.finalize_batch_if_done(service.db, batch_id)
    return batch_id, new


@router.get("/batches", response_model=list[BatchPublic], dependencies=[permit("batches:read")])
def list_batches(principal: CurrentPrincipal, session: ReadSession,
                 limit: Annotated[int, Query(ge=1, le=200)] = 50, offset: Annotated[int, Query(ge=0, le=10**6)] = 0,
                 exam_id: Annotated[int | None, Query(ge=1, le=_MAX_DB_INT)] = None) -> list[BatchPublic]:
    """The school's batches, newest first."""
    query = select(Batch).where(Batch.school_id == principal.school_id)
    if exam_id is not None:
        query = query.where(Batch.exam_id == exam_id)
    batches = list(session.scalars(query.order_by(Batch.created_at.desc(), Batch.id).limit(limit).offset(offset)))
    return _public(session, batches)


@router.get("/batches/{batch_id}", response_model=BatchPublic,
            dependencies=[permit("batches:read")])
def read_batch(batch_id: Annotated[str, Path(max_length=36)], principal: CurrentPrincipal,
               session: ReadSession) -> BatchPublic:
    """One batch and how far its reading has got (files, jobs, pages, sheets); another school's is not found."""
    batch = session.scalar(select(Batch).where(Batch.id == batch_id, Batch.school_id == principal.school_id))
    if batch is None:
        raise not_found("batch not found")
    return _public(session, [batch])[0]
