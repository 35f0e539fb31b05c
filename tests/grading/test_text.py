"""grading.text: the one rule for text people type."""

import pytest

from grading.text import clean_text, text_problem


@pytest.mark.parametrize("value", ["张三", "O'Brien", "高一(1)班", "Zoë", "李\u200d华", "a b"])
def test_names_people_have_are_kept(value):
    assert clean_text(value, field="姓名", max_length=100) == value


@pytest.mark.parametrize("value, word", [("张\x00三", "control"), ("a\x1bb", "control"), ("x\ud800", "surrogate"),
                                         ("\ue000", "private-use"), ("\u0378", "unassigned"), ("a\nb", "control")])
def test_refused_characters_are_named_with_their_position(value, word):
    with pytest.raises(ValueError, match=f"姓名: contains .*{word}.*U\\+"):
        clean_text(value, field="姓名")


def test_length_is_the_columns():
    assert text_problem("x" * 100, max_length=100) is None
    with pytest.raises(ValueError, match="longer than 100 characters \\(101\\)"):
        clean_text("x" * 101, field="班级", max_length=100)


def test_multiline_text_keeps_line_feeds_and_tabs_only():
    assert clean_text("第一行\n\t第二行", field="reason", multiline=True) == "第一行\n\t第二行"
    with pytest.raises(ValueError):
        clean_text("a\rb\x00", field="reason", multiline=True)


def test_surrounding_space_is_stripped_and_nfc_applied():
    assert clean_text("  e\u0301  ", field="姓名") == "\u00e9"
