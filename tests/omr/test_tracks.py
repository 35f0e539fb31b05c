"""Timing tracks (同步头): bubble rows and columns follow the bars when the feed stretches the page unevenly."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from omr.geometry import MM_PER_INCH
from omr.read import prepare_template, read_page
from omr.reason_text import reason_zh
from omr.register import apply_homography
from omr.template import TimingTrack, load_template, parse_template
from omr.tracks import TRACKS_DISAGREE, TrackReading, read_track, timing_corrected, track_offsets
from sample_sheets.evaluate import Accuracy, compare_page
from sample_sheets.scanner import ScanParams, feed_rows, scan, scan_points
from sample_sheets.simulate import random_truth, simulate_sheet

TIMING_CARD = Path(__file__).parent / "data" / "timing_card.json"
DRIFT = {"feed_drift": 0.02, "feed_cycles": 1.0}  # the local stretch along the feed wanders between 98 and 102 %


@pytest.fixture(scope="module")
def card():
    return load_template(TIMING_CARD)


@pytest.fixture(scope="module")
def prepared(card):
    return prepare_template(card)


@pytest.fixture(scope="module")
def prepared_bare(card):
    """The same card without its tracks: what a reader without 同步头 makes of the same scans."""
    data = card.model_dump()
    data["pages"][0]["timing"] = []
    return prepare_template(parse_template(data))


@pytest.fixture(scope="module")
def truth(card):
    return random_truth(card, np.random.default_rng(2), absent_rate=0.0, multi_error_rate=0.0)


def _true_centres(sim, centres_mm: np.ndarray) -> np.ndarray:
    """Where the simulator put template points in its scan (through the print, the scanner and the feed)."""
    dpi = sim.truth["dpi"]
    return scan_points(sim.params, np.array(sim.truth["homography"]), centres_mm * dpi / MM_PER_INCH - 0.5,
                       sim.image.shape)


def _misplaced_mm(image: np.ndarray, prepared, result, true_px: np.ndarray) -> np.ndarray:
    """How far (mm) from where they are the reader put every bubble centre: its fit, then its tracks."""
    fit = np.array(result.page_to_image)
    page, _ = timing_corrected(image, prepared.pages[0], fit)
    px_per_mm = float(np.sqrt(abs(np.linalg.det(fit[:2, :2]))))
    return np.linalg.norm(apply_homography(fit, page.centres_mm) - true_px, axis=1) / px_per_mm


def _sure_and_right(result, answers: dict[str, str]) -> int:
    return sum(result.questions[q].status in ("ok", "blank") and result.questions[q].marked == a
               for q, a in answers.items())


@pytest.mark.parametrize("seed, dpi, binarize", [(0, 200, "none"), (1, 150, "none"), (1, 300, "threshold")])
def test_late_rows_read_right_with_tracks_and_not_without(card, prepared, prepared_bare, truth, seed, dpi, binarize):
    sim = simulate_sheet(card, truth, seed=seed, profile="clean", dpi=dpi, overrides={**DRIFT, "binarize": binarize})[0]
    true_px = _true_centres(sim, prepared.pages[0].centres_mm)
    answers = sim.truth["answers"]

    tracked = read_page(sim.image, prepared)
    assert tracked.status == "ok", tracked.reasons
    assert _sure_and_right(tracked, answers) == len(answers)
    assert _misplaced_mm(sim.image, prepared, tracked, true_px).max() <= 0.3

    untracked = read_page(sim.image, prepared_bare)  # the same scan, no tracks to go by
    off = _misplaced_mm(sim.image, prepared_bare, untracked, true_px)
    assert off.max() > 0.6, "the drift must be one the global fit cannot follow"
    assert _sure_and_right(untracked, answers) < len(answers)
    print(f"\nseed {seed}, {dpi} dpi {binarize}: bubble centres off by at most {off.max():.2f} mm without tracks, "
          f"{_misplaced_mm(sim.image, prepared, tracked, true_px).max():.2f} mm with; "
          f"sure and right {_sure_and_right(untracked, answers)} -> {_sure_and_right(tracked, answers)} of "
          f"{len(answers)}")


def test_columns_follow_a_page_fed_sideways(card, prepared, truth):
    """Turned a quarter, the page is fed along its width: the top track's bars move the columns."""
    sim = simulate_sheet(card, truth, seed=1, profile="clean", dpi=200)[0]
    turned = np.ascontiguousarray(np.rot90(sim.image))  # counter-clockwise: the page's x runs up the image
    params = ScanParams(dpi=200, feed_drift=0.02, feed_cycles=1.5, feed_phase=1.0)
    fed, _, _ = scan(turned, params)
    true_px = _true_centres(sim, prepared.pages[0].centres_mm)
    true_px = np.stack([true_px[:, 1], sim.image.shape[1] - 1 - true_px[:, 0]], axis=1)
    true_px[:, 1] = feed_rows(params, true_px[:, 1], fed.shape[0])

    result = read_page(fed, prepared)
    assert result.status == "ok" and result.orientation == 270, result.reasons
    assert _sure_and_right(result, sim.truth["answers"]) == len(sim.truth["answers"])
    assert _misplaced_mm(fed, prepared, result, true_px).max() <= 0.3


def _bar_px(sim, track: TimingTrack, index: int) -> tuple[int, int]:
    (x, y), = _true_centres(sim, np.array([track.bar_centres()[index]]))
    return int(round(x)), int(round(y))


def test_a_missing_smudged_or_displaced_bar_does_not_move_its_row(card, prepared, truth):
    sim = simulate_sheet(card, truth, seed=0, profile="clean", dpi=200, overrides=DRIFT)[0]
    left = card.pages[0].timing[0]
    px_per_mm = 200 / MM_PER_INCH
    fit = np.array(read_page(sim.image, prepared).page_to_image)
    clean_reading = read_track(sim.image, fit, left)
    damaged = sim.image.copy()
    x, y = _bar_px(sim, left, 20)  # bar 21 torn off
    cv2.rectangle(damaged, (x - 25, y - 8), (x + 25, y + 8), 245, -1)
    x, y = _bar_px(sim, left, 12)  # bar 13 smeared 1 mm (towards where the fit puts it): a bar where none belongs
    cv2.rectangle(damaged, (x - 25, y - 8), (x + 25, y + 8), 245, -1)
    toward = -1.0 if clean_reading.offsets_mm[12, 1] > 0 else 1.0
    shift = int(round(toward * px_per_mm))
    damaged[y + shift - 6:y + shift + 6, x - 19:x + 20] = 30
    x, y = _bar_px(sim, left, 27)  # bar 28 smudged: a pencil blot over its lower edge
    cv2.ellipse(damaged, (x, y + int(1.2 * px_per_mm)), (int(2.0 * px_per_mm), int(0.9 * px_per_mm)), 0, 0, 360, 40, -1)

    reading = read_track(damaged, fit, left)
    assert clean_reading.used.all()
    assert np.isnan(reading.offsets_mm[20]).all() and not reading.used[20]  # not found
    assert reading.offsets_mm[12, 1] - clean_reading.offsets_mm[12, 1] == pytest.approx(toward, abs=0.15)
    assert not reading.used[12]  # found 1 mm from where its neighbours say: left out
    # The blot either leaves the bar's centre where it was or makes it unusable; never pulls it.
    assert not reading.used[27] or abs(reading.offsets_mm[27, 1] - clean_reading.offsets_mm[27, 1]) < 0.1
    assert reading.used.sum() >= len(reading.used) - 3

    rows_mm = np.array([[27.0, y_mm] for _, y_mm in left.bar_centres()])
    moved = np.abs(track_offsets([reading], rows_mm) - track_offsets([clean_reading], rows_mm))
    assert moved.max() < 0.08  # mm: the damaged rows take their neighbours' offsets

    true_px = _true_centres(sim, prepared.pages[0].centres_mm)
    result = read_page(damaged, prepared)
    assert result.status == "ok", result.reasons
    assert _sure_and_right(result, sim.truth["answers"]) == len(sim.truth["answers"])
    assert _misplaced_mm(damaged, prepared, result, true_px).max() <= 0.3


def _paint_out(image: np.ndarray, sim, track: TimingTrack, keep_every: int) -> None:
    for index in range(track.count):
        if index % keep_every:
            x, y = _bar_px(sim, track, index)
            cv2.rectangle(image, (x - 25, y - 8), (x + 25, y + 8), 245, -1)


def test_a_track_with_too_few_bars_is_not_used_and_the_page_says_so(card, prepared, truth):
    sim = simulate_sheet(card, truth, seed=2, profile="clean", dpi=200)[0]
    left, right = card.pages[0].timing[:2]
    damaged = sim.image.copy()
    _paint_out(damaged, sim, left, 6)  # 30 of the 36 bars painted out: six lone bars, 39 mm apart, none checkable
    result = read_page(damaged, prepared)
    assert not [reason for reason in result.reasons if reason.startswith("timing track")]  # the right track serves
    assert _sure_and_right(result, sim.truth["answers"]) == len(sim.truth["answers"])

    _paint_out(damaged, sim, right, 6)
    result = read_page(damaged, prepared)
    notes = [reason for reason in result.reasons if reason.startswith("timing track")]
    assert notes == [f"timing track {side}: only 0 of 36 bars usable, positions from the anchors' fit"
                     for side in ("left", "right")]
    assert reason_zh(notes[0]) == "同步头 left 仅 0/36 个标记可用，按定位点推算位置识别"
    assert result.status == "flagged"
    assert _sure_and_right(result, sim.truth["answers"]) == len(sim.truth["answers"])  # no drift here: the fit serves


def test_a_page_whose_tracks_are_gone_is_read_from_its_global_fit(card, prepared, truth):
    sim = simulate_sheet(card, truth, seed=4, profile="clean", dpi=200)[0]
    page, notes = timing_corrected(np.full_like(sim.image, 245), prepared.pages[0], np.array(
        read_page(sim.image, prepared).page_to_image))
    assert page is prepared.pages[0]  # nothing moved
    assert [note.split(":")[0] for note in notes] == ["timing track left", "timing track right", "timing track top"]


def _reading(side: str, positions: list[float], offsets: list[tuple[float, float]], used: list[bool],
             across: float) -> TrackReading:
    track = TimingTrack(side=side, x=across if side in ("left", "right") else positions[0],
                        y=positions[0] if side in ("left", "right") else across, count=len(positions),
                        pitch=positions[1] - positions[0])
    return TrackReading(track, np.array(track.bar_centres(), np.float64), np.array(offsets, np.float64),
                        np.array(used))


def test_track_offsets_interpolate_rows_and_blend_across():
    left = _reading("left", [50.0, 60.0, 70.0, 80.0], [(0, 0.0), (0, 0.2), (0, 9.0), (0, 0.6)],
                    [True, True, False, True], across=10.0)
    right = _reading("right", [50.0, 60.0, 70.0, 80.0], [(0.1, 0.0), (0.1, 0.0), (0.1, 0.0), (0.1, 0.0)],
                     [True] * 4, across=200.0)
    points = np.array([[10.0, 70.0], [200.0, 70.0], [105.0, 70.0], [10.0, 40.0], [10.0, 95.0]])
    offsets = track_offsets([left, right], points)
    assert offsets[0] == pytest.approx((0.0, 0.4))  # the unused bar's 9 mm is ignored, its neighbours interpolated
    assert offsets[1] == pytest.approx((0.1, 0.0))
    assert offsets[2] == pytest.approx((0.05, 0.2))  # half way across: half of each
    assert offsets[3] == pytest.approx((0.0, 0.0)) and offsets[4] == pytest.approx((0.0, 0.6))  # held beyond the ends
    top = _reading("top", [30.0, 40.0, 50.0], [(0.3, 5.0), (0.3, 5.0), (0.5, 5.0)], [True] * 3, across=20.0)
    both = track_offsets([left, top], np.array([[45.0, 60.0]]))
    assert both[0] == pytest.approx((0.4, 0.2))  # columns add across what the rows miss; rows keep the vertical
    assert track_offsets([], points) == pytest.approx(np.zeros_like(points))


def test_typical_sheets_with_feed_drift_read_right(card, prepared):
    """Typical scans (noise, blur, JPEG, skew, 150-300 dpi, every mark kind) whose feed wanders by up to 2 % and
    stretches by up to 1 %: nothing read wrong as sure, no track lost."""
    accuracy = Accuracy()
    for seed in range(6):
        truth = random_truth(card, np.random.default_rng(seed))
        sim = simulate_sheet(card, truth, seed=1000 + seed, profile="typical",
                             overrides={"feed_drift": (0.0, 0.02), "feed_stretch": (-0.01, 0.01)})[0]
        result = read_page(sim.image, prepared)
        assert not [reason for reason in result.reasons if reason.startswith(("timing track", "registration"))]
        accuracy += compare_page(result, sim.truth, card)
    assert accuracy.pages_read == 6 and accuracy.wrong_sure == 0 and accuracy.ambiguous_wrong_sure == 0
    assert accuracy.correct_sure >= 0.99 * accuracy.groups, accuracy.line()


def test_tracks_printed_out_of_place_are_not_followed(card, prepared, truth):
    """A card whose tracks were printed 1.2 mm low (the bars all agree with each other, not with the print):
    the outlines refuse the correction, the page is read from its verified global fit and says so."""
    data = card.model_dump()
    for track in data["pages"][0]["timing"]:
        track["y"] += 1.2
    misprinted = parse_template(data)
    sim = simulate_sheet(misprinted, truth, seed=6, profile="clean", dpi=200)[0]
    moved, notes = timing_corrected(sim.image, prepared.pages[0], np.array(
        read_page(sim.image, prepared).page_to_image))
    assert moved is not prepared.pages[0] and not notes  # the bars were found, consistently 1.2 mm low

    result = read_page(sim.image, prepared)
    assert result.reasons == [TRACKS_DISAGREE]
    assert reason_zh(result.reasons[0]) == "同步头与气泡印刷位置不符，按定位点推算位置识别"
    assert _sure_and_right(result, sim.truth["answers"]) == len(sim.truth["answers"])
