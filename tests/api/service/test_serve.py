"""`yuejuan admin` makes the first credentials; `yuejuan serve` runs the API with its worker processes: a batch
uploaded over real HTTP is read into sheets, a worker that dies is restarted, and SIGTERM stops everything."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import httpx
import psutil
import pytest

from api.cli import main
from api.demo_service import free_port

from service_city import SAMPLE_EXAM
from jobs_helpers import upload, wait_for

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


def test_serve_reads_an_upload_restarts_a_dead_worker_and_stops_cleanly(tmp_path, credentials, simulated_scans):
    data, station, municipal = credentials
    port = free_port()
    env = {**os.environ, "YUEJUAN_DATA_DIR": str(data), "YUEJUAN_POLL_SECONDS": "0.05"}
    env.pop("YUEJUAN_DATABASE_URL", None)
    env.pop("YUEJUAN_DASK_SCHEDULER", None)
    log_path = tmp_path / "serve.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen([sys.executable, "-m", "api.cli", "serve", "--port", str(port), "--workers", "1",
                                    "--log-level", "warning"], cwd=tmp_path, env=env, stdout=log, stderr=log)
    server = psutil.Process(process.pid)
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base, timeout=30) as http:
            def healthy():
                try:
                    return http.get("/api/v1/health").status_code == 200
                except httpx.TransportError:
                    assert process.poll() is None, log_path.read_text()
                    return False

            wait_for(healthy, 60, "the server to answer")
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
