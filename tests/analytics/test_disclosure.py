"""What a teacher limited to their own classes sees of the others (analytics.disclosure): the small-cell rule, the
grade workbook with ``classes`` and the analysis JSON limited to some classes."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
from openpyxl import load_workbook

from analytics.disclosure import MIN_GROUP, visible_groups, withheld_groups
from analytics.report_json import analysis_json, limit_analysis, limit_progress
from analytics.workbook import write_grade_workbook

MINE, OTHER, THIRD = "高一(1)班", "高一(2)班", "高一(3)班"


def test_a_class_too_small_is_withheld_with_the_next_smallest_beside_it():
    own = np.array([True, False, False, False])
    # a class of one: its figures are that student's; alone withheld, the grade less the others gives them back
    assert withheld_groups(np.array([30, 1, 40, 6]), own).tolist() == [False, True, False, True]
    assert withheld_groups(np.array([30, 1, 40, 6]), own, minimum=1).tolist() == [False] * 4
    assert withheld_groups(np.array([30, 2, 3, 40]), own).tolist() == [False, True, True, False]  # 5 together
    assert withheld_groups(np.array([30, 0, 40, 35]), own).tolist() == [False] * 4  # nobody graded: nothing shown
    assert withheld_groups(np.array([2, 1, 3]), np.array([True, False, False])).tolist() == [False, True, True]
    assert not withheld_groups(np.array([1, 2, 3]), np.ones(3, dtype=bool)).any()  # every class one's own
    assert MIN_GROUP == 5
    assert visible_groups(np.array([MINE, OTHER], dtype=object), {MINE}).tolist() == [True, False]
    assert visible_groups(np.array([MINE, OTHER], dtype=object), None).tolist() == [True, True]


def _texts(path) -> set[str]:
    book = load_workbook(path, read_only=True)
    return {str(v) for ws in book.worksheets for row in ws.iter_rows(values_only=True) for v in row if v is not None}


def test_the_grade_workbook_of_a_teacher_lists_their_students_only(tmp_path, sample_analysis):
    data = sample_analysis.data
    theirs = set(data.exam_ids[data.classes != MINE].tolist())
    mine = set(data.exam_ids[(data.classes == MINE) & data.graded].tolist())
    full = _texts(write_grade_workbook(sample_analysis, tmp_path / "grade.xlsx"))
    limited_path = write_grade_workbook(sample_analysis, tmp_path / "mine.xlsx", classes={MINE})
    limited = _texts(limited_path)
    assert theirs & full and not theirs & limited and mine <= limited
    book = load_workbook(limited_path)
    scores = list(book["成绩总表"].iter_rows(min_row=2, values_only=True))
    assert {row[3] for row in scores} == {MINE} and len(scores) == len(mine)
    assert {row[2] for row in book["临界生"].iter_rows(min_row=2, values_only=True)} <= {MINE}
    # every class has 10 or more graded: the comparison is the school admin's, sheet by sheet
    for name in ("班级对比", "小题得分", "一分一段", "试卷分析"):
        assert [list(r) for r in book[name].iter_rows(values_only=True)] == \
               [list(r) for r in load_workbook(tmp_path / "grade.xlsx")[name].iter_rows(values_only=True)], name


def test_a_small_class_shows_its_head_count_only(tmp_path, sample_analysis):
    classes = sample_analysis.classes
    n = classes.stats.n.copy()
    n[2] = 1  # 高一(3)班 as a class of one graded student
    small = replace(sample_analysis, classes=replace(classes, stats=replace(classes.stats, n=n)))
    book = load_workbook(write_grade_workbook(small, tmp_path / "grade.xlsx", classes={MINE}))
    rows = {row[0]: row for row in book["班级对比"].iter_rows(min_row=2, values_only=True) if row[0]}
    # the class of one, and beside it the next smallest (高一(2)班): the grade less 高一(1)班 would give it back
    for name in (OTHER, THIRD):
        assert rows[name][1] is not None and all(v is None for v in rows[name][3:]), rows[name]
    assert rows[MINE][3] is not None and rows["年级"][3] is not None
    rates = {row[0]: row for row in book["小题得分"].iter_rows(min_row=2, values_only=True)}
    assert all(v is None for v in rates[THIRD][1:]) and rates[MINE][1] is not None
    admin = load_workbook(write_grade_workbook(small, tmp_path / "admin.xlsx"))
    assert {row[0]: row for row in admin["班级对比"].iter_rows(min_row=2, values_only=True)}[THIRD][3] is not None


def test_the_analysis_json_of_a_teacher(sample_analysis):
    document = json.loads(json.dumps(analysis_json(sample_analysis)))
    limited = limit_analysis(document, {MINE})
    assert {s["class"] for s in limited["students"]} == {MINE}
    assert {s["class"] for s in limited["not_graded"]} <= {MINE}
    assert limited["classes"] == document["classes"]  # 10 or more a class: every class's figures
    assert limited["city"] == document["city"] and limited["items"] == document["items"]
    assert {s["class"] for s in document["students"]} == {MINE, OTHER, THIRD}  # not changed
    document["classes"][2]["n"] = 2
    hidden = limit_analysis(document, {MINE})["classes"]
    assert hidden[0] == document["classes"][0]
    assert [g["mean"] for g in hidden[1:]] == [None, None] and [g["n"] for g in hidden[1:]] == [12, 2]
    assert limit_analysis(document, set())["students"] == []


def test_the_progress_json_of_a_teacher():
    group = {"group": "", "n": 0, "raw": 0.1, "se": 0.2, "shrinkage": 0.5, "estimate": 0.05, "low": -0.3,
             "high": 0.4, "shown": True}
    document = {
        "trend": {"exams": ["autumn", "spring"], "students": [{"exam_id": "1", "student_no": "G1"},
                                                              {"exam_id": "2", "student_no": "G2"}]},
        "value_added": {"classes": {"scale": "z", "groups": [{**group, "group": MINE, "n": 30},
                                                             {**group, "group": OTHER, "n": 1},
                                                             {**group, "group": THIRD, "n": 40}]},
                        "teachers": None, "notes": [],
                        "unmatched": [{"exam": "spring", "exam_id": "1", "student_no": "", "reason": "x"},
                                      {"exam": "spring", "exam_id": "2", "student_no": "", "reason": "x"},
                                      {"exam": "autumn", "exam_id": "1", "student_no": "G9", "reason": "x"},
                                      {"exam": "autumn", "exam_id": "7", "student_no": "G1", "reason": "x"}]}}
    limited = limit_progress(document, {"1"}, {"G1"}, {MINE})
    assert limited["trend"]["students"] == [{"exam_id": "1", "student_no": "G1"}]
    assert [(u["exam"], u["exam_id"]) for u in limited["value_added"]["unmatched"]] == [("spring", "1"),
                                                                                        ("autumn", "7")]
    groups = limited["value_added"]["classes"]["groups"]
    assert groups[0] == document["value_added"]["classes"]["groups"][0]
    assert groups[1] == {**{k: None for k in group}, "group": OTHER, "n": 1}
    assert groups[2]["raw"] is None  # beside the class of one, the next smallest
    assert len(document["trend"]["students"]) == 2  # not changed
