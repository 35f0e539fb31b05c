"""Rosters for the 考场编排 tests: a grade of classes with Chinese names and classes, 学籍号 included."""

from __future__ import annotations

from grading.roster import Student, student_no_check_char

_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
_GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂"


def grade_students(class_sizes: list[int], *, school_code: str = "3433000101") -> list[Student]:
    """Students of classes 高一(1)班 … with the given sizes; old 考号 are 2026 + class + number."""
    students = []
    for c, size in enumerate(class_sizes, start=1):
        for n in range(1, size + 1):
            body = f"3401022010{c:02d}{n:03d}00"[:17]
            name = _SURNAMES[(c * 7 + n) % len(_SURNAMES)] + _GIVEN[(c + n * 3) % len(_GIVEN)] + _GIVEN[n % 5]
            students.append(Student(exam_id=f"2026{c:02d}{n:04d}", student_no="G" + body + student_no_check_char(body),
                                    name=name, class_name=f"高一({c})班", school_code=school_code))
    return students
