"""OMR throughput: per-stage ms, pages/s for OMR only and end to end, one core and all cores.

Generates N A4 sheets at 200 dpi (gray JPEG, the simulator's typical profile), then measures:
- bare ``cv2.imread`` (full-size gray decode) of the same files, for comparison;
- OMR only: ``read_page`` on already decoded arrays, one core, with per-stage ms;
- end to end (file -> result) on one core, and on all cores through the process pool.
Peak memory (max RSS of this process and of the workers) is printed beside the times.

Run: ``make bench`` or ``python benchmarks/omr_throughput.py --count 200``.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import omr  # noqa: E402,F401  (sets the decoder pixel limit before cv2 loads)
import cv2  # noqa: E402

from omr.batch import ScanOptions, decode_min_side_px, scan_batch, scan_file  # noqa: E402
from omr.load import iter_pages  # noqa: E402
from omr.read import prepare_template, read_page  # noqa: E402
from sample_sheets import resolve_template  # noqa: E402
from sample_sheets.simulate import write_batch  # noqa: E402


def _max_rss_mb(who: int) -> float:
    return resource.getrusage(who).ru_maxrss / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200, help="sheets to generate")
    parser.add_argument("--template", default="cn-a4-55")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workers", type=int, default=os.cpu_count())
    args = parser.parse_args()

    cv2.setNumThreads(1)  # "one core" means it: OpenCV would otherwise spread resize/warp over every core
    template = resolve_template(args.template)
    prepared = prepare_template(template)
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        write_batch(template, tmp, count=args.count, seed=args.seed, profile="typical", fmt="jpg", dpi=200)
        files = sorted(Path(tmp).glob("*.jpg"))
        print(f"generated {len(files)} pages (A4, 200 dpi, gray JPEG, typical) in "
              f"{time.perf_counter() - started:.1f} s")

        started = time.perf_counter()
        for path in files:
            cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        bare = (time.perf_counter() - started) / len(files) * 1000
        print(f"bare cv2.imread (full gray decode):        {bare:7.2f} ms/page  {1000 / bare:7.1f} pages/s")

        reduce_to = decode_min_side_px(template)
        started = time.perf_counter()
        images = [page.image for path in files for page in iter_pages(path, reduce_jpeg_to_min_px=reduce_to)]
        decode = (time.perf_counter() - started) / len(files) * 1000
        print(f"yuejuan decode (reduced JPEG, ~100 dpi):    {decode:7.2f} ms/page")

        read_page(images[0], prepared)  # compile and warm up
        stages: dict[str, list[float]] = {}
        started = time.perf_counter()
        for index, image in enumerate(images):
            result = read_page(image, prepared, source=str(index))
            for stage, ms in result.timings_ms.items():
                stages.setdefault(stage, []).append(ms)
        omr_only = (time.perf_counter() - started) / len(images) * 1000
        print(f"OMR only, 1 core:                           {omr_only:7.2f} ms/page  {1000 / omr_only:7.1f} pages/s")
        for stage, values in stages.items():
            print(f"    {stage:<14} median {statistics.median(values):6.2f} ms   p95 "
                  f"{sorted(values)[int(0.95 * (len(values) - 1))]:6.2f} ms")

        started = time.perf_counter()
        for path in files:
            scan_file(path, prepared, ScanOptions())
        end_to_end = (time.perf_counter() - started) / len(files) * 1000
        print(f"end to end (file -> result), 1 core:        {end_to_end:7.2f} ms/page  "
              f"{1000 / end_to_end:7.1f} pages/s  ({end_to_end / bare:.2f}x bare decode)")

        # Pool start (spawning, imports, Numba load, template preparation) is paid once per batch: measured on a
        # batch of as many files as workers, and taken off the full run to give the steady rate.
        started = time.perf_counter()
        scan_batch(files[:args.workers], template, workers=args.workers)
        start_cost = time.perf_counter() - started
        started = time.perf_counter()
        pages, _ = scan_batch(files, template, workers=args.workers)
        wall = time.perf_counter() - started
        steady = max(wall - start_cost, 1e-9)
        print(f"end to end, {args.workers} workers, whole batch:      {wall / len(pages) * 1000:7.2f} ms/page  "
              f"{len(pages) / wall:7.1f} pages/s (pool start {start_cost:.1f} s)")
        print(f"end to end, {args.workers} workers, steady (less start): {steady / len(pages) * 1000:7.2f} ms/page  "
              f"{len(pages) / steady:7.1f} pages/s")
        print(f"peak memory: this process {_max_rss_mb(resource.RUSAGE_SELF):.0f} MB, "
              f"largest worker {_max_rss_mb(resource.RUSAGE_CHILDREN):.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
