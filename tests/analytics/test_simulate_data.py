"""The simulator behind the benchmark and fixtures: exam rules applied, layout and statuses as asked."""

from __future__ import annotations

import numpy as np

from analytics.simulate import benchmark_exam, class_layout, simulate_exam_data
from analytics_builders import sample_exam


def test_benchmark_exam():
    exam = benchmark_exam(60, 8)
    assert len(exam.questions) == 60 and exam.full_marks == 40 * 2 + 10 * 4 + 10 * 10
    assert {kp.id for q in exam.questions for kp in q.knowledge_points} == {f"K{t:02d}" for t in range(1, 9)}


def test_simulated_data_is_scored_by_the_exam_rules():
    exam = sample_exam()
    data = simulate_exam_data(exam, 400, n_schools=2, classes_per_school=3, seed=1, absent_rate=0.05,
                              pending_rate=0.02)
    graded = data.graded
    assert 0 < (data.status == "absent").sum() < 60 and (data.status == "pending").sum() > 0
    assert np.isnan(data.scores[~graded]).all()
    scores = data.scores[graded]
    assert (scores <= data.points).all() and (scores >= 0).all()
    np.testing.assert_allclose(data.totals[graded], scores.sum(axis=1))
    j = data.item_ids.index("Q41")  # gaokao multi: 2 full, 1 partial, 0 wrong
    assert set(np.unique(scores[:, j])) <= {0.0, 1.0, 2.0}
    assert sorted(set(data.schools.tolist())) == ["3432000001", "3432000002"]
    schools, classes, index = class_layout(10, 2, 2)
    assert index.tolist() == [0, 0, 0, 1, 1, 2, 2, 2, 3, 3] and classes[3] == "高一(2)班" and schools[5] == "3432000002"
