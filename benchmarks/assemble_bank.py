"""组卷 at bank scale: a 40-item paper from a generated 20 000-item bank, to a realistic 双向细目表.

The blueprint is a 150-point grade-7 mathematics paper: 20 single-choice (2 points), 6 multi-select (3, gaokao
partial 1), 6 true/false (1) and 8 written items worth 86 points together; two items on each of 20 knowledge
points at set cognitive levels; expected mean score rate 0.65–0.72, every item's P within 0.2–0.95; Rasch test
information at least 2.5 / 3 / 2.5 at θ = -1 / 0 / 1; nothing classes 0701–0704 sat since 2026-03-01.

Also times finding the duplicates of the whole bank (``yuejuan bank dedupe``). Prints seconds (wall and CPU) per
stage and peak memory (max RSS of this process). The target is "in seconds".
Run::

    .venv/bin/python benchmarks/assemble_bank.py [--items 20000] [--seed 1] [--repeat 3]
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

LEVEL_PAIRS = (("理解", "应用"), ("识记", "分析"))


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def blueprint_data(seed: int) -> dict:
    """The benchmark's blueprint as JSON data."""
    cells = [{"knowledge_point": f"K{k:02d}", "level": level, "count": 1}
             for k in range(1, 21) for level in LEVEL_PAIRS[k % 2]]
    return {"exam_id": "bench-m7", "name": "七年级数学期末（组卷基准）", "subject": "数学", "grade": "七年级",
            "types": {"single": {"count": 20, "points_each": 2},
                      "multi": {"count": 6, "points_each": 3, "rule": "gaokao", "partial_points": 1},
                      "truefalse": {"count": 6, "points_each": 1}, "subjective": {"count": 8, "points": 86}},
            "cells": cells, "difficulty": [0.65, 0.72], "item_p": [0.2, 0.95],
            "information": [{"theta": -1, "min": 2.5}, {"theta": 0, "min": 3}, {"theta": 1, "min": 2.5}],
            "classes": ["0701", "0702", "0703", "0704"], "unseen_since": "2026-03-01", "seed": seed}


def _timed(label: str, work):
    wall, cpu = time.perf_counter(), time.process_time()
    result = work()
    print(f"  {label:<44}{time.perf_counter() - wall:7.2f} s wall {time.process_time() - cpu:7.2f} s CPU")
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=20_000, help="items in the generated bank")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3, help="assemblies, each with another seed")
    args = parser.parse_args(argv)

    from itembank.assemble import assemble, check_paper
    from itembank.blueprint import parse_blueprint
    from itembank.dedupe import find_duplicates
    from itembank.paper import paper_exam
    from itembank.paper_pdf import write_paper_pdf
    from itembank.sheet import answer_sheet
    from itembank.simulate import simulated_bank
    from itembank.store import load_bank, save_bank

    print(f"bank of {args.items} items, a 40-item paper ({args.repeat} seeds)")
    bank = _timed("generate the bank", lambda: simulated_bank(args.items, seed=args.seed))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bank.json"
        _timed("save bank.json", lambda: save_bank(bank, path))
        print(f"  {'bank.json size':<44}{path.stat().st_size / 2**20:7.1f} MB")
        bank = _timed("load and validate bank.json", lambda: load_bank(path))
        pairs = _timed("find duplicates in the whole bank", lambda: find_duplicates(bank.items))
        print(f"    {len(pairs)} pairs")
        for k in range(args.repeat):
            blueprint = parse_blueprint(blueprint_data(args.seed + k))
            paper = _timed(f"assemble (seed {args.seed + k})", lambda: assemble(bank, blueprint))
            problems = check_paper(paper, bank)
            info = " ".join(f"{value:.2f}" for value in paper.information.values())
            print(f"    {len(paper.items)} items, {paper.full_marks:g} points, mean P {paper.expected_p:.3f}, "
                  f"information {info}, duplicate cuts {paper.duplicate_cuts}, "
                  f"{'meets the blueprint' if not problems else problems}")
        exam = paper_exam(paper, template_id="bench-m7-sheet")
        _timed("exam JSON and answer-sheet template", lambda: answer_sheet(exam, template_id="bench-m7-sheet"))
        _timed("paper PDF", lambda: write_paper_pdf(paper, exam, Path(folder) / "paper.pdf"))
    print(f"  {'peak memory (max RSS)':<44}{_peak_mb():7.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
