"""Shared by the job, batch, worker, Dask and serve tests: rows seeded straight into the database, uploads over
HTTP, the simulator's truth per uploaded page, and the checks every run must pass (one page row per page)."""

from __future__ import annotations

import io
import time
import uuid
import zipfile
from dataclasses import asdict
from pathlib import Path
from typing import Callable

from sqlalchemy import func, select

from api.service.context import Service
from api.service.models import Batch, BatchFile, Blob, Exam, Job, Page, School, Sheet

SCHOOL = "3433000909"
TEMPLATE = "cn-a4-55"


def template_dict() -> dict:
    from sample_sheets import resolve_template

    return resolve_template(TEMPLATE).model_dump(mode="json")


def seed_batch(service: Service, files: int = 3, *, school: str = SCHOOL) -> str:
    """A school, an exam on cn-a4-55 and a batch of ``files`` stored files with one queued job each, inserted
    directly (the job table's own tests need no upload). Returns the batch id."""
    with service.db.write() as session:
        if session.get(School, school) is None:
            session.add(School(id=school, name="测试中学"))
        exam = session.scalar(select(Exam).where(Exam.code == "jobs-test", Exam.school_id == school))
        if exam is None:
            exam = Exam(code="jobs-test", school_id=school, subject="数学", definition={}, template=template_dict())
            session.add(exam)
        session.flush()
        batch = Batch(id=str(uuid.uuid4()), school_id=school, exam_id=exam.id, uploaded_by="test", files_received=files)
        session.add(batch)
        session.flush()
        for seq in range(files):
            sha = uuid.uuid4().hex * 2  # distinct fake content ids (never read: these tests complete by hand)
            session.add(Blob(sha256=sha, size=1, media_type="image/jpeg"))
            session.flush()
            row = BatchFile(batch_id=batch.id, school_id=school, exam_id=exam.id, seq=seq, filename=f"scan{seq}.jpg",
                            sha256=sha)
            session.add(row)
            session.flush()
            session.add(Job(file_id=row.id, batch_id=batch.id))
        session.commit()
        return batch.id


def fake_pages(filename: str, student_ids: list[str | None]) -> list[dict]:
    """Page records as a worker would hand to jobs.complete: one readable sheet page per student id."""
    from omr.result import PageResult

    pages = []
    for index, student_id in enumerate(student_ids):
        result = PageResult(source=filename, page_index=index, status="ok", template_id=TEMPLATE, page=1,
                            student_id=student_id)
        pages.append({"page_index": index, "status": "ok", "reasons": [], "student_id": student_id,
                      "result": asdict(result)})
    return pages


def upload(client, headers: dict, exam_id, files: list[tuple[str, bytes]], key: str | None = None,
           base: str = "/api/v1"):
    """POST /batches with ``files`` as multipart parts named ``files``."""
    if key is not None:
        headers = {**headers, "Idempotency-Key": key}
    parts = [("files", (name, data, "application/octet-stream")) for name, data in files]
    return client.post(f"{base}/batches", data={"exam_id": str(exam_id)}, files=parts, headers=headers)


def zip_of(members: list[tuple[str, bytes]], compression: int = zipfile.ZIP_STORED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=compression) as archive:
        for name, data in members:
            archive.writestr(name, data)
    return buffer.getvalue()


def truth_by_page(folder: Path, manifest: dict, rename: Callable[[str], str] = lambda name: name
                  ) -> dict[tuple[str, int], str]:
    """The simulator's student id of each (uploaded file name, page index)."""
    return {(rename(entry["file"]), entry["frame"] or 0): entry["student_id"] for entry in manifest["pages"]}


def wait_for(condition: Callable[[], object], timeout: float, what: str, interval: float = 0.05):
    """Poll ``condition`` until it returns something true; fail with ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def pages_by_file(service: Service, batch_id: str) -> dict[tuple[str, int], list[Page]]:
    rows = {}
    with service.db.read() as session:
        for page, filename in session.execute(select(Page, BatchFile.filename)
                                              .join(BatchFile, BatchFile.id == Page.file_id)
                                              .where(Page.batch_id == batch_id)):
            rows.setdefault((filename, page.page_index), []).append(page)
    return rows


def check_sheets_against_truth(service: Service, batch_id: str, truth: dict[tuple[str, int], str]) -> int:
    """Every page read exactly once; every sheet OMR calls ok carries the simulator's student id. Returns the
    number of ok sheets checked."""
    pages = pages_by_file(service, batch_id)
    assert all(len(rows) == 1 for rows in pages.values()), "a page was stored twice"
    assert set(pages) == set(truth), f"pages read {sorted(pages)} differ from pages uploaded {sorted(truth)}"
    by_id = {rows[0].id: key for key, rows in pages.items()}
    checked = 0
    with service.db.read() as session:
        sheets = session.scalars(select(Sheet).where(Sheet.batch_id == batch_id)).all()
    assert sheets, "no sheets assembled"
    for sheet in sheets:
        if sheet.status == "ok":
            (page_id,) = sheet.page_ids
            assert sheet.student_id == truth[by_id[page_id]], (sheet.student_id, by_id[page_id])
            checked += 1
    return checked


def job_states(service: Service, batch_id: str) -> dict[str, int]:
    with service.db.read() as session:
        return dict(session.execute(select(Job.status, func.count()).where(Job.batch_id == batch_id)
                                    .group_by(Job.status)).all())


def batch_status(service: Service, batch_id: str) -> str:
    with service.db.read() as session:
        return session.scalar(select(Batch.status).where(Batch.id == batch_id))
