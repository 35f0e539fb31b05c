"""Test data for the review, results and municipal tests, made without the upload and worker code: simulated
scans are read in-process and stored as the workers would store them (blob, batch, file, job done, pages), then
assembled into sheets with :func:`api.service.sheets.assemble_batch`."""

from __future__ import annotations

import io
import json
import uuid
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from api.service.models import Batch, BatchFile, Blob, Exam, Job, Page, Sheet, utcnow
from api.service.processing import prepared_template
from api.service.routes.batches import MEDIA_TYPES
from api.service.sheets import assemble_batch

CLASS_1, CLASS_2 = "高一(1)班", "高一(2)班"


@dataclass
class Ingested:
    """What :func:`ingest` stored: the batch, page ids per file name, and sheet ids by student id read."""

    batch_id: str
    pages: dict[str, list[int]] = field(default_factory=dict)
    sheets: dict[str, int] = field(default_factory=dict)
    sheet_ids: list[int] = field(default_factory=list)


def ingest(service, school_id: str, exam_id: int, files: list[tuple[str, bytes]], *,
           stored_overlays: tuple[str, ...] = ()) -> Ingested:
    """Store ``files`` (name, bytes) as one finished batch of ``school_id`` for ``exam_id``: each file read with
    ``omr.batch.scan_file``; the files named in ``stored_overlays`` also get their overlay PNG stored."""
    import tempfile

    from omr.batch import ScanOptions, scan_file
    from omr.load import sniff_format
    from omr.result import page_result_to_dict

    with service.db.read() as session:
        template = session.get(Exam, exam_id).template
    prepared = prepared_template(template)
    out = Ingested(str(uuid.uuid4()))
    with service.db.write() as session, tempfile.TemporaryDirectory() as overlays:
        session.add(Batch(id=out.batch_id, school_id=school_id, exam_id=exam_id, uploaded_by="test:helper",
                          status="done", files_received=len(files), finished_at=utcnow()))
        session.flush()
        for seq, (name, data) in enumerate(files):
            media_type = MEDIA_TYPES.get(sniff_format(data[:2048]) or "", "application/octet-stream")
            sha = _blob(service, session, data, media_type)
            file = BatchFile(batch_id=out.batch_id, school_id=school_id, exam_id=exam_id, seq=seq, filename=name,
                             sha256=sha)
            session.add(file)
            session.flush()
            session.add(Job(file_id=file.id, batch_id=out.batch_id, status="done", attempts=1, finished_at=utcnow()))
            options = ScanOptions(limits=service.settings.load_limits(),
                                  overlays_dir=overlays if name in stored_overlays else None)
            for result in scan_file(service.blobs.path(sha), prepared, options):
                overlay = None
                if result.overlay:
                    overlay = _blob(service, session, Path(result.overlay).read_bytes(), "image/png")
                    result.overlay = None
                page = Page(file_id=file.id, batch_id=out.batch_id, school_id=school_id,
                            page_index=result.page_index, status=result.status, reasons=list(result.reasons),
                            student_id=result.student_id, result=page_result_to_dict(result),
                            overlay_sha256=overlay, worker="test")
                session.add(page)
                session.flush()
                out.pages.setdefault(name, []).append(page.id)
        sheets = assemble_batch(session, out.batch_id, school_id, exam_id, len(prepared.template.pages))
        session.commit()
        out.sheet_ids = [s.id for s in sheets]
        out.sheets = {s.student_id: s.id for s in sheets if s.student_id}
    return out


def _blob(service, session, data: bytes, media_type: str) -> str:
    sha = service.blobs.put(data)
    if session.get(Blob, sha) is None:
        session.add(Blob(sha256=sha, size=len(data), media_type=media_type))
        session.flush()
    return sha


def tiff_of(paths: list[Path]) -> tuple[bytes, list[np.ndarray]]:
    """A multi-page TIFF (lossless) of the gray images of ``paths``, and those images."""
    from PIL import Image

    frames = [Image.open(p).convert("L") for p in paths]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="TIFF", save_all=True, append_images=frames[1:], compression="tiff_deflate",
                   dpi=(200, 200))
    return buffer.getvalue(), [np.asarray(f) for f in frames]


def blank_png() -> bytes:
    """A page that decodes but is no answer sheet (no anchors): OMR reports it unreadable."""
    from PIL import Image

    rng = np.random.default_rng(3)
    image = np.clip(235 + rng.normal(0, 6, (1100, 800)), 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


def school_files(scans, *, extras: bool = True) -> tuple[list[tuple[str, bytes]], list[np.ndarray]]:
    """The simulated sheets as a station would upload them: sheets 1-4 as JPEG files, sheets 5 and 6 in one
    two-page TIFF, and (``extras``) a page that is no sheet and a file that is no image. Returns the files and
    the TIFF's page images (made once per set of scans)."""
    return _school_files(str(scans[0]), json.dumps(scans[1]), extras)


@lru_cache(maxsize=4)
def _school_files(folder_name: str, manifest_json: str, extras: bool):
    folder, manifest = Path(folder_name), json.loads(manifest_json)
    paths = [folder / p["file"] for p in manifest["pages"]]
    files = [(p.name, p.read_bytes()) for p in paths[:4]]
    tiff, frames = tiff_of(paths[4:6])
    files.append(("sheets-5-6.tif", tiff))
    if extras:
        files += [("blank.png", blank_png()), ("junk.jpg", b"this is not an image at all")]
    return files, frames


def roster_csv(scans) -> bytes:
    """A roster of the simulated students: the first half in class 1, the rest in class 2 (names in Chinese)."""
    _, manifest = scans
    ids = list(dict.fromkeys(p["student_id"] for p in manifest["pages"]))
    lines = ["考号,姓名,班级"]
    for k, exam_id in enumerate(ids):
        lines.append(f"{exam_id},学生{k + 1},{CLASS_1 if k < len(ids) / 2 else CLASS_2}")
    return ("\n".join(lines) + "\n").encode("utf-8-sig")


def import_roster(client, headers: dict[str, str], scans) -> None:
    response = client.post("/api/v1/students/import", headers=headers,
                           files={"file": ("roster.csv", roster_csv(scans), "text/csv")})
    assert response.status_code == 200, response.text


def assign_classes(client, admin: dict[str, str], username: str, class_names: list[str]) -> None:
    """The school admin assigns ``class_names`` to the teacher ``username`` (任课班级)."""
    users = {u["username"]: u["id"] for u in client.get("/api/v1/users", headers=admin).json()}
    classes = {c["name"]: c["id"] for c in client.get("/api/v1/classes", headers=admin).json()}
    response = client.put(f"/api/v1/users/{users[username]}/classes", headers=admin,
                          json={"classes": [classes[name] for name in class_names]})
    assert response.status_code == 200, response.text


def setup_school(client, service, callers, exam_id: int, scans, *, extras: bool = True,
                 stored_overlays: tuple[str, ...] = ()) -> tuple[Ingested, list[np.ndarray]]:
    """Roster and one scanned batch for a school; the school's teacher teaches both classes."""
    import_roster(client, callers.admin, scans)
    assign_classes(client, callers.admin, f"teacher-{callers.id}", [CLASS_1, CLASS_2])
    files, frames = school_files(scans, extras=extras)
    return ingest(service, callers.id, exam_id, files, stored_overlays=stored_overlays), frames


def flagged_sheets(service, school_id: str) -> list[Sheet]:
    from sqlalchemy import select

    with service.db.read() as session:
        return list(session.scalars(select(Sheet).where(Sheet.school_id == school_id, Sheet.status == "flagged")
                                    .order_by(Sheet.id)))
