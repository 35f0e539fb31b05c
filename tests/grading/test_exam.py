"""Exam model: questions, rules, versions, full marks; JSON load and save; the bundled sample exam."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from grading.exam import Exam, ExamError, Question, load_exam, options_span, parse_exam, save_exam
from grading.exam_io import template_problems
from grading_builders import SAMPLE_EXAM, small_exam_data
from omr.template import load_template

REPO = Path(__file__).resolve().parents[2]


def _with_question(index: int, **changes) -> dict:
    data = small_exam_data()
    data["questions"][index] = {**data["questions"][index], **changes}
    return data


def test_small_exam_defaults_and_lookups(exam: Exam):
    assert exam.question_ids == [f"Q{n}" for n in range(1, 10)]
    q4 = exam.question("Q4")
    assert q4.options == "ABCD" and q4.rule == "all_or_nothing"
    assert exam.question("Q6").options == "TF"
    assert exam.question("Q9").options == "" and exam.question("Q9").answers == []
    assert exam.section_ids() == ["S1", "S2"] and exam.section_name("S2") == "解答题"
    assert exam.sheet_to_canonical("B")["Q1"] == "Q2" and exam.sheet_to_canonical("B")["Q3"] == "Q3"
    assert exam.sheet_to_canonical(None)["Q2"] == "Q2"
    with pytest.raises(ExamError, match="no paper version 'C'"):
        exam.sheet_to_canonical("C")
    with pytest.raises(KeyError, match="no question Q99"):
        exam.question("Q99")


def test_answers_are_normalised():
    q = Question(id="Q1", type="multi", points=2, answers=["dca", " a c ", "CA"], rule="gaokao", partial_points=1)
    assert q.answers == ["ACD", "AC"]
    assert Question(id="Q2", type="single", points=1, answers=["b"]).answers == ["B"]
    assert Question(id="Q3", type="single", points=1, options="abcde", answers=["E"]).options == "ABCDE"


def test_per_option_default_shares():
    q = Question(id="Q1", type="multi", points=6, answers=["ABD"], rule="per_option")
    assert q.points_for_option("ABD") == {"A": 2, "B": 2, "D": 2}
    custom = Question(id="Q1", type="multi", points=6, answers=["AB"], rule="per_option",
                      option_points={"A": 4, "B": 2})
    assert custom.points_for_option("AB") == {"A": 4, "B": 2}


@pytest.mark.parametrize("index, changes, message", [
    (0, {"answers": ["F"]}, "Q1: answer 'F' not among options A–D"),
    (2, {"answers": ["ACF"]}, "answer 'ACF': 'F' not among options A–D"),
    (0, {"answers": ["AB"]}, "has 2 options; a single answer is one option"),
    (0, {"answers": []}, "Q1: no answer given"),
    (0, {"rule": "gaokao"}, "applies to multi-select questions only"),
    (2, {"partial_points": None}, "rule gaokao needs partial_points"),
    (2, {"partial_points": 5}, "must be above 0 and below the question's 5 points"),
    (3, {"partial_points": 1}, "partial_points apply to rule gaokao only"),
    (4, {"option_points": {"B": 1, "D": 1}}, "add up to 2, not the question's 4 points"),
    (4, {"option_points": {"B": 4}}, "give no points for D"),
    (4, {"option_points": {"B": 2, "D": 2, "Z": 1}}, "'Z' not among options"),
    (3, {"option_points": {"A": 2, "C": 2}}, "option_points apply to rule per_option only"),
    (8, {"answers": ["A"]}, "a subjective question has no options or answers"),
    (5, {"options": "TFX"}, "a true/false question has 2 options"),
    (0, {"options": "AA"}, "2 or more distinct letters"),
    (0, {"knowledge_points": [{"id": "K1"}, {"id": "K1"}]}, "knowledge point is listed twice"),
    (0, {"section": "S9"}, "section 'S9' is not among sections S1, S2"),
    (0, {"id": "Q2"}, "question Q2 listed twice"),
    (0, {"points": 3}, "full_marks 32 differs from the sum of question points 33 (void questions Q8 not counted)"),
])
def test_invalid_questions_name_the_problem(index: int, changes: dict, message: str):
    with pytest.raises(ExamError) as info:
        parse_exam(_with_question(index, **changes))
    assert message in str(info.value)


def test_bonus_and_void_need_no_answer():
    data = _with_question(6, answers=[])
    data["questions"][7]["answers"] = []
    exam = parse_exam(data)
    assert exam.question("Q7").status == "bonus" and exam.question("Q8").answers == []


@pytest.mark.parametrize("versions, default, message", [
    ({"B": {"Q1": "Q99"}}, None, "version B: Q99 is not a question"),
    ({"B": {"Q1": "Q2", "Q7": "Q2"}}, None, "Q2 mapped from two sheet questions"),
    ({"B": {"Q1": "Q2"}}, None, "nothing maps to Q1"),
    ({"B": {"Q1": "Q3", "Q3": "Q1"}}, None, "sheet Q1 (single ABCD) cannot hold Q3 (multi ABCD)"),
    ({"B": {}}, "C", "default_version 'C' is not among versions B"),
    ({"卷B": {}}, None, "use a short name"),
])
def test_invalid_versions(versions: dict, default: str | None, message: str):
    with pytest.raises(ExamError) as info:
        parse_exam(small_exam_data(versions=versions, default_version=default))
    assert message in str(info.value)


def test_identity_entries_are_dropped_from_versions():
    exam = parse_exam(small_exam_data(versions={"A": {"Q1": "Q1", "Q2": "Q2"}, "B": {"Q1": "Q2", "Q2": "Q1"}}))
    assert exam.versions == {"A": {}, "B": {"Q1": "Q2", "Q2": "Q1"}}


def test_json_round_trip_keeps_chinese_readable(tmp_path: Path, exam: Exam):
    path = tmp_path / "exam.json"
    save_exam(exam, path)
    text = path.read_text(encoding="utf-8")
    assert "数学" in text and '"points": 2,' in text  # integral points written as a teacher typed them
    assert text.count("\n") > len(exam.questions)  # one question per line
    assert load_exam(path) == exam
    assert json.loads(text)["questions"][2]["partial_points"] == 2


def test_load_errors_are_clear(tmp_path: Path):
    broken = tmp_path / "broken.json"
    broken.write_text('{\n "id": "x",\n', encoding="utf-8")
    with pytest.raises(ExamError, match="not valid JSON: line 3"):
        load_exam(broken)
    with pytest.raises(ExamError, match="cannot read exam"):
        load_exam(tmp_path / "missing.json")
    with pytest.raises(ExamError, match="questions.Q1.points"):
        parse_exam(_with_question(0, points=-1))
    with pytest.raises(ExamError, match="subject"):
        parse_exam(small_exam_data(subject=""))
    with pytest.raises(ExamError, match="Extra inputs are not permitted"):
        parse_exam(small_exam_data(colour="red"))


def test_options_span():
    assert options_span("ABCD") == "A–D"
    assert options_span("TF") == "T, F"
    assert options_span("ACE") == "A, C, E"


def test_sample_exam_fits_its_template():
    exam = load_exam(SAMPLE_EXAM)
    assert exam.full_marks == 120 == sum(q.points for q in exam.questions if q.status != "void")
    assert exam.template == "cn-a4-55" and set(exam.versions) == {"A", "B"}
    mapping = exam.versions["B"]
    assert sorted(mapping, key=lambda q: int(q[1:])) == [f"Q{n}" for n in range(1, 41) if f"Q{n}" in mapping]
    assert sorted(mapping.values()) == sorted(mapping)  # a permutation of Q1-Q40
    assert {q.rule for q in exam.questions if q.type == "multi"} == {"gaokao", "all_or_nothing", "per_option"}
    assert all(q.knowledge_points and q.cognitive_level for q in exam.questions)
    template = load_template(REPO / "sample_sheets" / "templates" / "cn-a4-55.json")
    assert template_problems(exam, template) == []


def test_template_problems_are_named(exam: Exam):
    template = load_template(REPO / "sample_sheets" / "templates" / "cn-a4-55.json")
    data = small_exam_data(template="cn-a3-100", versions={}, default_version=None)
    data["questions"][0]["options"] = "ABCDE"
    data["questions"].append({"id": "Q60", "type": "single", "points": 1, "answers": ["A"], "section": "S1"})
    data["questions"].append({"id": "Q56", "type": "subjective", "points": 15, "section": "S2"})
    data["full_marks"] = 48
    problems = template_problems(parse_exam(data), template)
    assert any("checked against 'cn-a4-55'" in p for p in problems)
    assert "Q1: options ABCDE but the sheet prints ABCD" in problems
    assert any(p.startswith("Q3: multi-select, but the sheet reads a single mark") for p in problems)
    assert "Q60: not on sheet cn-a4-55" in problems
    assert any(p.startswith("Q9: no score box") for p in problems)
    assert "Q56: score box goes up to 12, the question is worth 15" in problems
