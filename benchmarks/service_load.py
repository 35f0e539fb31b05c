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
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from service_bench import (Dashboard, RssSampler, dashboard_query_cpu, exam_and_teacher, percentile,  # noqa: E402
                           print_cpu_per_page, provision, read_outcome, simulate_scans, start_server, upload_batch,
                           wait_until_read, warm_up)


def children_cpu_seconds() -> float:
    """CPU time (user + system) of this process's children that have ended and been waited for."""
    times = os.times()
    return times.children_user + times.children_system


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
        cpu = children_cpu_seconds()
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

    with tempfile.TemporaryDirectory(prefix="yuejuan-load-") as work:
        work_dir = Path(work)
        data = work_dir / "data"
        started = time.perf_counter()
        scans, truth = simulate_scans(work_dir / "scans", args.count, args.seed)
        warm_up_scans, _ = simulate_scans(work_dir / "warm-up", 2, args.seed + 1)
        print(f"service load: {args.count} sheets (JPEG, typical profile, {sum(len(d) for _, d in scans) / 2**20:.0f} "
              f"MiB), {args.stations} stations, batches of {args.batch_size}, {args.workers} workers, "
              f"{os.cpu_count()} cores, {'PostgreSQL' if args.database_url else 'SQLite'}, load average "
              f"{os.getloadavg()[0]:.1f}")
        print(f"  simulate scans (not counted)          {time.perf_counter() - started:8.1f} s")

        # The CLI's own figure includes starting its processes; two sheets alone tell that fixed cost.
        before = children_cpu_seconds()
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

        credentials = provision(data, args.database_url, args.stations)
        server = start_server(work_dir, data, args.database_url, args.workers, timeout=args.timeout)
        sampler = RssSampler(server.process.pid)
        deadline = time.monotonic() + args.timeout
        try:
            base = server.base
            sampler.start()
            exam_id, teacher = exam_and_teacher(base, credentials)
            # Two sheets first, not counted: the workers have started and loaded the reader, as in a running
            # service (compare with the CLI's rate with its start left out).
            warm_batch = warm_up(server, credentials.stations[0], teacher, exam_id, warm_up_scans, deadline)

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
            cpu_start = sampler.cpu_seconds()
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
                    if not wait_until_read(client, teacher, batch_ids, server, deadline):
                        raise SystemExit("timed out waiting for the batches to be read")
                cpu_end = sampler.cpu_seconds()
            finally:
                watcher.stop()
            errors += watcher.errors
            # What the dashboard's polling cost the server, to tell it from the uploads' cost: the same queries
            # again, now that nothing else runs, and the server's CPU for them.
            query_cpu = dashboard_query_cpu(base, teacher, batch_ids, sampler)
            if errors:
                print("  errors:", *errors[:10], sep="\n    ")
        finally:
            sampler.finished.set()
            server.stop()

        outcome = read_outcome(data, args.database_url, leave_out=[warm_batch])
        pages = outcome.pages
        result_seconds = (outcome.last_page - first_upload).total_seconds()
        sure = [(student, name) for state, student, name in outcome.sheets if state == "ok"]
        wrong = sum(student != truth[name] for student, name in sure)

        print(f"  uploads ({len(batch_ids)} batches)                {upload_wall:8.1f} s  "
              f"(per upload p50 {percentile(upload_seconds, 0.5):.2f} s, max {max(upload_seconds):.2f} s)")
        print(f"  first upload -> last page read        {result_seconds:8.1f} s")
        rate = pages / result_seconds
        print(f"  sustained upload-to-result            {rate:8.1f} pages/s  (first page stored "
              f"{(outcome.first_page - first_upload).total_seconds():.1f} s after the first upload began)")
        cpu_page, dashboard_page = print_cpu_per_page(cpu_start, cpu_end, pages,
                                                      "from the first upload to the last page read",
                                                      watcher.queries, query_cpu)
        print(f"  service / yuejuan scan, per CPU       {cli_cpu_page / cpu_page.total:8.2f}  (pages per CPU second; "
              f"what the machine's load does not skew; {cli_cpu_page / (cpu_page.total - dashboard_page):.2f} without "
              f"the dashboard)")
        print(f"  service / yuejuan scan                {rate / cli_rate:8.2f}  (upload-to-result over the CLI's own "
              f"pages/s; {rate / cli_steady:.2f} over the CLI's with its start left out; {args.workers} workers "
              f"each, same files, same machine)")
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
