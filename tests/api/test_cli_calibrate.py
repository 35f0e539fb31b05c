"""``yuejuan calibrate`` end to end, and ``yuejuan scan --profile / --station`` reading with what it learned.

A simulated station prints its cards bolder than the render (bold 0.4 mm, outlines 0.4 mm thicker, 96 %
"fit to page"): the default profile flags most of its sheets (its rarely printed kinds, 考号 digits, the absence
mark and score boxes, read too dark). The profile from a scan of its blank card, from the
first pages of a batch, or learned from labelled pages, reads them with (almost) no flag and no wrong answer.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
from pathlib import Path

import cv2
import pytest

from api.cli import main
from omr.profile import load_profile
from omr.template import expand_page
from sample_sheets import resolve_template
from sample_sheets.simulate import SheetTruth, simulate_sheet, write_batch

BOLD_STATION = {"dpi": 200, "print_bold_mm": 0.4, "print_outline_mm": 0.4, "print_scale": 0.96}
SUMMARY = re.compile(r"pages (\d+), sheets (\d+), ok (\d+), flagged (\d+)")


def _run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


def _flagged(out: str) -> tuple[int, int]:
    """(sheets, flagged sheets) from scan's summary line."""
    match = SUMMARY.search(out)
    assert match, out
    return int(match.group(2)), int(match.group(4))


@pytest.fixture(scope="module")
def station(tmp_path_factory) -> Path:
    """blank.png (the blank card as scanned), batch/ (12 marked sheets, with truth) and learn/ (12 more)."""
    root = tmp_path_factory.mktemp("station")
    template = resolve_template("cn-a4-55")
    readings = {g.id: "" for g in expand_page(template, 1).groups}
    blank = SheetTruth(template.id, 0, "", False, {}, {}, "", 1, readings)
    (page,) = simulate_sheet(template, blank, seed=900, profile="typical",
                             overrides={**BOLD_STATION, "stray": False, "handwriting": False, "smudge": False})
    cv2.imwrite(str(root / "blank.png"), page.image)
    write_batch(template, root / "batch", count=12, seed=5, fmt="png", overrides=BOLD_STATION)
    write_batch(template, root / "learn", count=12, seed=6, fmt="png", overrides=BOLD_STATION)
    return root


@pytest.fixture(scope="module")
def default_scan(station, tmp_path_factory) -> tuple[int, int]:
    code, out, err = _run(["scan", str(station / "batch"), "--template", "cn-a4-55", "--workers", "1",
                           "--no-progress", "--out", str(tmp_path_factory.mktemp("default"))])
    assert code == 0, err
    return _flagged(out)


def test_blank_calibration_then_scan_with_the_profile(station, default_scan, tmp_path):
    code, out, err = _run(["calibrate", "blank", str(station / "blank.png"), "--template", "cn-a4-55",
                           "--out", str(tmp_path / "p.json")])
    assert code == 0, err
    assert "learned from 1 page" in out
    profile = load_profile(tmp_path / "p.json")
    assert "cn-a4-55" in profile.print_baselines and profile.source.startswith("blank:") and profile.created_at
    code, out, err = _run(["scan", str(station / "batch"), "--template", "cn-a4-55", "--workers", "1",
                           "--no-progress", "--profile", str(tmp_path / "p.json"), "--out", str(tmp_path / "out")])
    assert code == 0, err
    sheets, flagged = _flagged(out)
    assert default_scan[1] >= sheets // 2  # by default the bold print sends most sheets to review
    assert flagged < default_scan[1] and flagged <= sheets // 4
    rows = [json.loads(line) for line in (tmp_path / "out" / "results.jsonl").read_text().splitlines()]
    assert rows  # the batch was read with the profile, page by page


def test_batch_calibration_into_a_station_then_scan_with_the_station(station, default_scan, tmp_path):
    store = str(tmp_path / "store")
    code, out, err = _run(["calibrate", "batch", str(station / "batch"), "--template", "cn-a4-55", "--first", "10",
                           "--station", "school-17", "--store", store])
    assert code == 0, err
    assert "station school-17 version 1" in out
    code, out, err = _run(["scan", str(station / "batch"), "--template", "cn-a4-55", "--workers", "1",
                           "--no-progress", "--station", "school-17", "--store", store, "--out", str(tmp_path / "o")])
    assert code == 0, err
    assert _flagged(out)[1] < default_scan[1]


def test_learn_from_labelled_pages_activates_a_better_profile(station, tmp_path):
    store = str(tmp_path / "store")
    report = tmp_path / "report.json"
    code, out, err = _run(["calibrate", "learn", str(station / "learn"), "--station", "school-17", "--store", store,
                           "--report", str(report)])
    assert code == 0, err + out
    assert "is now active" in out
    data = json.loads(report.read_text())
    assert data["accepted"] and data["after"]["wrong_sure"] == 0
    assert data["after"]["flag_rate"] < data["before"]["flag_rate"]
    assert data["held_back_pages"] >= 4
    code, out, err = _run(["calibrate", "show", "--station", "school-17", "--store", store])
    assert code == 0 and "active 1" in out and "saved v1" in out
    # Learning again from the same station: the active profile already reads it; nothing better to activate.
    code, out, err = _run(["calibrate", "learn", str(station / "learn"), "--station", "school-17", "--store", store])
    assert code == 1 and "NOT activated" in out
    code, out, err = _run(["calibrate", "show", "--station", "school-17", "--store", store])
    assert "versions 1, 2; active 1" in out
    code, out, err = _run(["calibrate", "activate", "--station", "school-17", "--version", "2", "--store", store])
    assert code == 0 and "version 2 is now active" in out


@pytest.mark.parametrize("argv, message", [
    (["calibrate", "blank", "nowhere.png", "--template", "cn-a4-55", "--out", "p.json"], "no such file"),
    (["calibrate", "blank", "{blank}", "--template", "cn-a4-55"], "--out FILE and/or --station"),
    (["calibrate", "blank", "{blank}", "--template", "cn-a4-55", "--station", "../x"], "station name"),
    (["calibrate", "learn", "{blank}", "--station", "s"], "not valid JSON"),
    (["calibrate", "show", "--station", "nobody", "--store", "{store}"], "no stored profile"),
    (["scan", "{blank}", "--template", "cn-a4-55", "--station", "nobody", "--store", "{store}", "--out", "{out}"],
     "no active profile"),
])
def test_clear_errors(station, tmp_path, argv, message):
    values = {"blank": str(station / "blank.png"), "store": str(tmp_path / "store"), "out": str(tmp_path / "o")}
    code, out, err = _run([arg.format(**values) for arg in argv])
    assert code == 2
    assert message in err and "Traceback" not in err


def test_learn_from_teachers_corrections(station, tmp_path):
    """A corrections file (what teachers confirmed in review) teaches the station as the simulator's truth does."""
    folder = station / "learn"
    manifest = json.loads((folder / "manifest.json").read_text())
    pages = []
    for entry in manifest["pages"]:
        truth = json.loads((folder / entry["truth"]).read_text())
        # what the reviewers confirmed: answers, the 考号 columns, the absence mark, the score boxes
        answers = {gid: g["expected"] for gid, g in truth["groups"].items() if not g["ambiguous"]}
        pages.append({"file": f"learn/{entry['file']}", "page_index": 0, "answers": answers})
    corrections = station / "corrections.json"
    corrections.write_text(json.dumps({"template": "cn-a4-55", "pages": pages}, ensure_ascii=False))
    code, out, err = _run(["calibrate", "learn", str(corrections), "--station", "t1", "--store", str(tmp_path)])
    assert code == 0, err + out
    assert "wrong but sure 0 -> 0" in out and "is now active" in out
