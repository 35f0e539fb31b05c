"""选考题 in analytics: each optional question's statistics are over the students who chose it, totals and the
test's full marks count a group once, and scores.csv with the unchosen question empty reads back."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from analytics.analysis import analyse
from analytics.diagnosis import knowledge_rates
from analytics.items import item_analysis, paper_analysis
from analytics.load import from_grading_run, load_grade_output
from grading.exam import load_exam
from grading.pipeline import grade_sheets
from grading.report_io import write_outputs
from grading.sheets import SheetRecord
from omr.result import ChoiceReading, QuestionReading, ScoreReading

EXAM = Path(__file__).resolve().parents[2] / "grading" / "samples" / "cn-prov-a3-exam.json"


@pytest.fixture(scope="module")
def run():
    exam = load_exam(EXAM)
    rng = np.random.default_rng(5)
    sheets = []
    for i in range(60):
        chosen = "Q22" if i % 3 == 0 else "Q23"
        ability = rng.normal()
        answers = {q.id: (q.answers[0] if rng.random() < 1 / (1 + np.exp(-ability)) else "") for q in exam.questions
                   if q.objective}
        scores = {q.id: float(np.clip(round(q.points * (0.5 + 0.2 * ability + rng.normal(0, 0.1))), 0, q.points))
                  for q in exam.questions if not q.objective and q.id not in ("Q22", "Q23")}
        scores[chosen] = float(np.clip(round(10 * (0.5 + 0.2 * ability) + (2 if chosen == "Q22" else -2)), 0, 10))
        sheets.append(SheetRecord(
            sheet=i + 1, source="t", exam_id=f"{2026000 + i}", id_status="ok", form="A",
            questions={q: QuestionReading(m, "ok" if m else "blank", 1.0) for q, m in answers.items()},
            scores={q: ScoreReading(v, "ok", 1.0) for q, v in scores.items()},
            choices={"choose22_23": ChoiceReading(chosen, "ok", 1.0, ["Q22", "Q23"])}))
    return grade_sheets(exam, sheets)


def test_item_statistics_are_over_each_optional_questions_takers(run):
    analysis = analyse(from_grading_run(run))
    items, ids = analysis.items, analysis.data.item_ids
    q22, q23, q21 = ids.index("Q22"), ids.index("Q23"), ids.index("Q21")
    assert (items.takers_of(q22), items.takers_of(q23), items.takers_of(q21)) == (20, 40, 60)
    scores = run.grades.scores
    chose_22 = np.isfinite(scores[:, run.exam.question_ids.index("Q22")])
    assert items.mean[q22] == pytest.approx(scores[chose_22, run.exam.question_ids.index("Q22")].mean())
    assert items.difficulty[q23] == pytest.approx(np.nanmean(scores[:, run.exam.question_ids.index("Q23")]) / 10)
    assert np.isfinite(items.total_r[q22]) and np.isfinite(items.discrimination[q23])
    assert analysis.test.full_marks == pytest.approx(150) and analysis.data.full_marks == 150
    assert np.isfinite(analysis.test.alpha) and 0 < analysis.test.alpha < 1
    np.testing.assert_allclose(analysis.students.total, run.grades.totals)
    assert "选考题" in analysis.notes["rasch"]
    assert np.isfinite(analysis.all.item_rates[0, q22])


def test_without_optional_questions_nothing_changes():
    rng = np.random.default_rng(2)
    x = rng.integers(0, 3, (40, 5)).astype(float)
    plain = item_analysis(x, [2] * 5)
    assert plain.takers is None and plain.takers_of(0) == 40
    test = paper_analysis(x, [2] * 5, plain)
    assert test.full_marks == 10
    with pytest.raises(ValueError, match="NaN"):
        item_analysis(np.where(x > 1, np.nan, x), [2] * 5)


def test_knowledge_rates_offer_only_the_chosen_questions_points():
    scores = np.array([[3.0, np.nan], [np.nan, 1.0]])
    rates, _ = knowledge_rates(scores, np.array([4.0, 4.0]), np.ones((2, 1)), taken=np.isfinite(scores))
    np.testing.assert_allclose(rates[:, 0], [0.75, 0.25])


def test_scores_csv_with_the_unchosen_question_empty_reads_back(run, tmp_path):
    write_outputs(run, tmp_path, xlsx=False)
    data = load_grade_output(tmp_path, run.exam)
    np.testing.assert_allclose(data.totals, run.grades.totals)
    assert np.isnan(data.scores).sum() == 60  # one unchosen question per student
    assert analyse(data).items.takers_of(data.item_ids.index("Q22")) == 20
