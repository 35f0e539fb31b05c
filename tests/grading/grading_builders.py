"""Shared builders for grading tests (imported by name: a unique module name, unlike ``conftest``)."""

from __future__ import annotations

import json
from pathlib import Path

from grading.exam import Exam, parse_exam
from grading.sheets import SheetRecord
from omr.result import QuestionReading, ScoreReading

REPO = Path(__file__).resolve().parents[2]
SAMPLE_EXAM = REPO / "grading" / "samples" / "cn-a4-55-exam.json"


def small_exam_data(**changes) -> dict:
    """Nine questions covering every type and rule; full marks 32 (Q8 void)."""
    data = {
        "id": "t-math", "subject": "数学", "sitting": "2026-mid", "full_marks": 32,
        "versions": {"A": {}, "B": {"Q1": "Q2", "Q2": "Q1"}}, "default_version": "A",
        "sections": [{"id": "S1", "name": "选择题"}, {"id": "S2", "name": "解答题"}],
        "questions": [
            {"id": "Q1", "type": "single", "points": 2, "answers": ["A"], "section": "S1",
             "knowledge_points": [{"id": "K1", "name": "函数", "weight": 1}], "cognitive_level": "理解"},
            {"id": "Q2", "type": "single", "points": 2, "answers": ["B", "C"], "section": "S1"},
            {"id": "Q3", "type": "multi", "points": 5, "answers": ["ACD"], "rule": "gaokao", "partial_points": 2,
             "section": "S1"},
            {"id": "Q4", "type": "multi", "points": 4, "answers": ["AC"], "section": "S1"},
            {"id": "Q5", "type": "multi", "points": 4, "answers": ["BD"], "rule": "per_option", "section": "S1"},
            {"id": "Q6", "type": "truefalse", "points": 2, "answers": ["T"], "section": "S1"},
            {"id": "Q7", "type": "single", "points": 3, "answers": ["D"], "status": "bonus", "section": "S1"},
            {"id": "Q8", "type": "single", "points": 2, "answers": ["A"], "status": "void", "section": "S1"},
            {"id": "Q9", "type": "subjective", "points": 10, "section": "S2"},
        ],
    }
    data.update(changes)
    return data


def small_exam(**changes) -> Exam:
    return parse_exam(small_exam_data(**changes))


def sheet(exam_id: str | None, answers: dict[str, str] | None = None, scores: dict[str, float | None] | None = None,
          *, number: int = 1, uncertain: dict[str, tuple[str, str]] | None = None, **fields) -> SheetRecord:
    """A sheet: ``answers`` {Q: letters} read for sure, ``uncertain`` {Q: (marked, unsure letters)}, ``scores``
    {Q: value or None (blank)}."""
    questions = {q: QuestionReading(m, "ok" if m else "blank", 0.9) for q, m in (answers or {}).items()}
    for q, (marked, unsure) in (uncertain or {}).items():
        questions[q] = QuestionReading(marked, "uncertain", 0.4, unsure)
    score_readings = {q: ScoreReading(v, "ok" if v is not None else "blank", 0.9) for q, v in (scores or {}).items()}
    return SheetRecord(sheet=number, source=f"test sheet {number}", exam_id=exam_id,
                       id_status="ok" if exam_id else "uncertain", questions=questions, scores=score_readings, **fields)


#: Answers scoring full marks on the small exam (Q7 bonus, Q8 void: anything).
PERFECT = {"Q1": "A", "Q2": "B", "Q3": "ACD", "Q4": "AC", "Q5": "BD", "Q6": "T", "Q7": "A", "Q8": "B"}


def sheet_line(record: SheetRecord, index: int) -> str:
    """``record`` as a ``{"type": "sheet"}`` line of results.jsonl, as ``yuejuan scan`` writes it."""
    return json.dumps({
        "type": "sheet", "sheet_index": index, "template_id": "cn-a4-55", "status": record.status,
        "reasons": record.reasons, "student_id": record.exam_id, "student_id_status": record.id_status,
        "barcode": record.barcode, "absent": record.absent, "form": record.form,
        "pages": [{"source": f"scan/{index:03d}.jpg", "page_index": 0, "page": 1}],
        "questions": {q: vars(r) for q, r in record.questions.items()},
        "scores": {q: vars(r) for q, r in record.scores.items()},
    }, ensure_ascii=False)


def write_results_jsonl(path: Path, records: list[SheetRecord], error_pages: int = 0) -> Path:
    lines = [sheet_line(r, i) for i, r in enumerate(records)]
    for k in range(error_pages):
        lines.insert(0, json.dumps({"type": "page", "source": f"scan/bad{k}.jpg", "page_index": 0,
                                    "status": "error", "reasons": ["no anchors found"]}))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
