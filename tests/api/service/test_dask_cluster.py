"""A Dask cluster as a city runs it, on PostgreSQL: a `dask scheduler`, three `dask worker` processes (each kept
running by a restart loop, as systemd's ``Restart=always`` would), and the yuejuan dispatcher (`yuejuan worker`
with ``YUEJUAN_DASK_SCHEDULER``) in processes of their own. Three batches of 20 pages and a 12-page PDF are
uploaded; mid-batch one Dask worker is killed with SIGKILL, then, while the PDF is being read, the scheduler is
killed and started again 11 s later. Every page is stored exactly once, every batch finishes and assembles its
sheets, and the dispatcher carries on through both."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from api.demo_service import free_port
from api.service.app import create_app
from api.service.context import open_service
from api.service.models import Job, Page
from api.service.settings import Settings

from service_city import make_city
from jobs_helpers import check_sheets_against_truth, job_states, truth_by_page, upload, wait_for

DASK = str(Path(sys.executable).with_name("dask"))
WORKERS = 3
#: How long the scheduler stays away: longer than a Dask client's own reconnection tries (10 s in the
#: dispatcher), so that the dispatcher has to connect anew.
OUTAGE_S = 11.0
#: Three batches of the same 20 simulated sheets, each encoded anew (other bytes, the same truth).
QUALITIES = (92, 88, 84)


@pytest.fixture(scope="module")
def twenty_sheets(tmp_path_factory):
    from sample_sheets.simulate import write_batch

    folder = tmp_path_factory.mktemp("cluster-scans")
    return folder, write_batch("cn-a4-55", folder, count=20, seed=8686, profile="typical", fmt="jpg", classes=2)


def _reencoded(path: Path, quality: int) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.open(path).save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


class Cluster:
    """The scheduler and the worker loops, each in a session of its own (so that a stop reaches every child)."""

    def __init__(self, folder: Path):
        self.port = free_port()
        self.address = f"tcp://127.0.0.1:{self.port}"
        self.folder = folder
        self.scheduler: subprocess.Popen | None = None
        self.loops: list[subprocess.Popen] = []

    def _start(self, command: list[str], log_name: str) -> subprocess.Popen:
        with open(self.folder / log_name, "ab") as log:
            return subprocess.Popen(command, stdout=log, stderr=log, cwd=self.folder, start_new_session=True)

    def start_scheduler(self) -> None:
        self.scheduler = self._start([DASK, "scheduler", "--host", "127.0.0.1", "--port", str(self.port),
                                      "--no-dashboard"], "scheduler.log")

    def start_workers(self) -> None:
        # A Dask worker exits when it loses its scheduler; the loop starts it again, as a service manager would.
        for index in range(WORKERS):
            worker = (f"{DASK} worker {self.address} --name w{index} --nthreads 1 --no-nanny --no-dashboard "
                      f"--memory-limit 0")
            self.loops.append(self._start(["bash", "-c", f"while :; do {worker}; sleep 0.5; done"],
                                          f"worker{index}.log"))

    def worker_pid(self, index: int) -> int | None:
        children = psutil.Process(self.loops[index].pid).children()
        return children[0].pid if children else None

    def stop(self) -> None:
        for process in [*self.loops, self.scheduler]:
            if process is not None and process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(10)


@pytest.fixture
def cluster(tmp_path):
    cluster = Cluster(tmp_path)
    try:
        yield cluster
    finally:
        cluster.stop()


def _pages_stored(service) -> int:
    with service.db.read() as session:
        return session.scalar(select(func.count()).select_from(Page))


def _long_pdf(folder: Path, manifest: dict) -> tuple[bytes, dict[tuple[str, int], str]]:
    """The first 12 sheets as one 12-page PDF (its reading takes seconds: the scheduler is restarted meanwhile)."""
    from PIL import Image

    entries = manifest["pages"][:12]
    frames = [Image.open(folder / e["file"]) for e in entries]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="PDF", save_all=True, append_images=frames[1:], resolution=200)
    return buffer.getvalue(), {("long.pdf", index): e["student_id"] for index, e in enumerate(entries)}


def _job_running_without_pages(service, batch_id: str) -> bool:
    with service.db.read() as session:
        job = session.scalar(select(Job).where(Job.batch_id == batch_id))
        pages = session.scalar(select(func.count()).select_from(Page).where(Page.batch_id == batch_id))
        return job.status == "running" and pages == 0


def test_batch_survives_a_killed_dask_worker_and_a_restarted_scheduler(tmp_path, pg_url, twenty_sheets, cluster):
    folder, manifest = twenty_sheets
    settings = Settings(data_dir=tmp_path / "data", database_url=pg_url, workers=0, _env_file=None)
    service = open_service(settings)
    cluster.start_scheduler()
    cluster.start_workers()
    # Everything is uploaded before the dispatcher starts, so that the queue's order is known: the PDF comes
    # after the first 40 pages, well after the Dask worker is killed.
    pdf, pdf_truth = _long_pdf(folder, manifest)
    batches: dict[str, dict[tuple[str, int], str]] = {}  # batch id -> the truth of its pages
    with TestClient(create_app(service=service)) as client:
        city = make_city(client, service)
        for number, quality in enumerate(QUALITIES):
            files = [(f"b{number}-{e['file']}", _reencoded(folder / e["file"], quality)) for e in manifest["pages"]]
            response = upload(client, city.a.station, city.exam_id, files)
            assert response.status_code == 202, response.text
            batches[response.json()["id"]] = truth_by_page(folder, manifest, lambda n, b=number: f"b{b}-{n}")
            if number == 1:
                response = upload(client, city.a.station, city.exam_id, [("long.pdf", pdf)])
                assert response.status_code == 202, response.text
                pdf_batch = response.json()["id"]
                batches[pdf_batch] = pdf_truth
    env = {**os.environ, "YUEJUAN_DATA_DIR": str(settings.data_dir), "YUEJUAN_DATABASE_URL": pg_url,
           "YUEJUAN_DASK_SCHEDULER": cluster.address, "YUEJUAN_POLL_SECONDS": "0.05", "YUEJUAN_LEASE_SECONDS": "20"}
    log_path = tmp_path / "dispatcher.log"
    with open(log_path, "wb") as log:
        dispatcher = subprocess.Popen([sys.executable, "-m", "api.cli", "worker", "--id", "dispatcher"], env=env,
                                      cwd=tmp_path, stdout=log, stderr=log)
    try:
        total = len(QUALITIES) * len(manifest["pages"]) + len(pdf_truth)

        # A Dask worker dies (SIGKILL) while pages are being read; the scheduler runs its tasks elsewhere.
        wait_for(lambda: _pages_stored(service) >= 6, 90, "the first pages to be read", interval=0.1)
        victim = cluster.worker_pid(0)
        assert victim is not None
        os.kill(victim, signal.SIGKILL)
        # Then the scheduler dies while the PDF is being read, and is started again: the tasks it held are lost,
        # the workers come back to the new one, and the dispatcher queues those jobs again and sends them there.
        wait_for(lambda: _job_running_without_pages(service, pdf_batch), 60, "the PDF to be sent", interval=0.05)
        cluster.scheduler.send_signal(signal.SIGKILL)
        cluster.scheduler.wait(10)
        with service.db.read() as session:  # its task was out when the scheduler died (now running or queued)
            assert not session.scalar(select(func.count()).select_from(Page).where(Page.batch_id == pdf_batch))
        time.sleep(OUTAGE_S)
        cluster.start_scheduler()

        for batch_id, truth in batches.items():
            wait_for(lambda b=batch_id, n=len(truth) if batch_id != pdf_batch else 1: job_states(service, b)
                     == {"done": n}, 80, "every job done", interval=0.2)
        assert dispatcher.poll() is None, log_path.read_text()
        dispatcher_log = log_path.read_text()
        assert "(long.pdf): its task was lost with the Dask scheduler; queued again" in dispatcher_log
        assert "the Dask scheduler is back" in dispatcher_log

        ok = sum(check_sheets_against_truth(service, batch_id, truth)  # every page once, sure sheets right
                 for batch_id, truth in batches.items())
        assert ok >= total * 0.8
        with service.db.read() as session:
            assert session.scalar(select(func.count()).select_from(Page)) == total
            assert set(session.scalars(select(Job.lease_owner))) == {"dispatcher"}
            # A task lost with the scheduler is not a failed attempt: the PDF was claimed again as attempt 1.
            assert session.scalar(select(Job.attempts).where(Job.batch_id == pdf_batch)) == 1
            assert session.scalar(select(func.max(Job.attempts))) <= 2
        dispatcher.send_signal(signal.SIGTERM)
        assert dispatcher.wait(30) == 0, log_path.read_text()
    finally:
        if dispatcher.poll() is None:
            dispatcher.kill()
            dispatcher.wait(10)
        service.close()
