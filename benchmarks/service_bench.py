"""What the service benchmarks share: simulated scans, a fresh installation's credentials, `yuejuan serve` on
loopback, a warm-up batch, stations uploading, waiting for batches to be read, a teacher's dashboard polling (and
what its queries cost the server), resident memory and CPU time of the server's process tree, and the database's own
account of what was read. Imported by ``service_load.py`` and ``service_soak.py`` (run from the repository root or
from ``benchmarks/``)."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SCHOOL = "3433000101"
PASSWORD = "benchmark password"
EXAM = ROOT / "grading" / "samples" / "cn-a4-55-exam.json"
API = "/api/v1"


def percentile(values: list[float], share: float) -> float:
    """The nearest-rank percentile of ``values`` (``share`` in 0..1)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))]


def simulate_scans(folder: Path, count: int, seed: int) -> tuple[list[tuple[str, bytes]], dict[str, str]]:
    """``count`` simulated A4 answer sheets (JPEG, typical scanner): the files and each file's student id."""
    from sample_sheets.simulate import write_batch

    manifest = write_batch("cn-a4-55", folder, count=count, seed=seed, profile="typical", fmt="jpg",
                           classes=max(1, count // 45))
    scans = [(e["file"], (folder / e["file"]).read_bytes()) for e in manifest["pages"]]
    return scans, {e["file"]: e["student_id"] for e in manifest["pages"]}


@dataclass
class Credentials:
    stations: list[dict[str, str]]
    municipal: dict[str, str]


def provision(data: Path, database_url: str | None, stations: int) -> Credentials:
    """A school, a teacher, ``stations`` station keys and the municipal key in a new installation."""
    from api.service.bootstrap import add_api_key, add_school, add_user
    from api.service.context import open_service
    from api.service.settings import Settings

    service = open_service(Settings(data_dir=data, workers=0, database_url=database_url, _env_file=None))
    try:
        add_school(service, SCHOOL, "第一中学")
        add_user(service, "teacher", PASSWORD, "teacher", SCHOOL)
        keys = [{"X-API-Key": add_api_key(service, "station", SCHOOL, f"station {i + 1}")} for i in range(stations)]
        return Credentials(keys, {"X-API-Key": add_api_key(service, "municipal")})
    finally:
        service.close()


@dataclass
class Server:
    """`yuejuan serve` running on loopback."""

    process: subprocess.Popen
    base: str
    log_path: Path
    _log: object = field(repr=False)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self._log.close()


def start_server(work_dir: Path, data: Path, database_url: str | None, workers: int, timeout: float = 120) -> Server:
    """Start `yuejuan serve --workers N` on a free loopback port and wait until it answers."""
    import httpx

    from api.demo_service import free_port

    port = free_port()
    env = {**os.environ, "YUEJUAN_DATA_DIR": str(data)}
    for name in ("YUEJUAN_DATABASE_URL", "YUEJUAN_DASK_SCHEDULER"):
        env.pop(name, None)
    if database_url:
        env["YUEJUAN_DATABASE_URL"] = database_url
    log_path = work_dir / "serve.log"
    log = open(log_path, "wb")
    process = subprocess.Popen([sys.executable, "-m", "api.cli", "serve", "--port", str(port), "--workers",
                                str(workers), "--log-level", "warning"], cwd=work_dir, env=env, stdout=log,
                               stderr=log)
    server = Server(process, f"http://127.0.0.1:{port}{API}", log_path, log)
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(f"{server.base}/health", timeout=5).status_code == 200:
                return server
        except httpx.TransportError:
            if process.poll() is not None or time.monotonic() > deadline:
                server.stop()
                raise SystemExit("the server did not start:\n" + log_path.read_text())
        time.sleep(0.1)


def exam_and_teacher(base: str, credentials: Credentials) -> tuple[int, dict[str, str]]:
    """The city-wide sample exam (created with the municipal key) and a logged-in teacher's headers."""
    import httpx

    with httpx.Client(base_url=base, timeout=120) as http:
        exam = http.post("/exams", headers=credentials.municipal,
                         json={"definition": json.loads(EXAM.read_text("utf-8"))})
        exam.raise_for_status()
        token = http.post("/auth/token", json={"username": "teacher", "password": PASSWORD})
        token.raise_for_status()
        return exam.json()["id"], {"Authorization": f"Bearer {token.json()['access_token']}"}


def upload_batch(client, headers: dict[str, str], exam_id: int, files: list[tuple[str, bytes]], key: str):
    """POST /batches: ``files`` as JPEG parts, with an Idempotency-Key."""
    parts = [("files", (name, body, "image/jpeg")) for name, body in files]
    return client.post("/batches", data={"exam_id": str(exam_id)}, files=parts,
                       headers={**headers, "Idempotency-Key": key})


def wait_until_read(client, teacher: dict[str, str], batch_ids: list[str], server: Server, deadline: float,
                    every: float = 0.25) -> bool:
    """Ask ``GET /batches/{id}`` of every batch until all are done (True), or until ``deadline`` (monotonic) passes
    or the server has ended (False)."""
    while not all(client.get(f"/batches/{b}", headers=teacher).json()["status"] == "done" for b in batch_ids):
        if time.monotonic() > deadline or server.process.poll() is not None:
            return False
        time.sleep(every)
    return True


def warm_up(server: Server, station: dict[str, str], teacher: dict[str, str], exam_id: int,
            files: list[tuple[str, bytes]], deadline: float) -> str:
    """Upload ``files`` as one batch and wait until it is read: the workers have started and loaded the reader, as
    in a running service. The batch's id (to leave it out of what is counted)."""
    import httpx

    with httpx.Client(base_url=server.base, timeout=120) as client:
        response = upload_batch(client, station, exam_id, files, "warm-up")
        response.raise_for_status()
        batch_id = response.json()["id"]
        if not wait_until_read(client, teacher, [batch_id], server, deadline, every=0.1):
            raise SystemExit("the warm-up batch was not read:\n" + server.log_path.read_text())
    return batch_id


class Dashboard(threading.Thread):
    """A teacher's busy dashboard: ``GET /batches/{id}`` and ``GET /exams`` in turn, every 20 ms, until stopped.

    ``latencies[(query, phase)]`` holds the seconds of each answered request; ``phase`` is whatever
    :attr:`phase` says when the request starts (the caller sets it, e.g. "uploading" then "reading").
    """

    def __init__(self, base: str, headers: dict[str, str], batch_ids: list[str], lock: threading.Lock):
        super().__init__(daemon=True)
        self.base, self.headers, self.batch_ids, self.lock = base, headers, batch_ids, lock
        self.phase = "uploading"
        self.latencies: dict[tuple[str, str], list[float]] = {}
        self.errors: list[str] = []
        self.finished = threading.Event()

    def run(self) -> None:
        import httpx

        with httpx.Client(base_url=self.base, timeout=60) as client:
            turn = 0
            while not self.finished.is_set():
                with self.lock:
                    known = self.batch_ids[-50:]  # the batches a station's teacher would be looking at
                phase = self.phase
                if known and turn % 2 == 0:
                    kind, began = "GET /batches/{id}", time.perf_counter()
                    response = client.get(f"/batches/{known[turn // 2 % len(known)]}", headers=self.headers)
                else:
                    kind, began = "GET /exams", time.perf_counter()
                    response = client.get("/exams", headers=self.headers)
                elapsed = time.perf_counter() - began
                if response.status_code == 200:
                    self.latencies.setdefault((kind, phase), []).append(elapsed)
                else:
                    self.errors.append(f"{kind}: {response.status_code}")
                turn += 1
                time.sleep(0.02)

    def stop(self) -> None:
        self.finished.set()
        self.join()

    @property
    def queries(self) -> int:
        """How many of its requests were answered."""
        return sum(len(values) for values in self.latencies.values())


def dashboard_query_cpu(base: str, teacher: dict[str, str], batch_ids: list[str], sampler: RssSampler,
                        queries: int = 40) -> float:
    """The server's CPU seconds (its own process, not the workers') for one of the dashboard's queries, asked
    ``queries`` times in turn with nothing else running: to tell the dashboard's cost from the uploads'."""
    import httpx

    with httpx.Client(base_url=base, timeout=60) as client:
        before = sampler.cpu_seconds()
        for turn in range(queries):
            client.get(f"/batches/{batch_ids[turn % len(batch_ids)]}" if turn % 2 and batch_ids else "/exams",
                       headers=teacher)
        after = sampler.cpu_seconds()
    return ((after.total - after.children) - (before.total - before.children)) / queries


def process_label(process) -> str:
    """server, worker or multiprocessing's resource tracker, from a process's command line."""
    import psutil

    try:
        command = " ".join(process.cmdline())
    except psutil.Error:
        return "gone"
    if "resource_tracker" in command:
        return "resource tracker"
    if "spawn_main" in command:
        return "worker"
    if " serve" in command:
        return "server"
    return process.name()


@dataclass(frozen=True)
class CpuSeconds:
    """CPU time (user + system) of a process tree as last seen: all of it, and its root's descendants only."""

    total: float
    children: float


def print_cpu_per_page(start: CpuSeconds, end: CpuSeconds, pages: int, span: str, queries: int,
                       query_cpu: float) -> tuple[CpuSeconds, float]:
    """Print the server tree's CPU time per page between two readings of :meth:`RssSampler.cpu_seconds` (all of
    it, the workers' and the server's own) and the dashboard's share of the server's (``queries`` answered, each
    ``query_cpu`` seconds, from :func:`dashboard_query_cpu`). Returns the figures per page (``children``: the
    workers') and the dashboard's."""
    pages = max(pages, 1)  # a run that read nothing still prints its table
    total, workers = (end.total - start.total) / pages, (end.children - start.children) / pages
    server = total - workers
    dashboard = min(queries * query_cpu / pages, server)
    print(f"  service CPU per page                  {total * 1000:8.1f} ms  (workers {workers * 1000:.1f} ms, "
          f"server {server * 1000:.1f} ms; {span})")
    print(f"    of the server's: the dashboard's {queries} queries ~{dashboard * 1000:.1f} ms a page "
          f"({query_cpu * 1000:.1f} ms each, measured after the run), the uploads ~"
          f"{(server - dashboard) * 1000:.1f} ms")
    return CpuSeconds(total, workers), dashboard


class RssSampler(threading.Thread):
    """Resident memory (from /proc, through psutil) of a process and all its descendants, every ``every``
    seconds until stopped or the process has ended: the peaks, and a time series per process for growth checks;
    and the CPU time they have used (:meth:`cpu_seconds`), which a loaded machine does not skew as it skews wall
    time."""

    def __init__(self, pid: int, every: float = 0.2):
        super().__init__(daemon=True)
        import psutil

        self.root = psutil.Process(pid)
        self.every = every
        self.peak_total = 0
        self.peak_each: dict[int, int] = {}
        self.cpu_each: dict[int, float] = {}  # pid -> user + system seconds, as last seen
        self.series: dict[int, list[tuple[float, int]]] = {}  # pid -> [(monotonic time, rss bytes)]
        self.labels: dict[int, str] = {}
        self.finished = threading.Event()
        self._lock = threading.Lock()  # the caller samples too (cpu_seconds): one sample at a time, in time order

    def sample(self) -> bool:
        """One sample of every process of the tree; False once the root process has ended."""
        import psutil

        with self._lock:
            try:
                processes = [self.root, *self.root.children(recursive=True)]
            except psutil.Error:
                return False
            now, total = time.monotonic(), 0
            for process in processes:
                try:
                    with process.oneshot():
                        rss = process.memory_info().rss
                        times = process.cpu_times()
                except psutil.Error:
                    continue
                if process.pid not in self.labels:
                    self.labels[process.pid] = process_label(process)
                total += rss
                self.peak_each[process.pid] = max(self.peak_each.get(process.pid, 0), rss)
                self.series.setdefault(process.pid, []).append((now, rss))
                self.cpu_each[process.pid] = times.user + times.system
            self.peak_total = max(self.peak_total, total)
            return True

    def cpu_seconds(self) -> CpuSeconds:
        """The CPU time used so far (a new sample first); a process that has ended counts as last seen."""
        self.sample()
        with self._lock:
            total = sum(self.cpu_each.values())
            return CpuSeconds(total, total - self.cpu_each.get(self.root.pid, 0.0))

    def run(self) -> None:
        while not self.finished.wait(self.every):
            if not self.sample():
                return

    def stop(self) -> None:
        self.finished.set()
        self.join()

    def at(self, pid: int, moment: float) -> int | None:
        """The process's RSS in the last sample taken at or before ``moment`` (None before its first)."""
        found = None
        for when, rss in self.series.get(pid, []):
            if when > moment:
                break
            found = rss
        return found


@dataclass
class ReadOutcome:
    """What the database says was read."""

    pages: int
    page_states: dict[str, int]
    first_page: dt.datetime | None
    last_page: dt.datetime | None
    sheets: list[tuple[str, str | None, str]]  # (status, student id, file name of its first page)


def read_outcome(data: Path, database_url: str | None, leave_out: Collection[str] = ()) -> ReadOutcome:
    """The pages and sheets stored, but those of the batches ``leave_out`` (e.g. a warm-up batch)."""
    from sqlalchemy import func, select

    from api.service.context import open_service
    from api.service.models import BatchFile, Page, Sheet
    from api.service.settings import Settings

    service = open_service(Settings(data_dir=data, workers=0, database_url=database_url, _env_file=None),
                           migrate_schema=False)
    try:
        counted = Page.batch_id.not_in(leave_out)
        with service.db.read() as session:
            first, last = session.execute(select(func.min(Page.created_at), func.max(Page.created_at))
                                          .where(counted)).one()
            pages = session.scalar(select(func.count()).select_from(Page).where(counted))
            states = dict(session.execute(select(Page.status, func.count()).where(counted)
                                          .group_by(Page.status)).all())
            names = dict(session.execute(select(Page.id, BatchFile.filename)
                                         .join(BatchFile, BatchFile.id == Page.file_id)).all())
            sheets = [(status, student, names[ids[0]]) for status, student, ids
                      in session.execute(select(Sheet.status, Sheet.student_id, Sheet.page_ids)
                                         .where(Sheet.batch_id.not_in(leave_out)))]
    finally:
        service.close()
    first, last = (t if t is None or t.tzinfo else t.replace(tzinfo=dt.timezone.utc) for t in (first, last))
    return ReadOutcome(pages, states, first, last, sheets)
