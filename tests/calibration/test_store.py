"""The profile store: versions per station, the active one, going back, the history, and names that are paths."""

from __future__ import annotations

import json

import pytest

from calibration.store import ProfileStore, check_station
from omr.profile import ScannerProfile


def test_versions_active_and_history(tmp_path):
    store = ProfileStore(tmp_path)
    assert store.active("school-17") is None and store.versions("school-17") == []
    first = store.save("school-17", ScannerProfile(empty_max=0.12), activate=True, report={"accepted": True})
    second = store.save("school-17", ScannerProfile(empty_max=0.14), activate=False, report={"accepted": False})
    assert (first.version, second.version) == (1, 2)
    assert first.name == "school-17" and first.created_at
    assert store.versions("school-17") == [1, 2]
    assert store.active("school-17") == first  # the one not accepted is kept, not used
    store.activate("school-17", 2)
    assert store.active("school-17").empty_max == 0.14
    store.activate("school-17", 1)  # going back
    assert store.active_version("school-17") == 1
    events = [(e["event"], e["version"]) for e in store.history("school-17")]
    assert events == [("saved", 1), ("activated", 1), ("saved", 2), ("activated", 2), ("activated", 1)]
    assert store.history("school-17")[2]["report"] == {"accepted": False}
    assert store.stations() == ["school-17"]


def test_a_saved_version_is_never_overwritten(tmp_path):
    store = ProfileStore(tmp_path)
    store.save("a", ScannerProfile(), activate=False)
    (tmp_path / "a" / "v0002.json").write_text(json.dumps({"empty_max": 0.11}), encoding="utf-8")  # a racing writer
    third = store.save("a", ScannerProfile(empty_max=0.13), activate=False)
    assert third.version == 3
    assert store.load("a", 2).empty_max == 0.11


def test_unknown_version_and_damaged_active_file(tmp_path):
    store = ProfileStore(tmp_path)
    store.save("a", ScannerProfile(), activate=True)
    with pytest.raises(ValueError, match="no profile version 5"):
        store.activate("a", 5)
    (tmp_path / "a" / "active").write_text("../../x", encoding="utf-8")
    with pytest.raises(ValueError, match="damaged"):
        store.active("a")


@pytest.mark.parametrize("name", ["", "../etc", "a/b", ".hidden", "-x", "a" * 65, "a b", "a\\b", "_x"])
def test_station_names_that_are_not_plain_names_are_refused(tmp_path, name):
    with pytest.raises(ValueError, match="station name"):
        ProfileStore(tmp_path).save(name, ScannerProfile(), activate=True)
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("name", ["school-17", "一中.扫描站2", "S_01"])
def test_plain_station_names(name):
    assert check_station(name) == name


def test_default_root_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("YUEJUAN_PROFILE_STORE", str(tmp_path))
    assert ProfileStore().root == tmp_path
