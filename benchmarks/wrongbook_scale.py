"""错题本 and practice at a school's scale: the demo exam (item ids demo:Q…) for simulated students in 40 classes, a
bank of the demo's items plus extra practice items, then the 错题本 of every student and one class's PDF.

Prints CPU and wall seconds per stage (the machine may be shared: compare CPU seconds) and peak memory::

    .venv/bin/python benchmarks/wrongbook_scale.py [--students 5000] [--bank-items 20000]
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _timed(label: str, work):
    cpu, wall = time.process_time(), time.perf_counter()
    result = work()
    print(f"{label}: {time.process_time() - cpu:.2f} s CPU, {time.perf_counter() - wall:.2f} s wall")
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=5000)
    parser.add_argument("--bank-items", type=int, default=20000, help="extra practice items beyond the demo bank")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)

    import numpy as np

    from analytics.analysis import analyse
    from analytics.model import ReportConfig
    from analytics.simulate import simulate_exam_data
    from analytics.wrongbook import build_wrongbook
    from analytics.wrongbook_pdf import write_wrongbook_pdf
    from api.demo import SAMPLE_EXAM
    from api.demo_bank import demo_bank, exam_with_item_ids
    from grading.exam import load_exam
    from itembank.model import Bank, Item, ItemStats

    exam = exam_with_item_ids(load_exam(SAMPLE_EXAM))
    rng = np.random.default_rng(args.seed)
    points = sorted({kp.id for q in exam.questions for kp in q.knowledge_points})
    extra = [Item(id=f"x:{k}", subject=exam.subject, type="single", stem=f"第{k}题:练习题干。",
                  options={"A": "甲", "B": "乙", "C": "丙", "D": "丁"}, answer="ABCD"[k % 4],
                  knowledge_points=[points[k % len(points)]],
                  stats=ItemStats(students=300, rasch_b=float(rng.normal(0, 2))))
             for k in range(args.bank_items)]
    bank = Bank(items=[*demo_bank(exam).items, *extra])
    data = simulate_exam_data(exam, args.students, classes_per_school=40, seed=args.seed)
    analysis = _timed(f"analysis of {args.students} students (DINA off)", lambda: analyse(data, ReportConfig(
        dina=False)))
    book = _timed(f"错题本 of every graded student, bank of {len(bank.items)} items",
                  lambda: build_wrongbook(analysis, bank))
    sets = [ps for st in book.students for ps in st.practice]
    print(f"  {len(book.students)} students, {sum(len(st.wrong) for st in book.students)} wrong questions, "
          f"{len(sets)} practice sets, {sum(bool(ps.shortage) for ps in sets)} short")
    first = book.students[0].class_name
    members = sum(st.class_name == first for st in book.students)
    with tempfile.TemporaryDirectory() as folder:
        _, _ = _timed(f"PDF of {first} ({members} students)",
                      lambda: write_wrongbook_pdf(book, bank, Path(folder) / "class.pdf", first))
    print(f"peak memory: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
