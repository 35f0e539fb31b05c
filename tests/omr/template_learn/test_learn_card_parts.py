"""``template learn`` on each part of a Chinese card on its own, on small synthetic A4 cards: options laid out
down (竖排), a 填涂说明 guide (its examples are not bubbles), a 选考题 chooser, the header's 卷型 row and 违纪 mark,
and numbering column by column."""

from __future__ import annotations

import numpy as np

from learn_fixtures import TOLERANCE_MM, compare_page, learn_bundled, mild_scan
from omr.render import render_page
from omr.template import expand_page, parse_template
from omr.template_learn import learn_template
from omr.template_learn.anchors import find_page_frame, ink_levels, warp_to_mm
from omr.template_learn.bubbles import find_bubbles
from sample_sheets import resolve_template

DPI = 200
PX_PER_MM = DPI / 25.4
SCORE = {"kind": "score_box", "max_score": 10, "half": True,
         "digits": [{"place": 10, "labels": "01"}, {"place": 1, "labels": "0123456789"}]}


def _card(*fields: dict) -> dict:
    anchors = [{"id": corner, "x": x, "y": y, "size": 5}
               for corner, x, y in (("tl", 12, 12), ("tr", 198, 12), ("bl", 12, 285), ("br", 198, 285))]
    return {"id": "parts-test", "code": 79, "page_size": "A4",
            "pages": [{"anchors": anchors, "identity": {"x": 60, "y": 12}, "fields": list(fields)}]}


def _scan(card: dict, seed: int = 1) -> np.ndarray:
    return mild_scan(render_page(expand_page(parse_template(card), 1), DPI), DPI, seed)


def _learned(card: dict, seed: int = 1, image: np.ndarray | None = None) -> tuple[dict, list[str]]:
    """The drafted page, and the problems of the draft against ``card`` (none when every group is recovered)."""
    learned = learn_template([(_scan(card, seed) if image is None else image, DPI)], template_id="parts-test")
    truth, drafted = expand_page(parse_template(card), 1), expand_page(parse_template(learned.draft), 1)
    worst, _, problems = compare_page(truth, drafted)
    if worst > TOLERANCE_MM:
        problems.append(f"max bubble error {worst:.3f} mm")
    return learned.draft["pages"][0], problems


def _field(page: dict, field_id: str) -> dict:
    return next(field for field in page["fields"] if field["id"] == field_id)


def test_options_laid_out_down_in_two_bands():
    """Six 竖排 questions, three side by side per band, two bands: one choice_block with direction down."""
    card = _card({"kind": "choice_block", "id": "q1_6", "first": 1, "count": 6, "options": "ABCD", "direction": "down",
                  "x": 40, "y": 60, "rows": 3, "row_pitch": 15, "column_pitch": 30, "option_pitch": 5})
    page, problems = _learned(card)
    assert not problems
    block = _field(page, "q1_6")
    assert (block["direction"], block["rows"], block["column_pitch"]) == ("down", 3, 30)


def test_numbering_continues_from_questions_across_into_questions_down():
    card = _card({"kind": "choice_block", "id": "q1_5", "first": 1, "count": 5, "options": "ABCD", "x": 30, "y": 50},
                 {"kind": "choice_block", "id": "q6_8", "first": 6, "count": 3, "options": "ABC", "direction": "down",
                  "x": 30, "y": 100, "rows": 3, "row_pitch": 14, "option_pitch": 5})
    assert not _learned(card)[1]


GUIDE = {"kind": "guide", "id": "guide", "x": 20, "y": 40, "w": 62, "h": 16}
# A question row on the guide's example row (40 + 0.68 * 16), of the examples' bubble size, to their right.
BESIDE = {"kind": "choice_block", "id": "q1_3", "first": 1, "count": 3, "options": "ABCD", "x": 100, "y": 50.88,
          "rows": 3, "bubble": {"width": 5.0, "height": 3.2}}


def _example_centres() -> list[tuple[float, float]]:
    """Where the guide prints its three wrong-way examples (✓ ⊗ ⊙), read off a render: outlines find_bubbles finds."""
    image = render_page(expand_page(parse_template(_card(GUIDE)), 1), DPI)
    frame = find_page_frame(image, DPI)
    return [(b.x, b.y) for b in find_bubbles(warp_to_mm(image, frame), *ink_levels(image))]


def test_guide_examples_are_outlines_find_bubbles_finds():
    """The premise of the next tests: without the guide step, the examples would be drafted as bubbles."""
    centres = _example_centres()
    assert len(centres) >= 2 and all(abs(y - 50.88) < 0.5 for _, y in centres)


def test_guide_beside_a_question_block_is_drafted_and_its_examples_not_read():
    page, problems = _learned(_card(GUIDE, BESIDE))
    assert not problems  # the questions beside it are found whole, and no group stands at the examples
    guide = _field(page, "guide")
    assert all(abs(guide[key] - GUIDE[key]) <= 0.3 for key in ("x", "y", "w", "h"))


def test_guide_without_its_frame_still_is_no_bubbles():
    """Examples to the right of the filled one, with no box around them: not read, and no guide drafted (its box is
    not printed)."""
    card = _card(GUIDE, {**BESIDE, "x": 130})
    image = render_page(expand_page(parse_template(card), 1), DPI).copy()
    top, bottom, left, right = (int(v * PX_PER_MM) for v in (39, 57.5, 19, 83))
    frame_only = np.full_like(image[top:bottom, left:right], 255)
    inner = (slice(int(1.5 * PX_PER_MM), -int(1.5 * PX_PER_MM)),) * 2
    frame_only[inner] = image[top:bottom, left:right][inner]  # keep what is inside, paint the frame out
    image[top:bottom, left:right] = frame_only
    page, problems = _learned(card, image=mild_scan(image, DPI, 2))
    assert not problems
    assert not any(field["kind"] == "guide" for field in page["fields"])


def test_chooser_chooses_between_the_score_boxes_below_it():
    card = _card({"kind": "choice_block", "id": "q1_10", "first": 1, "count": 10, "options": "ABCD", "x": 30, "y": 40},
                 {"kind": "chooser", "id": "choose11_12", "questions": ["Q11", "Q12"], "x": 42, "y": 110,
                  "option_pitch": 12},
                 {**SCORE, "id": "score11", "question": "Q11", "x": 30, "y": 120},
                 {**SCORE, "id": "score12", "question": "Q12", "x": 30, "y": 180})
    page, problems = _learned(card)
    assert not problems
    assert _field(page, "choose11_12")["questions"] == ["Q11", "Q12"]


def test_header_form_row_across_and_violation_beside_absent():
    card = _card({"kind": "grid", "id": "exam_id", "role": "student_id", "columns": 6, "x": 25, "y": 40},
                 {"kind": "mark", "id": "absent", "role": "absent", "x": 80, "y": 45},
                 {"kind": "mark", "id": "violation", "role": "violation", "x": 100, "y": 45},
                 {"kind": "grid", "id": "form", "role": "form", "labels": "ABCD", "columns": 1, "direction": "across",
                  "x": 80, "y": 70, "row_pitch": 8, "bubble": {"width": 6.0, "height": 3.6}},
                 {"kind": "choice_block", "id": "q1_10", "first": 1, "count": 10, "options": "AB", "x": 30,
                  "y": 110})
    page, problems = _learned(card)
    assert not problems
    assert _field(page, "form")["direction"] == "across"


def test_a_lone_question_below_the_first_block_stays_a_question():
    """Only above every block of questions is a lone lettered row the 卷型; one after them is a question."""
    card = _card({"kind": "grid", "id": "exam_id", "role": "student_id", "columns": 6, "x": 25, "y": 40},
                 {"kind": "choice_block", "id": "q1_5", "first": 1, "count": 5, "options": "ABCD", "x": 30, "y": 110},
                 {"kind": "choice_block", "id": "q6_6", "first": 6, "count": 1, "options": "AB", "x": 30, "y": 160})
    assert not _learned(card)[1]


def test_score_boxes_numbered_column_by_column():
    """Two columns: the left one read top to bottom before the right one, whose box stands higher."""
    card = _card({"kind": "choice_block", "id": "q1_5", "first": 1, "count": 5, "options": "ABCD", "x": 30, "y": 40},
                 {**SCORE, "id": "score6", "question": "Q6", "x": 30, "y": 120},
                 {**SCORE, "id": "score7", "question": "Q7", "x": 30, "y": 200},
                 {**SCORE, "id": "score8", "question": "Q8", "x": 130, "y": 100})
    assert not _learned(card)[1]


def test_a_score_row_read_poorly_is_no_chooser():
    """At 150 dpi this scan's 0-9 score row of cn-a4-55 (1.6 mm labels) matched two-digit numbers better than the
    digits: it was drafted as a chooser whose questions repeat, and the draft did not validate."""
    learned = learn_bundled(resolve_template("cn-a4-55"), 150, seed=34)
    draft = parse_template(learned.draft)
    assert not any(field.kind == "chooser" for page in draft.pages for field in page.fields)


def test_a_lone_bubble_smaller_than_every_row_bubble_is_no_mark():
    # A glyph's box in a title (the 口 of 答, the box of 四) passes the outline test as a lone bubble; a proctor's
    # 缺考 box is printed as large as the answers' bubbles or larger, so only those are drafted as marks.
    from omr.template_learn.bubbles import FoundBubble
    from omr.template_learn.grouping import FoundMark, group_bubbles

    row = [FoundBubble(30.0 + 7 * k, 100.0, 5.0, 3.0, "ellipse", None) for k in range(4)]
    glyph_box = FoundBubble(88.0, 26.0, 2.8, 1.5, "rect", None)
    same, larger = FoundBubble(90.0, 50.0, 5.0, 3.0, "ellipse", None), FoundBubble(120.0, 50.0, 7.0, 4.0, "rect", None)
    marks = [(item.x, item.y) for item in group_bubbles(row + [glyph_box, same, larger]) if isinstance(item, FoundMark)]
    assert sorted(marks) == [(90.0, 50.0), (120.0, 50.0)]
