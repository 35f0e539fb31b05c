"""What a report shows of students over time: the record linked by 学籍号, the rank/z trend of those who sat every
exam, and the value-added of classes (and teachers, given a 任课教师表) from the last exam to this one.

Value-added is computed on z-scores within the grade (docs/statistics.md, "Linking two exams": unlinked exams are
put on a comparable scale by z), so it reads in standard deviations of the grade: +0.2 means the class's students
scored 0.2 SD above what their previous scores predict.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from analytics.diagnosis import Trend
from analytics.longitudinal import ExamScores, StudentRecord, link_exams, record_trend
from analytics.value_added import MIN_LINKED, ValueAdded, value_added

__all__ = ["Progress", "progress_of"]


@dataclass(frozen=True)
class Progress:
    """The record, its trend, value-added per class and per teacher, and why any of them is missing (Chinese)."""

    record: StudentRecord
    trend: Trend | None
    classes: ValueAdded | None
    teachers: ValueAdded | None
    notes: tuple[str, ...] = ()


def progress_of(exams: Sequence[ExamScores], *, teachers: Mapping[str, str] | None = None,
                min_n: int = MIN_LINKED) -> Progress:
    """Link ``exams`` (oldest first, the current exam last) and compute the trend and value-added.

    ``teachers`` maps a class (as in the current exam) to its teacher of this subject; classes it does not name
    are left out of the teachers' table (and said so in ``notes``).
    """
    record = link_exams(exams)
    notes: list[str] = []
    if record.unmatched:
        notes.append(f"{len(record.unmatched)} 名学生无法按学籍号对应（无学籍号或学籍号重复），未计入走势与增值")
    notes += [record.linking_note] if record.linking_note else []
    notes += record.linking.notes() if record.linking is not None else []
    if len(exams) < 2:
        return Progress(record, None, None, None, tuple(notes))
    trend = record_trend(record)
    prior, current = record.z[:, -2], record.z[:, -1]
    linked = int((np.isfinite(prior) & np.isfinite(current)).sum())
    if linked < max(3, min_n):
        notes.append(f"两次考试都参加的学生只有 {linked} 名，不计算增值")
        return Progress(record, trend, None, None, tuple(notes))
    try:
        classes = value_added(prior, current, record.classes, min_n=min_n)
    except ValueError as error:  # e.g. every prior z equal
        notes.append(f"无法计算增值：{error}")
        return Progress(record, trend, None, None, tuple(notes))
    by_teacher = None
    if teachers:
        names = np.array([teachers.get(str(c), "") for c in record.classes.tolist()], dtype=object)
        unnamed = sorted({str(c) for c, t in zip(record.classes.tolist(), names.tolist()) if c and not t})
        if unnamed:
            notes.append(f"任课教师表中没有这些班级：{'、'.join(unnamed)}")
        by_teacher = value_added(prior, current, names, min_n=min_n)
    return Progress(record, trend, classes, by_teacher, tuple(notes))
