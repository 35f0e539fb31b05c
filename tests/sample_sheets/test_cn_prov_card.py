"""The bundled provincial card cn-prov-a3 end to end: simulate -> scan -> grade, both pages, gray and 1-bit.

A3 landscape, two pages, AB 卷型 across, 违纪, a 选考题 chooser (22/23), multiple choice laid out down and answers
continued across columns and onto page 2. What OMR hands grading must grade exactly as the simulator's truth does.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from grading.exam import load_exam
from grading.pipeline import grade_sheets
from grading.sheets import SheetRecord, read_sheets
from omr.batch import ScanOptions, timed_scan
from omr.result import ChoiceReading, QuestionReading, ScoreReading
from sample_sheets import resolve_template
from sample_sheets.simulate import write_batch

EXAM = Path(__file__).resolve().parents[2] / "grading" / "samples" / "cn-prov-a3-exam.json"


@pytest.fixture(scope="module")
def card():
    return resolve_template("cn-prov-a3")


def _truth_sheet(truth: dict, number: int, card) -> SheetRecord:
    """What a perfect reader would hand grading for one simulated sheet."""
    chooser = next(g for p in card.pages for g in p.fields if g.kind == "chooser")
    chosen = truth["choices"][chooser.id]
    return SheetRecord(
        sheet=number, source="truth", exam_id=truth["student_id"], id_status="ok", form=truth["form"],
        violation=truth["violation"], absent=truth["absent"],
        questions={q: QuestionReading(m, "ok" if m else "blank", 1.0) for q, m in truth["answers"].items()},
        scores={q: ScoreReading(truth["scores"].get(q), "ok" if q in truth["scores"] else "blank", 1.0)
                for q in ("Q21", "Q22", "Q23", "Q24", "Q25", "Q26", "Q27", "Q28")},
        choices={chooser.id: ChoiceReading(chosen, "ok" if chosen else "blank", 1.0, list(chooser.questions))},
    )


@pytest.mark.parametrize("fmt, overrides", [("jpg", None), ("png", {"binarize": "threshold"})],
                         ids=["gray", "1-bit"])
def test_card_reads_and_grades_end_to_end(card, tmp_path, fmt, overrides):
    manifest = write_batch(card, tmp_path / "scans", count=3, seed=31, profile="clean", fmt=fmt, dpi=200,
                           overrides=overrides, truth_options={"absent_rate": 0.0, "violation_rate": 0.5})
    summary, sheets, _ = timed_scan([tmp_path / "scans"], card, tmp_path / "out", workers=1,
                                    options=ScanOptions(crops_dir=str(tmp_path / "out" / "crops")))
    assert (summary.pages, summary.sheets, summary.unreadable) == (6, 3, 0)
    truths = {}
    for entry in manifest["pages"]:
        truth = json.loads((tmp_path / "scans" / entry["truth"]).read_text(encoding="utf-8"))
        truths.setdefault(truth["sheet_index"], {**truth, "answers": {}})["answers"].update(truth["answers"])
    assert [len(s.pages) for s in sheets] == [2, 2, 2]
    for sheet, index in zip(sheets, sorted(truths)):
        truth = truths[index]
        assert sheet.student_id == truth["student_id"] and sheet.form == truth["form"]
        assert sheet.violation is truth["violation"]
        assert sheet.choices["choose22_23"].chosen == truth["choices"]["choose22_23"]
        assert {"answer24", "answer25"} <= set(sheet.crops)  # answers across columns and pages, stitched
        assert sheet.status == "ok", sheet.reasons
    assert any(t["violation"] for t in truths.values()) and len({t["form"] for t in truths.values()}) == 2
    exam = load_exam(EXAM)
    run = grade_sheets(exam, read_sheets(tmp_path / "out" / "results.jsonl"))
    expected = grade_sheets(exam, [_truth_sheet(truths[i], i + 1, card) for i in sorted(truths)])
    assert run.statuses() == ["graded"] * 3
    np.testing.assert_array_equal(run.grades.scores, expected.grades.scores)
    np.testing.assert_array_equal(run.grades.totals, expected.grades.totals)
    from_csv = grade_sheets(exam, read_sheets(tmp_path / "out" / "results.csv"))  # form, 违纪 and choice columns
    np.testing.assert_array_equal(from_csv.grades.scores, expected.grades.scores)
    assert [e.exam_id for e in from_csv.exceptions() if e.kind == "violation"] == \
        [e.exam_id for e in run.exceptions() if e.kind == "violation"]
    chose_22 = [truths[i]["choices"]["choose22_23"] == "Q22" for i in sorted(truths)]
    takers = np.isfinite(run.grades.scores[:, exam.question_ids.index("Q22")])
    assert takers.tolist() == chose_22  # Q22 is marked for those who chose it only
    violations = [e.exam_id for e in run.exceptions() if e.kind == "violation"]
    assert violations == [truths[i]["student_id"] for i in sorted(truths) if truths[i]["violation"]]
