"""Properties over random exams and readings: totals are the sum of question scores and never exceed full marks;
void questions count nowhere; bonus questions give full points; regrading equals grading the changed key."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from grading.exam import Exam, parse_exam
from grading.mark import POLICIES, Reading, Responses, grade
from grading.regrade import KeyChange, apply_change, regrade

POINTS = [0.5, 1, 2, 3, 4, 5, 10]
LETTERS = "ABCDEF"


@st.composite
def questions(draw, number: int) -> dict:
    kind = draw(st.sampled_from(["single", "multi", "truefalse", "subjective"]))
    points = draw(st.sampled_from(POINTS))
    status = draw(st.sampled_from(["normal", "normal", "normal", "bonus", "void"]))
    q = {"id": f"Q{number}", "type": kind, "points": points, "status": status, "section": f"S{number % 3}"}
    if kind == "subjective":
        return q
    options = "TF" if kind == "truefalse" else LETTERS[: draw(st.integers(2, 6))]
    q["options"] = options
    if kind == "multi":
        answer = st.sets(st.sampled_from(options), min_size=1).map(lambda s: "".join(sorted(s)))
        q["rule"] = draw(st.sampled_from(["all_or_nothing", "gaokao", "per_option"]))
        if q["rule"] == "gaokao":
            q["partial_points"] = points / 2
    else:
        answer = st.sampled_from(options)
    q["answers"] = draw(st.lists(answer, min_size=1, max_size=3, unique=True))
    return q


@st.composite
def exams(draw) -> Exam:
    count = draw(st.integers(1, 10))
    qs = [draw(questions(n)) for n in range(1, count + 1)]
    if all(q["status"] == "void" for q in qs):
        qs[0]["status"] = "normal"
    full = sum(q["points"] for q in qs if q["status"] != "void")
    return parse_exam({"id": "p", "subject": "数学", "full_marks": full, "questions": qs})


@st.composite
def responses(draw, exam: Exam) -> Responses:
    students = draw(st.integers(1, 12))
    n = len(exam.questions)
    marked = np.zeros((students, n), np.uint16)
    uncertain = np.zeros_like(marked)
    foreign = np.zeros((students, n), bool)
    status = np.zeros((students, n), np.int8)
    values = np.full((students, n), np.nan)
    for j, q in enumerate(exam.questions):
        for i in range(students):
            if q.type == "subjective":
                code = draw(st.sampled_from([Reading.OK, Reading.OK, Reading.BLANK, Reading.UNCERTAIN,
                                             Reading.MISSING, Reading.OVER_MAX]))
                if code in (Reading.OK, Reading.OVER_MAX):
                    values[i, j] = draw(st.integers(0, int(3 * q.points))) / 2
            else:
                code = draw(st.sampled_from([Reading.OK, Reading.OK, Reading.BLANK, Reading.UNCERTAIN,
                                             Reading.MISSING, Reading.MULTIPLE]))
                if code != Reading.MISSING:
                    marked[i, j] = draw(st.integers(0, (1 << len(q.options)) - 1))
                    uncertain[i, j] = draw(st.integers(0, (1 << len(q.options)) - 1)) & ~marked[i, j]
                    foreign[i, j] = draw(st.booleans()) and draw(st.booleans())
            status[i, j] = code
    sitting = np.array(draw(st.lists(st.booleans(), min_size=students, max_size=students)))
    return Responses(np.array([str(i) for i in range(students)], dtype=object), tuple(exam.question_ids), marked,
                     uncertain, foreign, status, values, sitting, np.zeros(students, np.int8))


@settings(max_examples=120, deadline=None)
@given(st.data())
def test_totals_are_sums_within_full_marks(data):
    exam = data.draw(exams())
    graded = grade(exam, data.draw(responses(exam)), policy=data.draw(st.sampled_from(POLICIES)))
    points = np.array([q.points for q in exam.questions])
    void = np.array([q.status == "void" for q in exam.questions])
    bonus = np.array([q.status == "bonus" for q in exam.questions])
    sitting = graded.responses.sitting
    done = sitting & ~graded.row_pending
    scores = graded.scores
    assert np.isnan(scores[:, void]).all()
    assert np.isnan(scores[~sitting]).all() and np.isnan(graded.totals[~sitting]).all()
    assert (scores[sitting][:, bonus] == points[bonus]).all()
    finite = np.isfinite(scores)
    assert (scores[finite] >= 0).all()
    assert (scores <= points + 1e-9)[finite].all()
    np.testing.assert_allclose(graded.totals[done], scores[done][:, ~void].sum(axis=1))
    assert (graded.totals[done] <= exam.full_marks + 1e-9).all() and (graded.totals[done] >= 0).all()
    assert np.isnan(graded.totals[graded.row_pending]).all()
    if graded.policy != "pending":
        assert not graded.row_pending.any()
    np.testing.assert_allclose(np.nansum(graded.section_totals[done], axis=1), graded.totals[done])


@settings(max_examples=80, deadline=None)
@given(st.data())
def test_regrade_equals_grading_the_changed_key(data):
    exam = data.draw(exams())
    graded = grade(exam, data.draw(responses(exam)), policy=data.draw(st.sampled_from(POLICIES)))
    question = data.draw(st.sampled_from(exam.questions))
    action = data.draw(st.sampled_from(["void", "bonus", "restore", "set_points"]))
    change = KeyChange(action=action, question=question.id, points=question.points * 2 if action == "set_points"
                       else None, partial_points=question.points if question.rule == "gaokao" else None)
    try:
        changed_exam = apply_change(exam, change)
    except ValueError:
        return  # e.g. voiding a void question, restoring one without an answer
    regraded, record = regrade(graded, change, by="property")
    fresh = grade(changed_exam, graded.responses, policy=graded.policy)
    assert regraded.exam == changed_exam and record.full_marks_after == changed_exam.full_marks
    np.testing.assert_array_equal(regraded.scores, fresh.scores)
    np.testing.assert_array_equal(regraded.totals, fresh.totals)
    np.testing.assert_array_equal(regraded.pending, fresh.pending)
