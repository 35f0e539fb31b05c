"""Loader memory: peak resident memory and ms/page of ``omr.load.iter_pages`` on hostile and on ordinary files.

Files: the 16-bit RGBA PNG of 7745² (``sample_sheets.hostile.deep_rgba_png``), the 30-frame noisy TIFF
(``noisy_tiff``), four 35 Mpx colour TIFF frames (``noisy_tiff(samples=3)``) and an ordinary A4 page at 200 dpi
(the simulator's gray JPEG), read in full and reduced as the service reads it. Each file is read in a fresh
process, whose peak resident memory (``VmHWM``, imports included) is what is reported.

Times are wall and CPU (one OpenCV thread), the fastest of a few reads (``--repeat`` for the ordinary
page).

Run: ``python benchmarks/load_memory.py``. To measure another loader (e.g. main's, for a before/after), put a
folder holding its ``omr`` package first on ``PYTHONPATH``: the child processes import whatever ``omr`` resolves to.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sample_sheets import resolve_template  # noqa: E402
from sample_sheets.hostile import deep_rgba_png, noisy_tiff  # noqa: E402
from sample_sheets.simulate import write_batch  # noqa: E402

_CHILD = """
import json, sys, time
import cv2
import omr.load
from omr.load import iter_pages
cv2.setNumThreads(1)  # CPU time per page means one core's work

def peak_rss():  # this process's own high-water mark (ru_maxrss would include the parent's, kept across exec)
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmHWM:"))

reduce_to = int(sys.argv[2]) or None
times, cpu, pages, errors = [], [], 0, []
for _ in range(int(sys.argv[3])):
    started, started_cpu = time.perf_counter(), time.process_time()
    for page in iter_pages(sys.argv[1], reduce_jpeg_to_min_px=reduce_to):
        pages += 1
        if page.error:
            errors.append(page.error)
        del page
    times.append(time.perf_counter() - started)
    cpu.append(time.process_time() - started_cpu)
print(json.dumps({"peak": peak_rss(), "seconds": min(times), "cpu_seconds": min(cpu),
                  "pages": pages // int(sys.argv[3]), "error": errors[0] if errors else None,
                  "loader": omr.load.__file__}))
"""


def measure(path: Path, reduce_to: int | None, repeat: int) -> dict:
    done = subprocess.run([sys.executable, "-c", _CHILD, str(path), str(reduce_to or 0), str(repeat)],
                          capture_output=True, text=True, timeout=600, cwd=path.parent)  # not this checkout's cwd
    if done.returncode != 0:
        return {"failed": done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"exit {done.returncode}"}
    return json.loads(done.stdout)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=10, help="reads of the ordinary page (the fastest is kept)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        template = resolve_template("cn-a4-55")
        write_batch(template, folder / "page", count=1, seed=7, profile="typical", fmt="jpg", dpi=200)
        (page,) = sorted((folder / "page").glob("*.jpg"))
        (folder / "deep-rgba.png").write_bytes(deep_rgba_png())
        (folder / "noisy.tif").write_bytes(noisy_tiff())
        (folder / "noisy-colour.tif").write_bytes(noisy_tiff(frames=4, width=5000, height=7000, samples=3,
                                                              noise=0.002))
        from omr.batch import decode_min_side_px

        cases = [
            ("16-bit RGBA PNG 7745² (deep_rgba_png)", folder / "deep-rgba.png", None, 1),
            ("30-frame noisy TIFF, A4 300 dpi (noisy_tiff)", folder / "noisy.tif", None, 3),
            ("4-frame colour TIFF, 5000x7000", folder / "noisy-colour.tif", None, 2),
            ("A4 200-dpi gray JPEG, full size", page, None, args.repeat),
            ("A4 200-dpi gray JPEG, reduced as the service reads it", page, decode_min_side_px(template), args.repeat),
        ]
        loader = None
        print(f"{'file':<56} {'bytes':>11} {'pages':>5} {'peak RSS':>9} {'ms/page':>8} {'cpu ms':>7}  outcome")
        for label, path, reduce_to, repeat in cases:
            result = measure(path, reduce_to, repeat)
            if "failed" in result:
                print(f"{label:<56} {path.stat().st_size:>11,} {'-':>5} {'-':>9} {'-':>8} {'-':>7}  child failed: "
                      f"{result['failed']}")
                continue
            loader = result["loader"]
            per_page, cpu = (result[key] / max(1, result["pages"]) * 1000 for key in ("seconds", "cpu_seconds"))
            outcome = f"refused: {result['error']}" if result["error"] else "read"
            print(f"{label:<56} {path.stat().st_size:>11,} {result['pages']:>5} {result['peak'] / 2**20:>6.0f} MB "
                  f"{per_page:>8.1f} {cpu:>7.1f}  {outcome}")
        print(f"loader: {loader}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
