"""analyse(): every level on a hand-built exam of two schools, absent and pending students included."""

from __future__ import annotations

import numpy as np
import pytest

from analytics.analysis import analyse, multi_subject
from analytics.model import ExamData, ReportConfig
from grading.exam import parse_exam

EXAM = parse_exam({
    "id": "tiny", "subject": "数学", "full_marks": 10,
    "questions": [
        {"id": "Q1", "type": "single", "points": 2, "answers": ["A"],
         "knowledge_points": [{"id": "K1", "name": "函数"}]},
        {"id": "Q2", "type": "multi", "points": 4, "answers": ["AC"],
         "knowledge_points": [{"id": "K1", "name": "函数"}, {"id": "K2", "name": "几何"}]},
        {"id": "Q3", "type": "subjective", "points": 4, "knowledge_points": [{"id": "K2", "name": "几何"}]},
    ],
})

#          id   school class status     Q1  Q2  Q3
STUDENTS = [("A", "s1", "1班", "graded", 2, 4, 4),
            ("B", "s1", "1班", "graded", 0, 2, 1),
            ("C", "s1", "1班", "absent", None, None, None),
            ("D", "s1", "2班", "graded", 2, 0, 3),
            ("E", "s1", "2班", "graded", 2, 4, 2),
            ("F", "s1", "2班", "pending", 2, None, 1),
            ("G", "s2", "1班", "graded", 0, 0, 0),
            ("H", "s2", "1班", "graded", 2, 2, 4)]


def tiny_data(exam=EXAM, students=STUDENTS) -> ExamData:
    n = len(students)
    scores = np.array([[np.nan if v is None else v for v in s[4:]] for s in students], float)
    status = np.array([s[3] for s in students], dtype=object)
    scores[status != "graded"] = np.nan
    totals = scores.sum(axis=1)
    masks = np.zeros((n, 3), np.uint16)
    masks[:, 0] = np.where(scores[:, 0] == 2, 1, 2)  # A right, B wrong
    masks[:, 1] = np.where(scores[:, 1] == 4, 5, 1)  # AC right, A alone partial
    column = lambda k: np.array([s[k] for s in students], dtype=object)  # noqa: E731
    return ExamData(exam=exam, exam_ids=column(0), student_nos=np.full(n, "", dtype=object), names=column(0),
                    classes=column(2), schools=column(1), status=status, item_ids=("Q1", "Q2", "Q3"),
                    points=np.array([2, 4, 4.0]), scores=scores, totals=totals, masks=masks)


@pytest.fixture(scope="module")
def result():
    return analyse(tiny_data(), ReportConfig(dina=False, rasch=False))


def test_levels_and_counts(result):
    classes, schools = result.classes, result.schools
    assert list(zip(classes.schools, classes.classes)) == [("s1", "1班"), ("s1", "2班"), ("s2", "1班")]
    assert classes.stats.n.tolist() == [2, 2, 2]
    assert classes.n_absent.tolist() == [1, 0, 0] and classes.n_pending.tolist() == [0, 1, 0]
    assert classes.stats.mean.tolist() == [6.5, 6.5, 4.0]
    assert schools.stats.mean.tolist() == [6.5, 4.0] and schools.stats.n.tolist() == [4, 2]
    assert result.all.stats.mean[0] == pytest.approx(34 / 6)
    assert classes.parent.tolist() == [0, 0, 1] and schools.parent.tolist() == [0, 0]


def test_class_vs_grade_and_rank_by_mean(result):
    classes, schools = result.classes, result.schools
    assert classes.mean_diff.tolist() == [0.0, 0.0, 0.0]
    assert classes.mean_ratio.tolist() == [1.0, 1.0, 1.0]
    assert classes.rank_by_mean.tolist() == [1, 1, 1]  # two tied classes in s1; alone in s2
    assert schools.mean_diff.tolist() == pytest.approx([6.5 - 34 / 6, 4 - 34 / 6])
    assert schools.rank_by_mean.tolist() == [1, 2]


def test_student_ranks_pr_and_z(result):
    s = result.students
    ids = result.data.exam_ids[s.rows].tolist()
    assert ids == ["A", "B", "D", "E", "G", "H"]
    assert s.total.tolist() == [10, 3, 5, 8, 0, 8]
    assert s.class_rank.tolist() == [1, 2, 2, 1, 2, 1]
    assert s.grade_rank.tolist() == [1, 4, 3, 2, 2, 1]
    assert s.city_rank.tolist() == [1, 5, 4, 2, 6, 2]
    assert s.grade_pr[0] == pytest.approx(87.5)
    s1 = np.array([10, 3, 5, 8.0])
    assert s.z[:4].tolist() == pytest.approx(((s1 - s1.mean()) / s1.std(ddof=1)).tolist())
    assert s.band.tolist() == [0, 4, 3, 1, 4, 1]  # 10 优秀, 3 低分, 5 不及格, 8 良好


def test_item_and_knowledge_rates_per_class(result):
    classes = result.classes
    assert classes.item_rates[0].tolist() == pytest.approx([0.5, 0.75, 0.625])
    bp = result.blueprint
    assert bp.point_ids == ("K1", "K2")
    student_rates = result.students.knowledge_rates
    assert student_rates[0].tolist() == pytest.approx([1.0, 1.0])
    assert student_rates[1].tolist() == pytest.approx([0.25, 2 / 6])
    assert classes.knowledge_rates[0].tolist() == pytest.approx([0.625, 4 / 6])
    # weakest against the school: class s1/1班 vs s1
    gaps = classes.knowledge_rates[0] - result.schools.knowledge_rates[0]
    assert classes.weakest[0, 0] == int(np.argmin(gaps))


def test_options_only_for_choice_questions(result):
    assert [o.item_id for o in result.options] == ["Q1", "Q2"]
    assert result.options[0].overall[0] == pytest.approx(4 / 6)


def test_dina_and_rasch_run_on_the_tiny_exam():
    full = analyse(tiny_data())
    assert full.dina is not None and full.dina.mastery.shape == (6, 2)
    assert full.classes.dina_mastery.shape == (3, 2)
    assert full.rasch is not None and full.students.theta.shape == (6,)


def test_no_graded_student_is_an_error():
    students = [(s[0], s[1], s[2], "absent", None, None, None) for s in STUDENTS]
    with pytest.raises(ValueError, match="no graded student"):
        analyse(tiny_data(students=students))


def test_multi_subject_totals_and_ranks():
    math = tiny_data()
    physics_exam = parse_exam({**EXAM.model_dump(mode="json"), "id": "tiny-phys", "subject": "物理"})
    rows = [(s[0], s[1], s[2], "graded" if s[0] != "A" else "absent", 1, 1, 1) for s in STUDENTS]
    physics = tiny_data(physics_exam, rows)
    multi = multi_subject([math, physics])
    assert multi.subjects == ("数学", "物理")
    index = {eid: i for i, eid in enumerate(multi.exam_ids.tolist())}
    assert not multi.complete[index["A"]] and multi.city_rank[index["A"]] == 0
    assert multi.total[index["E"]] == 8 + 3 and multi.total[index["H"]] == 11
    assert multi.city_rank[index["E"]] == multi.city_rank[index["H"]] == 1
    assert multi.grade_rank[index["B"]] == 3  # s1 complete: D 8, E 11, B 6
    assert not multi.complete[index["F"]]  # pending in 数学
    with pytest.raises(ValueError, match="subject given twice"):
        multi_subject([math, math])


def test_a_class_with_nobody_graded_and_an_exam_without_knowledge_points(tmp_path):
    from analytics.report_json import analysis_json
    from analytics.reports import write_reports

    data = EXAM.model_dump(mode="json")
    for q in data["questions"]:
        q["knowledge_points"] = []
    bare = parse_exam(data)
    students = [*STUDENTS, ("I", "s2", "9班", "absent", None, None, None)]
    result = analyse(tiny_data(bare, students))
    empty = result.classes.find("s2", "9班")
    assert result.classes.stats.n[empty] == 0 and np.isnan(result.classes.stats.mean[empty])
    assert result.classes.n_absent[empty] == 1
    assert result.dina is None and "no knowledge points" in result.notes["dina"]
    assert result.students.knowledge_rates.shape == (6, 0)
    doc = analysis_json(result)
    assert doc["classes"][empty]["mean"] is None and doc["dina"] is None
    written = write_reports(result, tmp_path, level="class", students_pdf=True)
    names = sorted(p.name for p in written)
    assert "class_s2_9班.xlsx" not in names and "class_s2_1班.xlsx" in names
    assert {"grade_s1.xlsx", "grade_s2.xlsx", "analytics.json", "students_s1_1班.pdf"} <= set(names)
