"""A student's record across exams is keyed by 学籍号: a new 考号 every exam does not break it, and nobody is
dropped without a reason."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from analytics.longitudinal import ExamScores, link_exams, record_trend, steady_points

NOS = ["G330102201001010004", "G330102201102020017", "J330102201001010022", "L330102201001010031"]


def _exam(label, ids, nos, totals, classes=None):
    return ExamScores(label, np.array(ids, dtype=object), np.array(nos, dtype=object), np.array(totals, float),
                      classes=None if classes is None else np.array(classes, dtype=object))


def test_students_are_linked_by_student_number_when_the_exam_id_changes():
    autumn = _exam("期中", ["2026010001", "2026010002", "2026010003", "2026010004"], NOS, [90, 70, 50, 80])
    # Next exam: every 考号 is new and the order differs.
    spring = _exam("期末", ["2027050104", "2027050101", "2027050103", "2027050102"],
                   [NOS[3], NOS[0], NOS[2], NOS[1]], [60, 95, 75, 65], ["1班", "2班", "1班", "2班"])
    record = link_exams([autumn, spring])
    assert record.student_nos.tolist() == sorted(NOS)
    first = record.student_nos.tolist().index(NOS[0])
    assert record.exam_ids[first].tolist() == ["2026010001", "2027050101"]
    assert record.totals[first].tolist() == [90.0, 95.0]
    assert record.classes[first] == "2班"
    assert not record.unmatched
    trend = record_trend(record)
    assert len(trend.exam_ids) == 4 and trend.student_nos.tolist() == sorted(NOS)
    # NOS[2] went from last (rank 4) to second (rank 2): two places up.
    k = trend.student_nos.tolist().index(NOS[2])
    assert trend.ranks[k].tolist() == [4, 2] and trend.rank_change[k] == 2


def test_z_and_percentile_are_within_everyone_who_sat_each_exam():
    totals = [90, 70, 70, 50, np.nan]
    exam = _exam("一模", ["1", "2", "3", "4", "5"], [*NOS, "G330102201001010103"], totals)
    record = link_exams([exam])
    sat = np.array([90, 70, 70, 50], float)
    order = [record.student_nos.tolist().index(n) for n in NOS]
    np.testing.assert_allclose(record.z[order, 0], stats.zscore(sat, ddof=1))
    # PR = 100 (below + 0.5 equal) / N: 70 has one below and two equal of four -> 50.
    np.testing.assert_allclose(record.percentile[order, 0], [87.5, 50.0, 50.0, 12.5])
    absent = record.student_nos.tolist().index("G330102201001010103")
    assert np.isnan(record.z[absent, 0]) and not record.sat[absent, 0]


def test_unlinkable_students_are_listed_with_their_reason():
    autumn = _exam("期中", ["01", "02", "03", "04"], [NOS[0], "", NOS[1], NOS[1]], [80, 70, 60, 50])
    spring = _exam("期末", ["11", "12", "13"], [NOS[0], NOS[2], None], [85, 65, 40])
    record = link_exams([autumn, spring])
    listed = {(u.label, u.exam_id, u.reason) for u in record.unmatched}
    assert listed == {("期中", "02", "no_student_no"), ("期中", "03", "duplicate_student_no"),
                      ("期中", "04", "duplicate_student_no"), ("期末", "13", "no_student_no")}
    assert all(u.reason_text for u in record.unmatched)
    # A student in one exam only stays in the record; the trend holds those who sat both.
    assert set(record.student_nos.tolist()) == {NOS[0], NOS[2]}
    assert record_trend(record).student_nos.tolist() == [NOS[0]]


def test_a_trend_needs_two_exams():
    record = link_exams([_exam("一模", ["1", "2", "3"], NOS[:3], [1, 2, 3])])
    with pytest.raises(ValueError, match="two or more"):
        record_trend(record)
    with pytest.raises(ValueError, match="at least one"):
        link_exams([])


def test_knowledge_rates_follow_the_student_and_steady_points_need_two_exams():
    def exam(label, ids, rates, points=("函数", "几何")):
        return ExamScores(label, np.array(ids, dtype=object), np.array(NOS[:3], dtype=object),
                          np.array([80.0, 60.0, 40.0]), point_ids=points, point_names=points,
                          knowledge=np.array(rates, float))

    first = exam("期中", ["1", "2", "3"], [[0.9, 0.2], [0.5, 0.6], [0.1, 0.7]])
    second = exam("期末", ["7", "8", "9"], [[0.8, 0.3], [0.6, 0.4], [0.2, 0.9]])
    third = exam("月考", ["4", "5", "6"], [[0.9], [0.1], [0.5]], points=("数列",))
    record = link_exams([first, second, third])
    assert record.point_ids == ("函数", "几何", "数列")
    k = record.student_nos.tolist().index(NOS[0])
    np.testing.assert_allclose(record.knowledge[k, :2, 0], [0.9, 0.8])
    assert np.isnan(record.knowledge[k, 2, 0]) and np.isnan(record.knowledge[k, 0, 2])
    np.testing.assert_allclose(record.grade_knowledge[:, 0], [0.5, 0.5333333333, np.nan])
    strengths, weak = steady_points(record)
    # 函数: NOS[0] above the grade in both exams; 几何: below both times; 数列 tested once: neither.
    assert strengths[k].tolist() == [True, False, False] and weak[k].tolist() == [False, True, False]
