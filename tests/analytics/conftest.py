"""Fixtures for analytics tests; the builders live in :mod:`analytics_builders`."""

from __future__ import annotations

from pathlib import Path

import pytest

from analytics.analysis import analyse
from analytics.load import load_grade_output
from analytics_builders import grade_folder, sample_exam


@pytest.fixture(scope="session")
def graded_folder(tmp_path_factory) -> Path:
    """`yuejuan grade` output for the sample exam: 3 classes of 12 in one school, the last 2 absent."""
    return grade_folder(tmp_path_factory.mktemp("graded"))


@pytest.fixture(scope="session")
def sample_analysis(graded_folder):
    """The analysis of :func:`graded_folder`."""
    return analyse(load_grade_output(graded_folder, sample_exam()))
