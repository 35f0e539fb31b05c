"""Writing workbooks: a city's scores.xlsx (500,000 students x 60 questions) and a grade's class workbooks.

Each case runs in its own process so that its peak memory (max RSS) is its own; the table shows the seconds spent
writing (wall clock, and CPU seconds of the process: the figure to compare on a shared machine), the peak RSS of the
process, the peak RSS before writing (the data it was given) and the file size.

- ``scores``: :func:`grading.report_io.write_scores_xlsx` of a marked run (one row per student, 2 columns per
  question);
- ``class``: :func:`analytics.reports.write_reports` at level class for one school's grade (every class
  workbook and the grade workbook), the set a school's teachers download.

Run: ``.venv/bin/python benchmarks/workbook_write.py [--students 500000] [--grade-students 2000]``.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _scores_case(students: int, folder: Path) -> dict:
    from grading_regrade import bench_exam, random_responses

    from grading.mark import grade
    from grading.pipeline import GradingRun, StudentRow
    from grading.report_io import write_scores_xlsx
    from grading.roster import Student

    exam = bench_exam()
    responses = random_responses(exam, students)
    graded = grade(exam, responses)
    rows = [StudentRow(exam_id, Student.model_construct(exam_id=exam_id, student_no=f"G{exam_id}12345678",
                                                        name=f"学生{i}", class_name=f"{i % 40 + 1}班",
                                                        school_code="3432000001", version=None),
                       "sheet" if sitting else "absent")
            for i, (exam_id, sitting) in enumerate(zip(responses.exam_ids.tolist(), responses.sitting.tolist()))]
    run = GradingRun(graded, rows, [])
    before, started, cpu = _peak_mb(), time.perf_counter(), time.process_time()
    path = folder / "scores.xlsx"
    write_scores_xlsx(run, path)
    return {"seconds": time.perf_counter() - started, "cpu": time.process_time() - cpu, "setup_mb": before,
            "size_mb": path.stat().st_size / 2**20}


def _class_case(students: int, classes: int, folder: Path) -> dict:
    from analytics.analysis import analyse
    from analytics.reports import write_reports
    from analytics.simulate import benchmark_exam, simulate_exam_data

    exam = benchmark_exam(60, 8, seed=2026)
    analysis = analyse(simulate_exam_data(exam, students, n_schools=1, classes_per_school=classes, seed=2026))
    before, started, cpu = _peak_mb(), time.perf_counter(), time.process_time()
    written = write_reports(analysis, folder, level="class")
    workbooks = [p for p in written if p.suffix == ".xlsx"]
    return {"seconds": time.perf_counter() - started, "cpu": time.process_time() - cpu, "setup_mb": before,
            "size_mb": sum(p.stat().st_size for p in workbooks) / 2**20, "files": len(workbooks)}


def _run_case(argv: list[str]) -> dict:
    """One case in a child process (its own peak RSS)."""
    out = subprocess.run([sys.executable, __file__, *argv], capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(f"case {argv} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=500_000, help="students in scores.xlsx")
    parser.add_argument("--grade-students", type=int, default=2000, help="students in the grade of class workbooks")
    parser.add_argument("--classes", type=int, default=40, help="classes in that grade")
    parser.add_argument("--case", choices=("scores", "class"), help=argparse.SUPPRESS)  # the child's one case
    args = parser.parse_args(argv)
    if args.case:
        with tempfile.TemporaryDirectory() as folder:
            result = (_scores_case(args.students, Path(folder)) if args.case == "scores"
                      else _class_case(args.grade_students, args.classes, Path(folder)))
        result["peak_mb"] = _peak_mb()
        print(json.dumps(result))
        return 0
    common = ["--students", str(args.students), "--grade-students", str(args.grade_students),
              "--classes", str(args.classes)]
    cases = [(f"scores.xlsx, {args.students:,} students x 60 questions", "scores"),
             (f"class workbooks + grade.xlsx, {args.grade_students:,} students in {args.classes} classes", "class")]
    print(f"{'workbook':<62}{'wall s':>8}{'CPU s':>8}{'peak MB':>9}{'data MB':>9}{'file MB':>9}")
    for label, case in cases:
        r = _run_case([*common, "--case", case])
        print(f"{label:<62}{r['seconds']:8.1f}{r['cpu']:8.1f}{r['peak_mb']:9.0f}{r['setup_mb']:9.0f}"
              f"{r['size_mb']:9.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
