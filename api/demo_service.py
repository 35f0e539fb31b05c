"""The demo's service round trip: start `yuejuan serve` on 127.0.0.1, upload the station's scans over HTTP,
grade, and download the class report — what a school does with the service."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import quote

import httpx

from api.service.bootstrap import add_api_key, add_school, add_user
from api.service.context import open_service
from api.service.settings import Settings

__all__ = ["service_round_trip", "free_port"]

API = "/api/v1"
_ADMIN_PASSWORD = "demo-admin-password"
_MARKER_PASSWORD = "demo-marker-password"
_MARKERS = (("demo-marker1", "阅卷老师一"), ("demo-marker2", "阅卷老师二"))
_WRITTEN = "Q56"  # the sample exam's first written question, set up for 网上阅卷 (双评, tolerance 2 points)


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now (for a server started on loopback)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_healthy(client: httpx.Client, server: subprocess.Popen, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"yuejuan serve exited with code {server.returncode}")
        try:
            if client.get(f"{API}/health").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError("yuejuan serve did not answer within a minute")


def _check(response: httpx.Response, *expected: int) -> dict:
    if response.status_code not in expected:
        raise RuntimeError(f"{response.request.method} {response.request.url.path}: {response.status_code} "
                           f"{response.text[:300]}")
    return response.json() if response.headers.get("content-type", "").startswith("application/json") else {}


def service_round_trip(out: Path, uploads: list[Path], roster: Path, exam_json: Path, school: str,
                       class_name: str, workers: int | None = None, chunk: int = 50) -> int:
    """Run the whole school workflow against a real `yuejuan serve`; 0 when every step answered as it should."""
    data_dir = out / "service_data"
    settings = Settings(data_dir=data_dir, _env_file=None)
    service = open_service(settings)  # migrates the new database and makes the first credentials
    try:
        add_school(service, school, "示范高中")
        add_user(service, "demo-admin", _ADMIN_PASSWORD, "school_admin", school, "教务处")
        markers = [add_user(service, name, _MARKER_PASSWORD, "teacher", school, display)
                   for name, display in _MARKERS]
        station_key = add_api_key(service, "station", school, "scanner station 1")
    finally:
        service.close()

    port = free_port()
    env = {**os.environ, "YUEJUAN_DATA_DIR": str(data_dir)}
    env.pop("YUEJUAN_DATABASE_URL", None)
    command = [sys.executable, "-m", "api.cli", "serve", "--host", "127.0.0.1", "--port", str(port)]
    if workers:
        command += ["--workers", str(workers)]
    log = open(out / "service.log", "wb")
    server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120) as client:
            _wait_healthy(client, server)
            token = _check(client.post(f"{API}/auth/token", json={"username": "demo-admin",
                                                                  "password": _ADMIN_PASSWORD}), 200)
            teacher = {"Authorization": f"Bearer {token['access_token']}"}
            station = {"X-API-Key": station_key}
            exam = _check(client.post(f"{API}/exams", headers=teacher,
                                      json={"definition": json.loads(exam_json.read_text("utf-8"))}),
                          201)
            with open(roster, "rb") as handle:
                _check(client.post(f"{API}/students/import", headers=teacher,
                                   files={"file": ("roster.csv", handle.read(), "text/csv")}), 200)
            started = time.perf_counter()
            batch_ids = []
            for first in range(0, len(uploads), chunk):
                files = [("files", (p.name, p.read_bytes(), "image/jpeg")) for p in uploads[first:first + chunk]]
                batch = _check(client.post(f"{API}/batches", headers={**station, "Idempotency-Key": str(uuid.uuid4())},
                                           data={"exam_id": str(exam["id"])}, files=files), 202)
                batch_ids.append(batch["id"])
            pending = set(batch_ids)
            deadline = time.monotonic() + 600
            progress: dict = {}
            while pending and time.monotonic() < deadline:
                for batch_id in sorted(pending):
                    progress[batch_id] = _check(client.get(f"{API}/batches/{batch_id}", headers=station), 200)
                    if progress[batch_id]["status"] == "done":
                        pending.discard(batch_id)
                time.sleep(0.3)
            if pending:
                raise RuntimeError(f"batches not read within 10 minutes: {sorted(pending)}")
            seconds = time.perf_counter() - started
            pages = sum(p["progress"]["pages_read"] for p in progress.values())
            flagged = sum(p["progress"]["pages_flagged"] for p in progress.values())
            in_review = sum(p["progress"]["sheets_flagged"] for p in progress.values())
            print(f"      uploaded {len(uploads)} files in {len(batch_ids)} batches over HTTP: {pages} pages read, "
                  f"{flagged} flagged by OMR, {in_review} sheets for review, {pages / seconds:.1f} pages/s "
                  "upload-to-result")
            review = _check(client.get(f"{API}/review", headers=teacher, params={"exam_id": exam["id"]}), 200)
            summary = _check(client.post(f"{API}/exams/{exam['id']}/grade", headers=teacher, json={}), 201)
            print(f"      review queue: {len(review['items'])}{'+' if review.get('next_cursor') else ''} item(s); "
                  f"graded {summary['graded']}, pending {summary['pending']}, absent {summary['absent']} "
                  f"(run {summary['run_id']})")
            report = client.get(f"{API}/exams/{exam['id']}/reports/classes/{quote(class_name)}.xlsx", headers=teacher)
            _check(report, 200)
            target = out / "service" / f"class_{class_name}.xlsx"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(report.content)
            print(f"      class report downloaded over HTTP: {target} ({len(report.content) // 1024} KB)")
            setup = _check(client.post(f"{API}/exams/{exam['id']}/marking", headers=teacher,
                                       json={"question": _WRITTEN, "markers": markers, "tolerance": 2}), 201)
            print(f"      网上阅卷 set up: {_WRITTEN}, {setup['answers']} answers, 双评 by {len(markers)} markers")
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()
    print(f"\nTo mark the written answers on screen: YUEJUAN_DATA_DIR={data_dir} {Path(sys.executable).parent}/yuejuan "
          f"serve, then open http://127.0.0.1:8000/ and log in as {_MARKERS[0][0]} (or {_MARKERS[1][0]}) with "
          f"password {_MARKER_PASSWORD}; the school admin is demo-admin / {_ADMIN_PASSWORD}.")
    return 0
