"""A worker killed with SIGKILL in the middle of a file loses nothing and counts nothing twice: its lease runs
out, another `yuejuan worker` takes the job over, and every page ends up stored exactly once (SQLite and
PostgreSQL)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from api.service.app import create_app
from api.service.context import open_service
from api.service.models import BatchFile, Job, Page
from api.service.settings import Settings

from service_city import make_city
from jobs_helpers import check_sheets_against_truth, job_states, pages_by_file, truth_by_page, upload, wait_for

LEASE_S = 2.0


@pytest.fixture(scope="module")
def long_pdf(tmp_path_factory):
    """A 6-page PDF (reading it takes about a second: the window in which the worker is killed)."""
    from sample_sheets.simulate import write_batch

    folder = tmp_path_factory.mktemp("long")
    return folder, write_batch("cn-a4-55", folder, count=6, seed=8080, profile="typical", fmt="pdf", name="long")


def start_worker(settings: Settings, name: str, log_path) -> subprocess.Popen:
    """`yuejuan worker --id name` on the service's data folder and database, logging to ``log_path``."""
    env = {**os.environ, "YUEJUAN_DATA_DIR": str(settings.data_dir), "YUEJUAN_LEASE_SECONDS": str(LEASE_S),
           "YUEJUAN_POLL_SECONDS": "0.05"}
    env.pop("YUEJUAN_DATABASE_URL", None)
    if settings.database_url:
        env["YUEJUAN_DATABASE_URL"] = settings.database_url
    with open(log_path, "ab") as log:
        return subprocess.Popen([sys.executable, "-m", "api.cli", "worker", "--id", name],
                                cwd=settings.data_dir.parent, env=env, stdout=log, stderr=log)


def _reading_pdf(service, job_id: int) -> bool:
    """The PDF's job is running and the pages before it are stored: its worker is reading the PDF now."""
    with service.db.read() as session:
        return (session.get(Job, job_id).status == "running"
                and session.scalar(select(func.count()).select_from(Page)) >= 2)


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_killed_worker_job_taken_over_without_duplicates(database, request, tmp_path, simulated_scans, long_pdf):
    url = request.getfixturevalue("pg_url") if database == "postgresql" else None
    settings = Settings(data_dir=tmp_path / "data", database_url=url, workers=0, _env_file=None)
    service = open_service(settings)
    workers: list[subprocess.Popen] = []
    try:
        with TestClient(create_app(service=service)) as client:
            city = make_city(client, service)
            folder, manifest = simulated_scans
            pdf_folder, pdf_manifest = long_pdf
            jpegs = [(e["file"], (folder / e["file"]).read_bytes()) for e in manifest["pages"]]
            files = [*jpegs[:2], ("long.pdf", (pdf_folder / "long.pdf").read_bytes()), *jpegs[2:]]
            response = upload(client, city.a.station, city.exam_id, files)
            assert response.status_code == 202, response.text
            batch_id = response.json()["id"]

        with service.db.read() as session:
            victim = session.scalar(select(Job.id).join(BatchFile, BatchFile.id == Job.file_id)
                                    .where(BatchFile.filename == "long.pdf"))
        log_path = tmp_path / "workers.log"
        workers.append(start_worker(settings, "doomed", log_path))
        # Jobs are claimed oldest first, a few at a time; what a worker has finished is stored before it starts a
        # file that may hold many pages: once the two JPEGs before the PDF are stored, the PDF is being read.
        wait_for(lambda: _reading_pdf(service, victim), 60, "the PDF's job to be read", interval=0.01)
        workers[0].send_signal(signal.SIGKILL)
        workers[0].wait(10)
        with service.db.read() as session:
            job = session.get(Job, victim)
            assert (job.status, job.lease_owner, job.attempts) == ("running", "doomed", 1)
            assert session.scalar(select(func.count()).select_from(Page).where(Page.file_id == job.file_id)) == 0
        workers.append(start_worker(settings, "rescuer", log_path))
        wait_for(lambda: job_states(service, batch_id) == {"done": 7}, 90, "every job done")
        workers[1].send_signal(signal.SIGTERM)
        assert workers[1].wait(30) == 0, log_path.read_text()  # a stopped worker exits cleanly

        with service.db.read() as session:
            job = session.get(Job, victim)
            assert (job.status, job.lease_owner, job.attempts) == ("done", "rescuer", 2)
            owners = set(session.scalars(select(Page.worker).where(Page.file_id == job.file_id)))
            assert owners == {"rescuer"}
            assert set(session.scalars(select(Page.worker))) == {"doomed", "rescuer"}
        pages = pages_by_file(service, batch_id)
        assert len(pages) == 6 + 6 and all(len(rows) == 1 for rows in pages.values())
        truth = truth_by_page(folder, manifest)
        truth.update(truth_by_page(pdf_folder, pdf_manifest))
        assert check_sheets_against_truth(service, batch_id, truth) >= 8
    finally:
        for process in workers:
            if process.poll() is None:
                process.kill()
                process.wait(10)
        service.close()
