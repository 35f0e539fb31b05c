"""Fixtures of the calibration tests: the bold station of :mod:`calibration_station`, simulated once per session."""

from __future__ import annotations

import pytest

from calibration_station import BLANK, BOLD_STATION, blank_truth, marked_sheets
from sample_sheets import resolve_template
from sample_sheets.simulate import simulate_sheet


@pytest.fixture(scope="session")
def template():
    return resolve_template("cn-a4-55")


@pytest.fixture(scope="session")
def bold_blank_scans(template):
    """Two scans of the blank card printed by the bold station."""
    return [page for seed in (900, 901)
            for page in simulate_sheet(template, blank_truth(template), seed=seed, profile="typical", overrides=BLANK)]


@pytest.fixture(scope="session")
def bold_sheets(template):
    """Twenty marked sheets from the bold station."""
    return marked_sheets(template, 20, BOLD_STATION)
