"""Reading a stored file (api/service/processing.py) and the worker loop (api/service/worker.py): bad files become
error pages, a reading that raises gives the job back, database hiccups are retried, leases are kept while a
file is read."""

from __future__ import annotations

import io
import threading
import time

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from api.service import jobs, processing, worker
from api.service.jobs import template_json
from api.service.models import Blob, Job, Page

from jobs_helpers import batch_status, fake_pages, job_states, seed_batch, template_dict

JPEG_MAGIC = b"\xff\xd8\xff"


@pytest.fixture(scope="module")
def template():
    return template_json(template_dict())


def test_read_file_gives_page_records_named_by_the_upload(simulated_scans, template):
    folder, manifest = simulated_scans
    entry = manifest["pages"][0]
    (page,) = processing.read_file(folder / entry["file"], template[0], source="station-1/0001.jpg",
                                   template_hash=template[1])
    assert page["status"] in ("ok", "flagged") and page["page_index"] == 0
    assert page["student_id"] == entry["student_id"] == page["result"]["student_id"]
    assert page["result"]["source"] == "station-1/0001.jpg" and page["result"]["overlay"] is None
    assert page["overlay_jpeg"] is None  # overlays are drawn when a reviewer asks for one, not by workers
    # The template is prepared once per process and kept by its hash.
    assert processing.prepared_template(template[0], template[1]) is processing.prepared_template(template[0],
                                                                                                   template[1])


def test_hostile_and_broken_files_become_error_pages(simulated_scans, template, tmp_path):
    folder, manifest = simulated_scans
    jpeg = (folder / manifest["pages"][0]["file"]).read_bytes()
    cases = {
        "truncated.jpg": jpeg[: len(jpeg) // 2],
        "garbage.jpg": b"\xff\xd8\xff" + bytes(range(256)) * 40,
        "empty.jpg": b"",
        "text.jpg": b"hello",
    }
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
        (page,) = processing.read_file(tmp_path / name, template[0], source=name)
        assert page["status"] == "error" and page["reasons"] and page["overlay_jpeg"] is None, (name, page)
        assert page["result"]["source"] == name
    (missing,) = processing.read_file(tmp_path / "gone", template[0], source="gone.jpg")
    assert missing["status"] == "error" and "cannot read file" in missing["reasons"][0]
    assert str(tmp_path) not in missing["reasons"][0]  # reasons name the upload, never the server's paths
    # A page that is an image but no answer sheet: an error page with an overlay for the reviewer.
    blank = io.BytesIO()
    Image.fromarray(np.full((2339, 1654), 255, np.uint8)).save(blank, format="PNG", dpi=(200, 200))
    (tmp_path / "blank.png").write_bytes(blank.getvalue())
    (page,) = processing.read_file(tmp_path / "blank.png", template[0], source="blank.png", overlays=True)
    assert page["status"] == "error" and page["overlay_jpeg"].startswith(JPEG_MAGIC)
    # A template that cannot be prepared still yields a page that says why.
    (page,) = processing.read_file(folder / manifest["pages"][0]["file"], '{"not": "a template"}', source="x.jpg")
    assert page["status"] == "error" and "internal error reading file" in page["reasons"][0]


def test_a_page_whose_reading_raises_does_not_stop_the_file(simulated_scans, template, tmp_path, monkeypatch):
    import omr.read

    folder, manifest = simulated_scans
    frames = [Image.open(folder / e["file"]) for e in manifest["pages"][:3]]
    frames[0].save(tmp_path / "three.tif", save_all=True, append_images=frames[1:])
    real = omr.read.read_page

    def flaky(image, prepared, *, source="", page_index=0, crop_dir=None, full_size=None):
        if page_index == 1:
            raise ValueError("cannot happen")
        return real(image, prepared, source=source, page_index=page_index, crop_dir=crop_dir, full_size=full_size)

    monkeypatch.setattr(omr.read, "read_page", flaky)
    pages = processing.iter_file(tmp_path / "three.tif", template[0], source="three.tif")
    first = next(pages)  # each page is handed over as soon as it is read, before the next is decoded
    assert first["page_index"] == 0
    pages = [first, *pages]
    assert [p["page_index"] for p in pages] == [0, 1, 2]
    assert pages[1]["status"] == "error" and pages[1]["reasons"] == [
        "internal error reading page: ValueError: cannot happen"]
    assert [p["student_id"] for p in (pages[0], pages[2])] == [manifest["pages"][0]["student_id"],
                                                               manifest["pages"][2]["student_id"]]


def _pages_for(job_filename: str) -> list[dict]:
    return fake_pages(job_filename, [f"20260100{job_filename[4]}1"])


def test_worker_survives_a_raising_read_and_database_hiccups(service, monkeypatch):
    batch = seed_batch(service, files=4)
    service.settings.max_attempts = 1
    service.settings.poll_seconds = 0.05

    def read(path, template_json, profile=None, limits=None, *, source=None, template_hash=None, others=()):
        if source == "scan1.jpg":
            raise MemoryError("file too big for this worker")
        pages = _pages_for(source)
        pages[0]["overlay_jpeg"] = JPEG_MAGIC + source.encode()  # stored by the worker, linked from the page
        return pages

    hiccups = {"claim": 1, "complete": 1}

    def once(name, real):
        def wrapped(*args, **kwargs):
            if hiccups[name]:
                hiccups[name] -= 1
                raise OperationalError(name, {}, Exception("server closed the connection unexpectedly"))
            return real(*args, **kwargs)
        return wrapped

    monkeypatch.setattr(processing, "iter_file", read)
    monkeypatch.setattr(jobs, "claim", once("claim", jobs.claim))
    monkeypatch.setattr(jobs, "complete_many", once("complete", jobs.complete_many))
    monkeypatch.setattr(worker, "_DB_BACKOFF_S", 0.05)

    assert worker.run_worker(service.settings, "w", service=service, exit_when_idle=True) == 4
    assert hiccups == {"claim": 0, "complete": 0}
    assert job_states(service, batch) == {"done": 3, "failed": 1}
    assert batch_status(service, batch) == "done"
    with service.db.read() as session:
        pages = session.scalars(select(Page).where(Page.batch_id == batch).order_by(Page.file_id)).all()
        overlay = session.get(Blob, pages[0].overlay_sha256)
    assert [p.status for p in pages] == ["ok", "error", "ok", "ok"]
    assert pages[1].reasons == ["file not read: gave up after 1 attempts: MemoryError: file too big for this worker"]
    assert overlay.media_type == "image/jpeg" and service.blobs.read(overlay.sha256) == JPEG_MAGIC + b"scan0.jpg"


def test_heartbeat_keeps_the_lease_while_a_long_file_is_read(service, monkeypatch):
    batch = seed_batch(service, files=1)
    service.settings.lease_seconds = 0.3
    reading = threading.Event()

    def slow_read(path, template_json, profile=None, limits=None, *, source=None, template_hash=None, others=()):
        reading.set()
        time.sleep(1.0)  # three leases long
        return _pages_for(source)

    monkeypatch.setattr(processing, "iter_file", slow_read)
    (job,) = jobs.claim(service.db, "slow", 0.3)
    thread = threading.Thread(target=worker.process_job, args=(service, job, "slow"))
    thread.start()
    reading.wait(5)
    stolen = []
    while thread.is_alive():
        stolen += jobs.claim(service.db, "thief", 0.3)
        time.sleep(0.05)
    thread.join()
    assert stolen == []
    assert job_states(service, batch) == {"done": 1}
    with service.db.read() as session:
        assert session.scalar(select(Job.lease_owner)) == "slow"


def test_stop_event_and_max_jobs(service, monkeypatch):
    batch = seed_batch(service, files=3)
    monkeypatch.setattr(processing, "iter_file", lambda path, tj, *a, source=None, **k: _pages_for(source))
    stop = threading.Event()
    stop.set()
    assert worker.run_worker(service.settings, "w", stop_event=stop, service=service) == 0
    assert worker.run_worker(service.settings, "w", max_jobs=2, service=service) == 2
    assert job_states(service, batch) == {"done": 2, "queued": 1}
