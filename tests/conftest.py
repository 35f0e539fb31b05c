"""Shared test set-up.

``omr`` must be imported before anything imports cv2: it sets OpenCV's decoder pixel limit, which OpenCV reads
once, when it loads. Importing it here, before any test module, keeps that true for the whole run.
"""

import omr  # noqa: F401

import importlib.util
import sys
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def pg_helpers():
    """tests/postgres.py, the suite's throw-away PostgreSQL (tests/ is not a package: loaded by path, once)."""
    name = "yuejuan_tests_postgres"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name("postgres.py"))
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]
