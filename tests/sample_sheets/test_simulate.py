"""Scan simulator: determinism, every effect on its own, every mark kind, truth consistency, output formats."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from omr.code128 import decode_region
from omr.geometry import mm_to_px, page_shape_px
from omr.template import expand_page
from sample_sheets import resolve_template
from sample_sheets.marks import FILL_STROKES, MARK_KINDS
from sample_sheets.simulate import (BUBBLE_STATES, PROFILES, Range, SheetTruth, intended_readings, make_roster,
                                    random_truth, resolve_profile, simulate_sheet, write_batch)

A4 = resolve_template("cn-a4-55")
A3 = resolve_template("cn-a3-100")
READ_STATES = {"filled", "partial", "offcentre", "tick", "cross", "faint"}


def _truth(seed: int = 1, template=A4, **kwargs) -> SheetTruth:
    return random_truth(template, np.random.default_rng(seed), **kwargs)


def _one(seed: int = 3, profile: str = "clean", overrides: dict | None = None, truth: SheetTruth | None = None,
         **kwargs):
    return simulate_sheet(A4, truth or _truth(), seed=seed, profile=profile, overrides=overrides, **kwargs)[0]


def _check_consistent(page_truth: dict, truth: SheetTruth) -> None:
    """The recorded truth agrees with itself and with what was meant."""
    json.dumps(page_truth)
    groups = page_truth["groups"]
    for gid, g in groups.items():
        assert set(g["bubbles"].values()) <= set(BUBBLE_STATES), gid
        assert g["expected"] == "".join(label for label, s in g["bubbles"].items() if s in READ_STATES), gid
        assert g["expected"] == truth.readings[gid], gid
        hesitant = any(s in ("faint", "tick", "cross", "smudge") for s in g["bubbles"].values())
        hesitant |= any(m["state"] == "erased" and m["residue"] >= 0.15 for m in g["marks"].values())
        hesitant |= any(m["state"] in ("filled", "partial", "offcentre") and m["coverage"] < 0.6
                        for m in g["marks"].values())
        # ... or the scan makes a bubble look unlike what it holds (or lost it outside the frame)
        borderline = False  # the recorded look is rounded to 0.01: at a limit, it cannot tell
        if page_truth["scan_reference"] is not None:
            for label, look in g["scan"].items():
                if look is None:
                    hesitant = True
                elif g["bubbles"][label] in READ_STATES:
                    hesitant |= look <= 0.45
                    borderline |= abs(look - 0.45) < 0.006
                else:
                    hesitant |= look >= 0.3
                    borderline |= abs(look - 0.3) < 0.006
        assert g["ambiguous"] == hesitant or borderline, gid
    for gid, answer in page_truth["answers"].items():
        assert groups[gid]["expected"] == answer == truth.answers[gid]
    columns = [g for g in groups if g.startswith("exam_id[")]
    if columns:
        assert "".join(groups[g]["expected"] for g in sorted(columns, key=lambda s: int(s[8:-1]))) == truth.student_id
    if "absent" in groups:
        assert groups["absent"]["expected"] == ("absent" if truth.absent else "")
    for question, score in truth.scores.items():
        field = "score" + question[1:]
        tens, units = groups[f"{field}[10]"]["expected"], groups[f"{field}[1]"]["expected"]
        half = groups[f"{field}[0.5]"]["expected"]
        assert int(tens or 0) * 10 + int(units) + (0.5 if half else 0.0) == score


def _anchor_centroid(image: np.ndarray, x: float, y: float, half: int) -> np.ndarray:
    x0, y0 = max(0, int(round(x)) - half), max(0, int(round(y)) - half)
    window = (image[y0:int(round(y)) + half, x0:int(round(x)) + half] < 128).astype(np.uint8)
    count, _, stats, centroids = cv2.connectedComponentsWithStats(window)
    biggest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    return centroids[biggest] + (x0, y0)


def _check_anchors(sim, dpi: int = 200, min_inside: int = 4) -> None:
    """Every anchor lands where the truth homography says, within 2 px."""
    page = expand_page(A4, sim.page)
    matrix = np.array(sim.truth["homography"])
    checked = 0
    for anchor in page.anchors:
        point = np.array([[[mm_to_px(anchor.x, dpi), mm_to_px(anchor.y, dpi)]]])
        expected = cv2.perspectiveTransform(point, matrix)[0, 0]
        recorded = sim.truth["anchors"][anchor.id]
        assert np.allclose([recorded["x"], recorded["y"]], expected, atol=0.01)
        if not recorded["inside"]:  # cut by the frame: its visible part has another centroid
            continue
        checked += 1
        found = _anchor_centroid(sim.image, expected[0], expected[1], int(anchor.size * dpi / 25.4))
        assert np.hypot(*(found - expected)) < 2.0, (anchor.id, found, expected)
    assert checked >= min_inside


# ----------------------------------------------------------------------------------------------------------
# Truth


def test_random_truth_is_realistic_and_deterministic() -> None:
    a, b = _truth(5), _truth(5)
    assert a == b and _truth(6) != a
    assert len(a.student_id) == 10 and a.student_id.isdigit() and a.barcode == a.student_id
    truth = _truth(8, blank_rate=0.0, multi_error_rate=0.0, absent_rate=0.0)
    for n in range(1, 56):
        answer = truth.answers[f"Q{n}"]
        if n <= 40:
            assert len(answer) == 1 and answer in "ABCD"
        elif n <= 50:
            assert 1 <= len(answer) <= 4 and answer == "".join(sorted(answer))
        else:
            assert answer in ("T", "F")
    for question, top in (("Q56", 12), ("Q57", 14), ("Q58", 20)):
        assert 0 <= truth.scores[question] <= top and (truth.scores[question] * 2).is_integer()


def test_random_truth_rates() -> None:
    doubled = _truth(2, multi_error_rate=1.0, blank_rate=0.0)
    assert all(len(doubled.answers[f"Q{n}"]) == 2 for n in range(1, 41))
    absent = _truth(3, absent_rate=1.0)
    assert absent.absent and absent.readings["absent"] == "absent"
    halves = [_truth(s, half_rate=1.0).scores for s in range(5)]
    assert any(v % 1 == 0.5 for scores in halves for v in scores.values())


def test_intended_readings_of_a_hand_made_truth() -> None:
    truth = SheetTruth("cn-a4-55", 0, "2026010023", False, {"Q1": "B", "Q41": "ACD"}, {"Q56": 9.5}, "2026010023", 1)
    readings = intended_readings(A4, truth)
    assert readings["Q1"] == "B" and readings["Q41"] == "ACD" and readings["Q2"] == ""
    assert "".join(readings[f"exam_id[{i}]"] for i in range(10)) == "2026010023"
    assert readings["score56[10]"] == "" and readings["score56[1]"] == "9" and readings["score56[0.5]"] == "½"
    sim = _one(truth=truth)
    assert sim.truth["groups"]["Q41"]["expected"] == "ACD"
    assert sim.truth["groups"]["Q1"]["bubbles"] == {"A": "empty", "B": "filled", "C": "empty", "D": "empty"}


def test_roster_ids() -> None:
    roster = make_roster(4, np.random.default_rng(0), minimum=250)
    assert len(roster) >= 250 and roster == sorted(roster)
    assert all(len(s) == 10 and s.startswith("2026") for s in roster)
    assert {s[4:6] for s in roster} == {"01", "02", "03", "04"}


# ----------------------------------------------------------------------------------------------------------
# Determinism and the clean profile


def test_same_seed_same_pixels_different_seed_different() -> None:
    truth = _truth(4)
    first = simulate_sheet(A4, truth, seed=11, profile="hard")[0]
    again = simulate_sheet(A4, truth, seed=11, profile="hard")[0]
    other = simulate_sheet(A4, truth, seed=12, profile="hard")[0]
    assert np.array_equal(first.image, again.image) and first.truth == again.truth
    assert first.image.shape != other.image.shape or not np.array_equal(first.image, other.image)


def test_clean_profile_has_no_distortion() -> None:
    sim = _one()
    assert sim.image.shape == page_shape_px(210, 297, 200)
    assert np.allclose(np.array(sim.truth["homography"]), np.eye(3))
    scanner = sim.truth["scanner"]
    assert scanner["rotation_deg"] == 0 and scanner["scale"] == 1 and scanner["jpeg_quality"] is None
    assert scanner["binarize"] == "none" and scanner["noise"] == 0 and scanner["blur"] == 0
    assert not scanner["upside_down"]
    assert set(s for g in sim.truth["groups"].values() for s in g["bubbles"].values()) <= {"filled", "empty"}
    assert not any(g["ambiguous"] for g in sim.truth["groups"].values())
    _check_anchors(sim)


# ----------------------------------------------------------------------------------------------------------
# Every distortion on its own

SINGLE_EFFECTS = [
    ("rotation_deg", 4.0), ("shift_mm", 3.0), ("scale", 1.03), ("perspective", 0.01), ("blur", 1.2),
    ("noise", 8.0), ("brightness", -15.0), ("contrast", 0.8), ("gamma", 1.3), ("paper", 225.0),
    ("lighting", 0.08), ("bleed", 0.12), ("dust", 30), ("jpeg_quality", 60),
]
GEOMETRIC = {"rotation_deg", "shift_mm", "scale", "perspective"}


@pytest.fixture(scope="module")
def clean_page():
    return _one()


@pytest.mark.parametrize(("key", "value"), SINGLE_EFFECTS)
def test_each_effect_alone(clean_page, key: str, value: float) -> None:
    sim = _one(overrides={key: value})
    scanner, base = sim.truth["scanner"], clean_page.truth["scanner"]
    recorded = scanner[key]
    assert (recorded == [value, value]) if isinstance(recorded, list) else recorded == pytest.approx(value)
    changed = {k for k in scanner if scanner[k] != base[k]} - {"texture_seed", "lid"}
    assert changed == {key}
    assert sim.image.shape != clean_page.image.shape or not np.array_equal(sim.image, clean_page.image)
    # The marks do not depend on the scanner (only how they look in the scan does).
    paper = ("kind", "expected", "bubbles", "ink", "marks")
    assert all({k: g[k] for k in paper} == {k: clean_page.truth["groups"][gid][k] for k in paper}
               for gid, g in sim.truth["groups"].items())
    if key in GEOMETRIC:
        _check_anchors(sim, min_inside=2 if key == "rotation_deg" else 4)
    if key == "scale":
        assert sim.image.shape == tuple(round(n * 1.03) for n in clean_page.image.shape)
    if key == "jpeg_quality":
        assert sim.jpeg[:2] == b"\xff\xd8"
        decoded = cv2.imdecode(np.frombuffer(sim.jpeg, np.uint8), cv2.IMREAD_GRAYSCALE)
        assert np.array_equal(decoded, sim.image)  # the in-memory page carries the JPEG artefacts
        assert 0 < np.abs(sim.image.astype(int) - clean_page.image).mean() < 3
    else:
        assert sim.jpeg is None


def test_rotation_moves_anchor_as_the_homography_says() -> None:
    sim = _one(overrides={"rotation_deg": -3.0, "shift_mm": 1.5, "scale": 0.98})
    assert sim.truth["scanner"]["rotation_deg"] == -3.0
    _check_anchors(sim)
    tilted = _one(overrides={"rotation_deg": 5.0})  # a 5 degree turn pushes corner anchors out of an A4 frame
    assert not all(a["inside"] for a in tilted.truth["anchors"].values())
    overscan = _one(overrides={"rotation_deg": 5.0, "overscan_mm": 8})  # unless the scan area is larger
    assert overscan.image.shape == page_shape_px(226, 313, 200)
    _check_anchors(overscan)


def test_upside_down_puts_top_left_anchor_bottom_right(clean_page) -> None:
    sim = _one(overrides={"upside_down": True})
    assert sim.truth["scanner"]["upside_down"]
    rows, cols = sim.image.shape
    tl = next(a for a in expand_page(A4, 1).anchors if a.id == "tl")
    x, y = mm_to_px(tl.x, 200), mm_to_px(tl.y, 200)
    found = _anchor_centroid(sim.image, cols - 1 - x, rows - 1 - y, 40)
    assert np.hypot(found[0] - (cols - 1 - x), found[1] - (rows - 1 - y)) < 2.0
    assert np.array_equal(sim.image, clean_page.image[::-1, ::-1])
    _check_anchors(sim)


@pytest.mark.parametrize("mode", ["threshold", "dither"])
def test_one_bit_output(mode: str) -> None:
    sim = _one(overrides={"binarize": mode, "jpeg_quality": 80})
    assert set(np.unique(sim.image)) == {0, 255}
    assert sim.truth["scanner"]["binarize"] == mode and sim.truth["scanner"]["jpeg_quality"] is None
    assert sim.jpeg is None


@pytest.mark.parametrize("dpi", [150, 300])
def test_dpi_sets_image_shape(dpi: int) -> None:
    sim = _one(dpi=dpi)
    assert sim.image.shape == page_shape_px(210, 297, dpi) and sim.truth["dpi"] == dpi
    via_override = _one(overrides={"dpi": dpi})
    assert via_override.image.shape == sim.image.shape


def test_unknown_override_and_profile_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown override"):
        resolve_profile("clean", {"rotation": 3})
    with pytest.raises(ValueError, match="unknown mark"):
        resolve_profile("clean", {"mark": "scribble"})
    with pytest.raises(ValueError):
        resolve_profile("nope")
    assert resolve_profile("typical", {"rotation_deg": True}).rotation_deg == PROFILES["hard"].rotation_deg
    assert resolve_profile("hard", {"rotation_deg": False}).rotation_deg == Range()
    no_ticks = resolve_profile("hard", {"mark_tick": False, "mark_cross": 0, "tool_pen_red": 0.2})
    assert "tick" not in dict(no_ticks.marks) and "cross" not in dict(no_ticks.marks)
    assert dict(no_ticks.tools)["pen_red"] == 0.2 and dict(no_ticks.marks)["filled"] == 0.45
    assert dict(resolve_profile("clean", {"mark_faint": True}).marks) == {"filled": 1.0, "faint": 0.1}
    with pytest.raises(ValueError):
        resolve_profile("clean", {"mark_filled": False})


def test_feeder_geometry_overrides_and_dark_background() -> None:
    assert resolve_profile("clean", {"lid_dark": True}).lid_dark == PROFILES["feeder"].lid_dark
    assert resolve_profile("clean", {"shift_y_mm": True}).shift_y_mm == PROFILES["hard"].shift_mm
    truth = random_truth(A4, np.random.default_rng(3))
    one_axis = simulate_sheet(A4, truth, seed=3, profile="clean", overrides={"shift_mm": 8.0, "shift_y_mm": 0.0})
    assert one_axis[0].params.shift_mm == (8.0, 0.0)
    lids = [simulate_sheet(A4, truth, seed=seed, profile="feeder")[0].params.lid for seed in range(12)]
    assert any(lid <= 40 for lid in lids) and any(lid >= 225 for lid in lids)  # black-backed and light feeders


# ----------------------------------------------------------------------------------------------------------
# Every mark kind


@pytest.mark.parametrize("kind", MARK_KINDS)
def test_each_mark_kind_is_drawn_and_recorded(clean_page, kind: str) -> None:
    truth = _truth()
    sim = _one(overrides={"mark": kind}, truth=truth)
    _check_consistent(sim.truth, truth)
    marked = [(gid, label) for gid, g in sim.truth["groups"].items() for label, s in g["bubbles"].items()
              if s != "empty"]
    assert marked and all(sim.truth["groups"][gid]["bubbles"][label] == kind for gid, label in marked)
    for gid, label in marked:
        group = sim.truth["groups"][gid]
        assert group["ink"][label] > (0.05 if kind == "faint" else 0.15)
        assert group["marks"][label]["coverage"] > 0
        if kind in ("faint", "tick", "cross"):
            assert group["ambiguous"]
    # "filled" is what the clean profile draws anyway: the same pixels.
    assert np.array_equal(sim.image, clean_page.image) == (kind == "filled")


def test_partial_fill_coverage_is_recorded() -> None:
    truth = _truth()
    sim = _one(overrides={"mark": "partial", "partial_coverage": 0.5}, truth=truth)
    coverages = [m["coverage"] for g in sim.truth["groups"].values() for m in g["marks"].values()]
    assert coverages and max(coverages) < 0.85 and min(coverages) > 0.2
    assert any(g["ambiguous"] for g in sim.truth["groups"].values())
    _check_consistent(sim.truth, truth)


@pytest.mark.parametrize(("residue", "ambiguous"), [(0.05, False), (0.3, True)])
def test_erasure_residue(residue: float, ambiguous: bool) -> None:
    truth = _truth()
    sim = _one(overrides={"erasure": residue}, truth=truth)
    _check_consistent(sim.truth, truth)
    erased = [(g, label) for g in sim.truth["groups"].values() for label, s in g["bubbles"].items() if s == "erased"]
    assert len(erased) > 50
    for group, label in erased:
        assert label not in group["expected"] and group["ink"][label] > 0.005
        assert group["ambiguous"] == ambiguous or any(s != "filled" for s in group["bubbles"].values()
                                                      if s not in ("empty", "erased"))


def test_smudges_on_bubbles_are_recorded() -> None:
    truth = _truth()
    sim = _one(overrides={"smudge_on_bubble": 3}, truth=truth)
    _check_consistent(sim.truth, truth)
    smudged = [g for g in sim.truth["groups"].values() if "smudge" in g["bubbles"].values()]
    assert len(smudged) >= 2 and all(g["ambiguous"] for g in smudged)


def test_stray_marks_spills_and_offcentre_fills_keep_clear_of_other_bubbles(clean_page) -> None:
    truth = _truth()
    for overrides in ({"stray": 15, "smudge": 5}, {"spill": 1.5}, {"mark": "offcentre", "offcentre_mm": 1.6}):
        sim = _one(overrides=overrides, truth=truth)
        _check_consistent(sim.truth, truth)
        assert not np.array_equal(sim.image, clean_page.image)
        for gid, group in sim.truth["groups"].items():
            for label, state in group["bubbles"].items():
                if clean_page.truth["groups"][gid]["bubbles"][label] == "empty":
                    assert state == "empty", (overrides, gid, label)


@pytest.mark.parametrize("strokes", [style for style in FILL_STROKES if style != "ellipse"])
def test_each_way_of_stroking_a_fill_is_drawn_recorded_and_kept_off_other_bubbles(clean_page, strokes: str) -> None:
    truth = _truth()
    sim = _one(overrides={"strokes": strokes}, truth=truth)
    _check_consistent(sim.truth, truth)
    assert not np.array_equal(sim.image, clean_page.image)
    fills = [m for g in sim.truth["groups"].values() for m in g["marks"].values() if m["state"] == "filled"]
    assert fills and all(m["strokes"] == strokes for m in fills)
    assert 0.55 < np.median([m["coverage"] for m in fills]) < 1.0  # a mark, though not the careful fill
    for gid, group in sim.truth["groups"].items():  # nothing lands on a neighbouring bubble
        for label, state in group["bubbles"].items():
            if clean_page.truth["groups"][gid]["bubbles"][label] == "empty":
                assert state == "empty", (strokes, gid, label)


def test_writer_darkness_and_its_spread_within_a_sheet() -> None:
    truth = _truth()

    def darkness(overrides: dict) -> np.ndarray:
        sim = _one(overrides=overrides, truth=truth)
        _check_consistent(sim.truth, truth)
        return np.array([m["darkness"] for g in sim.truth["groups"].values() for m in g["marks"].values()])

    light = darkness({"writer_darkness": 0.45})
    assert abs(np.median(light) - 0.45) < 0.02 and light.std() < 0.05  # one pressure, a little jitter
    varied = darkness({"writer_darkness": 0.6, "darkness_spread": 0.25})
    assert abs(np.median(varied) - 0.6) < 0.03
    assert varied.min() < 0.6 * 0.85 and varied.max() > 0.6 * 1.15  # +-25 % mark by mark
    assert varied.min() > 0.6 * 0.75 - 0.12 and varied.max() < 0.6 * 1.25 + 0.12


def test_tools_are_recorded() -> None:
    sim = _one(overrides={"tool": "pen_blue"})
    tools = {m["tool"] for g in sim.truth["groups"].values() for m in g["marks"].values()}
    assert tools == {"pen_blue"}


def test_hard_truth_is_consistent_for_both_templates() -> None:
    for seed in range(3):
        truth = _truth(seed + 20, absent_rate=0.3)
        for profile in ("typical", "hard"):
            for sim in simulate_sheet(A4, truth, seed=seed, profile=profile):
                _check_consistent(sim.truth, truth)
    truth = _truth(9, template=A3)
    pages = simulate_sheet(A3, truth, seed=9, profile="hard", dpi=150)
    assert [p.page for p in pages] == [1, 2]
    for sim in pages:
        _check_consistent(sim.truth, truth)
    states = {s for seed in range(3) for sim in simulate_sheet(A4, _truth(seed), seed=seed, profile="hard")
              for g in sim.truth["groups"].values() for s in g["bubbles"].values()}
    assert {"filled", "partial", "offcentre", "faint", "empty"} <= states


# ----------------------------------------------------------------------------------------------------------
# Labels


def _crop(sim, rect, dpi: int, pad_mm: float = 2.0) -> np.ndarray:
    corners = np.array([[[mm_to_px(x, dpi), mm_to_px(y, dpi)]] for x in (rect.x - pad_mm, rect.x + rect.w + pad_mm)
                        for y in (rect.y - pad_mm, rect.y + rect.h + pad_mm)])
    mapped = cv2.perspectiveTransform(corners, np.array(sim.truth["homography"]))[:, 0]
    x0, y0 = np.floor(mapped.min(axis=0)).astype(int)
    x1, y1 = np.ceil(mapped.max(axis=0)).astype(int)
    return sim.image[max(y0, 0):y1, max(x0, 0):x1]


def test_code128_label_reads_back_from_typical_scans() -> None:
    rect = expand_page(A4, 1).barcodes[0]
    read = 0
    for seed in range(5):
        truth = _truth(seed)
        sim = simulate_sheet(A4, truth, seed=seed, profile="typical", overrides={"upside_down": False})[0]
        text = decode_region(_crop(sim, rect, sim.truth["dpi"]))
        assert text in (truth.barcode, None)
        read += text == truth.barcode
    assert read >= 4


def test_qr_label_reads_back() -> None:
    truth = _truth(2, template=A3)
    sim = simulate_sheet(A3, truth, seed=2, profile="clean")[0]
    text, _, _ = cv2.QRCodeDetector().detectAndDecode(_crop(sim, expand_page(A3, 1).barcodes[0], 200))
    assert text == truth.barcode


# ----------------------------------------------------------------------------------------------------------
# Batches and formats


def test_batch_jpg_is_byte_identical_by_seed(tmp_path: Path) -> None:
    one = write_batch(A4, tmp_path / "a", count=2, seed=5, profile="typical", fmt="jpg", dpi=150)
    two = write_batch(A4, tmp_path / "b", count=2, seed=5, profile="typical", fmt="jpg", dpi=150)
    assert one == two and len(one["pages"]) == 2
    for entry in one["pages"]:
        assert (tmp_path / "a" / entry["file"]).read_bytes() == (tmp_path / "b" / entry["file"]).read_bytes()
        truth = json.loads((tmp_path / "a" / entry["truth"]).read_text(encoding="utf-8"))
        assert entry["truth"] == entry["file"].rsplit(".", 1)[0] + ".truth.json"
        assert truth["student_id"] == entry["student_id"] and truth["dpi"] == 150
        image = cv2.imread(str(tmp_path / "a" / entry["file"]), cv2.IMREAD_GRAYSCALE)
        assert list(image.shape[::-1]) == truth["image_size"]
    assert json.loads((tmp_path / "a" / "manifest.json").read_text()) == one
    three = write_batch(A4, tmp_path / "c", count=1, seed=6, profile="typical", fmt="jpg", dpi=150)
    assert (tmp_path / "c" / three["pages"][0]["file"]).read_bytes() != \
        (tmp_path / "a" / one["pages"][0]["file"]).read_bytes()


def test_batch_png_one_bit_and_roster(tmp_path: Path) -> None:
    manifest = write_batch(A4, tmp_path, count=3, seed=1, profile="clean", fmt="png", classes=4,
                           overrides={"binarize": "threshold"})
    ids = [entry["student_id"] for entry in manifest["pages"]]
    assert ids == sorted(ids) and all(s.startswith("202601") for s in ids)
    with Image.open(tmp_path / manifest["pages"][0]["file"]) as image:
        assert image.mode == "1" and round(image.info["dpi"][0]) == 200


def test_batch_multi_page_tiff(tmp_path: Path) -> None:
    manifest = write_batch(A3, tmp_path, count=2, seed=3, profile="clean", fmt="tif", dpi=150,
                           overrides={"binarize": "dither"})
    assert manifest["files"] == [{"file": "batch.tif", "pages": 4}]
    assert [e["truth"] for e in manifest["pages"]] == [f"batch.p{k:04d}.truth.json" for k in range(1, 5)]
    order = [(e["sheet"], e["page"], e["frame"]) for e in manifest["pages"]]
    assert order == [(0, 1, 0), (0, 2, 1), (1, 1, 2), (1, 2, 3)]
    with Image.open(tmp_path / "batch.tif") as tiff:
        assert tiff.n_frames == 4
        for k in range(4):
            tiff.seek(k)
            assert tiff.mode == "1" and tiff.size == page_shape_px(297, 420, 150)[::-1]
            assert tiff.info["compression"] == "group4"
    gray = write_batch(A4, tmp_path / "gray", count=1, seed=3, profile="typical", fmt="tif")
    with Image.open(tmp_path / "gray" / "batch.tif") as tiff:
        truth = json.loads((tmp_path / "gray" / gray["pages"][0]["truth"]).read_text())
        assert tiff.mode == "L" and list(tiff.size) == truth["image_size"]


@pytest.mark.skipif(shutil.which("pdfinfo") is None, reason="poppler-utils not installed")
def test_batch_pdf_has_physical_page_size(tmp_path: Path) -> None:
    manifest = write_batch(A4, tmp_path, count=3, seed=2, profile="clean", fmt="pdf", dpi=150,
                           overrides={"jpeg_quality": 85})
    info = subprocess.run(["pdfinfo", str(tmp_path / "batch.pdf")], capture_output=True, text=True, check=True).stdout
    assert "Pages:           3" in info
    size = next(line for line in info.splitlines() if line.startswith("Page size:")).split()
    assert abs(float(size[2]) - 595.28) < 1.0 and abs(float(size[4]) - 841.89) < 1.0
    assert len(manifest["pages"]) == 3
    rendered = subprocess.run(["pdftoppm", "-r", "150", "-f", "1", "-l", "1", "-gray", str(tmp_path / "batch.pdf")],
                              capture_output=True, check=True).stdout
    page = cv2.imdecode(np.frombuffer(rendered, np.uint8), cv2.IMREAD_GRAYSCALE)
    sim = simulate_sheet(A4, random_truth(A4, np.random.default_rng([manifest["pages"][0]["seed"], 1])),
                         seed=manifest["pages"][0]["seed"], profile="clean", dpi=150, overrides={"jpeg_quality": 85})[0]
    assert page.shape == sim.image.shape
    # poppler resamples with a sub-pixel offset: the same picture, shifted by less than a pixel.
    (dx, dy), response = cv2.phaseCorrelate(page.astype(np.float32), sim.image.astype(np.float32))
    assert np.hypot(dx, dy) < 1.0 and response > 0.9


def test_write_batch_refuses_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        write_batch(A4, tmp_path, count=1, seed=1, fmt="bmp")
    with pytest.raises(ValueError):
        write_batch(A4, tmp_path, count=0, seed=1)
