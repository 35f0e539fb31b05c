"""Service soak: a whole sitting (default 20 000 pages) through `yuejuan serve` on PostgreSQL, watching memory.

Starts `yuejuan serve --workers 2` on 127.0.0.1 with PostgreSQL (``--database-url``, an empty database; without
it a throw-away server is started with ``scripts/pg-throwaway`` and removed afterwards), simulates a pool of
answer sheets and lets K stations upload N pages in batches. Each uploaded file is one of the pool's JPEGs with
a comment segment naming its page number (different bytes, so no upload is a duplicate; the same image, so the
truth is known). A warm-up batch of two pages goes first, not counted (the workers have loaded the reader, as in
a running service, before memory is watched). Stations keep at most ``--backlog`` pages waiting to be read, as
scanners feeding a service at its own pace would, so the run is in a steady state. A teacher's dashboard polls
throughout. Prints:

* pages/s over the run (first upload to last page read) and per quarter of it,
* CPU time per page of the workers and of the server, and the dashboard's share of the server's,
* p50 / p95 / p99 latency of the dashboard's queries during the run,
* resident memory of every process (server, each worker, multiprocessing's resource tracker), sampled every
  ``--sample-every`` seconds from /proc, at 25 %, 50 %, 75 % and 100 % of the run and its peak,
* the growth check: a process whose RSS at 100 % exceeds its RSS at 25 % by more than ``--max-growth`` (10 %)
  and more than 32 MiB fails the run (exit 1), as do upload errors, missing pages and wrong student ids.

Run as::

    .venv/bin/python benchmarks/service_soak.py                      # 20 000 pages (27 minutes on 2 busy cores)
    .venv/bin/python benchmarks/service_soak.py --pages 500          # a quick check
    .venv/bin/python benchmarks/service_soak.py --database-url postgresql+psycopg://user@db/soak
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import struct
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))

from service_bench import (ROOT, Dashboard, RssSampler, dashboard_query_cpu, exam_and_teacher,  # noqa: E402
                           percentile, print_cpu_per_page, provision, read_outcome, simulate_scans, start_server,
                           upload_batch, wait_until_read, warm_up)

GROWTH_FLOOR_MIB = 32


def numbered(jpeg: bytes, number: int) -> bytes:
    """The same JPEG with a comment segment (COM, FF FE) after its SOI marker naming ``number``: other bytes,
    the same image."""
    text = f"yuejuan soak page {number}".encode()
    return jpeg[:2] + b"\xff\xfe" + struct.pack(">H", len(text) + 2) + text + jpeg[2:]


def throwaway_postgres() -> tuple[str, Callable[[], None]]:
    """A throw-away PostgreSQL server (the test suite's, ``tests/postgres.py``): its URL and its stop."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("yuejuan_tests_postgres", ROOT / "tests" / "postgres.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.start_throwaway()


class Progress(threading.Thread):
    """Pages stored so far, but those of the batches in :attr:`leave_out`, asked of the database every half second
    (what the stations pace themselves by)."""

    def __init__(self, data: Path, database_url: str):
        super().__init__(daemon=True)
        from api.service.context import open_service
        from api.service.settings import Settings

        self.service = open_service(Settings(data_dir=data, workers=0, database_url=database_url, _env_file=None),
                                    migrate_schema=False)
        self.pages = 0
        self.leave_out: list[str] = []
        self.history: list[tuple[float, int]] = []  # (monotonic time, pages stored)
        self.finished = threading.Event()

    def run(self) -> None:
        from sqlalchemy import func, select

        from api.service.models import Page

        while not self.finished.wait(0.5):
            try:
                with self.service.db.read() as session:
                    self.pages = session.scalar(select(func.count()).select_from(Page)
                                                .where(Page.batch_id.not_in(self.leave_out)))
            except Exception as error:  # the benchmark's own view; the run goes on
                print(f"  (progress query failed: {error})")
                continue
            self.history.append((time.monotonic(), self.pages))

    def stop(self) -> None:
        self.finished.set()
        if self.ident is not None:  # started
            self.join()
        self.service.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=20_000, help="pages of the sitting (one JPEG file each)")
    parser.add_argument("--pool", type=int, default=200, help="distinct simulated sheets the pages are made from")
    parser.add_argument("--stations", type=int, default=4, help="concurrent uploading stations")
    parser.add_argument("--batch-size", type=int, default=50, help="files per upload")
    parser.add_argument("--backlog", type=int, default=400, help="pages uploaded but not read yet, at most")
    parser.add_argument("--workers", type=int, default=2, help="OMR worker processes of the server")
    parser.add_argument("--sample-every", type=float, default=2.0, help="seconds between memory samples")
    parser.add_argument("--max-growth", type=float, default=0.10,
                        help=f"RSS growth from 25 %% to 100 %% of the run that fails it (and over "
                             f"{GROWTH_FLOOR_MIB} MiB)")
    parser.add_argument("--seed", type=int, default=2027)
    parser.add_argument("--timeout", type=float, default=7200.0, help="give up after this many seconds")
    parser.add_argument("--database-url", default=None, metavar="URL",
                        help="an empty PostgreSQL database (default: a throw-away server, removed afterwards)")
    args = parser.parse_args(argv)
    if args.batch_size > args.pool:
        parser.error("--batch-size must not exceed --pool (a batch holds distinct sheets)")

    import httpx

    with tempfile.TemporaryDirectory(prefix="yuejuan-soak-") as work:
        work_dir = Path(work)
        data = work_dir / "data"
        stop_postgres = None
        database_url = args.database_url
        if database_url is None:
            database_url, stop_postgres = throwaway_postgres()
        try:
            return _soak(args, work_dir, data, database_url, httpx)
        finally:
            if stop_postgres is not None:
                stop_postgres()


def _soak(args, work_dir: Path, data: Path, database_url: str, httpx) -> int:
    started = time.perf_counter()
    pool, pool_truth = simulate_scans(work_dir / "scans", args.pool, args.seed)
    truth: dict[str, str] = {}
    print(f"service soak: {args.pages} pages from {args.pool} simulated sheets (JPEG, typical), {args.stations} "
          f"stations, batches of {args.batch_size}, backlog <= {args.backlog}, {args.workers} workers, "
          f"{os.cpu_count()} cores, PostgreSQL")
    print(f"  simulate scans (not counted)          {time.perf_counter() - started:8.1f} s")

    credentials = provision(data, database_url, args.stations)
    server = start_server(work_dir, data, database_url, args.workers)
    sampler = RssSampler(server.process.pid, every=args.sample_every)
    progress = Progress(data, database_url)
    lock = threading.Lock()
    batch_ids: list[str] = []
    errors: list[str] = []
    uploaded = [0]
    deadline = time.monotonic() + args.timeout
    try:
        sampler.start()
        exam_id, teacher = exam_and_teacher(server.base, credentials)
        batches = [range(start, min(start + args.batch_size, args.pages))
                   for start in range(0, args.pages, args.batch_size)]

        def files_of(numbers: range) -> list[tuple[str, bytes]]:
            files = []
            for number in numbers:
                name, jpeg = pool[number % args.pool]
                files.append((f"p{number:06d}-{name}", numbered(jpeg, number)))
                truth[files[-1][0]] = pool_truth[name]
            return files

        # page numbers after the sitting's: other bytes than any page of it
        progress.leave_out.append(warm_up(server, credentials.stations[0], teacher, exam_id,
                                          files_of(range(args.pages, args.pages + 2)), deadline))
        progress.start()

        def station(index: int) -> None:
            with httpx.Client(base_url=server.base, timeout=300) as client:
                for numbers in batches[index::args.stations]:
                    while True:  # a scanner feeding the service at its pace
                        with lock:
                            waiting = uploaded[0] - progress.pages
                        if waiting + len(numbers) <= args.backlog or time.monotonic() > deadline or errors:
                            break
                        time.sleep(0.2)
                    if time.monotonic() > deadline or errors:
                        return
                    response = upload_batch(client, credentials.stations[index], exam_id, files_of(numbers),
                                            f"soak-{numbers.start}")
                    with lock:
                        if response.status_code != 202:
                            errors.append(f"upload: {response.status_code} {response.text[:200]}")
                        else:
                            batch_ids.append(response.json()["id"])
                            uploaded[0] += len(numbers)

        dashboard = Dashboard(server.base, teacher, batch_ids, lock)
        dashboard.phase = "soak"
        cpu_start = sampler.cpu_seconds()
        first_upload = dt.datetime.now(dt.timezone.utc)
        run_start = time.monotonic()
        dashboard.start()
        threads = [threading.Thread(target=station, args=(i,)) for i in range(args.stations)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        while progress.pages < uploaded[0] and not errors:
            if time.monotonic() > deadline or server.process.poll() is not None:
                errors.append(f"gave up: {progress.pages} of {uploaded[0]} pages read")
                break
            time.sleep(0.5)
        run_end = time.monotonic()
        cpu_end = sampler.cpu_seconds()  # and the 100 % point of memory
        dashboard.stop()
        errors += dashboard.errors
        with httpx.Client(base_url=server.base, timeout=120) as client:  # the sheets of the last batches
            wait_until_read(client, teacher, batch_ids[-8:], server, deadline, every=0.5)
        query_cpu = dashboard_query_cpu(server.base, teacher, batch_ids, sampler)
    finally:
        sampler.finished.set()
        progress.stop()
        server.stop()

    outcome = read_outcome(data, database_url, leave_out=progress.leave_out)
    seconds = run_end - run_start
    sure = [(student, name) for state, student, name in outcome.sheets if state == "ok"]
    wrong = sum(student != truth[name] for student, name in sure)
    print(f"  pages read {outcome.pages} in {seconds:.0f} s (first upload to last page read): "
          f"{outcome.pages / seconds:.1f} pages/s")
    quarters = []
    for quarter in range(4):
        begin, end = (run_start + seconds * q / 4 for q in (quarter, quarter + 1))
        done = [pages for when, pages in progress.history if begin <= when <= end]
        if len(done) > 1:
            quarters.append(f"{(done[-1] - done[0]) / (end - begin):.1f}")
    print(f"  pages/s per quarter of the run        {' / '.join(quarters)}")
    print_cpu_per_page(cpu_start, cpu_end, outcome.pages, "from the first upload to the last page read",
                       dashboard.queries, query_cpu)
    for (kind, _phase), values in sorted(dashboard.latencies.items()):
        print(f"  {kind:<18} during the run   p50 {percentile(values, 0.5) * 1000:5.0f} ms  "
              f"p95 {percentile(values, 0.95) * 1000:5.0f} ms  p99 {percentile(values, 0.99) * 1000:5.0f} ms  "
              f"({len(values)} requests)")

    samples = len(sampler.series.get(server.process.pid, []))
    print(f"  resident memory (MiB), sampled every {args.sample_every:g} s ({samples} samples of the server):")
    print(f"    {'process':<22} {'25 %':>6} {'50 %':>6} {'75 %':>6} {'100 %':>6} {'peak':>6}  growth 25->100 %")
    grew = []
    for pid, label in sorted(sampler.labels.items(), key=lambda item: (item[1] != "server", item[0])):
        points = [sampler.at(pid, run_start + seconds * share) for share in (0.25, 0.5, 0.75, 1.0)]
        shown = ["     -" if rss is None else f"{rss / 2**20:6.0f}" for rss in points]
        if points[0] is None or points[3] is None:
            verdict = "not running at both points"
        else:
            growth = points[3] - points[0]
            verdict = f"{growth / 2**20:+.0f} MiB ({growth / points[0]:+.1%})"
            if growth > max(points[0] * args.max_growth, GROWTH_FLOOR_MIB * 2**20):
                verdict += "  GREW"
                grew.append(f"{label} {pid}")
        print(f"    {label + ' ' + str(pid):<22} {' '.join(shown)} {sampler.peak_each[pid] / 2**20:6.0f}  {verdict}")
    print(f"  peak RSS of all processes together    {sampler.peak_total / 2**20:.0f} MiB")
    states = outcome.page_states
    print(f"  pages {outcome.pages} (ok {states.get('ok', 0)}, flagged {states.get('flagged', 0)}, error "
          f"{states.get('error', 0)}); sheets {len(outcome.sheets)}, sure {len(sure)}, sure with a wrong student id "
          f"{wrong}")
    if errors:
        print("  errors:", *errors[:10], sep="\n    ")
    print(f"  memory growth: {'none beyond the limit' if not grew else 'GREW in ' + ', '.join(grew)}")
    return 1 if errors or wrong or grew or outcome.pages != args.pages else 0


if __name__ == "__main__":
    sys.exit(main())
