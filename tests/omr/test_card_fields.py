"""Chinese card fields (issue 11): options down (竖排), grids across (AB 卷型), the 违纪 mark, the 选考题 chooser,
answer regions continued across columns and pages, the filling guide (填涂说明) and score-row labels — each
expressed in the template, drawn, simulated and read back as the simulator meant it, gray and 1-bit."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

import omr.render as render
from omr.crops import stitch_crops, stitch_sheet_crops
from omr.geometry import MM_PER_INCH
from omr.layout import FillEllipse, FillPolygon, Label, guide_primitives, page_primitives
from omr.read import prepare_template, read_page
from omr.template import TemplateError, expand_page, parse_template, region_parts
from sample_sheets import resolve_template
from sample_sheets.evaluate import compare_page
from sample_sheets.simulate import intended_readings, random_truth, simulate_sheet

DPI = 200
SCALE = DPI / MM_PER_INCH


@pytest.fixture(scope="module")
def card():
    return resolve_template("cn-prov-a3")


@pytest.fixture(scope="module")
def prepared(card):
    return prepare_template(card)


def _truth(card, seed: int, **changes):
    truth = random_truth(card, np.random.default_rng(seed), absent_rate=0.0, multi_error_rate=0.0)
    for key, value in changes.items():
        setattr(truth, key, value)
    truth.readings = intended_readings(card, truth)
    return truth


def _read(card, prepared, truth, seed: int, overrides=None):
    pages = simulate_sheet(card, truth, seed=seed, profile="clean", dpi=DPI, overrides=overrides)
    return [(read_page(sim.image, prepared, source=f"s{seed}", page_index=k), sim) for k, sim in enumerate(pages)]


# ----------------------------------------------------------------------------------------------------------
# The template: what each field expands to


def test_options_down_are_the_transpose_of_across():
    base = {"kind": "choice_block", "id": "m", "first": 17, "count": 4, "options": "ABCD", "x": 30, "y": 40,
            "rows": 4, "row_pitch": 14, "column_pitch": 30, "option_pitch": 5}
    template = parse_template({"id": "t", "pages": [{"anchors": _ANCHORS, "identity": {"x": 60, "y": 12},
                                                     "fields": [{**base, "direction": "down"}]}]})
    groups = expand_page(template, 1).groups
    assert [g.id for g in groups] == ["Q17", "Q18", "Q19", "Q20"]
    first = groups[0].bubbles
    assert {b.x for b in first} == {30} and [b.y for b in first] == [40, 45, 50, 55]  # A-D run down
    assert [g.bubbles[0].x for g in groups] == [30, 44, 58, 72]  # the next question to the right


def test_grid_across_runs_its_labels_to_the_right():
    template = parse_template({"id": "t", "pages": [{"anchors": _ANCHORS, "identity": {"x": 60, "y": 12}, "fields": [
        {"kind": "grid", "id": "form", "role": "form", "labels": "AB", "columns": 1, "direction": "across",
         "x": 100, "y": 86, "row_pitch": 9}]}]})
    (group,) = expand_page(template, 1).groups
    assert [(b.label, b.x, b.y) for b in group.bubbles] == [("A", 100, 86), ("B", 109, 86)]


def test_chooser_labels_and_checks():
    chooser = {"kind": "chooser", "id": "c", "questions": ["Q22", "Q23"], "x": 100, "y": 50}
    page = {"anchors": _ANCHORS, "identity": {"x": 60, "y": 12}}
    (group,) = expand_page(parse_template({"id": "t", "pages": [{**page, "fields": [chooser]}]}), 1).groups
    assert group.kind == "chooser" and group.questions == ("Q22", "Q23")
    assert [b.label for b in group.bubbles] == ["22", "23"]
    for bad, says in [({"questions": ["Q22", "Q22"]}, "repeat"), ({"labels": ["1"]}, "1 labels for 2"),
                      ({"questions": ["22", "23"]}, "pattern")]:
        with pytest.raises(TemplateError, match=says):
            parse_template({"id": "t", "pages": [{**page, "fields": [{**chooser, **bad}]}]})


def test_region_parts_in_reading_order_on_their_pages(card):
    parts = region_parts(card)
    assert [(page, rect.id, rect.part) for page, rect in parts["answer24"]] == [(1, "answer24", 1),
                                                                               (1, "answer24-part2", 2)]
    assert [(page, rect.id) for page, rect in parts["answer25"]] == [(1, "answer25"), (2, "answer25-part2")]
    assert "answer25-part2" in {r.id for r in expand_page(card, 2).regions}
    assert "answer25-part2" not in {r.id for r in expand_page(card, 1).regions}
    with pytest.raises(TemplateError, match="continues: page 3 of a 2-page template"):
        data = card.model_dump(mode="json")
        data["pages"][0]["fields"][-1]["continues"][0]["page"] = 3
        parse_template(data)


# ----------------------------------------------------------------------------------------------------------
# Drawn


def test_guide_draws_right_and_wrong_fills_and_is_never_read(card):
    page = expand_page(card, 1)
    guide = page.guides[0]
    items = guide_primitives(guide)
    texts = {item.text for item in items if isinstance(item, Label)}
    assert {"填涂说明", "正确填涂", "错误填涂"} <= texts
    assert sum(isinstance(item, FillEllipse) for item in items) == 2  # the right fill and the dot
    assert sum(isinstance(item, FillPolygon) for item in items) == 4  # the tick (2 strokes) and the cross (2)
    inside = [(x, y) for _, b in page.bubbles for x, y in [(b.x, b.y)]
              if guide.x <= x <= guide.x + guide.w and guide.y <= y <= guide.y + guide.h]
    assert inside == []  # no bubble OMR measures lies in the guide


@pytest.mark.skipif(render.cjk_font_path() is None, reason="no CJK font installed (make install)")
def test_png_prints_the_new_chinese_labels(card, monkeypatch):
    page = expand_page(card, 1)
    labels = [item for item in page_primitives(page) if isinstance(item, Label)
              and item.text in ("十位", "个位", "填涂说明", "错误填涂")]
    assert {label.text for label in labels} == {"十位", "个位", "填涂说明", "错误填涂"}

    def ink(image, label):
        rows = slice(int((label.y - 1.3 * label.size) * SCALE), int((label.y + 0.3 * label.size) * SCALE))
        cols = slice(int(label.x * SCALE), int((label.x + 1.39 * label.size * len(label.text)) * SCALE))  # em squares
        return int((image[rows, cols] < 160).sum())

    image = render.render_page(page, DPI)
    assert all(ink(image, label) > 20 for label in labels)
    monkeypatch.setattr(render, "cjk_font_path", lambda: None)
    fallback = render.render_page(page, DPI)  # without the font: the ASCII alternative, or nothing
    assert ink(fallback, next(label for label in labels if label.text == "十位")) == 0


# ----------------------------------------------------------------------------------------------------------
# Simulated and read


@pytest.mark.parametrize("binarize", ["none", "threshold"])
def test_every_field_reads_as_the_simulator_meant(card, prepared, binarize):
    wrong = 0
    for seed in (3, 4):
        truth = _truth(card, seed, violation=seed == 3, form="AB"[seed % 2],
                       choices={"choose22_23": "Q22" if seed == 3 else "Q23"})
        for result, sim in _read(card, prepared, truth, seed, {"binarize": binarize}):
            accuracy = compare_page(result, sim.truth, card)
            wrong += accuracy.wrong_sure
            assert result.page == sim.page and result.status == "ok", result.reasons
            assert accuracy.flagged_groups == 0 and accuracy.groups == (31 if sim.page == 1 else 0)  # + chooser
            if sim.page == 1:
                assert result.form == truth.form
                assert result.violation is truth.violation
                choice = result.choices["choose22_23"]
                assert (choice.chosen, choice.status) == (truth.choices["choose22_23"], "ok")
                assert {q: result.questions[q].marked for q in ("Q17", "Q18", "Q19", "Q20")} == \
                    {q: truth.answers[q] for q in ("Q17", "Q18", "Q19", "Q20")}  # options down
            assert {q: s.value for q, s in result.scores.items() if s.status == "ok"} == \
                {q: v for q, v in truth.scores.items() if q in result.scores}
    assert wrong == 0


@pytest.mark.parametrize("choices, status", [("", "blank"), ("Q22,Q23", "multiple")])
def test_no_choice_or_two_is_a_clear_review_reason(card, prepared, choices, status):
    truth = _truth(card, 7, choices={"choose22_23": choices})
    result = _read(card, prepared, truth, 7)[0][0]
    choice = result.choices["choose22_23"]
    assert (choice.chosen, choice.status) == ("", status)
    assert f"optional question choice {status}: choose22_23 (Q22/Q23)" in result.reasons
    assert result.status == "flagged"


def test_stitched_crop_holds_every_part_in_order(card, prepared, tmp_path):
    truth = _truth(card, 9)
    crops: dict[str, str] = {}
    for result, _ in [(read_page(sim.image, prepared, source="s9", page_index=k, crop_dir=tmp_path), sim)
                      for k, sim in enumerate(simulate_sheet(card, truth, seed=9, profile="clean", dpi=DPI))]:
        crops.update(result.crops)
    assert {"answer25", "answer25-part2", "answer24", "answer24-part2"} <= set(crops)
    stitched = stitch_sheet_crops(card, crops, tmp_path, "sheet9")
    assert set(stitched) == {"answer24", "answer25"}
    whole = cv2.imread(stitched["answer25"], cv2.IMREAD_GRAYSCALE)
    first, second = (cv2.imread(crops[name], cv2.IMREAD_GRAYSCALE) for name in ("answer25", "answer25-part2"))
    assert whole.shape == (first.shape[0] + 4 + second.shape[0], max(first.shape[1], second.shape[1]))
    np.testing.assert_array_equal(whole[:first.shape[0], :first.shape[1]], first)
    np.testing.assert_array_equal(whole[first.shape[0] + 4:, :second.shape[1]], second)
    # A part lost with its page leaves the region unstitched rather than half an answer.
    assert "answer25" not in stitch_sheet_crops(card, {k: v for k, v in crops.items() if k != "answer25-part2"},
                                                tmp_path, "sheet9b")


def test_stitch_pads_narrow_parts_with_paper():
    out = stitch_crops([np.zeros((2, 3), np.uint8), np.zeros((1, 5), np.uint8)], gap_px=1)
    assert out.shape == (4, 5)
    assert (out[:2, 3:] == 255).all() and (out[2] == 255).all() and (out[3] == 0).all()
    with pytest.raises(ValueError):
        stitch_crops([])


_ANCHORS = [{"id": "tl", "x": 12, "y": 12}, {"id": "tr", "x": 198, "y": 12}, {"id": "bl", "x": 12, "y": 285},
            {"id": "br", "x": 198, "y": 285}]


def test_the_cards_timing_track_carries_a_scanner_speed_drift(card, prepared):
    data = card.model_dump(mode="json")
    for page in data["pages"]:
        page["timing"] = []
    untracked = parse_template(data)
    bare_prepared = prepare_template(untracked)
    drift = {"feed_drift": 0.02, "feed_cycles": 1.0}  # the feed's speed wanders by 2 % over the page
    with_track = without = 0
    for seed in (0, 3):
        truth = _truth(card, seed)
        for sim in simulate_sheet(card, truth, seed=seed, profile="clean", dpi=DPI, overrides=drift):
            read = read_page(sim.image, prepared)
            accuracy = compare_page(read, sim.truth, card)
            assert accuracy.wrong_sure == 0 and accuracy.flagged_groups == 0
            with_track += read.status != "ok"
            bare = read_page(sim.image, bare_prepared)
            assert compare_page(bare, sim.truth, untracked).wrong_sure == 0
            without += bare.status != "ok"
    assert with_track <= 1 < 3 <= without
