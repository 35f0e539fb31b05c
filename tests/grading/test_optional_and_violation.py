"""选考题 (a group of optional questions, choose 1 of N) and the proctor's 违纪 mark in grading."""

from __future__ import annotations

import numpy as np
import pytest

from grading.corrections import Correction, question_name
from grading.exam import ExamError, parse_exam
from grading.mark import Reading, apply_subjective, encode_responses, grade
from grading.pipeline import grade_sheets
from grading.reason_text import kind_zh, reason_zh
from grading.regrade import KeyChange, regrade
from grading_builders import sheet
from omr.result import ChoiceReading


def _exam(**changes):
    data = {
        "id": "opt", "subject": "数学", "full_marks": 20,
        "questions": [
            {"id": "Q1", "type": "single", "points": 2, "answers": ["A"]},
            {"id": "Q2", "type": "subjective", "points": 10},
            {"id": "Q3", "type": "subjective", "points": 10},
            {"id": "Q4", "type": "subjective", "points": 8},
        ],
        "optional_groups": [{"id": "选考", "questions": ["Q2", "Q3"]}],
    }
    data.update(changes)
    return parse_exam(data)


def _chooser(chosen: str, status: str = "ok") -> dict[str, ChoiceReading]:
    return {"choose": ChoiceReading(chosen, status, 0.9, ["Q2", "Q3"])}


def _run(exam, *sheets, policy="pending", **kwargs):
    run = grade_sheets(exam, list(sheets), policy=policy, **kwargs)
    return run, run.grades


def test_full_marks_count_a_group_once_and_its_questions_must_be_equals():
    assert _exam().full_marks == 20
    with pytest.raises(ExamError, match=r"full_marks 22 .*each optional group counted once"):
        _exam(full_marks=22)
    bad = _exam().model_dump(mode="json")
    bad["questions"][2]["points"] = 8
    with pytest.raises(ExamError, match="Q3 .*differs from Q2"):
        parse_exam({**bad, "full_marks": 18})
    with pytest.raises(ExamError, match="Q9 is not a question"):
        _exam(optional_groups=[{"id": "g", "questions": ["Q2", "Q9"]}])
    with pytest.raises(ExamError, match="already in optional group"):
        _exam(optional_groups=[{"id": "g", "questions": ["Q2", "Q3"]}, {"id": "h", "questions": ["Q3", "Q4"]}])
    with pytest.raises(ExamError, match="not in the same optional group"):
        _exam(versions={"B": {"Q2": "Q4", "Q4": "Q2"}})


def test_the_chosen_question_counts_and_the_other_is_ignored():
    exam = _exam()
    # The teacher also filled Q2's score box: the student chose Q3, so Q2 is not marked.
    run, grades = _run(exam, sheet("1", {"Q1": "A"}, {"Q2": 9, "Q3": 6, "Q4": 5}, choices=_chooser("Q3")))
    assert run.statuses() == ["graded"]
    assert grades.responses.status[0, 1] == Reading.NOT_CHOSEN
    assert np.isnan(grades.scores[0, 1]) and grades.scores[0, 2] == 6
    assert grades.totals[0] == 2 + 6 + 5
    assert not run.exceptions()


@pytest.mark.parametrize("status", ["blank", "multiple", "uncertain"])
def test_an_unclear_choice_waits_for_review_or_is_scored_by_the_policy(status):
    exam = _exam()
    record = sheet("1", {"Q1": "A"}, {"Q2": 7, "Q3": None, "Q4": 5}, choices=_chooser("", status))
    run, grades = _run(exam, record)
    assert run.statuses() == ["pending"]
    assert run.pending_reasons(0) == ["optional question choice unclear: Q2/Q3"]
    assert reason_zh(run.pending_reasons(0)[0]) == "选考题选择不明（未涂、多涂或多做）：Q2/Q3"
    # 多做按第一题计分: the first answered question stands for the group when a policy scores doubtful cells
    run, grades = _run(exam, record, policy="score_as_read")
    assert grades.totals[0] == 2 + 7 + 5 and grades.by_policy[0, 1]
    assert grades.responses.status[0, 2] == Reading.NOT_CHOSEN
    run, grades = _run(exam, record, policy="zero")
    assert grades.totals[0] == 2 + 0 + 5


def test_without_a_chooser_the_one_answered_question_is_the_choice():
    exam = _exam()
    run, grades = _run(exam, sheet("1", {"Q1": "A"}, {"Q3": 4, "Q4": 8}),
                       sheet("2", {"Q1": "B"}, {"Q2": 3, "Q3": 4, "Q4": 8}, number=2))
    assert grades.totals[0] == 2 + 4 + 8 and np.isnan(grades.scores[0, 1])
    assert run.statuses()[1] == "pending"  # both answered and nothing says which one counts
    assert run.pending_reasons(1) == ["optional question choice unclear: Q2/Q3"]


def test_item_takers_are_the_choosers_and_regrading_keeps_totals():
    exam = _exam()
    sheets = [sheet(str(i), {"Q1": "A"}, {"Q2": 5, "Q3": 6, "Q4": 1}, number=i + 1,
                    choices=_chooser("Q2" if i % 3 == 0 else "Q3")) for i in range(9)]
    _, grades = _run(exam, *sheets)
    takers = np.isfinite(grades.scores).sum(axis=0)
    assert takers.tolist() == [9, 3, 6, 9]
    assert grades.totals.tolist() == [8.0 if i % 3 == 0 else 9.0 for i in range(9)]
    regraded, _ = regrade(grades, KeyChange(action="set_answers", question="Q1", answers=["B"]), by="张老师")
    assert regraded.totals.tolist() == [6.0 if i % 3 == 0 else 7.0 for i in range(9)]


def test_an_imported_score_of_the_question_not_chosen_is_ignored_and_said():
    exam = _exam()
    responses = encode_responses(exam, [("1", sheet("1", {"Q1": "A"}, {"Q3": 4, "Q4": 8}, choices=_chooser("Q3")),
                                         None)])
    responses, problems = apply_subjective(responses, {"1": {"Q2": 9, "Q3": 5}})
    assert responses.status[0, 1] == Reading.NOT_CHOSEN and responses.values[0, 2] == 5
    assert problems == [("1", "subjective score imported for Q2, an optional question (选考题) the student did not "
                              "choose: ignored")]
    assert reason_zh(problems[0][1]) == "导入的 Q2 主观分已忽略：该生未选做此选考题"
    assert grade(exam, responses).totals[0] == 2 + 5 + 8


@pytest.mark.parametrize("policy, status, total", [("list", "graded", 17.0), ("zero", "graded", 0.0),
                                                   ("hold", "pending", None)])
def test_violation_is_listed_and_handled_as_the_exam_says(policy, status, total):
    exam = _exam(violation_policy=policy)
    run, grades = _run(exam, sheet("1", {"Q1": "A"}, {"Q2": 10, "Q4": 5}, violation=True),
                       sheet("2", {"Q1": "A"}, {"Q2": 10, "Q4": 5}, number=2))
    assert run.statuses() == [status, "graded"]
    assert grades.totals[1] == 17
    assert (np.isnan(grades.totals[0]) if total is None else grades.totals[0] == total)
    (listed,) = [e for e in run.exceptions() if e.kind == "violation"]
    assert listed.exam_id == "1" and kind_zh(listed.kind) == "违纪"
    assert reason_zh(listed.reason) == {"list": "违纪：成绩保留，列出待考务认定", "zero": "违纪：按考试规定本科计0分",
                                        "hold": "违纪：暂不计分，待考务认定"}[policy]
    if policy == "hold":
        assert listed.reason in run.pending_reasons(0)


def test_default_policy_keeps_the_score():
    assert _exam().violation_policy == "list"


def test_a_reviewer_settles_the_choice_and_the_violation():
    exam = _exam(violation_policy="hold")
    record = sheet("1", {"Q1": "A"}, {"Q2": 7, "Q3": 4, "Q4": 5}, choices=_chooser("", "multiple"), violation=True)
    run, _ = _run(exam, record)
    assert run.statuses() == ["pending"]
    fixes = [Correction(question=question_name("选考题"), value="3", sheet=1),
             Correction(question=question_name("违纪"), value="0", sheet=1)]
    run, grades = _run(exam, record, corrections=fixes)
    assert run.statuses() == ["graded"] and grades.totals[0] == 2 + 4 + 5
    assert [(a.question, a.before, a.after) for a in run.corrections] == [("violation", "1", "0"),
                                                                        ("choice", "(multiple)", "Q3")]
    no_chooser = sheet("2", {"Q1": "A"}, {"Q2": 7, "Q3": 4, "Q4": 5}, number=2)
    run, grades = _run(_exam(), no_chooser, corrections=[Correction(question="choice", value="Q2", sheet=2)])
    assert run.statuses() == ["graded"] and grades.totals[0] == 2 + 7 + 5
    run, _ = _run(_exam(), no_chooser, corrections=[Correction(question="choice", value="4", sheet=2)])
    assert run.static_exceptions[0].reason.endswith("choice Q4: not an optional question (选考题) of exam opt")
