"""`yuejuan admin` makes the first credentials; `yuejuan serve` runs the API with its worker processes: a batch
uploaded over real HTTP is read into sheets, a worker that dies is restarted, and SIGTERM stops everything."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import psutil
import pytest
from sqlalchemy import select

from api.cli import main
from api.demo_service import free_port
from api.service.context import open_service
from api.service.models import Job, Page
from api.service.settings import Settings
from api.service.worker import run_worker

from service_city import SAMPLE_EXAM
from jobs_helpers import pages_by_file, upload, wait_for

SCHOOL = "3433000101"
PASSWORD = "correct horse battery"


def _admin(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["admin", *args])
    captured = capsys.readouterr()
    return code, captured.out.strip(), captured.err.strip()


def _workers(server: psutil.Process) -> list[psutil.Process]:
    """The server's worker processes (multiprocessing's resource tracker is a child too, and is not one)."""
    found = []
    for child in server.children():
        try:
            if any("spawn_main" in part for part in child.cmdline()):
                found.append(child)
        except psutil.Error:  # gone, or a zombie not reaped yet: not a live worker
            pass
    return found


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


@pytest.fixture
def credentials(tmp_path, monkeypatch, capsys):
    """A school, a teacher, a station key and the municipal key made with `yuejuan admin` in a fresh data dir."""
    data = tmp_path / "data"
    monkeypatch.setenv("YUEJUAN_DATA_DIR", str(data))
    monkeypatch.delenv("YUEJUAN_DATABASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env
    assert _admin(capsys, "create-school", SCHOOL, "第一中学")[:2] == (0, f"school {SCHOOL} created")
    code, _, error = _admin(capsys, "create-school", SCHOOL, "again")
    assert code == 2 and "exists already" in error
    monkeypatch.setenv("YUEJUAN_NEW_PASSWORD", PASSWORD)
    assert _admin(capsys, "create-user", "wang", "--role", "teacher", "--school", SCHOOL)[0] == 0
    code, station, _ = _admin(capsys, "create-key", "--role", "station", "--school", SCHOOL, "--name", "scanner 1")
    assert code == 0 and station.startswith("yj_")
    code, municipal, _ = _admin(capsys, "create-key", "--role", "municipal")
    assert code == 0 and municipal.startswith("yj_")
    code, _, error = _admin(capsys, "create-key", "--role", "station")  # a station key needs its school
    assert code == 2 and "belongs to one school" in error
    return data, {"X-API-Key": station}, {"X-API-Key": municipal}


def _serve(tmp_path, data, **settings: str) -> tuple[subprocess.Popen, str, Path]:
    """`yuejuan serve --workers 1` on a free loopback port with its data in ``data`` (SQLite) and extra
    ``YUEJUAN_*`` settings; returns the process, its base URL and its log file once it answers."""
    port = free_port()
    env = {**os.environ, "YUEJUAN_DATA_DIR": str(data), "YUEJUAN_POLL_SECONDS": "0.05",
           **{f"YUEJUAN_{name.upper()}": value for name, value in settings.items()}}
    env.pop("YUEJUAN_DATABASE_URL", None)
    env.pop("YUEJUAN_DASK_SCHEDULER", None)
    log_path = tmp_path / "serve.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen([sys.executable, "-m", "api.cli", "serve", "--port", str(port), "--workers", "1",
                                    "--log-level", "warning"], cwd=tmp_path, env=env, stdout=log, stderr=log)
    base = f"http://127.0.0.1:{port}"

    def healthy():
        try:
            return httpx.get(f"{base}/api/v1/health", timeout=5).status_code == 200
        except httpx.TransportError:
            assert process.poll() is None, log_path.read_text()
            return False

    try:
        wait_for(healthy, 60, "the server to answer")
    except BaseException:
        process.kill()
        process.wait(10)
        raise
    return process, base, log_path


def test_serve_reads_an_upload_restarts_a_dead_worker_and_stops_cleanly(tmp_path, credentials, simulated_scans):
    data, station, municipal = credentials
    process, base, log_path = _serve(tmp_path, data)
    server = psutil.Process(process.pid)
    try:
        with httpx.Client(base_url=base, timeout=30) as http:
            token = http.post("/api/v1/auth/token", json={"username": "wang", "password": PASSWORD})
            assert token.status_code == 200, token.text
            exam = http.post("/api/v1/exams", headers=municipal,
                             json={"definition": json.loads(SAMPLE_EXAM.read_text(encoding="utf-8"))})
            assert exam.status_code == 201, exam.text

            folder, manifest = simulated_scans
            files = [(e["file"], (folder / e["file"]).read_bytes()) for e in manifest["pages"]]
            response = upload(http, station, exam.json()["id"], files, key="serve-test-1", base="/api/v1")
            assert response.status_code == 202, response.text
            batch_id = response.json()["id"]
            done = wait_for(lambda: (b := http.get(f"/api/v1/batches/{batch_id}", headers=station).json())
                            ["status"] == "done" and b, 60, "the batch to be read")
            assert done["progress"]["pages_read"] == 6 and done["progress"]["jobs_done"] == 6
            assert done["progress"]["sheets"] == 6 - done["progress"]["pages_failed"] >= 5
            teacher = {"Authorization": f"Bearer {token.json()['access_token']}"}
            assert http.get("/api/v1/batches", headers=teacher).json()[0]["id"] == batch_id

            (first,) = wait_for(lambda: _workers(server), 30, "the worker process")
            first.send_signal(signal.SIGKILL)
            (second,) = wait_for(lambda: [w for w in _workers(server) if w.pid != first.pid and w.is_running()],
                                 30, "the worker to be restarted")
            children = server.children(recursive=True)

        process.send_signal(signal.SIGTERM)
        assert process.wait(60) == 0, log_path.read_text()
        # The workers were joined before the server exited; multiprocessing's resource tracker follows it.
        assert all(_gone(child.pid) for child in children if child.pid in (first.pid, second.pid))
        wait_for(lambda: all(_gone(child.pid) for child in children), 10, "every child process to end")
        assert "died with exit code -9; restarting" in log_path.read_text()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)


STOP_S = 4.0


def _slow_upload(base: str, headers: dict, exam_id: int, stop: threading.Event, outcome: list) -> None:
    """A scanner station on a slow line: a multipart upload whose body trickles in until ``stop`` (or the server
    cuts it off)."""
    boundary = "slowslowslow"

    def body():
        yield (f"--{boundary}\r\nContent-Disposition: form-data; name=\"exam_id\"\r\n\r\n{exam_id}\r\n"
               f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"slow.jpg\"\r\n"
               "Content-Type: image/jpeg\r\n\r\n").encode()
        while not stop.wait(0.1):
            yield b"\xff" * 4096

    try:
        response = httpx.post(f"{base}/api/v1/batches", content=body(), timeout=120,
                              headers={**headers, "Content-Type": f"multipart/form-data; boundary={boundary}"})
        outcome.append(response.status_code)
    except httpx.HTTPError as error:  # cut off by the stopping server: what we expect
        outcome.append(type(error).__name__)


def test_sigterm_stops_serve_in_bounded_time_while_a_request_and_a_file_are_in_progress(tmp_path, credentials,
                                                                                        simulated_scans):
    """SIGTERM while a station's upload trickles in and the worker is in the middle of a 120-page PDF: the server
    and its workers are gone within YUEJUAN_STOP_SECONDS (uvicorn alone waits for the upload forever), and the
    PDF's job, still leased by the killed worker, is read later by another worker: every page once."""
    from PIL import Image

    data, station, municipal = credentials
    folder, manifest = simulated_scans
    # Long enough that the worker is still reading it when the stop's deadline comes, even on a quiet machine
    # (30 pages were read in under the 4 s once workers stopped drawing overlays).
    frames = [Image.open(folder / e["file"]) for e in manifest["pages"]] * 20
    pdf = tmp_path / "long.pdf"
    frames[0].save(pdf, save_all=True, append_images=frames[1:], resolution=200)
    process, base, log_path = _serve(tmp_path, data, stop_seconds=str(STOP_S), lease_seconds="2")
    server = psutil.Process(process.pid)
    stop_upload = threading.Event()
    outcome: list = []
    settings = Settings(data_dir=data, workers=0, lease_seconds=2, poll_seconds=0.05, _env_file=None)
    service = open_service(settings, migrate_schema=False)
    try:
        with httpx.Client(base_url=base, timeout=30) as http:
            exam = http.post("/api/v1/exams", headers=municipal,
                             json={"definition": json.loads(SAMPLE_EXAM.read_text(encoding="utf-8"))})
            assert exam.status_code == 201, exam.text
            response = upload(http, station, exam.json()["id"], [("long.pdf", pdf.read_bytes())], base="/api/v1")
            assert response.status_code == 202, response.text
            batch_id = response.json()["id"]
        uploader = threading.Thread(target=_slow_upload, args=(base, station, exam.json()["id"], stop_upload, outcome))

        def job_running():
            with service.db.read() as session:
                return session.scalar(select(Job.status).where(Job.batch_id == batch_id)) == "running"

        wait_for(job_running, 30, "the worker to start on the PDF", interval=0.01)
        uploader.start()
        time.sleep(1.0)
        assert uploader.is_alive() and not outcome  # the upload is still coming in
        tree = [server, *server.children(recursive=True)]
        assert len(_workers(server)) == 1

        began = time.monotonic()
        process.send_signal(signal.SIGTERM)
        code = process.wait(STOP_S + 5)
        wait_for(lambda: all(_gone(p.pid) for p in tree), max(0.1, began + STOP_S + 1 - time.monotonic()),
                 "every process of the server to end")
        elapsed = time.monotonic() - began
        assert code == 0, log_path.read_text()  # an orderly stop, not the last-resort exit
        assert elapsed <= STOP_S + 1, elapsed  # one second for this test's own polling on a busy machine
        assert "did not stop in time: killing it" in log_path.read_text()  # the worker was still reading
        uploader.join(10)
        assert outcome and outcome[0] != 202, outcome

        with service.db.read() as session:
            job = session.scalar(select(Job).where(Job.batch_id == batch_id))
            assert (job.status, job.attempts) == ("running", 1)  # leased by the killed worker: not lost
            assert session.scalar(select(Page.id).where(Page.batch_id == batch_id)) is None
        # Read later: another worker takes the job over once its lease has run out.
        rescuer = threading.Event()
        timer = threading.Timer(60, rescuer.set)
        timer.start()
        try:
            assert run_worker(settings, "rescuer", rescuer, max_jobs=1, service=service) == 1
        finally:
            timer.cancel()
        with service.db.read() as session:
            job = session.scalar(select(Job).where(Job.batch_id == batch_id))
            assert (job.status, job.lease_owner, job.attempts) == ("done", "rescuer", 2)
        pages = pages_by_file(service, batch_id)
        assert sorted(pages) == [("long.pdf", index) for index in range(len(frames))]
        assert all(len(rows) == 1 and rows[0].worker == "rescuer" for rows in pages.values())
    finally:
        stop_upload.set()
        if process.poll() is None:
            process.kill()
            process.wait(10)
        service.close()
