"""The shipped profile files load, and the default one is exactly the code's defaults (no silent drift)."""

from __future__ import annotations

import pytest

from calibration import PROFILES_DIR
from omr.profile import ScannerProfile, load_profile


def test_default_profile_file_matches_the_code_defaults():
    assert load_profile(PROFILES_DIR / "default.json") == ScannerProfile()


@pytest.mark.parametrize("path", sorted(PROFILES_DIR.glob("*.json")), ids=lambda p: p.name)
def test_every_shipped_profile_loads(path):
    assert isinstance(load_profile(path), ScannerProfile)
