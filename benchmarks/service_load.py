"""Service load: scanner stations uploading to `yuejuan serve` while teachers watch progress.

Starts `yuejuan serve` on 127.0.0.1 (a temporary data folder, SQLite or ``--database-url``, ``--workers 2``),
creates a school, keys and a teacher, simulates N answer sheets (JPEG, typical scanner profile), and lets K
concurrent "stations" (threads with httpx) upload their share in batches of ~20 files while a reader thread asks
``GET /batches/{id}`` and ``GET /exams`` over and over. Prints:

* sustained pages/s from the first upload to the last page read (upload-to-result),
* p50 / p99 latency of the read queries made while uploads run (and, separately, while the last pages are
  read after the uploads),
* peak RSS of the server and its workers (sampled every 0.2 s),
* and a check that every sheet read as sure carries the simulator's student id.

Bounded: it stops by itself (``--timeout``) and talks to loopback only. Run as::

    .venv/bin/python benchmarks/service_load.py                 # 200 sheets, 4 stations
    .venv/bin/python benchmarks/service_load.py --count 60      # a quick check
    .venv/bin/python benchmarks/service_load.py --database-url "$(scripts/pg-throwaway start /tmp/pg)"
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from service_bench import (Dashboard, RssSampler, exam_and_teacher, percentile, provision,  # noqa: E402
                           read_outcome, simulate_scans, start_server, upload_batch)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200, help="answer sheets (one JPEG page each)")
    parser.add_argument("--stations", type=int, default=4, help="concurrent uploading stations")
    parser.add_argument("--batch-size", type=int, default=20, help="files per upload")
    parser.add_argument("--workers", type=int, default=2, help="OMR worker processes of the server")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--timeout", type=float, default=900.0, help="give up after this many seconds")
    parser.add_argument("--database-url", default=None, metavar="URL",
                        help="an empty database for the server, e.g. postgresql+psycopg://postgres@127.0.0.1:5432/"
                             "bench (default: SQLite in the temporary data folder)")
    args = parser.parse_args(argv)

    import httpx

    with tempfile.TemporaryDirectory(prefix="yuejuan-load-") as work:
        work_dir = Path(work)
        data = work_dir / "data"
        started = time.perf_counter()
        scans, truth = simulate_scans(work_dir / "scans", args.count, args.seed)
        print(f"service load: {args.count} sheets (JPEG, typical profile, {sum(len(d) for _, d in scans) / 2**20:.0f} "
              f"MiB), {args.stations} stations, batches of {args.batch_size}, {args.workers} workers, "
              f"{os.cpu_count()} cores, {'PostgreSQL' if args.database_url else 'SQLite'}")
        print(f"  simulate scans (not counted)          {time.perf_counter() - started:8.1f} s")

        credentials = provision(data, args.database_url, args.stations)
        server = start_server(work_dir, data, args.database_url, args.workers, timeout=args.timeout)
        sampler = RssSampler(server.process.pid)
        deadline = time.monotonic() + args.timeout
        try:
            base = server.base
            sampler.start()
            exam_id, teacher = exam_and_teacher(base, credentials)

            shares = [scans[i::args.stations] for i in range(args.stations)]
            batch_ids: list[str] = []
            upload_seconds: list[float] = []
            errors: list[str] = []
            lock = threading.Lock()

            def station(index: int) -> None:
                share = shares[index]
                with httpx.Client(base_url=base, timeout=300) as client:
                    for start in range(0, len(share), args.batch_size):
                        began = time.perf_counter()
                        response = upload_batch(client, credentials.stations[index], exam_id,
                                                share[start:start + args.batch_size], f"station-{index}-{start}")
                        with lock:
                            upload_seconds.append(time.perf_counter() - began)
                            if response.status_code != 202:
                                errors.append(f"upload: {response.status_code} {response.text[:200]}")
                            else:
                                batch_ids.append(response.json()["id"])

            # (query, phase) -> seconds; phase "uploading" while any station still uploads, then "reading"
            watcher = Dashboard(base, teacher, batch_ids, lock)
            first_upload = dt.datetime.now(dt.timezone.utc)
            upload_started = time.perf_counter()
            threads = [threading.Thread(target=station, args=(i,)) for i in range(args.stations)]
            watcher.start()
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            upload_wall = time.perf_counter() - upload_started
            watcher.phase = "reading"
            try:
                with httpx.Client(base_url=base, timeout=60) as client:
                    while True:
                        states = [client.get(f"/batches/{b}", headers=teacher).json() for b in batch_ids]
                        if all(s["status"] == "done" for s in states):
                            break
                        if time.monotonic() > deadline or server.process.poll() is not None:
                            raise SystemExit("timed out waiting for the batches to be read")
                        time.sleep(0.25)
            finally:
                watcher.stop()
            errors += watcher.errors
            if errors:
                print("  errors:", *errors[:10], sep="\n    ")
        finally:
            sampler.finished.set()
            server.stop()

        outcome = read_outcome(data, args.database_url)
        pages = outcome.pages
        result_seconds = (outcome.last_page - first_upload).total_seconds()
        sure = [(student, name) for state, student, name in outcome.sheets if state == "ok"]
        wrong = sum(student != truth[name] for student, name in sure)

        print(f"  uploads ({len(batch_ids)} batches)                {upload_wall:8.1f} s  "
              f"(per upload p50 {percentile(upload_seconds, 0.5):.2f} s, max {max(upload_seconds):.2f} s)")
        print(f"  first upload -> last page read        {result_seconds:8.1f} s")
        print(f"  sustained upload-to-result            {pages / result_seconds:8.1f} pages/s  (first page stored "
              f"{(outcome.first_page - first_upload).total_seconds():.1f} s after the first upload began)")
        for (kind, phase), values in sorted(watcher.latencies.items(),
                                            key=lambda item: (item[0][1] != "uploading", item[0])):
            print(f"  {kind:<18} while {phase:<9}  p50 {percentile(values, 0.5) * 1000:6.0f} ms  "
                  f"p99 {percentile(values, 0.99) * 1000:6.0f} ms  ({len(values)} requests)")
        print(f"  peak RSS server + workers             {sampler.peak_total / 2**20:8.0f} MiB  (largest process "
              f"{max(sampler.peak_each.values(), default=0) / 2**20:.0f} MiB, {len(sampler.peak_each)} processes)")
        states = outcome.page_states
        print(f"  pages {pages} (ok {states.get('ok', 0)}, flagged {states.get('flagged', 0)}, error "
              f"{states.get('error', 0)}); sheets {len(outcome.sheets)}, sure {len(sure)}, sure with a wrong student "
              f"id {wrong}")
        return 1 if errors or wrong or pages != args.count else 0


if __name__ == "__main__":
    sys.exit(main())
