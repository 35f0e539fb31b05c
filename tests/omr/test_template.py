"""Template validation, layout-helper expansion and the page-identity code."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from omr.template import (IDENTITY_BITS, TemplateError, decode_identity, expand_page, identity_bits,
                          load_template, parse_template)
from sample_sheets import bundled_templates, resolve_template


def _minimal() -> dict:
    """A small valid A4 template: four anchors, an identity strip and a 60-question choice block."""
    return {
        "id": "t-min",
        "page_size": "A4",
        "pages": [{
            "anchors": [{"id": name, "x": x, "y": y} for name, x, y in
                        [("tl", 10, 10), ("tr", 200, 10), ("bl", 10, 287), ("br", 200, 287)]],
            "identity": {"x": 60, "y": 10},
            "fields": [{"kind": "choice_block", "id": "q", "first": 1, "count": 60, "options": "ABCD",
                        "x": 25, "y": 100, "rows": 10, "row_pitch": 5.5, "column_pitch": 30, "option_pitch": 6}],
        }],
    }


def _error(data: dict) -> str:
    with pytest.raises(TemplateError) as info:
        parse_template(data)
    return str(info.value)


def test_minimal_template_is_valid():
    template = parse_template(_minimal())
    assert template.id == "t-min"
    assert template.page_mm == (210.0, 297.0)


def test_unknown_field_is_forbidden_and_named():
    data = _minimal()
    data["pages"][0]["anchors"][0]["colour"] = "red"
    message = _error(data)
    assert "pages.0.anchors.0.colour" in message
    assert "not permitted" in message


def test_unknown_top_level_field_is_named():
    data = _minimal()
    data["titel"] = "typo"
    message = _error(data)
    assert "titel" in message and "not permitted" in message


def test_bubble_outside_page_names_field_and_bubble():
    data = _minimal()
    data["pages"][0]["fields"][0]["x"] = 200  # options B..D run off the right edge
    message = _error(data)
    assert "fields[q]" in message
    assert "outside the 210x297 mm page" in message
    assert "Q1/" in message


def test_region_far_corner_outside_page():
    data = _minimal()
    data["pages"][0]["fields"].append({"kind": "region", "id": "essay", "x": 20, "y": 250, "w": 100, "h": 60})
    message = _error(data)
    assert "fields[essay] (far corner)" in message and "outside" in message


def test_duplicate_field_id():
    data = _minimal()
    data["pages"][0]["fields"].append({"kind": "mark", "id": "q", "x": 150, "y": 50})
    message = _error(data)
    assert "id 'q' used twice" in message


def test_fewer_than_four_anchors():
    data = _minimal()
    data["pages"][0]["anchors"].pop()
    message = _error(data)
    assert "pages.0.anchors" in message and "at least 4" in message


def test_repeated_option_label():
    data = _minimal()
    data["pages"][0]["fields"][0]["options"] = "ABCA"
    message = _error(data)
    assert "pages.0.fields.0" in message and "repeat a label" in message


def test_non_digit_score_labels():
    data = _minimal()
    data["pages"][0]["fields"].append({
        "kind": "score_box", "id": "s9", "question": "Q9", "max_score": 10,
        "digits": [{"place": 1, "labels": "01a"}], "x": 30, "y": 250,
    })
    message = _error(data)
    assert "score_box.digits.0" in message and "must be digits" in message


@pytest.mark.parametrize("page_size", ["A5", {"width_mm": 10, "height_mm": 100}, 297])
def test_bad_page_size(page_size):
    data = _minimal()
    data["page_size"] = page_size
    message = _error(data)
    assert "page_size" in message


def test_unknown_field_kind_lists_expected_kinds():
    data = _minimal()
    data["pages"][0]["fields"][0]["kind"] = "choices"
    message = _error(data)
    assert "'choices'" in message and "choice_block" in message


def test_malformed_json_reports_line(tmp_path: Path):
    text = json.dumps(_minimal(), indent=2).splitlines()
    text[2] = text[2] + " oops"  # garbage on line 3
    path = tmp_path / "bad.json"
    path.write_text("\n".join(text), encoding="utf-8")
    with pytest.raises(TemplateError) as info:
        load_template(path)
    assert "not valid JSON" in str(info.value)
    assert "line 3" in str(info.value)


def test_missing_file_is_a_template_error(tmp_path: Path):
    with pytest.raises(TemplateError, match="cannot read template"):
        load_template(tmp_path / "nope.json")


def test_json_text_and_dict_agree():
    data = _minimal()
    assert parse_template(json.dumps(data)) == parse_template(data)


# ----------------------------------------------------------------------------------------------------------
# Layout helpers


def test_choice_block_expands_to_numbered_groups_with_column_wrap():
    page = expand_page(parse_template(_minimal()), 1)
    assert len(page.groups) == 60
    assert all(len(group.bubbles) == 4 for group in page.groups)
    assert len(page.bubbles) == 240
    assert [group.number for group in page.groups] == list(range(1, 61))
    assert [group.id for group in page.groups[:3]] == ["Q1", "Q2", "Q3"]
    assert {group.kind for group in page.groups} == {"question"}
    assert {group.select for group in page.groups} == {"single"}
    for i, group in enumerate(page.groups):
        col, row = divmod(i, 10)  # rows=10: questions 11, 21, ... start a new column
        assert [b.label for b in group.bubbles] == list("ABCD")
        for k, bubble in enumerate(group.bubbles):
            assert bubble.x == pytest.approx(25 + col * 30 + k * 6)
            assert bubble.y == pytest.approx(100 + row * 5.5)
    q10, q11 = page.groups[9], page.groups[10]
    assert q11.bubbles[0].y == pytest.approx(page.groups[0].bubbles[0].y)
    assert q11.bubbles[0].x - q10.bubbles[0].x == pytest.approx(30)


def test_first_number_and_prefix():
    data = _minimal()
    data["pages"][0]["fields"][0].update(first=41, count=5, prefix="M", select="multi")
    page = expand_page(parse_template(data), 1)
    assert [g.id for g in page.groups] == ["M41", "M42", "M43", "M44", "M45"]
    assert {g.select for g in page.groups} == {"multi"}


def test_grid_mark_and_score_box_expand():
    data = _minimal()
    data["pages"][0]["fields"] = [
        {"kind": "grid", "id": "exam_id", "role": "student_id", "columns": 3, "x": 20, "y": 40},
        {"kind": "mark", "id": "absent", "x": 120, "y": 40},
        {"kind": "score_box", "id": "s1", "question": "Q1", "max_score": 12, "half": True,
         "digits": [{"place": 10, "labels": "01"}, {"place": 1, "labels": "0123456789"}], "x": 30, "y": 150},
    ]
    page = expand_page(parse_template(data), 1)
    grid = [g for g in page.groups if g.field_id == "exam_id"]
    assert [g.id for g in grid] == ["exam_id[0]", "exam_id[1]", "exam_id[2]"]
    assert all(g.kind == "id_column" and g.role == "student_id" for g in grid)
    assert [b.label for b in grid[1].bubbles] == list("0123456789")
    assert grid[1].bubbles[0].x == pytest.approx(26.0)  # default column pitch 6 mm
    assert grid[1].bubbles[9].y == pytest.approx(40 + 9 * 4.6)
    (mark,) = [g for g in page.groups if g.kind == "mark"]
    assert mark.role == "absent" and len(mark.bubbles) == 1 and not mark.bubbles[0].show_label
    score = [g for g in page.groups if g.field_id == "s1"]
    assert [(g.kind, g.place) for g in score] == [("score_digit", 10), ("score_digit", 1), ("score_half", 0.5)]
    assert score[2].bubbles[0].label == "½"
    assert score[2].bubbles[0].y == pytest.approx(150 + 2 * 4.6)


def test_expand_page_rejects_missing_page():
    template = parse_template(_minimal())
    with pytest.raises(TemplateError, match="1 page"):
        expand_page(template, 2)


# ----------------------------------------------------------------------------------------------------------
# Identity strip

CODES = [0, 1, 101, 202, 511, 512, 777, 1023]


@pytest.mark.parametrize("code", CODES)
def test_identity_round_trip_every_page(code):
    for page in range(1, 9):
        bits = identity_bits(code, page)
        assert len(bits) == IDENTITY_BITS
        assert bits[0] == 1 and bits[-1] == 0
        assert set(bits) <= {0, 1}
        assert decode_identity(bits) == (code, page)
        assert decode_identity(list(bits)) == (code, page)


@pytest.mark.parametrize("code", CODES)
def test_identity_rejects_reversed_and_single_flips(code):
    for page in range(1, 9):
        bits = identity_bits(code, page)
        assert decode_identity(tuple(reversed(bits))) is None  # a page scanned upside down
        for i in range(IDENTITY_BITS):
            flipped = list(bits)
            flipped[i] ^= 1
            assert decode_identity(flipped) is None, (code, page, i)


def test_identity_rejects_wrong_length():
    bits = identity_bits(5, 1)
    assert decode_identity(bits[:-1]) is None
    assert decode_identity((*bits, 0)) is None


@pytest.mark.parametrize("code, page", [(-1, 1), (1024, 1), (5, 0), (5, 9)])
def test_identity_bits_out_of_range(code, page):
    with pytest.raises(TemplateError):
        identity_bits(code, page)


def test_identity_code_explicit_or_derived():
    data = _minimal()
    assert 0 <= parse_template(data).identity_code <= 1023
    data["code"] = 321
    template = parse_template(data)
    assert template.identity_code == 321
    assert decode_identity(expand_page(template, 1).identity_bits) == (321, 1)


def test_identity_strip_must_fit_on_page():
    data = _minimal()
    data["pages"][0]["identity"]["x"] = 150  # 18 pitches of 4.5 mm run past x = 210
    assert "identity (last cell)" in _error(data)


# ----------------------------------------------------------------------------------------------------------
# Bundled templates


def test_bundled_templates_load():
    assert {"cn-a4-55", "cn-a3-100"} <= set(bundled_templates())
    for name in bundled_templates():
        template = resolve_template(name)
        assert template.id == name
        for n in range(1, len(template.pages) + 1):
            page = expand_page(template, n)
            if template.pages[n - 1].identity is None:  # another system's sheet (omr.orient tells its pages)
                assert page.identity_bits == () and template.page_size == "Letter"
                continue
            assert decode_identity(page.identity_bits) == (template.identity_code, n)


def test_bundled_template_counts():
    a4 = resolve_template("cn-a4-55")
    page = expand_page(a4, 1)
    assert len(page.bubbles) == 353
    assert sorted(g.number for g in page.groups if g.kind == "question") == list(range(1, 56))
    a3 = resolve_template("cn-a3-100")
    assert len(a3.pages) == 2 and a3.page_mm == (297.0, 420.0)
    numbers = [g.number for n in (1, 2) for g in expand_page(a3, n).groups if g.kind == "question"]
    assert numbers == list(range(1, 101))


def test_resolve_unknown_template_lists_bundled():
    with pytest.raises(TemplateError) as info:
        resolve_template("no-such-sheet")
    assert "cn-a4-55" in str(info.value)


def test_resolve_by_path(tmp_path: Path):
    path = tmp_path / "mine.json"
    path.write_text(json.dumps(_minimal()), encoding="utf-8")
    assert resolve_template(path).id == "t-min"
    assert resolve_template(str(path)).id == "t-min"


def test_templates_are_immutable():
    template = parse_template(_minimal())
    with pytest.raises(ValidationError):
        template.id = "other"  # frozen, so a template can key caches of its renderings
    assert copy.deepcopy(template) == template
