"""The 任课教师表: who teaches each class a subject; bad rows refused with their row numbers."""

from __future__ import annotations

import pytest

from analytics.teachers import load_teachers
from grading.tabular import TableError


def _table(tmp_path, text: str):
    path = tmp_path / "teachers.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_teachers_of_one_subject(tmp_path):
    path = _table(tmp_path, "班级,科目,任课教师\n高一(1)班,数学,王老师\n高一(2)班,数学,李老师\n高一(1)班,物理,赵老师\n")
    assert load_teachers(path, "数学") == {"高一(1)班": "王老师", "高一(2)班": "李老师"}
    assert load_teachers(path, "物理") == {"高一(1)班": "赵老师"}
    assert load_teachers(path, "化学") == {}


def test_missing_columns_empty_cells_and_two_teachers_are_refused(tmp_path):
    with pytest.raises(TableError, match="no 教师/teacher column"):
        load_teachers(_table(tmp_path, "班级,学科\n高一(1)班,数学\n"), "数学")
    path = _table(tmp_path, "班级,学科,教师\n高一(1)班,数学,\n高一(2)班,数学,王老师\n高一(2)班,数学,李老师\n"
                            "高一(3)班,数学,王\u0007老师\n")
    with pytest.raises(TableError) as refused:
        load_teachers(path, "数学")
    errors = refused.value.errors
    assert errors[0].startswith("row 2: teacher is empty")
    assert errors[1].startswith("row 4: 高一(2)班 数学 has two teachers")
    assert errors[2].startswith("row 5: teacher contains")
