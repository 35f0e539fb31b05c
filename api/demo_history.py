"""The demo's earlier exam (期中) of the same students: other 考号, same 学籍号, answers that follow each student's
ability in this exam with some drift, graded with ``yuejuan grade`` so that ``report --previous`` links the two by
学籍号 and draws each student's 数字画像. The two exams share 12 bank items (the same ``item_id``), so the reports
also put the students' abilities on one scale through those common items (IRT linking).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

from analytics.simulate import simulate_answers
from api.cli import main as cli
from grading.exam import load_exam
from grading.mark import mask_to_letters
from grading.report_io import read_scores_csv

__all__ = ["earlier_exam", "bank_exam"]

_EARLIER_ID = "demo-2026-math-midterm"
_EARLIER_NAME = "2026年春季期中 数学"
#: the questions the two exams share: the same bank items (every third single-choice question)
_COMMON = tuple(f"Q{n}" for n in range(1, 37, 3))
#: how much abler the students are at this exam than at the 期中, in SDs of this exam (the scale score shows it)
_GROWTH = 0.3
#: the scanned exam's abilities in logits have an SD of about √(1 + 0.4²) (sample_sheets.simulate.write_batch: class
#: means N(0, 0.4²) plus N(0, 1)); simulate_answers' θ is in units of 1.7 logits. The 期中 answers follow the same
#: item response curves, as the same bank items would.
_ABILITY_SD = float(np.sqrt(1 + 0.4 ** 2)) / 1.7


def bank_exam(out: Path, exam_path: Path) -> Path:
    """The demo's exam with a bank item id (题库编号, ``demo-math-<question>``) on every question, written to
    ``out/exam.json``: the 期中 exam of :func:`earlier_exam` keeps the ids of :data:`_COMMON` only."""
    definition = json.loads(exam_path.read_text(encoding="utf-8"))
    for question in definition["questions"]:
        question["item_id"] = f"demo-math-{question['id']}"
    out.mkdir(parents=True, exist_ok=True)
    path = out / "exam.json"
    path.write_text(json.dumps(definition, ensure_ascii=False), encoding="utf-8")
    return path


def earlier_exam(out: Path, exam_path: Path, roster: Path, current_scores: Path, *, seed: int = 7) -> Path:
    """Grade an earlier exam of the roster's students and return its ``yuejuan grade`` folder.

    Each student's ability is their z in the current exam, shrunk and blurred, and lower by :data:`_GROWTH`
    (prior = 0.8 z − 0.3 + N(0, 0.6)): the record then shows who rose and who fell, and the linked scale the
    grade's growth. Their 考号 in the earlier exam start with 2025 instead of 2026. The earlier exam shares the
    questions :data:`_COMMON` with this one (same bank item ids); its other questions are its own items.
    """
    rng = np.random.default_rng(seed)
    folder = out / "earlier"
    folder.mkdir(parents=True, exist_ok=True)
    definition = json.loads(exam_path.read_text(encoding="utf-8"))
    definition.update(id=_EARLIER_ID, name=_EARLIER_NAME)
    for question in definition["questions"]:
        if question["id"] not in _COMMON:
            question.pop("item_id", None)
    earlier_path = folder / "exam.json"
    earlier_path.write_text(json.dumps(definition, ensure_ascii=False), encoding="utf-8")
    exam = load_exam(earlier_path)

    table = read_scores_csv(current_scores / "scores.csv")
    totals = {no: float(total) for no, total in zip(table.texts("student_no"), table.cells("total")) if total}
    with open(roster, encoding="utf-8-sig", newline="") as handle:
        people = list(csv.reader(handle))
    header, rows = people[0], people[1:]
    id_col, no_col = header.index("考号"), header.index("学籍号")
    values = np.array(list(totals.values()))
    mean, sd = (values.mean(), values.std(ddof=1)) if len(values) > 1 else (0.0, 1.0)
    theta = np.array([0.8 * (totals.get(row[no_col], mean) - mean) / (sd or 1.0) for row in rows])
    theta = _ABILITY_SD * (theta + rng.normal(0.0, 0.6, len(rows)) - _GROWTH)
    for row in rows:
        row[id_col] = "2025" + row[id_col][4:]
    earlier_roster = folder / "roster.csv"
    with open(earlier_roster, "w", encoding="utf-8-sig", newline="") as handle:
        csv.writer(handle).writerows([header, *rows])

    masks, scores = simulate_answers(exam, theta, rng)
    responses = folder / "responses.csv"
    with open(responses, "w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["考号", *exam.question_ids])
        for i, row in enumerate(rows):
            writer.writerow([row[id_col], *[f"{scores[i, j]:g}" if q.type == "subjective"
                                            else mask_to_letters(int(masks[i, j]), q.options)
                                            for j, q in enumerate(exam.questions)]])
    grade = folder / "grade"
    code = cli(["grade", "--exam", str(earlier_path), "--results", str(responses), "--roster", str(earlier_roster),
                "--out", str(grade), "--no-xlsx"])
    if code:
        raise RuntimeError(f"grading the demo's earlier exam failed ({code})")
    return grade
