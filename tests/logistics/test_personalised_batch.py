"""A batch of personalised sheets read by their printed barcode: the simulator prints each student's Code 128,
one student fills another student's 考号 in the grid; the barcode is the student and that sheet goes to review."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from api.cli import main
from grading.exam import load_exam
from grading.pipeline import grade_sheets
from grading.reason_text import kind_zh, reason_zh
from grading.roster import Roster, Student
from grading.sheets import read_results_jsonl
from sample_sheets.personalised import PersonalSheet
from sample_sheets.simulate import write_batch

EXAM = Path(__file__).resolve().parents[2] / "grading" / "samples" / "cn-a4-55-exam.json"
NAMES = ["王伟", "李娜", "张敏", "刘静", "陈丽", "杨强"]


@pytest.fixture(scope="module")
def scanned(tmp_path_factory) -> tuple[Path, list[PersonalSheet]]:
    root = tmp_path_factory.mktemp("personalised")
    sheets = [PersonalSheet(f"01012601{seat:02d}", name, f"高一({seat % 3 + 1})班", "第01考场", seat)
              for seat, name in enumerate(NAMES, start=1)]
    # seat 3's student fills seat 5's 考号 in the grid: both are on the roster
    write_batch("cn-a4-55", root / "scans", count=len(sheets), seed=11, profile="clean", personal=sheets,
                miswritten={2: sheets[4].exam_id}, truth_options={"absent_rate": 0.0})
    assert main(["scan", str(root / "scans"), "--template", "cn-a4-55", "--out", str(root / "scan")]) == 0
    return root / "scan" / "results.jsonl", sheets


def _roster(sheets: list[PersonalSheet]) -> Roster:
    return Roster([Student(exam_id=s.exam_id, name=s.name, class_name=s.class_name) for s in sheets])


def test_the_printed_barcode_is_on_every_simulated_page(scanned) -> None:
    results, sheets = scanned
    truth = json.loads((results.parent.parent / "scans" / "batch-0003-p1.truth.json").read_text(encoding="utf-8"))
    assert (truth["student_id"], truth["barcode"]) == (sheets[4].exam_id, sheets[2].exam_id)
    read = read_results_jsonl(results).sheets
    assert [s.barcode for s in read] == [s.exam_id for s in sheets]
    assert read[2].exam_id == sheets[4].exam_id  # the grid says what the student filled in


def test_barcode_identity_matches_every_sheet_and_sends_the_disagreement_to_review(scanned) -> None:
    results, sheets = scanned
    exam = load_exam(EXAM).model_copy(update={"identity": "barcode"})
    run = grade_sheets(exam, read_results_jsonl(results), _roster(sheets))
    by_id = {row.exam_id: row for row in run.rows}
    for number, sheet in enumerate(sheets, start=1):
        row = by_id[sheet.exam_id]
        assert row.outcome == "sheet" and row.sheet.sheet == number  # each student has their own sheet
    review = [e for e in run.exceptions() if e.kind == "id_grid_mismatch"]
    assert len(review) == 1 and review[0].exam_id == sheets[2].exam_id and review[0].sheet == 3
    assert review[0].name == "张敏"
    assert kind_zh(review[0].kind) == "考号涂写与条码不符"
    assert reason_zh(review[0].reason) == ("个性化答题卡按条码 0101260103 认定考生，但考号涂写为 0101260105，请核对")
    assert not [e for e in run.exceptions() if e.kind in ("duplicate_sheets", "id_conflict", "no_sheet")]


def test_without_barcode_identity_the_same_sheet_is_a_conflict_not_a_student(scanned) -> None:
    """The default (grid) reading of the same batch: the disagreeing sheet names two students and is held."""
    results, sheets = scanned
    run = grade_sheets(load_exam(EXAM), read_results_jsonl(results), _roster(sheets))
    assert [e.kind for e in run.exceptions() if e.kind in ("id_conflict", "no_sheet")] == ["id_conflict", "no_sheet"]
