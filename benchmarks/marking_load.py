"""网上阅卷 load: many markers scoring at once against `yuejuan serve` on 127.0.0.1.

Makes a fresh installation (SQLite, or ``--database-url``): a school, its admin, ``--markers`` markers and a
leader; a few simulated sheets read by OMR and stored as the workers store them, then repeated to ``--answers``
sheets (the same pages under other 考号: what is measured is the marking, not the scans); the admin sets up 双评
of Q56 (tolerance 2, closest two) over HTTP. Then every marker (one asyncio task each, httpx, keep-alive) takes
``--prefetch`` tasks and scores the first over and over (``POST /marking/tasks/{token}/score?prefetch=N``, whose
answer holds the next tasks), with ``--think`` seconds between scores (0: as fast as the server answers), and
loads the crops of the tasks it holds in the background as the marking page does. A few scores are far apart,
so 三评 tasks appear and are served first. Prints:

* p50 / p99 time from submitting a score to the next crop shown (the score's answer received and the next
  task's crop loaded, which is at once when it was loaded ahead in time),
* scores (tasks) per second and crops loaded per second over the run,
* the server's peak resident memory (sampled every 0.2 s),
* then, for a few tasks, the time to fetch the next crop (cut on first request unless the server cut it ahead),
  and to fetch it again (kept).

Bounded: ``--seconds`` of marking at most, ``--answers`` answers; it talks to loopback only. Run as::

    .venv/bin/python benchmarks/marking_load.py                       # 50 markers, 1 s think time, 60 s
    .venv/bin/python benchmarks/marking_load.py --think 0 --seconds 30  # saturation: as fast as it answers
    .venv/bin/python benchmarks/marking_load.py --database-url "$(scripts/pg-throwaway start /tmp/pg)"
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from service_bench import (API, PASSWORD, SCHOOL, RssSampler, percentile, simulate_scans,  # noqa: E402
                           start_server)

EXAM = Path(__file__).resolve().parents[1] / "grading" / "samples" / "cn-a4-55-exam.json"


def seed(data: Path, database_url: str | None, markers: int, answers: int, scans: list[tuple[str, bytes]]
         ) -> int:
    """The installation: school, admin, markers ``m0``… and ``leader``, the school's exam, and ``answers`` sheets
    (the simulated ones read by OMR, repeated under other 考号). Returns the exam's id."""
    import json

    from api.service.bootstrap import add_school, add_user
    from api.service.context import open_service
    from api.service.models import Batch, BatchFile, Blob, Exam, Job, Page, Sheet, utcnow
    from api.service.processing import prepared_template
    from api.service.settings import Settings
    from api.service.sheets import assemble_batch
    from omr.batch import ScanOptions, scan_file
    from omr.result import page_result_to_dict
    from sample_sheets import resolve_template

    service = open_service(Settings(data_dir=data, workers=0, database_url=database_url, _env_file=None))
    try:
        add_school(service, SCHOOL, "第一中学")
        add_user(service, "admin", PASSWORD, "school_admin", SCHOOL)
        add_user(service, "leader", PASSWORD, "teacher", SCHOOL)
        for k in range(markers):
            add_user(service, f"m{k}", PASSWORD, "teacher", SCHOOL)
        template = resolve_template("cn-a4-55")
        prepared = prepared_template(template.model_dump(mode="json"))
        with service.db.write() as session:
            exam = Exam(code="marking-bench", school_id=SCHOOL, subject="数学",
                        definition={**json.loads(EXAM.read_text("utf-8")), "id": "marking-bench"},
                        template=template.model_dump(mode="json"))
            session.add(exam)
            session.flush()
            batch = Batch(id=str(uuid.uuid4()), school_id=SCHOOL, exam_id=exam.id, uploaded_by="benchmark",
                          status="done", files_received=len(scans), finished_at=utcnow())
            session.add(batch)
            session.flush()
            for seq, (name, data_bytes) in enumerate(scans):
                sha = service.blobs.put(data_bytes)
                if session.get(Blob, sha) is None:
                    session.add(Blob(sha256=sha, size=len(data_bytes), media_type="image/jpeg"))
                    session.flush()
                file = BatchFile(batch_id=batch.id, school_id=SCHOOL, exam_id=exam.id, seq=seq, filename=name,
                                 sha256=sha)
                session.add(file)
                session.flush()
                session.add(Job(file_id=file.id, batch_id=batch.id, status="done", attempts=1, finished_at=utcnow()))
                for result in scan_file(service.blobs.path(sha), prepared, ScanOptions()):
                    session.add(Page(file_id=file.id, batch_id=batch.id, school_id=SCHOOL,
                                     page_index=result.page_index, status=result.status,
                                     reasons=list(result.reasons), student_id=result.student_id,
                                     result=page_result_to_dict(result), worker="benchmark"))
            session.flush()
            read = assemble_batch(session, batch.id, SCHOOL, exam.id, len(template.pages))
            copies = Batch(id=str(uuid.uuid4()), school_id=SCHOOL, exam_id=exam.id, uploaded_by="benchmark",
                           status="done", files_received=0, finished_at=utcnow())
            session.add(copies)
            session.flush()
            session.add_all(Sheet(batch_id=copies.id, school_id=SCHOOL, exam_id=exam.id, sheet_index=k,
                                  student_id=f"2026{k:06d}", status="ok", reasons=[],
                                  page_ids=list(read[k % len(read)].page_ids), result=read[k % len(read)].result)
                            for k in range(answers - len(read)))
            session.commit()
            return exam.id
    finally:
        service.close()


async def login(http, username: str) -> dict[str, str]:
    response = await http.post("/auth/token", json={"username": username, "password": PASSWORD})
    response.raise_for_status()
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def marker(http, headers: dict[str, str], setup_id: int, prefetch: int, think: float, stop_at: float,
                 latencies: list[float], rng: random.Random, failures: list[str], crops: list[float]) -> int:
    """One marker, as the marking page behaves: take tasks, load the crops of those fetched ahead in the
    background, score the one shown, and time submit → the next crop shown (the score's answer received and the
    next task's crop loaded: at once when it was fetched ahead in time). A request the connection lost is
    counted and asked again (the score is the same: a 回评 at worst)."""
    import httpx

    loaded: dict[str, asyncio.Task] = {}

    async def fetch(token: str) -> None:
        began = time.perf_counter()
        try:
            image = await http.get(f"/marking/tasks/{token}/image", headers=headers)
        except httpx.TransportError as error:
            failures.append(type(error).__name__)
            return
        if image.status_code == 200:
            crops.append(time.perf_counter() - began)

    def ahead(tasks: list[dict]) -> None:
        for task in tasks:
            if task["token"] not in loaded:
                loaded[task["token"]] = asyncio.create_task(fetch(task["token"]))

    response = await http.get(f"/marking/{setup_id}/tasks", params={"count": prefetch}, headers=headers)
    response.raise_for_status()
    held, scored = response.json(), 0
    ahead(held)
    while held and time.monotonic() < stop_at:
        await loaded[held[0]["token"]]  # the crop on screen
        if think:
            await asyncio.sleep(think * rng.uniform(0.5, 1.5))
        task = held[0]
        score = rng.choice([0, 12]) if rng.random() < 0.05 else 6 + rng.choice([-1, 0, 1])
        started = time.perf_counter()
        try:
            response = await http.post(f"/marking/tasks/{task['token']}/score", params={"prefetch": prefetch},
                                       json={"score": score}, headers=headers)
        except httpx.TransportError as error:
            failures.append(type(error).__name__)
            continue
        if response.status_code == 409:  # the answer was closed meanwhile (rare): take what is in hand now
            response = await http.get(f"/marking/{setup_id}/tasks", params={"count": prefetch}, headers=headers)
            response.raise_for_status()
            held = response.json()
            ahead(held)
            continue
        response.raise_for_status()
        held = response.json()["next"]
        ahead(held)
        if held:
            await loaded[held[0]["token"]]
        latencies.append(time.perf_counter() - started)
        scored += 1
    for pending in loaded.values():
        pending.cancel()
    return scored


async def run(base: str, markers: int, prefetch: int, think: float, seconds: float, crops: int,
              sampler: RssSampler, graded: bool = False, ready: bool = False) -> None:
    import httpx

    # Each marker has a score and up to ``prefetch`` crops in flight, as the page's browser would.
    limits = httpx.Limits(max_connections=markers * (prefetch + 1) + 4, max_keepalive_connections=markers + 4)
    async with httpx.AsyncClient(base_url=base, timeout=120, limits=limits) as http:
        admin = await login(http, "admin")
        users = {u["username"]: u["id"] for u in (await http.get("/users", headers=admin)).json()}
        exam_id = (await http.get("/exams", headers=admin)).json()[0]["id"]
        started = time.perf_counter()
        made = await http.post(f"/exams/{exam_id}/marking", headers=admin,
                               json={"question": "Q56", "double": True, "tolerance": 2, "final_rule": "closest_two",
                                     "markers": [users[f"m{k}"] for k in range(markers)],
                                     "leader_id": users["leader"]})
        made.raise_for_status()
        setup = made.json()
        print(f"set-up of Q56 with {setup['answers']} answers (双评: {2 * setup['answers']} tasks) in "
              f"{time.perf_counter() - started:.2f} s")
        if ready:  # as when answers are loaded before marking begins: wait for the crops the server cuts ahead
            began = time.perf_counter()
            while True:
                progress = (await http.get(f"/marking/{setup['id']}/progress", headers=admin)).json()
                if progress["crops"] >= progress["answers"] or time.perf_counter() - began > 600:
                    break
                await asyncio.sleep(0.5)
            print(f"crops cut ahead: {progress['crops']} of {progress['answers']} in "
                  f"{time.perf_counter() - began:.1f} s")
        if graded:  # every final score is then a late one: the school's exam is regraded after it
            began = time.perf_counter()
            first_run = (await http.post(f"/exams/{exam_id}/grade", headers=admin, json={})).json()["run_id"]
            print(f"graded before marking ({time.perf_counter() - began:.1f} s): each final score is a late score")
        headers = [await login(http, f"m{k}") for k in range(markers)]
        latencies: list[float] = []
        failures: list[str] = []
        fetched: list[float] = []
        stop_at = time.monotonic() + seconds
        cpu_before = sampler.cpu_seconds().total
        started = time.perf_counter()
        counts = await asyncio.gather(*(marker(http, h, setup["id"], prefetch, think, stop_at, latencies,
                                               random.Random(k), failures, fetched) for k, h in enumerate(headers)))
        wall = time.perf_counter() - started
        cpu = sampler.cpu_seconds().total - cpu_before
        total = sum(counts)
        ms = [v * 1000 for v in latencies]
        print(f"{markers} markers, prefetch {prefetch}, think {think:g} s: {total} scores in {wall:.1f} s = "
              f"{total / wall:.1f} tasks/s")
        print(f"crops loaded: {len(fetched)} = {len(fetched) / wall:.1f} crops/s, fetch p50 "
              f"{percentile([v * 1000 for v in fetched] or [0], 0.5):.0f} ms, p99 "
              f"{percentile([v * 1000 for v in fetched] or [0], 0.99):.0f} ms")
        print(f"submit score -> next crop shown: p50 {percentile(ms, 0.5):.1f} ms, p99 {percentile(ms, 0.99):.1f} "
              f"ms, max {max(ms):.1f} ms ({len(ms)} requests; {len(failures)} lost connections, asked again: "
              f"{', '.join(sorted(set(failures))) or 'none'})")
        print(f"server CPU while marking: {cpu:.1f} s, {cpu * 1000 / max(1, len(ms)):.1f} ms a score (with the next "
              f"tasks); load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        if graded:
            newest = (await http.get(f"/exams/{exam_id}/results", headers=admin)).json()["run"]["run_id"]
            print(f"grade runs made by late scores while marking: {newest - first_run}")
        progress = (await http.get(f"/marking/{setup['id']}/progress", headers=admin)).json()
        print(f"answers final {progress['final']} of {progress['answers']}, waiting for 三评 "
              f"{progress['waiting_third']}, for 仲裁 {progress['waiting_ruling']}")
        if crops:
            cold, warm = [], []
            for k in range(crops):
                tasks = (await http.get(f"/marking/{setup['id']}/tasks", params={"count": 1},
                                        headers=headers[k % markers])).json()
                if not tasks:
                    break
                for into in (cold, warm):
                    began = time.perf_counter()
                    image = await http.get(tasks[0]["image"].removeprefix(API), headers=headers[k % markers])
                    image.raise_for_status()
                    into.append((time.perf_counter() - began) * 1000)
            if cold:
                print(f"crop of a task ({len(cold)}): first fetch p50 {percentile(cold, 0.5):.0f} ms (cut from the scan "
                      f"unless cut ahead), again (kept) p50 {percentile(warm, 0.5):.1f} ms")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--markers", type=int, default=50)
    parser.add_argument("--answers", type=int, default=2000, help="answers (sheets) to mark, 双评")
    parser.add_argument("--prefetch", type=int, default=3, help="tasks each marker holds (the one shown + ahead)")
    parser.add_argument("--think", type=float, default=1.0, help="mean seconds a marker looks at a crop")
    parser.add_argument("--seconds", type=float, default=60.0, help="marking time at most")
    parser.add_argument("--crops", type=int, default=10, help="crops fetched after the run (cold, then kept)")
    parser.add_argument("--scans", type=int, default=4, help="simulated sheets read by OMR (then repeated)")
    parser.add_argument("--graded", action="store_true", help="grade the exam before marking (late scores regrade)")
    parser.add_argument("--ready", action="store_true",
                        help="start marking once the server has cut every crop ahead (answers loaded beforehand)")
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="marking-load-") as tmp:
        work = Path(tmp)
        scans, _ = simulate_scans(work / "scans", args.scans, seed=31)
        seed(work / "data", args.database_url, args.markers, args.answers, scans)
        server = start_server(work, work / "data", args.database_url, workers=0)
        sampler = RssSampler(server.process.pid)
        sampler.start()
        try:
            asyncio.run(run(server.base, args.markers, args.prefetch, args.think, args.seconds, args.crops, sampler,
                            args.graded, args.ready))
        except Exception:
            print("the server's log ends:\n" + "\n".join(server.log_path.read_text("utf-8", "replace")
                                                          .splitlines()[-40:]))
            raise
        finally:
            sampler.finished.set()
            server.stop()
        print(f"server peak RSS {sampler.peak_total / 2**20:.0f} MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
