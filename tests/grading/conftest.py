"""Fixtures for grading tests; the builders live in :mod:`grading_builders`."""

from __future__ import annotations

import pytest

from grading.exam import Exam
from grading_builders import small_exam


@pytest.fixture
def exam() -> Exam:
    """The small exam of :func:`grading_builders.small_exam_data` (every type and rule, full marks 32)."""
    return small_exam()
