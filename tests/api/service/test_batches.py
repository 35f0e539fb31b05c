"""Uploading batches (POST /batches) and following them (GET /batches, /batches/{id}): formats, zip archives and
their checks, duplicates, Idempotency-Key, who may upload what, and a worker reading it all into sheets that
carry the simulator's student ids."""

from __future__ import annotations

import io
import zipfile

import pytest
from PIL import Image
from sqlalchemy import func, select

from api.service.models import AuditEntry, BatchFile, Blob, Job
from api.service.worker import run_worker

from jobs_helpers import check_sheets_against_truth, truth_by_page, upload, zip_of


@pytest.fixture(scope="session")
def multi_page_scans(tmp_path_factory):
    """Two multi-page files from the simulator: a 3-page TIFF and a 3-page PDF (other students than the JPEGs')."""
    from sample_sheets.simulate import write_batch

    made = {}
    for fmt, seed in (("tif", 515), ("pdf", 616)):
        folder = tmp_path_factory.mktemp(fmt)
        manifest = write_batch("cn-a4-55", folder, count=3, seed=seed, profile="typical", fmt=fmt, name=f"batch-{fmt}")
        made[fmt] = (folder, manifest)
    return made


def _bilevel_tiff(jpeg: bytes) -> bytes:
    """A scanner station's 1-bit CCITT G4 TIFF of the same page."""
    buffer = io.BytesIO()
    Image.open(io.BytesIO(jpeg)).convert("L").point(lambda v: 255 if v > 150 else 0).convert("1").save(
        buffer, format="TIFF", compression="group4", dpi=(200, 200))
    return buffer.getvalue()


def test_upload_every_format_then_a_worker_reads_them(client, service, city, simulated_scans, multi_page_scans):
    folder, manifest = simulated_scans
    jpegs = [(entry["file"], (folder / entry["file"]).read_bytes()) for entry in manifest["pages"]]
    tif_folder, tif_manifest = multi_page_scans["tif"]
    pdf_folder, pdf_manifest = multi_page_scans["pdf"]
    files = [
        *jpegs[:3],
        ("batch-tif.tif", (tif_folder / "batch-tif.tif").read_bytes()),
        ("batch-pdf.pdf", (pdf_folder / "batch-pdf.pdf").read_bytes()),
        # zip members come out in name order (scan2 before scan10), whatever their order in the archive
        ("scans.zip", zip_of([("x/scan10.jpg", jpegs[5][1]), ("x/scan2.jpg", jpegs[4][1]),
                              ("x/scan1.jpg", jpegs[3][1])])),
        ("bilevel.tif", _bilevel_tiff(jpegs[0][1])),
        ("notes.txt", "学生名单 not a scan".encode()),
        (manifest["pages"][0]["truth"], (folder / manifest["pages"][0]["truth"]).read_bytes()),  # a .json, refused
    ]
    response = upload(client, city.a.station, city.exam_id, files)
    assert response.status_code == 202, response.text
    batch = response.json()
    assert batch["status"] == "processing" and batch["exam_id"] == city.exam_id and batch["duplicates"] == []
    assert batch["files_received"] == 9
    assert [r["file"] for r in batch["rejected"]] == ["notes.txt", manifest["pages"][0]["truth"]]
    assert all("not a scan" in r["reason"] and "JPEG" in r["reason"] for r in batch["rejected"])
    assert batch["progress"]["jobs_queued"] == 9 and batch["progress"]["pages_read"] == 0
    with service.db.read() as session:
        names = session.scalars(select(BatchFile.filename).order_by(BatchFile.seq)).all()
        blob_types = dict(session.execute(select(Blob.sha256, Blob.media_type)).all())
        audit = session.scalar(select(AuditEntry).where(AuditEntry.action == "batch.upload"))
    assert names[5:8] == ["scans.zip/x/scan1.jpg", "scans.zip/x/scan2.jpg", "scans.zip/x/scan10.jpg"]
    assert sorted(set(blob_types.values())) == ["application/pdf", "image/jpeg", "image/tiff"]
    assert audit.object_id == batch["id"] and audit.after["jobs"] == 9 and audit.actor.startswith("key:")

    assert run_worker(service.settings, "test-worker", service=service, exit_when_idle=True) == 9

    done = client.get(f"/api/v1/batches/{batch['id']}", headers=city.a.station)
    assert done.status_code == 200
    progress = done.json()["progress"]
    assert progress["status"] == "done" and done.json()["finished_at"] is not None
    assert (progress["jobs_done"], progress["jobs_queued"], progress["jobs_running"], progress["jobs_failed"]) == \
        (9, 0, 0, 0)
    assert progress["pages_read"] == 3 + 3 + 3 + 3 + 1
    assert progress["pages_ok"] + progress["pages_flagged"] + progress["pages_failed"] == progress["pages_read"]
    assert progress["sheets"] == progress["pages_read"] - progress["pages_failed"]
    assert progress["sheets_ok"] + progress["sheets_flagged"] == progress["sheets"]

    zip_names = {"batch-0004-p1.jpg": "scans.zip/x/scan1.jpg", "batch-0005-p1.jpg": "scans.zip/x/scan2.jpg",
                 "batch-0006-p1.jpg": "scans.zip/x/scan10.jpg"}
    truth = truth_by_page(folder, manifest, lambda name: zip_names.get(name, name))
    truth.update(truth_by_page(tif_folder, tif_manifest))
    truth.update(truth_by_page(pdf_folder, pdf_manifest))
    truth[("bilevel.tif", 0)] = manifest["pages"][0]["student_id"]
    checked = check_sheets_against_truth(service, batch["id"], truth)
    assert checked >= 8  # the typical profile reads most sheets sure; each sure one has the right student
    assert checked == progress["sheets_ok"]


def test_duplicates_and_idempotency_key(client, service, city, simulated_scans):
    folder, manifest = simulated_scans
    one, two, three = [(e["file"], (folder / e["file"]).read_bytes()) for e in manifest["pages"][:3]]
    first = upload(client, city.a.station, city.exam_id, [one, two], key="station-7/0001")
    assert first.status_code == 202, first.text
    with service.db.read() as session:
        counts = (session.scalar(select(func.count()).select_from(BatchFile)),
                  session.scalar(select(func.count()).select_from(Blob)))
    again = upload(client, city.a.station, city.exam_id, [one, two], key="station-7/0001")
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    with service.db.read() as session:
        assert (session.scalar(select(func.count()).select_from(BatchFile)),
                session.scalar(select(func.count()).select_from(Blob))) == counts  # nothing new stored
    # The same key from another school is another school's business: a new batch.
    other = upload(client, city.b.station, city.exam_id, [one], key="station-7/0001")
    assert other.status_code == 202 and other.json()["id"] != first.json()["id"]

    # The same bytes again (new upload, new name): recorded as duplicates, no job; a file twice in one upload too.
    second = upload(client, city.a.teacher, city.exam_id, [("again.jpg", one[1]), three, ("three-again.jpg", three[1])])
    assert second.status_code == 202, second.text
    body = second.json()
    assert body["files_received"] == 3 and body["progress"]["duplicates"] == 2
    assert body["duplicates"] == [{"file": "again.jpg", "duplicate_of_batch": first.json()["id"]},
                                  {"file": "three-again.jpg", "duplicate_of_batch": body["id"]}]
    assert body["progress"]["jobs_queued"] == 1
    # Only duplicates: nothing to read, so the batch is done at once (with no sheets).
    only = upload(client, city.a.station, city.exam_id, [two])
    assert only.status_code == 202 and only.json()["status"] == "done"
    assert only.json()["progress"]["jobs_queued"] == 0 and only.json()["progress"]["duplicates"] == 1
    # The same bytes for another school are that school's first upload: read again, for that school.
    with service.db.read() as session:
        assert session.scalar(select(func.count()).select_from(Job)) == 2 + 1 + 1  # a: one, two, three; b: one

    listed = client.get("/api/v1/batches", headers=city.a.station)
    assert listed.status_code == 200
    assert [b["id"] for b in listed.json()] == [only.json()["id"], body["id"], first.json()["id"]]
    assert [b["id"] for b in client.get("/api/v1/batches?limit=1&offset=1", headers=city.a.admin).json()] == \
        [body["id"]]


def test_who_may_upload_and_read(client, service, city, simulated_scans, monkeypatch):
    folder, manifest = simulated_scans
    scan = (manifest["pages"][0]["file"], (folder / manifest["pages"][0]["file"]).read_bytes())
    assert upload(client, city.a.station, 999999, [scan]).status_code == 404
    definition = client.get(f"/api/v1/exams/{city.exam_id}", headers=city.a.teacher).json()["definition"]
    own_exams = {}
    for school in (city.a, city.b):  # each school's own exam besides the city-wide one
        made_exam = client.post("/api/v1/exams", headers=school.teacher, json={"definition": definition})
        assert made_exam.status_code == 201, made_exam.text
        own_exams[school.id] = made_exam.json()["id"]
    refused = upload(client, city.a.station, own_exams[city.b.id], [scan])
    assert refused.status_code == 404 and refused.json()["detail"] == "exam not found"
    assert upload(client, city.municipal, city.exam_id, [scan]).status_code == 403
    assert upload(client, {}, city.exam_id, [scan]).status_code == 401
    assert upload(client, city.a.station, "seven", [scan]).status_code == 422
    no_files = client.post("/api/v1/batches", data={"exam_id": str(city.exam_id)}, headers=city.a.station)
    assert no_files.status_code == 422 and "files" in no_files.json()["detail"]

    made = upload(client, city.a.admin, city.exam_id, [scan], key="k1")
    assert made.status_code == 202
    reused = upload(client, city.a.admin, own_exams[city.a.id], [scan], key="k1")
    assert reused.status_code == 409 and "another exam" in reused.json()["detail"]
    assert client.get(f"/api/v1/batches/{made.json()['id']}", headers=city.b.station).status_code == 404
    assert client.get(f"/api/v1/batches/{made.json()['id']}", headers=city.a.teacher).status_code == 200
    assert client.get("/api/v1/batches", headers=city.b.admin).json() == []
    assert client.get("/api/v1/batches", headers=city.municipal).status_code == 403

    monkeypatch.setattr(service.settings, "max_files_per_batch", 2)
    too_many = upload(client, city.a.station, city.exam_id, [scan, scan, scan])
    assert too_many.status_code == 413 and "more than 2 files" in too_many.json()["detail"]
    archive = zip_of([(f"{i}.jpg", scan[1]) for i in range(3)])
    zipped = upload(client, city.a.station, city.exam_id, [("all.zip", archive)])
    assert zipped.status_code == 413 and "zip members count" in zipped.json()["detail"]


def test_zip_archives_are_checked_before_extraction(client, service, city, simulated_scans, monkeypatch):
    folder, manifest = simulated_scans
    scan = (folder / manifest["pages"][0]["file"]).read_bytes()
    monkeypatch.setattr(service.settings, "max_file_bytes", len(scan) + 1000)
    bomb = zip_of([("zeros.jpg", b"\xff\xd8\xff" + bytes(len(scan)))], compression=zipfile.ZIP_DEFLATED)
    files = [
        ("mixed.zip", zip_of([
            ("../../etc/evil.jpg", scan),  # a name, never a path: stored as a label only
            ("inner.zip", zip_of([("a.jpg", scan)])),
            ("big.png", b"\x89PNG\r\n\x1a\n" + bytes(len(scan) + 2000)),
            ("readme.txt", b"hello"),
            ("empty.jpg", b""),
        ])),
        ("bomb.zip", bomb),
        ("broken.zip", b"PK\x03\x04" + bytes(100)),
        ("crowded.zip", zip_of([(f"{i}.jpg", scan) for i in range(6)])),
        ("huge.tif", b"II*\x00" + bytes(len(scan) + 2000)),  # refused by its size, unread
    ]
    monkeypatch.setattr(service.settings, "max_zip_members", 5)
    response = upload(client, city.a.station, city.exam_id, files)
    assert response.status_code == 202, response.text
    body = response.json()
    reasons = {r["file"]: r["reason"] for r in body["rejected"]}
    assert body["files_received"] == 1 and body["progress"]["jobs_queued"] == 1, reasons
    assert "nested zip" in reasons["mixed.zip/inner.zip"]
    assert "larger than the limit" in reasons["mixed.zip/big.png"]
    assert "not a scan" in reasons["mixed.zip/readme.txt"]
    assert reasons["mixed.zip/empty.jpg"] == "empty file (0 bytes)"
    assert "zip bomb" in reasons["bomb.zip/zeros.jpg"]  # zeros deflate ~1000:1, above the 200:1 limit
    assert reasons["broken.zip"].startswith("not a readable zip archive")
    assert reasons["crowded.zip"] == "zip archive of 6 files: more than the limit of 5"
    assert "larger than the limit" in reasons["huge.tif"]
    with service.db.read() as session:
        assert session.scalars(select(BatchFile.filename)).all() == ["mixed.zip/../../etc/evil.jpg"]
    assert not (service.settings.data_dir.parent / "etc").exists()
