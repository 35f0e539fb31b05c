"""``template learn`` drafts anchors of every shape with their size, and timing tracks (同步头), from blank scans."""

from __future__ import annotations

from pathlib import Path

import pytest

from learn_fixtures import DPIS, TOLERANCE_MM, compare_anchors, compare_page, compare_tracks, learn_bundled
from omr.template import expand_page, load_template, parse_template
from sample_sheets import resolve_template

TIMING_CARD = Path(__file__).parents[1] / "data" / "timing_card.json"

#: L-corners of unequal sides with thin and thick arms, a rect, a circle, and a track along the bottom edge.
SHAPES = {
    "id": "shapes-test", "code": 78, "page_size": "A4",
    "pages": [{
        "anchors": [
            {"id": "tl", "shape": "l_corner", "corner": "tl", "x": 16, "y": 12, "width": 12, "height": 8, "arm": 2},
            {"id": "tr", "shape": "rect", "x": 194, "y": 12, "width": 4, "height": 9},
            {"id": "bl", "shape": "circle", "x": 16, "y": 285, "size": 7},
            {"id": "br", "shape": "l_corner", "corner": "br", "x": 194, "y": 285, "size": 8, "arm": 4},
        ],
        "identity": {"x": 60, "y": 12},
        "timing": [{"id": "bottom", "side": "bottom", "x": 30, "y": 280, "count": 20, "pitch": 7.5,
                    "bar_width": 2, "bar_height": 5}],
        "fields": [
            {"kind": "grid", "id": "exam_id", "role": "student_id", "columns": 8, "x": 20, "y": 30},
            {"kind": "choice_block", "id": "q1_20", "first": 1, "count": 20, "options": "ABCD", "rows": 10,
             "x": 30, "y": 110, "row_pitch": 7, "column_pitch": 60, "option_pitch": 7.5},
        ],
    }],
}


def _recovered(template, dpi: int) -> list[str]:
    learned = learn_bundled(template, dpi, seed=dpi + 7)
    draft = parse_template(learned.draft)
    truth, drafted = expand_page(template, 1), expand_page(draft, 1)
    worst_bubble, _, problems = compare_page(truth, drafted)
    worst_bar, track_problems = compare_tracks(truth.timing, drafted.timing)
    print(f"{template.id} at {dpi} dpi: max bubble error {worst_bubble:.3f} mm, max bar error {worst_bar:.3f} mm")
    problems += compare_anchors(truth.anchors, drafted.anchors) + track_problems
    if worst_bubble > TOLERANCE_MM or worst_bar > TOLERANCE_MM:
        problems.append(f"max bubble error {worst_bubble:.3f} mm, max bar error {worst_bar:.3f} mm")
    return problems


@pytest.mark.parametrize("dpi", DPIS)
def test_timing_card_tracks_and_rect_anchors(dpi: int):
    """Left, right and top tracks; rect anchors 10 x 5 mm; 108 questions whose rows the tracks fix."""
    assert not _recovered(load_template(TIMING_CARD), dpi)


@pytest.mark.parametrize("dpi", (150, 300))
def test_l_corners_with_their_arms_rect_circle_and_a_bottom_track(dpi: int):
    assert not _recovered(parse_template(SHAPES), dpi)


def test_bars_among_the_bubbles_are_no_track():
    """Solid bars in a row with bubbles between them and the page's edge are printed content, not 同步头."""
    moved = {**SHAPES, "pages": [{**SHAPES["pages"][0], "timing": [
        {"id": "bottom", "side": "bottom", "x": 30, "y": 100, "count": 20, "pitch": 7.5, "bar_width": 2,
         "bar_height": 5}]}]}
    learned = learn_bundled(parse_template(moved), 200, seed=3)
    assert "timing" not in learned.draft["pages"][0]


def test_a_track_bar_nearer_the_corner_than_the_anchor_is_not_taken_for_it():
    template = load_template(TIMING_CARD).model_dump(exclude_none=True)
    template["pages"][0]["timing"][0].update(y=8.0)  # the left track's first bar now lies beyond the tl anchor
    assert not _recovered(parse_template(template), 200)


@pytest.mark.parametrize("dpi", (150, 300))
def test_provincial_card_anchors_and_track(dpi: int):
    """cn-prov-a3 (A3 landscape, two pages): rect anchors 10 x 5 mm and its left 同步头 on both pages (its fields:
    test_learn_recovery.py)."""
    template = resolve_template("cn-prov-a3")
    draft = parse_template(learn_bundled(template, dpi, seed=dpi + 11).draft)
    for number in (1, 2):
        truth, drafted = expand_page(template, number), expand_page(draft, number)
        worst_bar, problems = compare_tracks(truth.timing, drafted.timing)
        assert not problems + compare_anchors(truth.anchors, drafted.anchors) and worst_bar <= TOLERANCE_MM
