"""Service load: scanner stations uploading to `yuejuan serve` while teachers watch progress, side by side with
`yuejuan scan` reading the same files.

Simulates N answer sheets (JPEG, typical scanner profile) and first reads them with ``yuejuan scan --workers W``
(the command-line reader: its own pages/s, wall time and peak RSS). Then starts `yuejuan serve` on 127.0.0.1 (a
temporary data folder, SQLite or ``--database-url``, ``--workers W``), creates a school, keys and a teacher, sends
one warm-up sheet (so the workers have loaded the reader, as in a running service) and lets K concurrent
"stations" (threads with httpx) upload their share in batches of ~20 files while a reader thread asks
``GET /batches/{id}`` and ``GET /exams`` over and over. Prints:

* `yuejuan scan`'s pages/s and the service's upload-to-result pages/s as a share of it,
* sustained pages/s from the first upload to the last page read (upload-to-result),
* p50 / p99 latency of the read queries made while uploads run (and, separately, while the last pages are
  read after the uploads),
* peak RSS of the server and its workers (sampled every 0.2 s),
* and a check that every sheet read as sure carries the simulator's student id.

Bounded: it stops by itself (``--timeout``) and talks to loopback only. Run as::

    .venv/bin/python benchmarks/service_load.py                 # 200 sheets, 4 stations, 2 workers
    .venv/bin/python benchmarks/service_load.py --count 60      # a quick check
    .venv/bin/python benchmarks/service_load.py --database-url "$(scripts/pg-throwaway start /tmp/pg)"
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SCHOOL = "3433000101"
PASSWORD = "benchmark password"
EXAM = Path(__file__).resolve().parents[1] / "grading" / "samples" / "cn-a4-55-exam.json"


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))]


class RssSampler(threading.Thread):
    """Peak resident memory of a process and its children, summed, sampled until stopped; and the CPU time
    they have used (user + system, as last seen: :meth:`cpu_seconds`), which a loaded machine does not skew as
    it skews wall time."""

    def __init__(self, pid: int, every: float = 0.2):
        super().__init__(daemon=True)
        import psutil

        self.root = psutil.Process(pid)
        self.every = every
        self.peak_total = 0
        self.peak_each: dict[int, int] = {}
        self.cpu_each: dict[int, float] = {}
        self.finished = threading.Event()

    def cpu_seconds(self, *, children_only: bool = False) -> float:
        self.sample()
        return sum(cpu for pid, cpu in self.cpu_each.items() if not (children_only and pid == self.root.pid))

    def run(self) -> None:
        while not self.finished.wait(self.every):
            if not self.sample():
                return

    def sample(self) -> bool:
        import psutil

        total = 0
        try:
            processes = [self.root, *self.root.children(recursive=True)]
        except psutil.Error:
            return False
        for process in processes:
            try:
                with process.oneshot():
                    rss = process.memory_info().rss
                    times = process.cpu_times()
            except psutil.Error:
                continue
            total += rss
            self.peak_each[process.pid] = max(self.peak_each.get(process.pid, 0), rss)
            self.cpu_each[process.pid] = times.user + times.system
        self.peak_total = max(self.peak_total, total)
        return True


def run_cli_scan(scans: Path, out: Path, workers: int, timeout: float) -> tuple[float, float, float, int, str]:
    """`yuejuan scan --workers N` on a folder, as a user runs it: (its own pages/s, wall seconds and CPU seconds
    including the interpreter's start, peak RSS of it and its processes, its summary line)."""
    command = [sys.executable, "-m", "api.cli", "scan", "--template", "cn-a4-55", "--out", str(out), "--workers",
               str(workers), "--no-progress", str(scans)]
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    sampler = RssSampler(process.pid)
    sampler.start()
    try:
        output, _ = process.communicate(timeout=timeout)
        # the pool's processes have ended: the kernel's account of the CLI's waited-for children has them all
        cpu = sum(getattr(os.times(), f) for f in ("children_user", "children_system"))
    finally:
        sampler.finished.set()
        if process.poll() is None:
            process.kill()
            process.wait(10)
    wall = time.perf_counter() - started
    text = output.decode("utf-8", "replace")
    rate = re.search(r"([\d.]+) pages/s", text)
    if process.returncode != 0 or rate is None:
        raise SystemExit(f"yuejuan scan failed ({process.returncode}):\n{text}")
    summary = next(line for line in text.splitlines() if "pages/s" in line)
    return float(rate.group(1)), wall, cpu, sampler.peak_total, summary.strip()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200, help="answer sheets (one JPEG page each)")
    parser.add_argument("--stations", type=int, default=4, help="concurrent uploading stations")
    parser.add_argument("--batch-size", type=int, default=20, help="files per upload")
    parser.add_argument("--workers", type=int, default=2, help="OMR worker processes of the server and of the CLI")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--timeout", type=float, default=900.0, help="give up after this many seconds")
    parser.add_argument("--database-url", default=None, metavar="URL",
                        help="an empty database for the server, e.g. postgresql+psycopg://postgres@127.0.0.1:5432/"
                             "bench (default: SQLite in the temporary data folder)")
    args = parser.parse_args(argv)

    import httpx

    from api.demo_service import free_port
    from api.service.bootstrap import add_api_key, add_school, add_user
    from api.service.context import open_service
    from api.service.settings import Settings
    from sample_sheets.simulate import write_batch

    with tempfile.TemporaryDirectory(prefix="yuejuan-load-") as work:
        work_dir = Path(work)
        data = work_dir / "data"
        started = time.perf_counter()
        manifest = write_batch("cn-a4-55", work_dir / "scans", count=args.count, seed=args.seed, profile="typical",
                               fmt="jpg", classes=max(1, args.count // 45))
        warm_up = write_batch("cn-a4-55", work_dir / "warm-up", count=2, seed=args.seed + 1, profile="typical",
                              fmt="jpg")
        scans = [(e["file"], (work_dir / "scans" / e["file"]).read_bytes()) for e in manifest["pages"]]
        truth = {e["file"]: e["student_id"] for e in manifest["pages"]}
        print(f"service load: {args.count} sheets (JPEG, typical profile, {sum(len(d) for _, d in scans) / 2**20:.0f} "
              f"MiB), {args.stations} stations, batches of {args.batch_size}, {args.workers} workers, "
              f"{os.cpu_count()} cores, {'PostgreSQL' if args.database_url else 'SQLite'}, load average "
              f"{os.getloadavg()[0]:.1f}")
        print(f"  simulate scans (not counted)          {time.perf_counter() - started:8.1f} s")

        # The CLI's own figure includes starting its processes; two sheets alone tell that fixed cost.
        before = sum(getattr(os.times(), f) for f in ("children_user", "children_system"))
        _, fixed_wall, fixed_cpu, _, _ = run_cli_scan(work_dir / "warm-up", work_dir / "cli-warm-up", args.workers,
                                                      args.timeout)
        cli_rate, cli_wall, cli_cpu, cli_rss, cli_summary = run_cli_scan(work_dir / "scans", work_dir / "cli-out",
                                                                         args.workers, args.timeout)
        cli_steady = (args.count - 2) / max(cli_wall - fixed_wall, 1e-3)
        # CPU per page with the start left out (children's CPU accumulates: each run's is the difference)
        cli_cpu_page = ((cli_cpu - fixed_cpu) - (fixed_cpu - before)) / (args.count - 2)
        print(f"  yuejuan scan --workers {args.workers}              {cli_rate:8.1f} pages/s  "
              f"({cli_wall:.1f} s wall time with the interpreter's start; peak RSS {cli_rss / 2**20:.0f} MiB)")
        print(f"    {cli_summary}")
        print(f"  yuejuan scan, its start left out      {cli_steady:8.1f} pages/s  ((sheets - 2) / (wall time - wall "
              f"time of a 2-sheet run {fixed_wall:.1f} s))")
        print(f"  yuejuan scan CPU per page             {cli_cpu_page * 1000:8.1f} ms  (its start left out likewise)")

        service = open_service(Settings(data_dir=data, workers=0, database_url=args.database_url, _env_file=None))
        add_school(service, SCHOOL, "第一中学")
        add_user(service, "teacher", PASSWORD, "teacher", SCHOOL)
        stations = [{"X-API-Key": add_api_key(service, "station", SCHOOL, f"station {i + 1}")}
                    for i in range(args.stations)]
        municipal = {"X-API-Key": add_api_key(service, "municipal")}
        service.close()

        port = free_port()
        env = {**os.environ, "YUEJUAN_DATA_DIR": str(data)}
        for name in ("YUEJUAN_DATABASE_URL", "YUEJUAN_DASK_SCHEDULER"):
            env.pop(name, None)
        if args.database_url:
            env["YUEJUAN_DATABASE_URL"] = args.database_url
        log_path = work_dir / "serve.log"
        log = open(log_path, "wb")
        server = subprocess.Popen([sys.executable, "-m", "api.cli", "serve", "--port", str(port), "--workers",
                                   str(args.workers), "--log-level", "warning"], cwd=work_dir, env=env, stdout=log,
                                  stderr=log)
        sampler = RssSampler(server.pid)
        deadline = time.monotonic() + args.timeout
        try:
            base = f"http://127.0.0.1:{port}/api/v1"
            with httpx.Client(base_url=base, timeout=120) as http:
                while True:
                    try:
                        if http.get("/health").status_code == 200:
                            break
                    except httpx.TransportError:
                        if server.poll() is not None or time.monotonic() > deadline:
                            raise SystemExit("the server did not start:\n" + log_path.read_text())
                    time.sleep(0.1)
                sampler.start()
                exam = http.post("/exams", headers=municipal, json={"definition": json.loads(EXAM.read_text("utf-8"))})
                exam.raise_for_status()
                exam_id = exam.json()["id"]
                token = http.post("/auth/token", json={"username": "teacher", "password": PASSWORD})
                token.raise_for_status()
                teacher = {"Authorization": f"Bearer {token.json()['access_token']}"}
                # Two sheets first, not counted: the workers have started and loaded the reader, as in a running
                # service (compare with the CLI's rate with its start left out).
                warm = http.post("/batches", data={"exam_id": str(exam_id)}, headers=stations[0], files=[
                    ("files", (e["file"], (work_dir / "warm-up" / e["file"]).read_bytes(), "image/jpeg"))
                    for e in warm_up["pages"]])
                warm.raise_for_status()
                while http.get(f"/batches/{warm.json()['id']}", headers=teacher).json()["status"] != "done":
                    if server.poll() is not None or time.monotonic() > deadline:
                        raise SystemExit("the warm-up sheet was not read:\n" + log_path.read_text())
                    time.sleep(0.1)
                warm_batch = warm.json()["id"]

            shares = [scans[i::args.stations] for i in range(args.stations)]
            batch_ids: list[str] = []
            upload_seconds: list[float] = []
            errors: list[str] = []
            uploads_done = threading.Event()
            lock = threading.Lock()

            def station(index: int) -> None:
                share = shares[index]
                with httpx.Client(base_url=base, timeout=300) as client:
                    for start in range(0, len(share), args.batch_size):
                        chunk = share[start:start + args.batch_size]
                        parts = [("files", (name, body, "image/jpeg")) for name, body in chunk]
                        began = time.perf_counter()
                        response = client.post("/batches", data={"exam_id": str(exam_id)}, files=parts,
                                               headers={**stations[index],
                                                        "Idempotency-Key": f"station-{index}-{start}"})
                        with lock:
                            upload_seconds.append(time.perf_counter() - began)
                            if response.status_code != 202:
                                errors.append(f"upload: {response.status_code} {response.text[:200]}")
                            else:
                                batch_ids.append(response.json()["id"])

            # (query, phase) -> seconds; phase "uploading" while any station still uploads, then "reading"
            latencies: dict[tuple[str, str], list[float]] = {}
            all_read = threading.Event()

            def reader() -> None:
                with httpx.Client(base_url=base, timeout=60) as client:
                    turn = 0
                    while not all_read.is_set():
                        with lock:
                            known = list(batch_ids)
                        phase = "reading" if uploads_done.is_set() else "uploading"
                        if known and turn % 2 == 0:
                            kind, began = "GET /batches/{id}", time.perf_counter()
                            response = client.get(f"/batches/{known[turn // 2 % len(known)]}", headers=teacher)
                        else:
                            kind, began = "GET /exams", time.perf_counter()
                            response = client.get("/exams", headers=teacher)
                        elapsed = time.perf_counter() - began
                        if response.status_code == 200:
                            latencies.setdefault((kind, phase), []).append(elapsed)
                        else:
                            errors.append(f"{kind}: {response.status_code}")
                        turn += 1
                        time.sleep(0.02)  # a busy dashboard, not a flood

            cpu_start = (sampler.cpu_seconds(), sampler.cpu_seconds(children_only=True))
            first_upload = dt.datetime.now(dt.timezone.utc)
            upload_started = time.perf_counter()
            threads = [threading.Thread(target=station, args=(i,)) for i in range(args.stations)]
            watcher = threading.Thread(target=reader)
            watcher.start()
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            upload_wall = time.perf_counter() - upload_started
            uploads_done.set()
            try:
                with httpx.Client(base_url=base, timeout=60) as client:
                    while True:
                        states = [client.get(f"/batches/{b}", headers=teacher).json() for b in batch_ids]
                        if all(s["status"] == "done" for s in states):
                            cpu_end = (sampler.cpu_seconds(), sampler.cpu_seconds(children_only=True))
                            break
                        if time.monotonic() > deadline or server.poll() is not None:
                            raise SystemExit("timed out waiting for the batches to be read")
                        time.sleep(0.25)
            finally:
                all_read.set()
                watcher.join()
            # What the dashboard's polling cost the server, to tell it from the uploads' cost: the same queries
            # again, now that nothing else runs, and the server's CPU for them.
            queries = sum(len(values) for values in latencies.values())
            with httpx.Client(base_url=base, timeout=60) as client:
                before = sampler.cpu_seconds() - sampler.cpu_seconds(children_only=True)
                for turn in range(40):
                    client.get(f"/batches/{batch_ids[turn % len(batch_ids)]}" if turn % 2 else "/exams",
                               headers=teacher)
                query_cpu = (sampler.cpu_seconds() - sampler.cpu_seconds(children_only=True) - before) / 40
            if errors:
                print("  errors:", *errors[:10], sep="\n    ")
        finally:
            sampler.finished.set()
            if server.poll() is None:
                server.send_signal(signal.SIGTERM)
                try:
                    server.wait(60)
                except subprocess.TimeoutExpired:
                    server.kill()
                    server.wait(10)
            log.close()

        from sqlalchemy import func, select

        from api.service.models import BatchFile, Page, Sheet

        service = open_service(Settings(data_dir=data, workers=0, database_url=args.database_url, _env_file=None),
                               migrate_schema=False)
        with service.db.read() as session:
            measured = Page.batch_id != warm_batch
            first_page, last_page = session.execute(select(func.min(Page.created_at), func.max(Page.created_at))
                                                    .where(measured)).one()
            pages = session.scalar(select(func.count()).select_from(Page).where(measured))
            page_states = dict(session.execute(select(Page.status, func.count()).where(measured)
                                               .group_by(Page.status)).all())
            sheets = session.execute(select(Sheet.status, Sheet.student_id, Sheet.page_ids)
                                     .where(Sheet.batch_id != warm_batch)).all()
            names = dict(session.execute(select(Page.id, BatchFile.filename)
                                         .join(BatchFile, BatchFile.id == Page.file_id)).all())
        service.close()
        first_page, last_page = (t if t.tzinfo else t.replace(tzinfo=dt.timezone.utc) for t in (first_page, last_page))
        result_seconds = (last_page - first_upload).total_seconds()
        sure = [(student, names[ids[0]]) for state, student, ids in sheets if state == "ok"]
        wrong = sum(student != truth[name] for student, name in sure)

        print(f"  uploads ({len(batch_ids)} batches)                {upload_wall:8.1f} s  "
              f"(per upload p50 {_percentile(upload_seconds, 0.5):.2f} s, max {max(upload_seconds):.2f} s)")
        print(f"  first upload -> last page read        {result_seconds:8.1f} s")
        print(f"  sustained upload-to-result            {pages / result_seconds:8.1f} pages/s  (first page stored "
              f"{(first_page - first_upload).total_seconds():.1f} s after the first upload began)")
        rate = pages / result_seconds
        cpu_total, cpu_workers = (end - start for start, end in zip(cpu_start, cpu_end))
        cpu_page, workers_page = cpu_total / pages, cpu_workers / pages
        server_page = cpu_page - workers_page
        dashboard_page = min(queries * query_cpu / pages, server_page)
        print(f"  service CPU per page                  {cpu_page * 1000:8.1f} ms  (workers {workers_page * 1000:.1f} ms, "
              f"server {server_page * 1000:.1f} ms; from the first upload to the last page read)")
        print(f"    of the server's: the dashboard's {queries} queries ~{dashboard_page * 1000:.1f} ms a page "
              f"({query_cpu * 1000:.1f} ms each, measured after the run), the uploads ~"
              f"{(server_page - dashboard_page) * 1000:.1f} ms")
        print(f"  service / yuejuan scan, per CPU       {cli_cpu_page / cpu_page:8.2f}  (pages per CPU second; what the "
              f"machine's load does not skew; {cli_cpu_page / (cpu_page - dashboard_page):.2f} without the dashboard)")
        print(f"  service / yuejuan scan                {rate / cli_rate:8.2f}  (upload-to-result over the CLI's own "
              f"pages/s; {rate / cli_steady:.2f} over the CLI's with its start left out; {args.workers} workers "
              f"each, same files, same machine)")
        for (kind, phase), values in sorted(latencies.items(), key=lambda item: (item[0][1] != "uploading", item[0])):
            print(f"  {kind:<18} while {phase:<9}  p50 {_percentile(values, 0.5) * 1000:6.0f} ms  "
                  f"p99 {_percentile(values, 0.99) * 1000:6.0f} ms  ({len(values)} requests)")
        print(f"  peak RSS server + workers             {sampler.peak_total / 2**20:8.0f} MiB  (largest process "
              f"{max(sampler.peak_each.values(), default=0) / 2**20:.0f} MiB, {len(sampler.peak_each)} processes)")
        print(f"  pages {pages} (ok {page_states.get('ok', 0)}, flagged {page_states.get('flagged', 0)}, error "
              f"{page_states.get('error', 0)}); sheets {len(sheets)}, sure {len(sure)}, sure with a wrong student id "
              f"{wrong}")
        return 1 if errors or wrong or pages != args.count else 0


if __name__ == "__main__":
    sys.exit(main())
