"""Analytics at city scale: a generated exam of 500,000 students x 60 items across 400 schools.

Prints seconds per stage and peak memory. The target is all score, item and knowledge-point analysis (every
class, school and the city; DINA and Rasch included) in <= 10 s on one core; the xlsx writing and the JSON are
measured separately. Run on one core as::

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 .venv/bin/python benchmarks/analytics_scale.py

Options: --students, --schools, --classes (per school), --items, --points (knowledge points), --no-xlsx.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=500_000)
    parser.add_argument("--schools", type=int, default=400)
    parser.add_argument("--classes", type=int, default=25, help="classes per school")
    parser.add_argument("--items", type=int, default=60)
    parser.add_argument("--points", type=int, default=8, help="knowledge points")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--no-xlsx", action="store_true")
    args = parser.parse_args(argv)

    from analytics.analysis import analyse
    from analytics.simulate import benchmark_exam, simulate_exam_data

    threads = os.environ.get("OPENBLAS_NUM_THREADS") or os.environ.get("OMP_NUM_THREADS") or "default"
    print(f"analytics benchmark: {args.students:,} students x {args.items} items, {args.schools} schools x "
          f"{args.classes} classes, {args.points} knowledge points (BLAS threads: {threads})")
    started = time.perf_counter()
    exam = benchmark_exam(args.items, args.points, seed=args.seed)
    data = simulate_exam_data(exam, args.students, n_schools=args.schools, classes_per_school=args.classes,
                              seed=args.seed)
    print(f"  {'generate data (not counted)':<42}{time.perf_counter() - started:7.2f} s")

    started = time.perf_counter()
    result = analyse(data)
    total = time.perf_counter() - started
    labels = {"group": "grouping (class, school)", "scores_students": "score: ranks, PR, z/T, borderline",
              "items": "item + test + options", "dina": "knowledge: DINA (EM + all posteriors)",
              "rasch": "knowledge: Rasch (MML)", "scores_groups": "score + knowledge per class/school/city",
              "knowledge_students": "knowledge: students' weakest points"}
    for key, seconds in result.timings.items():
        print(f"  {labels.get(key, key):<42}{seconds:7.2f} s")
    print(f"  {'ALL ANALYSIS (target <= 10 s)':<42}{total:7.2f} s   graded {result.test.n:,}, "
          f"alpha {result.test.alpha:.4f}, DINA iterations {result.dina.iterations}")
    print(f"  {'peak memory so far':<42}{_peak_mb():7.0f} MB")

    from analytics.report_json import analysis_json

    started = time.perf_counter()
    document = analysis_json(result, students=False)
    print(f"  {'JSON, no per-student list (separate)':<42}{time.perf_counter() - started:7.2f} s   "
          f"{len(document['classes'])} classes, {len(document['schools'])} schools")
    if not args.no_xlsx:
        from analytics.workbook import write_city_workbook, write_class_workbook, write_grade_workbook

        with tempfile.TemporaryDirectory() as folder:
            started = time.perf_counter()
            write_city_workbook(result, Path(folder) / "city.xlsx")
            city = time.perf_counter() - started
            school = result.schools.schools[0]
            started = time.perf_counter()
            write_grade_workbook(result, Path(folder) / "grade.xlsx", school=school)
            grade = time.perf_counter() - started
            started = time.perf_counter()
            write_class_workbook(result, Path(folder) / "class.xlsx", int(result.class_groups(school)[0]))
            one_class = time.perf_counter() - started
        print(f"  {'xlsx (separate): city workbook':<42}{city:7.2f} s")
        print(f"  {'xlsx (separate): one school grade workbook':<42}{grade:7.2f} s")
        print(f"  {'xlsx (separate): one class workbook':<42}{one_class:7.2f} s")
    print(f"  {'peak memory':<42}{_peak_mb():7.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
