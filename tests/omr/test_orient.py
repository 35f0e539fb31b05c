"""Pages without an identity strip (issue 11 point 1): oriented by their anchors and print, told apart by content.

``us-letter-70`` is another system's sheet: US Letter, an L-shaped corner mark and three squares printed 60 % gray,
2.8 mm round bubbles on a 5/24-inch grid, no identity strip. Simulated sheets are read at every quarter turn
(``np.rot90`` of the scan: a page fed sideways), at 150 and 300 dpi, gray JPEG and 1-bit, with the rules of
test_accuracy.py: nothing read wrong but sure, no needless flags. A page of another template, blank paper, and a
layout that reads alike both ways up are never read.
"""

from __future__ import annotations

import copy
import json

import cv2
import numpy as np
import pytest
from scipy.stats import fisher_exact, mannwhitneyu

from omr.batch import decode_min_side_px
from omr.load import load_array
from omr.orient import anchor_shapes, anchor_votes, missing_test, rank_test
from omr.read import REGISTRATION_UNSURE, prepare_template, read_page
from omr.reason_text import reason_zh, untranslated
from omr.register import iter_registrations
from omr.render import render_page
from omr.result import PageResult
from omr.template import TemplateError, expand_page, parse_template
from sample_sheets import TEMPLATES_DIR, resolve_template
from sample_sheets.evaluate import Accuracy, compare_page
from sample_sheets.simulate import random_truth, simulate_sheet

LETTER = "us-letter-70"
SEED = 4100
_NOT_CLEAN = frozenset({"erased", "smudge", "tick", "cross", "faint"})
_SCANS = [(150, "none"), (300, "none"), (150, "threshold"), (300, "dither")]  # dpi, 1-bit or not


def _letter_json() -> dict:
    return json.loads((TEMPLATES_DIR / f"{LETTER}.json").read_text(encoding="utf-8"))


def _square_anchors(data: dict, template_id: str) -> dict:
    """``data`` with its L-corner replaced by a square: four alike anchors, so only the print tells up from down."""
    out = copy.deepcopy(data)
    out["id"] = template_id
    for page in out["pages"]:
        page["anchors"][0] = {"id": "tl", "x": 12.7, "y": 12.7, "size": 6.35, "tone": 0.6}
    return out


def _two_pages() -> dict:
    """A two-page card without identity strips, both pages on one set of (square) anchors: page 2 holds questions
    71-130 two rows lower and no 考号 grid."""
    data = _square_anchors(_letter_json(), "us-letter-two")
    back = copy.deepcopy(data["pages"][0])
    back["fields"] = [field for field in back["fields"] if field["kind"] == "choice_block"]
    for field in back["fields"]:
        field["first"] += 70
        field["y"] = round(field["y"] + 2 * 5 / 24 * 25.4, 4)
    data["pages"].append(back)
    return data


@pytest.fixture(scope="module")
def letter():
    template = resolve_template(LETTER)
    return template, prepare_template(template)


def _scans(template, seed: int, overrides: dict, turns: int = 0):
    """(simulated page, what a station uploads turned by ``turns`` quarter turns counter-clockwise)."""
    truth = random_truth(template, np.random.default_rng(seed))
    # The template prints its anchors at 60 %, and here every sheet comes from a toner-saving printer (the typical
    # profile's anchor_tone, on 5 % of its sheets): 0.6 x 0.75 .. 0.95. An L beside black title text is found at its
    # own gray level (omr/register.py), so no page here is read on three anchors.
    for sim in simulate_sheet(template, truth, seed=seed, profile="typical",
                              overrides={"upside_down": False, "anchor_tone": (0.75, 0.95), **overrides}):
        image = (load_array(sim.jpeg, reduce_jpeg_to_min_px=decode_min_side_px(template))[0].image if sim.jpeg
                 else sim.image)
        yield sim, np.ascontiguousarray(np.rot90(image, turns))


def _clean_flagged(result: PageResult, truth: dict) -> tuple[int, int]:
    """(cleanly marked questions, how many of them were flagged), as test_accuracy.py counts them."""
    questions = flagged = 0
    for group_id, group in truth["groups"].items():
        if group["kind"] != "question" or not group["expected"] or _NOT_CLEAN & set(group["bubbles"].values()):
            continue
        questions += 1
        reading = result.questions.get(group_id)
        flagged += reading is not None and reading.status == "uncertain"
    return questions, flagged


def test_template_without_identity_strip_on_letter_paper():
    data = {"id": "plain", "page_size": "Letter", "pages": [{
        "anchors": [{"id": "tl", "shape": "l_corner", "x": 12.7, "y": 12.7, "size": 6.35, "tone": 0.6},
                    {"id": "tr", "x": 203.2, "y": 12.7, "size": 6.35, "tone": 0.6},
                    {"id": "bl", "x": 12.7, "y": 266.7, "size": 6.35, "tone": 0.6},
                    {"id": "br", "x": 203.2, "y": 266.7, "size": 6.35, "tone": 0.6}]}]}
    template = parse_template(data)
    page = expand_page(template, 1)
    assert template.page_mm == (215.9, 279.4) and page.identity is None and page.identity_bits == ()
    image = render_page(page, 254)  # 10 px/mm
    assert abs(int(image[127, 2032]) - round(255 * 0.4)) <= 1  # the square anchors print at 60 %
    assert abs(int(image[110, 110]) - round(255 * 0.4)) <= 1  # so does the L, in its elbow
    # A strip, when given, is still checked.
    data["pages"][0]["identity"] = {"x": 200, "y": 12}
    with pytest.raises(TemplateError, match="identity"):
        parse_template(data)


@pytest.mark.parametrize("turns", [0, 1, 2, 3], ids=["upright", "turned left", "upside down", "turned right"])
def test_sheet_without_identity_reads_at_every_quarter_turn(letter, turns):
    template, prepared = letter
    accuracy, questions, flagged = Accuracy(), 0, 0
    for index, (dpi, binarize) in enumerate(_SCANS):
        for sim, image in _scans(template, SEED + 10 * turns + index, {"dpi": dpi, "binarize": binarize}, turns):
            result = read_page(image, prepared, source=f"{dpi}-{binarize}")
            assert result.status != "error", result.reasons
            # np.rot90 turns the scan counter-clockwise: the page then lies turned clockwise by the rest.
            assert result.orientation == (360 - 90 * turns) % 360 and result.page == 1
            assert REGISTRATION_UNSURE not in result.reasons and not any(r.startswith("anchor missing")
                                                                         for r in result.reasons)
            accuracy += compare_page(result, sim.truth, template)
            page_questions, page_flagged = _clean_flagged(result, sim.truth)
            questions, flagged = questions + page_questions, flagged + page_flagged
    assert accuracy.pages_read == accuracy.pages == len(_SCANS)
    assert accuracy.wrong_sure == 0 and accuracy.ids_wrong_sure == 0, accuracy.wrong_examples
    assert flagged <= max(1, 0.005 * questions), (flagged, questions, accuracy.line())


@pytest.mark.parametrize("turns", [0, 2], ids=["upright", "upside down"])
def test_alike_anchors_leave_the_orientation_to_the_print(turns):
    # Four equal squares fit both ways up; the printed bubbles back one way only.
    template = parse_template(_square_anchors(_letter_json(), "us-letter-squares"))
    prepared = prepare_template(template)
    for index, (dpi, binarize) in enumerate([(200, "none"), (150, "threshold")]):
        for sim, image in _scans(template, SEED + 50 + index, {"dpi": dpi, "binarize": binarize}, turns):
            result = read_page(image, prepared)
            assert result.status != "error" and result.orientation == 180 * (turns // 2), result.reasons
            accuracy = compare_page(result, sim.truth, template)
            assert accuracy.wrong_sure == 0 and accuracy.flagged_groups <= 1, accuracy.line()


def _outlines_erased(image: np.ndarray, dpi: int) -> np.ndarray:
    """A 1-bit scan as a harsh threshold leaves it: strokes thinner than 0.4 mm (the bubble outlines) gone, bold
    print, anchors and marks kept."""
    radius = max(1, int(round(0.2 * dpi / 25.4)))
    disk = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    bold = cv2.morphologyEx((image < 128).astype(np.uint8), cv2.MORPH_OPEN, disk)
    return np.where(bold > 0, 0, 255).astype(np.uint8)


@pytest.mark.parametrize("anchors", ["L and squares", "four squares"])
def test_one_bit_scan_without_outlines_is_oriented_by_its_bold_print(letter, anchors):
    template = letter[0] if anchors == "L and squares" else parse_template(_square_anchors(_letter_json(), "sq"))
    prepared = letter[1] if anchors == "L and squares" else prepare_template(template)
    for turns in (0, 2):
        sim, image = next(_scans(template, SEED + 60 + turns, {"dpi": 200, "binarize": "threshold"}, turns))
        result = read_page(_outlines_erased(image, 200), prepared)
        assert result.status != "error" and result.orientation == 180 * (turns // 2), result.reasons
        accuracy = compare_page(result, sim.truth, template)
        assert accuracy.wrong_sure == 0 and accuracy.flagged_groups <= 1, accuracy.line()


def test_anchor_shapes_say_which_way_up():
    template = resolve_template(LETTER)
    page = expand_page(template, 1)
    image = np.ascontiguousarray(render_page(page, 200)[::-1, ::-1])  # upside down
    shapes = anchor_shapes(page.anchors)
    assert shapes.asymmetric and not anchor_shapes(expand_page(resolve_template("cn-a4-55"), 1).anchors).asymmetric
    votes = {fit.orientation: anchor_votes(image, fit.page_to_image, page.anchors, shapes)
             for fit in iter_registrations(image, page)}
    # Both ways up fit the four anchors' centres; only one puts the L where the L is.
    assert votes[180] == (4, 0)
    # The L's place shows a square; the square's place the L turned over, which looks more like a square than
    # like the L the right way up: one contradiction is all it takes.
    assert votes[0] == (3, 1)


def test_one_larger_anchor_says_which_way_up():
    # Anchors that differ only in size: a 9 mm square top left among 6.35 mm ones.
    data = _square_anchors(_letter_json(), "us-letter-big-corner")
    data["pages"][0]["anchors"][0]["size"] = 9.0
    template = parse_template(data)
    page = expand_page(template, 1)
    shapes = anchor_shapes(page.anchors)
    assert shapes.asymmetric
    for turns in (0, 2):
        image = np.ascontiguousarray(np.rot90(render_page(page, 200), turns))
        votes = {fit.orientation: anchor_votes(image, fit.page_to_image, page.anchors, shapes)
                 for fit in iter_registrations(image, page)}
        right = 180 * (turns // 2)
        assert votes[right] == (4, 0) and all(vote[1] > 0 for angle, vote in votes.items() if angle != right), votes
        sim, scan = next(_scans(template, SEED + 80 + turns, {"dpi": 200}, turns))
        result = read_page(scan, prepare_template(template))
        assert result.status != "error" and result.orientation == right, result.reasons
        assert compare_page(result, sim.truth, template).wrong_sure == 0


def test_two_page_card_without_identity_pages_are_told_apart():
    template = parse_template(_two_pages())
    prepared = prepare_template(template)
    for turns in (0, 2):
        pages = list(_scans(template, SEED + 70 + turns, {"dpi": 200}, turns))
        assert len(pages) == 2
        for sim, image in pages:
            result = read_page(image, prepared)
            assert result.status != "error", result.reasons
            assert result.page == sim.page and result.orientation == 180 * (turns // 2)
            accuracy = compare_page(result, sim.truth, template)
            assert accuracy.wrong_sure == 0 and accuracy.flagged_groups <= 1, accuracy.line()


def _a4_page(seed: int) -> np.ndarray:
    a4 = resolve_template("cn-a4-55")
    return next(_scans(a4, seed, {"dpi": 200}))[1]


def test_page_of_another_template_is_never_read(letter):
    template, prepared = letter
    a4_page = _a4_page(SEED + 90)
    alone = read_page(a4_page, prepared)
    assert alone.status == "error" and not alone.questions
    assert alone.reasons[0].startswith(("layout not found: ", "no anchors found")), alone.reasons
    named = read_page(a4_page, prepare_template(template, others=[resolve_template("cn-a4-55")]))
    assert named.status == "error" and named.reasons[0].startswith("page of another template cn-a4-55 "), named.reasons
    # And the other way round: a Letter page given to the A4 card (which has an identity strip).
    letter_page = next(_scans(template, SEED + 91, {"dpi": 200}))[1]
    a4 = prepare_template(resolve_template("cn-a4-55"))
    unknown = read_page(letter_page, a4)
    assert unknown.status == "error" and not unknown.questions, unknown.reasons
    known = read_page(letter_page, prepare_template(resolve_template("cn-a4-55"), others=[template]))
    assert known.status == "error" and known.reasons[0].startswith(f"page of another template {LETTER} "), known.reasons


def test_other_form_on_the_same_anchors_is_never_read(letter):
    # Another form of the same system: the same anchors (the L decides the orientation at once), its bubbles half
    # a pitch away from ours. Only the print can say it is not our page.
    template, prepared = letter
    data = _letter_json()
    data["id"] = "us-letter-other-form"
    for field in data["pages"][0]["fields"]:
        if field["kind"] != "region":
            field["x"], field["y"] = round(field["x"] + 2.65, 4), round(field["y"] + 2.65, 4)
    other = parse_template(data)
    page = next(_scans(other, SEED + 93, {"dpi": 200}))[1]
    alone = read_page(page, prepared)
    assert alone.status == "error" and alone.reasons[0].startswith("layout not found: "), alone.reasons
    named = read_page(page, prepare_template(template, others=[other]))
    assert named.status == "error" and named.reasons[0].startswith("page of another template us-letter-other-form ")
    # Our own page, with the other form known, is still ours.
    own = next(_scans(template, SEED + 94, {"dpi": 200}))[1]
    assert read_page(own, prepare_template(template, others=[other])).status != "error"


def test_blank_paper_is_not_read(letter):
    _, prepared = letter
    for image in (np.full((2200, 1700), 245, np.uint8),
                  np.random.default_rng(1).normal(235, 12, (2200, 1700)).clip(0, 255).astype(np.uint8)):
        result = read_page(image, prepared)
        assert result.status == "error" and not result.questions, result.reasons


def test_layout_alike_both_ways_up_is_ambiguous_not_read():
    # Four squares and one block of unlabelled bubbles centred on the page: turned over, every outline lands on an
    # outline; nothing on the page says which way up it is, so the page is not read (either way could be wrong).
    data = {"id": "symmetric", "page_size": "Letter", "pages": [{
        "anchors": [{"id": a, "x": x, "y": y} for a, x, y in
                    (("tl", 15, 15), ("tr", 200.9, 15), ("bl", 15, 264.4), ("br", 200.9, 264.4))],
        # 20 x 10 bubbles centred on the page: turned over, each lands on another
        "fields": [{"kind": "grid", "id": "block", "labels": "0123456789", "columns": 20,
                    "x": round(215.9 / 2 - 9.5 * 5.3, 3), "y": round(279.4 / 2 - 4.5 * 5.2, 3),
                    "column_pitch": 5.3, "row_pitch": 5.2,
                    "bubble": {"width": 2.8, "height": 2.8, "show_label": False}}]}]}
    template = parse_template(data)
    prepared = prepare_template(template)
    for turns in (0, 2):
        image = next(_scans(template, SEED + 95, {"dpi": 200}, turns))[1]
        result = read_page(image, prepared)
        assert result.status == "error" and result.reasons[0].startswith("orientation ambiguous: "), result.reasons


def test_new_reasons_are_said_in_chinese():
    reasons = ["layout not found: no orientation of the template's pages puts the printed bubbles where they are",
               "orientation ambiguous: page 1 at 0° and page 1 at 180° fit the print alike: 方向无法确定"]
    for reason in reasons:
        assert not untranslated(reason) and reason_zh(reason) != reason
    assert "第1页" in reason_zh(reasons[1]) and "180°" in reason_zh(reasons[1])


@pytest.mark.parametrize("seed", range(5))
def test_rank_test_is_the_mann_whitney_u_test(seed):
    rng = np.random.default_rng(seed)
    best = np.round(rng.normal(1.0 + 0.2 * seed, 0.3, 40), 1)  # rounded: ties, which the variance corrects for
    rival = np.round(rng.normal(1.0, 0.3, 35), 1)
    expected = mannwhitneyu(best, rival, alternative="greater", method="asymptotic", use_continuity=True).pvalue
    assert rank_test(best, rival) == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("missing", [(0, 0), (1, 4), (2, 15), (0, 40)])
def test_missing_test_is_fishers_exact_test(missing):
    best_missing, rival_missing = missing
    best = np.r_[np.zeros(best_missing), np.ones(48 - best_missing)]
    rival = np.r_[np.zeros(rival_missing), np.ones(60 - rival_missing)]
    table = [[rival_missing, 60 - rival_missing], [best_missing, 48 - best_missing]]
    expected = fisher_exact(table, alternative="greater").pvalue
    assert missing_test(best, rival) == pytest.approx(expected, rel=1e-9)


@pytest.mark.slow
def test_letter_sheets_typical_at_every_quarter_turn_are_never_wrong_and_rarely_flagged(letter):
    # The typical profile as it is (toner-saving anchors, pages upside down, 150/200/300 dpi), each sheet turned by
    # its index's quarter turns: the figures test_accuracy.py holds cn-a4-55 to.
    template, prepared = letter
    accuracy, questions, flagged = Accuracy(), 0, 0
    for index in range(60):
        truth = random_truth(template, np.random.default_rng(9000 + index))
        for sim in simulate_sheet(template, truth, seed=9000 + index, profile="typical"):
            image = (load_array(sim.jpeg, reduce_jpeg_to_min_px=decode_min_side_px(template))[0].image if sim.jpeg
                     else sim.image)
            result = read_page(np.ascontiguousarray(np.rot90(image, index % 4)), prepared)
            fed = 180 if sim.truth["scanner"]["upside_down"] else 0
            assert result.orientation == (fed - 90 * (index % 4)) % 360 and REGISTRATION_UNSURE not in result.reasons
            accuracy += compare_page(result, sim.truth, template)
            page_questions, page_flagged = _clean_flagged(result, sim.truth)
            questions, flagged = questions + page_questions, flagged + page_flagged
    print(f"\n{LETTER} typical x60 at quarter turns: {accuracy.line()}\n"
          f"  cleanly marked questions {questions}: flagged {flagged} ({flagged / questions:.3%})")
    assert accuracy.pages_read == accuracy.pages == 60
    assert accuracy.wrong_sure == 0 and accuracy.ids_wrong_sure == 0, accuracy.wrong_examples
    assert flagged <= 0.005 * questions
    # Pages flagged for OMR's doubt: 4 of 60 (seed 9000), each for a light mark beside the same student's darker one
    # in a question (decisions, as on cn-a4-55); the toner-saved L once read on three anchors is found (see _scans).
    assert accuracy.flagged_groups <= 0.005 * accuracy.groups, accuracy.line()
