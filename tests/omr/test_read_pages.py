"""read_page: a clean page reads exactly as meant; a bad page gives an error with a reason, never raises."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from omr.geometry import MM_PER_INCH
from omr.register import apply_homography, register_page
from omr.result import page_file_stem
from omr.read import REGISTRATION_UNSURE, fit_verified, prepare_template, read_page
from omr.render import render_page
from omr.template import expand_page, parse_template
from sample_sheets import TEMPLATES_DIR, resolve_template
from sample_sheets.evaluate import compare_page
from sample_sheets.simulate import random_truth, simulate_sheet

DPI = 200


@pytest.fixture(scope="module")
def template():
    return resolve_template("cn-a4-55")


@pytest.fixture(scope="module")
def prepared(template):
    return prepare_template(template)


@pytest.fixture(scope="module")
def clean(template):
    truth = random_truth(template, np.random.default_rng(21), absent_rate=0.0, multi_error_rate=0.0)
    return truth, simulate_sheet(template, truth, seed=21, profile="clean", dpi=DPI)[0]


def _error_reason(result) -> str:
    assert result.status == "error"
    assert len(result.reasons) == 1
    assert result.page is None and result.questions == {} and result.student_id is None
    return result.reasons[0]


# ----------------------------------------------------------------------------------------------------------
# Pages that cannot be read


def test_blank_white_page(prepared):
    reason = _error_reason(read_page(np.full((2339, 1654), 255, np.uint8), prepared, source="white.png"))
    assert reason.startswith("blank page")


def test_blank_grey_page(prepared):
    reason = _error_reason(read_page(np.full((2339, 1654), 200, np.uint8), prepared))
    assert reason.startswith("blank page")


def test_random_noise(prepared):
    noise = np.random.default_rng(5).integers(0, 256, (2339, 1654), dtype=np.uint8)
    assert _error_reason(read_page(noise, prepared)) == "no anchors found"


@pytest.mark.parametrize("image", [
    np.full((300, 200, 3), 255, np.uint8),  # colour
    np.full((300, 200), 1.0, np.float64),  # float
    np.full((300, 200), 255, np.int64),
    np.full((300, 200), True),
    np.full(5000, 255, np.uint8),  # 1-D
], ids=["colour", "float", "int64", "bool", "1-d"])
def test_not_a_grayscale_page(prepared, image):
    reason = _error_reason(read_page(image, prepared, source="odd.png", page_index=4))
    assert reason.startswith("not a grayscale page image")
    assert str(image.shape) in reason  # says what it got


@pytest.mark.parametrize("shape", [(10, 10), (0, 0), (31, 2000)])
def test_too_small_to_be_a_page(prepared, shape):
    reason = _error_reason(read_page(np.full(shape, 255, np.uint8), prepared, source="tiny.png", page_index=0))
    assert reason == f"image of {shape[1]}x{shape[0]} px is too small to be a scanned page: no anchors can be found"


def test_error_result_keeps_where_the_page_came_from(prepared):
    result = read_page(np.full((10, 10), 255, np.uint8), prepared, source="batch/odd.png", page_index=7)
    assert (result.source, result.page_index, result.template_id) == ("batch/odd.png", 7, "cn-a4-55")


@pytest.mark.parametrize("shape", [(32, 32), (40, 5000), (5000, 40), (120, 90), (297, 210)])
@pytest.mark.parametrize("fill", ["white", "black", "noise"])
def test_small_and_odd_shaped_images_do_not_raise(prepared, shape, fill):
    image = {"white": np.full(shape, 255, np.uint8), "black": np.zeros(shape, np.uint8),
             "noise": np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)}[fill]
    result = read_page(image, prepared)
    assert result.status == "error"
    assert result.reasons and result.reasons[0]


def test_page_of_another_template_size(prepared):
    other = resolve_template("cn-a3-100")
    truth = random_truth(other, np.random.default_rng(2), absent_rate=0.0)
    for sim in simulate_sheet(other, truth, seed=2, profile="clean", dpi=DPI):
        reason = _error_reason(read_page(sim.image, prepared))
        # Without knowing the other template: depending on whether the A3 anchors fall in the A4 search windows,
        # none found, or found (a rectangle of anchors fits any rectangle) but no A4 identity strip is there.
        assert reason in ("no anchors found", "page identity unreadable") or reason.startswith(
            "page of another template"), reason


@pytest.mark.parametrize("profile", ["clean", "typical"])
@pytest.mark.parametrize("scanned, expected", [("cn-a3-100", "cn-a4-55"), ("cn-a4-55", "cn-a3-100")])
def test_page_of_another_known_template_is_named(scanned, expected, profile):
    """A3 cards scanned against the A4 template (and the other way round): their anchors are elsewhere on the
    paper, so the page is recognised under the other template's layout and named, in English and Chinese."""
    other = resolve_template(scanned)
    prepared = prepare_template(resolve_template(expected), others=[other, resolve_template(expected)])
    assert {known.template_id for known in prepared.others} == {scanned}  # the template itself is left out
    truth = random_truth(other, np.random.default_rng(3), absent_rate=0.0)
    for sim in simulate_sheet(other, truth, seed=3, profile=profile, dpi=150):
        reason = _error_reason(read_page(sim.image, prepared, source="wrong.png"))
        assert reason == (f"page of another template {scanned} (code {other.identity_code}, page {sim.page}): "
                          f"其他答题卡模板的页面 ({scanned} 第 {sim.page} 页), 不属于本次扫描的模板")


def test_known_templates_do_not_change_what_a_page_of_this_template_reads(template, clean):
    truth, sim = clean
    alone = read_page(sim.image, prepare_template(template))
    with_others = read_page(sim.image, prepare_template(template, others=[resolve_template("cn-a3-100")]))
    assert with_others.status == alone.status == "ok"
    assert with_others.questions == alone.questions and with_others.student_id == alone.student_id


def test_page_of_another_template_with_the_same_layout(template, clean):
    """Same anchors and layout, another template code: the identity strip tells them apart."""
    data = json.loads((TEMPLATES_DIR / "cn-a4-55.json").read_text(encoding="utf-8"))
    data["id"], data["code"] = "cn-a4-55-b", template.identity_code + 1
    result = read_page(clean[1].image, prepare_template(parse_template(data)))
    reason = _error_reason(result)
    assert reason.startswith("page of another template (")  # a code no known template has: no name
    assert f"code {template.identity_code}" in reason and "page 1" in reason
    assert f"模板代码 {template.identity_code} 第 1 页" in reason


# ----------------------------------------------------------------------------------------------------------
# A clean page reads exactly


def _check_against_truth(result, sim, truth) -> None:
    assert result.status == "ok", result.reasons
    assert result.reasons == []
    assert result.page == 1
    groups = sim.truth["groups"]
    page = expand_page(resolve_template("cn-a4-55"), 1)
    questions = {g.id: groups[g.id]["expected"] for g in page.groups if g.kind == "question"}
    assert len(questions) == 55
    assert set(result.questions) == set(questions)
    for gid, expected in questions.items():
        reading = result.questions[gid]
        assert reading.marked == expected == truth.answers[gid], gid
        assert reading.status == ("ok" if expected else "blank"), gid
        assert reading.uncertain == ""
        assert reading.confidence >= 0.5
    assert result.student_id == truth.student_id
    assert result.student_id_status == "ok"
    assert result.id_grid == truth.student_id
    assert result.absent is truth.absent
    assert set(result.scores) == {"Q56", "Q57", "Q58"}
    for question, reading in result.scores.items():
        if question in truth.scores:
            assert (reading.status, reading.value) == ("ok", truth.scores[question]), question
        else:
            assert (reading.status, reading.value) == ("blank", None), question


def test_clean_page_reads_exactly(prepared, clean):
    truth, sim = clean
    assert any(truth.answers.values()) and len(truth.scores) == 3
    result = read_page(sim.image, prepared, source="clean.png")
    _check_against_truth(result, sim, truth)
    assert result.orientation == 0
    assert result.residual_mm is not None and result.residual_mm < 0.2
    assert np.array(result.page_to_image).shape == (3, 3)
    assert result.crops == {}


def test_clean_page_with_half_points_and_multi_select(template, prepared):
    # Scores with halves and multi-select questions with several answers are read exactly too.
    for seed in range(8, 40):
        truth = random_truth(template, np.random.default_rng(seed), absent_rate=0.0, multi_error_rate=0.0,
                             half_rate=1.0)
        if any(score % 1 for score in truth.scores.values()) and any(len(a) > 2 for a in truth.answers.values()):
            break
    else:
        pytest.fail("no truth with a half point and a three-option answer")
    sim = simulate_sheet(template, truth, seed=seed, profile="clean", dpi=DPI)[0]
    _check_against_truth(read_page(sim.image, prepared), sim, truth)


def test_absent_student(template, prepared):
    truth = random_truth(template, np.random.default_rng(3), absent_rate=1.0)
    assert truth.absent
    sim = simulate_sheet(template, truth, seed=3, profile="clean", dpi=DPI)[0]
    _check_against_truth(read_page(sim.image, prepared), sim, truth)


@pytest.mark.parametrize("view", ["flipped view", "fortran order", "read-only copy"])
def test_array_layouts_are_accepted(prepared, clean, view):
    truth, sim = clean
    image = {"flipped view": sim.image[::-1, ::-1], "fortran order": np.asfortranarray(sim.image),
             "read-only copy": np.frombuffer(sim.image.tobytes(), np.uint8).reshape(sim.image.shape)}[view]
    result = read_page(image, prepared)
    assert result.orientation == (180 if view == "flipped view" else 0)
    _check_against_truth(result, sim, truth)


def test_clean_page_upside_down_reads_the_same(template, prepared, clean):
    truth, _ = clean
    sim = simulate_sheet(template, truth, seed=21, profile="clean", dpi=DPI, overrides={"upside_down": True})[0]
    result = read_page(sim.image, prepared)
    assert result.orientation == 180
    _check_against_truth(result, sim, truth)


def test_double_mark_is_reported_not_guessed(template, prepared):
    truth = random_truth(template, np.random.default_rng(4), absent_rate=0.0, multi_error_rate=0.0)
    truth.answers["Q3"] = "AC"  # a single-choice question answered twice
    truth.readings = {}
    sim = simulate_sheet(template, truth, seed=4, profile="clean", dpi=DPI)[0]
    assert sim.truth["groups"]["Q3"]["expected"] == "AC"
    result = read_page(sim.image, prepared)
    assert result.status == "flagged"
    assert result.questions["Q3"].status == "multiple"
    assert result.questions["Q3"].marked == "AC"
    assert "multiple marks: Q3" in result.reasons


def test_crops_are_written(prepared, clean, tmp_path):
    truth, sim = clean
    out = tmp_path / "crops"
    result = read_page(sim.image, prepared, crop_dir=out, source="scans/sheet-7.jpg", page_index=2)
    assert result.status == "ok"
    page = prepared.pages[0].expanded
    assert set(result.crops) == {rect.id for rect in page.regions} == {"name", "answer56", "answer57", "answer58"}
    blank = render_page(page, DPI)
    scale = DPI / 25.4
    for rect in page.regions:
        path = result.crops[rect.id]
        assert path.startswith(str(out)) and path.endswith(".png")
        with open(path, "rb") as handle:
            assert handle.read(8) == b"\x89PNG\r\n\x1a\n"
        crop = cv2.imread(path, cv2.IMREAD_UNCHANGED)
        assert crop.ndim == 2 and crop.dtype == np.uint8
        rows, cols = crop.shape
        assert cols == pytest.approx(rect.w * scale, abs=2) and rows == pytest.approx(rect.h * scale, abs=2)
        assert cols / rows == pytest.approx(rect.w / rect.h, abs=1.5 / rows * rect.w / rect.h)
        # Upright and aligned: the printed outline runs along the crop's edges, and the crop is the blank
        # region as rendered (clean profile: nothing written in it), not a neighbouring piece of the page.
        for edge in (crop[:2], crop[-2:], crop[:, :2].T, crop[:, -2:].T):
            assert edge.mean(axis=1).min() < 100
        assert crop[6:-6, 6:-6].mean() > 200  # and not everywhere: inside is paper (a caption at most)
        y0, x0 = int(round(rect.y * scale)), int(round(rect.x * scale))
        expected = blank[y0:y0 + rows, x0:x0 + cols].astype(np.float64)
        assert np.abs(crop - expected).mean() < 5
    stem = page_file_stem("scans/sheet-7.jpg", 2)
    assert stem.startswith("sheet-7-") and stem.endswith("_p3")
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{stem}_{r.id}.png" for r in page.regions)


# ----------------------------------------------------------------------------------------------------------
# Every fit is verified against the printed bubble outlines: a wrong fit never gives a sure reading


def _with_false_anchor(sim, template, which: int, offset_mm: tuple[float, float]) -> np.ndarray:
    """The scan with anchor ``which`` painted out and a false one printed ``offset_mm`` beside where it was."""
    page = expand_page(template, 1)
    matrix = np.array(sim.truth["homography"], np.float64)

    def to_image(points_mm):
        return apply_homography(matrix, np.asarray(points_mm, np.float64) * DPI / MM_PER_INCH - 0.5)

    image = sim.image.copy()
    anchor = page.anchors[which]
    (x, y), = to_image([[anchor.x, anchor.y]])
    cv2.circle(image, (int(round(x)), int(round(y))), int(anchor.size * 1.2 * DPI / MM_PER_INCH), 255, -1)
    half, (dx, dy) = anchor.size / 2, offset_mm
    square = to_image([[anchor.x + dx + sx * half, anchor.y + dy + sy * half]
                       for sx, sy in ((-1, -1), (1, -1), (1, 1), (-1, 1))])
    cv2.fillPoly(image, [np.round(square).astype(np.int32)], 0)
    return image


def test_wrong_fit_from_a_false_anchor_reads_nothing_sure(template, prepared, clean, monkeypatch):
    truth, sim = clean
    image = _with_false_anchor(sim, template, 3, (-3.0, 3.0))  # four anchors that agree within the residual limit
    # Verification alone (refinement, which corrects this fit, is tested in test_refine.py).
    monkeypatch.setattr("omr.read.refine_transform", lambda *args: None)

    result = read_page(image, prepared)
    assert REGISTRATION_UNSURE in result.reasons and result.status == "flagged"
    assert result.questions and all(q.status == "uncertain" and not q.marked for q in result.questions.values())
    assert all(score.status == "uncertain" for score in result.scores.values())
    assert set(result.id_grid) == {"?"}  # the 考号 grid is not trusted; the barcode (checksummed) still may be
    assert result.student_id is None or result.student_id == result.barcode == truth.student_id
    accuracy = compare_page(result, sim.truth, template)
    assert accuracy.wrong_sure == 0 and accuracy.correct_sure == 0, accuracy.line()

    # Guard: the fit really is wrong: unverified, the same page reports wrong readings as sure.
    monkeypatch.setattr("omr.read.fit_verified", lambda *args: True)
    assert compare_page(read_page(image, prepared), sim.truth, template).wrong_sure >= 5


@pytest.mark.parametrize("profile, seed", [("typical", 1), ("typical", 2), ("typical", 8), ("hard", 3)])
def test_right_fit_is_verified_and_a_perturbed_one_is_not(template, prepared, profile, seed):
    truth = random_truth(template, np.random.default_rng(seed))
    sim = simulate_sheet(template, truth, seed=seed, profile=profile)[0]
    fit = register_page(sim.image, prepared.pages[0].expanded)[0]
    page = prepared.pages[0]
    assert fit_verified(sim.image, page, fit.page_to_image, fit.ink_level)

    shift = np.array([[1, 0, 0.0], [0, 1, 0.8 * fit.px_per_mm], [0, 0, 1]])  # 0.8 mm down
    turn = cv2.getRotationMatrix2D((sim.image.shape[1] / 2, sim.image.shape[0] / 2), 0.5, 1.0)
    for wrong in (shift @ fit.page_to_image, np.vstack([turn, [0, 0, 1]]) @ fit.page_to_image,
                  fit.page_to_image @ np.diag([1.015, 1.015, 1.0])):
        assert not fit_verified(sim.image, page, wrong, fit.ink_level)


def test_typical_pages_read_with_their_fits_verified(template, prepared):
    for seed in range(20):
        sim = simulate_sheet(template, random_truth(template, np.random.default_rng(seed)), seed=seed,
                             profile="typical")[0]
        result = read_page(sim.image, prepared)
        assert REGISTRATION_UNSURE not in result.reasons, (seed, result.reasons)


@pytest.mark.parametrize("which, offset", [(1, (5.0, 5.0)), (3, (-5.0, 5.0)), (3, (4.5, -4.5))])
def test_false_anchor_that_breaks_the_fit_is_left_out_by_the_printed_outlines(template, prepared, clean, which,
                                                                               offset):
    # Four anchors disagree beyond the residual limit; any three fit exactly, so only the printed content can tell
    # which one is false: the fit on the other three is chosen and the page reads right.
    truth, sim = clean
    image = _with_false_anchor(sim, template, which, offset)
    result = read_page(image, prepared)
    assert REGISTRATION_UNSURE not in result.reasons  # verified on three anchors: no "anchor missing" either
    assert not any(reason.startswith("anchor missing") for reason in result.reasons), result.reasons
    accuracy = compare_page(result, sim.truth, template)
    assert accuracy.wrong_sure == 0 and accuracy.correct_sure == accuracy.groups, accuracy.line()


@pytest.mark.parametrize("seed", [3, 6])
def test_sticker_too_fine_for_the_reduced_page_is_read_at_full_size(template, prepared, seed):
    # A label printer's 0.25 mm bars (2 dots at 203 dpi) are mush on a JPEG page decoded at ~100 dpi: the label is
    # cut again from the page decoded at full size, which is decoded only for a page whose label did not read.
    from omr.batch import decode_min_side_px
    from omr.load import load_array

    truth = random_truth(template, np.random.default_rng(seed))
    sim = simulate_sheet(template, truth, seed=seed, profile="typical",
                         overrides={"label_module_mm": 0.25, "jpeg_quality": 90.0, "dpi": 200})[0]
    loaded = load_array(sim.jpeg, reduce_jpeg_to_min_px=decode_min_side_px(template))[0]
    assert loaded.reduction > 1 and loaded.full_size is not None
    calls = []

    def full_size():
        calls.append(1)
        return loaded.full_size()

    assert read_page(loaded.image, prepared).barcode is None  # the reduced page alone does not read it
    result = read_page(loaded.image, prepared, full_size=full_size)
    assert result.barcode == sim.truth["barcode"] and len(calls) == 1
    # A label the reduced page reads (the simulator's usual 0.36-0.42 mm bars) never asks for the full size.
    usual = simulate_sheet(template, truth, seed=seed, profile="typical", overrides={"jpeg_quality": 90.0})[0]
    loaded = load_array(usual.jpeg, reduce_jpeg_to_min_px=decode_min_side_px(template))[0]
    calls.clear()
    assert read_page(loaded.image, prepared, full_size=full_size).barcode == usual.truth["barcode"] and not calls
