"""Marking and regrading speed: 100k students x 60 questions, random readings.

Measures, with peak memory (max RSS) beside the times:
- ``grade``: every rule as lookup tables, one gather per column, totals and section subtotals;
- ``regrade``: one key change each (void, bonus, accept a second answer, change points, gaokao rule);
- ``encode``: sheets (as read from results.jsonl) into arrays, on a smaller batch (pure Python, per sheet).

Run: ``python benchmarks/grading_regrade.py [--students 100000]``.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from omr.result import QuestionReading, ScoreReading  # noqa: E402

from grading.exam import parse_exam  # noqa: E402
from grading.mark import Reading, Responses, encode_responses, grade  # noqa: E402
from grading.regrade import KeyChange, regrade  # noqa: E402
from grading.sheets import SheetRecord  # noqa: E402


def _max_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench_exam():
    questions = []
    for n in range(1, 61):
        if n <= 40:
            questions.append({"id": f"Q{n}", "type": "single", "points": 2, "answers": ["ABCD"[n % 4]]})
        elif n <= 50:
            questions.append({"id": f"Q{n}", "type": "multi", "points": 4, "answers": ["AC" if n % 2 else "ABD"],
                              "rule": "gaokao", "partial_points": 2})
        elif n <= 55:
            questions.append({"id": f"Q{n}", "type": "truefalse", "points": 2, "answers": ["T" if n % 2 else "F"]})
        else:
            questions.append({"id": f"Q{n}", "type": "subjective", "points": 10})
    return parse_exam({"id": "bench", "subject": "数学", "full_marks": 180, "questions": questions})


def random_responses(exam, students: int, seed: int = 0) -> Responses:
    rng = np.random.default_rng(seed)
    n_questions = len(exam.questions)
    marked = rng.integers(0, 16, (students, n_questions), dtype=np.uint16)
    status = np.where(rng.random((students, n_questions)) < 0.002, Reading.UNCERTAIN, Reading.OK).astype(np.int8)
    values = np.full((students, n_questions), np.nan)
    subjective = [j for j, q in enumerate(exam.questions) if q.type == "subjective"]
    for j in subjective:
        values[:, j] = rng.integers(0, 21, students) / 2
        marked[:, j] = 0
    for j, q in enumerate(exam.questions):
        if q.type in ("single", "truefalse"):
            marked[:, j] = 1 << rng.integers(0, len(q.options), students)
    return Responses(np.array([f"{i:010d}" for i in range(students)], dtype=object), tuple(exam.question_ids),
                     marked, np.zeros_like(marked), np.zeros(marked.shape, bool), status, values,
                     rng.random(students) > 0.01, np.zeros(students, np.int8))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=100_000)
    parser.add_argument("--encode-students", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    exam = bench_exam()
    responses = random_responses(exam, args.students)
    print(f"{args.students} students x {len(exam.questions)} questions; peak RSS after setup {_max_rss_mb():.0f} MB")

    best = float("inf")
    for _ in range(args.repeat):
        started = time.perf_counter()
        grades = grade(exam, responses, policy="score_as_read")
        best = min(best, time.perf_counter() - started)
    print(f"grade (all questions, totals, sections):   {best * 1000:7.1f} ms   peak RSS {_max_rss_mb():.0f} MB")

    changes = [
        KeyChange(action="void", question="Q7"),
        KeyChange(action="bonus", question="Q12"),
        KeyChange(action="accept", question="Q3", answer="B"),
        KeyChange(action="set_points", question="Q20", points=3),
        KeyChange(action="set_rule", question="Q45", rule="all_or_nothing"),
    ]
    for change in changes:
        best = float("inf")
        for _ in range(args.repeat):
            started = time.perf_counter()
            updated, record = regrade(grades, change, by="bench")
            best = min(best, time.perf_counter() - started)
        grades = updated
        print(f"regrade {change.action:<11} {change.question:<4} ({record.students_changed:6d} changed): "
              f"{best * 1000:7.1f} ms   peak RSS {_max_rss_mb():.0f} MB")

    rng = np.random.default_rng(1)
    sheets = []
    for i in range(args.encode_students):
        questions = {q.id: QuestionReading(rng.choice(["A", "B", "C", "D", "AC", ""]), "ok", 0.9)
                     for q in exam.questions if q.type != "subjective"}
        scores = {q.id: ScoreReading(float(rng.integers(0, 11)), "ok", 0.9)
                  for q in exam.questions if q.type == "subjective"}
        sheets.append((f"{i:010d}", SheetRecord(i + 1, "bench", f"{i:010d}", questions=questions, scores=scores),
                       None))
    started = time.perf_counter()
    encode_responses(exam, sheets)
    took = time.perf_counter() - started
    print(f"encode {args.encode_students} sheets: {took * 1000:7.1f} ms ({args.encode_students / took:,.0f} sheets/s)"
          f"   peak RSS {_max_rss_mb():.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
