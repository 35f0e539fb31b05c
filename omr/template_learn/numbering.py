"""Question numbers and field names proposed for a draft: the reading order of an answer card.

Choice blocks are numbered in reading order, page after page: blocks whose tops lie within a band of
``_BAND_MM`` are one band, bands from top to bottom, blocks in a band from left to right; inside a block the
template's own order applies (down a column, then the next column). Score boxes take the next numbers, in the
same order (they belong to the written questions after the choice questions). A grid of ten digit rows is the
考号 (the first one; any other is ``other``); the first single mark of page 1 is proposed as 缺考. These are
proposals the user checks: nothing printed says which question is multi-select or what a mark means.
"""

from __future__ import annotations

from dataclasses import dataclass

from omr.template_learn.grouping import FoundChoiceBlock, FoundField, FoundGrid, FoundMark, FoundScoreBox, bands
from omr.template_learn.labels import DIGITS

__all__ = ["NamedField", "number_fields"]

_BAND_MM = 3.0


@dataclass(frozen=True)
class NamedField:
    id: str
    role: str | None
    found: FoundField


def _reading_order(fields: list[FoundField]) -> list[FoundField]:
    return [item for band in bands(fields, lambda f: f.y, _BAND_MM) for item in sorted(band, key=lambda f: f.x)]


def number_fields(pages: list[list[FoundField]]) -> list[list[NamedField]]:
    """Number and name every page's fields (see the module notes); sets ``first`` and ``question`` in place."""
    ordered = [_reading_order(fields) for fields in pages]
    number = 1
    for fields in ordered:
        for item in fields:
            if isinstance(item, FoundChoiceBlock):
                item.first = number
                number += item.count
    for fields in ordered:
        for item in fields:
            if isinstance(item, FoundScoreBox):
                item.question = number
                number += 1
    named_pages: list[list[NamedField]] = []
    have_student_id = have_absent = False
    for page_index, fields in enumerate(ordered):
        named: list[NamedField] = []
        counts = {"grid": 0, "mark": 0}
        for item in fields:
            if isinstance(item, FoundChoiceBlock):
                named.append(NamedField(f"q{item.first}_{item.first + item.count - 1}", None, item))
            elif isinstance(item, FoundScoreBox):
                named.append(NamedField(f"score{item.question}", None, item))
            elif isinstance(item, FoundGrid):
                if not have_student_id and item.labels == DIGITS:
                    have_student_id = True
                    named.append(NamedField("exam_id", "student_id", item))
                else:
                    counts["grid"] += 1
                    named.append(NamedField(f"grid{page_index + 1}_{counts['grid']}", "other", item))
            elif isinstance(item, FoundMark):
                if not have_absent and page_index == 0:
                    have_absent = True
                    named.append(NamedField("absent", "absent", item))
                else:
                    counts["mark"] += 1
                    named.append(NamedField(f"mark{page_index + 1}_{counts['mark']}", "other", item))
        named_pages.append(named)
    return named_pages
