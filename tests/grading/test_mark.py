"""Marking: every rule, accepted alternatives, bonus/void, versions, doubtful readings under each policy,
subjective scores (score boxes and imported), section subtotals and multi-subject totals."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from grading.exam import Exam, Question
from grading.mark import (
    Hold, Reading, SubjectScores, apply_subjective, encode_responses, grade, letters_to_mask,
    load_subjective_scores, mask_to_letters, score_columns, score_table, sitting_totals, subject_scores,
)
from grading.tabular import TableError
from grading_builders import PERFECT, sheet, small_exam


def _score(question: Question, letters: str) -> float:
    return float(score_table(question)[letters_to_mask(letters, question.options)])


def _q(**fields) -> Question:
    return Question(**{"id": "Q1", "points": 4, **fields})


def test_masks_round_trip():
    assert letters_to_mask("AC", "ABCD") == 0b0101 and mask_to_letters(0b0101, "ABCD") == "AC"
    assert letters_to_mask("", "TF") == 0
    with pytest.raises(ValueError, match="'E' not among options ABCD"):
        letters_to_mask("E", "ABCD")


def test_single_and_true_false():
    single = _q(type="single", answers=["B"])
    assert [_score(single, m) for m in ("B", "A", "", "AB", "BC")] == [4, 0, 0, 0, 0]
    tf = _q(type="truefalse", points=2, answers=["F"])
    assert [_score(tf, m) for m in ("F", "T", "", "TF")] == [2, 0, 0, 0]


def test_several_accepted_answers():
    single = _q(type="single", answers=["B", "C"])
    assert [_score(single, m) for m in ("B", "C", "BC", "A")] == [4, 4, 0, 0]
    multi = _q(type="multi", points=5, answers=["ACD", "AC"], rule="gaokao", partial_points=2)
    assert [_score(multi, m) for m in ("ACD", "AC", "A", "D", "CD", "AB", "")] == [5, 5, 2, 2, 2, 0, 0]


def test_multi_all_or_nothing():
    q = _q(type="multi", answers=["AC"], rule="all_or_nothing")
    assert [_score(q, m) for m in ("AC", "A", "C", "ACD", "", "BD")] == [4, 0, 0, 0, 0, 0]


def test_multi_gaokao_rule():
    """Exact = full; a correct subset with nothing wrong = partial; anything wrong = 0."""
    q = _q(type="multi", points=5, answers=["ACD"], rule="gaokao", partial_points=2)
    assert _score(q, "ACD") == 5
    assert [_score(q, m) for m in ("A", "C", "D", "AC", "AD", "CD")] == [2] * 6
    assert [_score(q, m) for m in ("", "B", "AB", "ABCD", "BCD")] == [0] * 5


def test_multi_per_option_rule():
    even = _q(type="multi", points=6, answers=["ABD"], rule="per_option")
    assert [_score(even, m) for m in ("ABD", "A", "AB", "BD", "", "ABC", "ABCD", "C")] == [6, 2, 4, 4, 0, 0, 0, 0]
    uneven = _q(type="multi", points=6, answers=["BD"], rule="per_option", option_points={"B": 4, "D": 2})
    assert [_score(uneven, m) for m in ("BD", "B", "D", "BC")] == [6, 4, 2, 0]
    two_keys = _q(type="multi", points=4, answers=["AB", "ACD"], rule="per_option")
    assert _score(two_keys, "A") == 2 and _score(two_keys, "CD") == pytest.approx(8 / 3) and _score(two_keys, "AB") == 4


def test_subjective_table_is_zero():
    assert not score_table(Question(id="Q9", type="subjective", points=10)).any()


def _grade(exam: Exam, sheets, *, policy="pending", versions=None, hold=None):
    entries = [(f"{i:04d}", s, (versions or {}).get(i)) for i, s in enumerate(sheets)]
    return grade(exam, encode_responses(exam, entries, hold), policy=policy)


def _row(grades, i: int) -> dict[str, float]:
    return dict(zip(grades.exam.question_ids, grades.scores[i].tolist()))


def test_perfect_sheet_bonus_void_totals_and_sections(exam: Exam):
    blank = {q: "" for q in PERFECT}
    grades = _grade(exam, [sheet("1", PERFECT, {"Q9": 10}), sheet("2", blank, {"Q9": 0}), None])
    assert grades.totals[0] == 32 == exam.full_marks
    assert grades.totals[1] == 3  # the bonus question only
    assert math.isnan(grades.totals[2])  # did not sit: no bonus either
    assert grades.section_ids == ("S1", "S2")
    assert grades.section_totals[0].tolist() == [22, 10] and grades.section_totals[1].tolist() == [3, 0]
    assert np.isnan(grades.scores[:, 7]).all()  # void
    assert grades.scores[:2, 6].tolist() == [3, 3] and math.isnan(grades.scores[2, 6])  # bonus for sitting only
    assert list(grades.student_status) == ["graded", "graded", "not_sitting"]


def test_partial_answers_score_per_rule(exam: Exam):
    answers = {"Q1": "B", "Q2": "C", "Q3": "AD", "Q4": "A", "Q5": "D", "Q6": "F", "Q7": "", "Q8": "A"}
    grades = _grade(exam, [sheet("1", answers, {"Q9": 6.5})])
    row = _row(grades, 0)
    assert {q: row[q] for q in ("Q1", "Q2", "Q3", "Q4", "Q5", "Q6", "Q7", "Q9")} == {
        "Q1": 0, "Q2": 2, "Q3": 2, "Q4": 0, "Q5": 2, "Q6": 0, "Q7": 3, "Q9": 6.5}
    assert grades.totals[0] == 15.5


def test_two_marks_on_single_choice_is_a_sure_zero(exam: Exam):
    record = sheet("1", {**PERFECT}, {"Q9": 10})
    from omr.result import QuestionReading

    record.questions["Q1"] = QuestionReading("AB", "multiple", 0.8)
    grades = _grade(exam, [record])
    assert _row(grades, 0)["Q1"] == 0 and not grades.pending.any() and grades.totals[0] == 30


def test_marks_outside_the_options_are_wrong(exam: Exam):
    record = sheet("1", {**PERFECT, "Q1": "E", "Q3": "ACDE"}, {"Q9": 10})
    responses = encode_responses(exam, [("1", record, None)])
    assert responses.foreign[0, :3].tolist() == [True, False, True]
    grades = grade(exam, responses)
    assert _row(grades, 0)["Q1"] == 0 and _row(grades, 0)["Q3"] == 0


def test_versions_map_onto_canonical_questions(exam: Exam):
    # On paper B, sheet Q1 is canonical Q2 and sheet Q2 canonical Q1.
    b_answers = {**PERFECT, "Q1": "B", "Q2": "A"}
    grades = _grade(exam, [sheet("1", b_answers, {"Q9": 10}), sheet("2", b_answers, {"Q9": 10})],
                    versions={0: "B", 1: "A"})
    assert grades.totals.tolist() == [32, 28]
    assert grades.responses.marked[0, :2].tolist() == [letters_to_mask("A", "ABCD"), letters_to_mask("B", "ABCD")]


def test_uncertain_reading_is_pending_not_scored(exam: Exam):
    record = sheet("1", PERFECT, {"Q9": 10}, uncertain={"Q3": ("A", "C")})
    grades = _grade(exam, [record, sheet("2", PERFECT, {"Q9": 10})])
    assert grades.pending[0].tolist() == [False, False, True] + [False] * 6
    assert math.isnan(grades.scores[0, 2]) and math.isnan(grades.totals[0]) and grades.totals[1] == 32
    assert list(grades.student_status) == ["pending", "graded"]
    assert grades.section_totals[0, 1] == 10 and math.isnan(grades.section_totals[0, 0])
    assert grades.responses.uncertain[0, 2] == letters_to_mask("C", "ABCD")


@pytest.mark.parametrize("policy, q3", [("score_as_read", 2.0), ("zero", 0.0)])
def test_uncertain_reading_under_an_explicit_policy(exam: Exam, policy: str, q3: float):
    record = sheet("1", PERFECT, {"Q9": 10}, uncertain={"Q3": ("A", "C")})
    grades = _grade(exam, [record], policy=policy)
    assert _row(grades, 0)["Q3"] == q3  # as read: A (C not counted) is a correct subset
    assert not grades.pending.any() and grades.by_policy.sum() == 1 and grades.by_policy[0, 2]
    assert grades.totals[0] == 27 + q3
    assert list(grades.student_status) == ["graded"]


def test_missing_readings_and_doubtful_score_boxes(exam: Exam):
    from omr.result import ScoreReading

    no_q5 = {q: m for q, m in PERFECT.items() if q != "Q5"}
    blank_box = sheet("2", PERFECT, {"Q9": None})
    over = sheet("3", PERFECT)
    over.scores["Q9"] = ScoreReading(13.0, "over_max", 0.9)
    unsure = sheet("4", PERFECT)
    unsure.scores["Q9"] = ScoreReading(None, "uncertain", 0.3)
    sheets = [sheet("1", no_q5, {"Q9": 10}), blank_box, over, unsure]
    pending = _grade(exam, sheets)
    assert pending.pending[:, 4].tolist() == [True, False, False, False]
    assert pending.pending[:, 8].tolist() == [False, True, True, True]
    assert np.isnan(pending.totals).all()
    as_read = _grade(exam, sheets, policy="score_as_read")
    assert as_read.totals.tolist() == [28, 22, 32, 22]  # missing = blank, blank box = 0, over max capped at 10
    assert as_read.capped[:, 8].tolist() == [False, False, True, False]
    assert as_read.by_policy.sum() == 4
    zero = _grade(exam, sheets, policy="zero")
    assert zero.totals.tolist() == [28, 22, 22, 22]


def test_bonus_and_void_questions_are_never_pending(exam: Exam):
    record = sheet("1", PERFECT, {"Q9": 10}, uncertain={"Q7": ("", "A"), "Q8": ("", "B")})
    grades = _grade(exam, [record])
    assert not grades.pending.any() and grades.totals[0] == 32


def test_held_rows(exam: Exam):
    sheets = [sheet("1", PERFECT, {"Q9": 10}), sheet("2", PERFECT, {"Q9": 10})]
    for policy in ("pending", "score_as_read"):
        grades = _grade(exam, sheets, policy=policy, hold=[Hold.BLOCK, Hold.DOUBT])
        assert np.isnan(grades.scores[0]).all() and math.isnan(grades.totals[0])
        assert grades.student_status[0] == "pending"
        assert grades.student_status[1] == ("pending" if policy == "pending" else "graded")


def test_subjective_scores_capped_at_points(exam: Exam):
    grades = _grade(exam, [sheet("1", PERFECT, {"Q9": 12.5})])
    assert _row(grades, 0)["Q9"] == 10 and grades.capped[0, 8] and grades.totals[0] == 32


def test_imported_subjective_scores_win(tmp_path: Path, exam: Exam):
    path = tmp_path / "online.csv"
    path.write_text("考号,姓名,9\n0000,张三,8.5\n0001,李四,\n0002,王五,4\n9999,赵六,3\n", encoding="utf-8")
    table = load_subjective_scores(path, exam)
    assert table == {"0000": {"Q9": 8.5}, "0001": {}, "0002": {"Q9": 4}, "9999": {"Q9": 3}}
    entries = [("0000", sheet("0000", PERFECT, {"Q9": 2}), None), ("0001", sheet("0001", PERFECT, {"Q9": None}), None),
               ("0002", None, None)]
    responses, problems = apply_subjective(encode_responses(exam, entries), table)
    assert problems == [("0002", "subjective scores imported for a student who did not sit the exam"),
                        ("9999", "subjective scores imported for an exam id with no student row")]
    grades = grade(exam, responses)
    assert _row(grades, 0)["Q9"] == 8.5 and grades.pending[1, 8] and not grades.pending[0].any()


def test_subjective_table_errors(tmp_path: Path, exam: Exam):
    path = tmp_path / "online.csv"
    path.write_text("exam_id,Q9,Q1,Q77\n0000,-1,,\n0001,abc,,\n0000,3,,\nx1,2,,\n", encoding="utf-8")
    with pytest.raises(TableError) as info:
        load_subjective_scores(path, exam)
    assert info.value.errors == [
        "row 1: Q1 is not a subjective question", "row 1: Q77 is not a question of exam t-math",
        "row 2: Q9 -1 is negative", "row 3: Q9 'abc' is not a number", "row 4: 考号 0000 listed twice",
        "row 5: 考号 'x1' must be digits"]


def test_argument_checks(exam: Exam):
    responses = encode_responses(exam, [("1", sheet("1", PERFECT), None)])
    with pytest.raises(ValueError, match="policy 'lenient'"):
        score_columns(exam, responses, np.zeros((9, 16)), [0], "lenient")
    other = small_exam(questions=small_exam().model_dump()["questions"][:8], full_marks=22)
    with pytest.raises(ValueError, match="encoded for other questions"):
        grade(other, responses)


def test_reading_codes_in_responses(exam: Exam):
    record = sheet("1", {"Q1": "A", "Q2": ""}, {"Q9": None}, uncertain={"Q3": ("", "B")})
    responses = encode_responses(exam, [("1", record, None), ("2", None, None)])
    assert responses.status[0, :4].tolist() == [Reading.OK, Reading.BLANK, Reading.UNCERTAIN, Reading.MISSING]
    assert responses.status[0, 8] == Reading.BLANK and (responses.status[1] == Reading.MISSING).all()
    assert responses.sitting.tolist() == [True, False] and responses.row_of() == {"1": 0, "2": 1}


def test_multi_subject_totals_of_one_sitting(exam: Exam):
    math_grades = _grade(exam, [sheet("1", PERFECT, {"Q9": 10}), sheet("2", PERFECT, {"Q9": 4}), None])
    english = SubjectScores("英语", "t-en", 150, np.array(["0001", "0002", "0000"], dtype=object),
                            np.array([120.0, np.nan, 99.5]), "2026-mid")
    totals = sitting_totals([subject_scores(math_grades), english])
    assert totals.subjects == ("数学", "英语") and totals.full_marks == 182
    assert totals.exam_ids.tolist() == ["0000", "0001", "0002"]
    assert totals.scores.tolist()[0] == [32, 99.5]
    assert totals.total[:2].tolist() == [131.5, 146] and totals.complete.tolist() == [True, True, False]
    assert math.isnan(totals.total[2]) and totals.partial_total.tolist() == [131.5, 146, 0]
    with pytest.raises(ValueError, match="subject listed twice: 数学"):
        sitting_totals([subject_scores(math_grades), subject_scores(math_grades)])
    other = SubjectScores("物理", "t-ph", 100, np.array(["0000"], dtype=object), np.array([1.0]), "2025-final")
    with pytest.raises(ValueError, match="different sittings"):
        sitting_totals([subject_scores(math_grades), other])
