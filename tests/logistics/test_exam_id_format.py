"""考号 formats: refused when two seats could share a 考号 or the 考号 does not fit the sheet's grid."""

from __future__ import annotations

import pytest

from logistics.exam_ids import DEFAULT_FORMAT, ExamIdFormat, ExamIdFormatError


def test_default_format_renders_fixed_width_ids() -> None:
    fmt = ExamIdFormat.checked(DEFAULT_FORMAT, school="0101", grade=3, rooms=20, seats=30, id_length=10)
    assert fmt.render(1, 1) == "0101030101"  # leading zeros kept: it is text
    assert fmt.render(20, 30) == "0101032030"


@pytest.mark.parametrize("pattern, words", [
    ("{school}{grade:02d}{seat:04d}", "no {room}"),
    ("{school}{grade:02d}{room:04d}", "no {seat}"),
    ("{school}{grade:02d}{room}{seat}", "fixed width"),
    ("{school}{grade:02d}{room:d}{seat:02d}", "fixed width"),
    ("{school}{grade:02d}{room:2d}{seat:02d}", "zero-padded"),
    ("{school}{grade:02d}{room:01d}{seat:03d}", "room 20 does not fit"),
    ("{school}{grade:02d}{room:02d}{seat:01d}X", "not digits"),
    ("{school}-{grade:02d}{room:02d}{seat:02d}", "not digits"),
    ("{school}{year:02d}{room:02d}{seat:02d}", "unknown field"),
    ("{school!r}{grade:02d}{room:02d}{seat:02d}", "conversion"),
    ("{school}{grade:02d}{room:02d}{seat:02d", "format"),
])
def test_formats_that_can_collide_are_refused(pattern: str, words: str) -> None:
    with pytest.raises(ExamIdFormatError, match=words.replace("{", r"\{").replace("}", r"\}")):
        ExamIdFormat.checked(pattern, school="0101", grade=3, rooms=20, seats=30)


def test_ids_must_fill_the_sheets_grid_exactly() -> None:
    with pytest.raises(ExamIdFormatError, match="12-digit .* grid has 10 columns"):
        ExamIdFormat.checked(DEFAULT_FORMAT, school="340101", grade=3, rooms=20, seats=30, id_length=10)
    with pytest.raises(ExamIdFormatError, match="8-digit"):
        ExamIdFormat.checked(DEFAULT_FORMAT, school="01", grade=3, rooms=20, seats=30, id_length=10)


def test_school_and_grade_must_fit() -> None:
    with pytest.raises(ExamIdFormatError, match="digits"):
        ExamIdFormat.checked(DEFAULT_FORMAT, school="01A1", grade=3, rooms=2, seats=30)
    with pytest.raises(ExamIdFormatError, match="grade 2026 does not fit"):
        ExamIdFormat.checked(DEFAULT_FORMAT, school="0101", grade=2026, rooms=2, seats=30)
