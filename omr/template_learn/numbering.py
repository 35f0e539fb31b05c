"""Question numbers and field names proposed for a draft, in the card's reading order (:mod:`.reading`).

Choice blocks are numbered in reading order, page after page (columns of a page left to right, top to bottom in
each; inside a block the template's own order applies). Score boxes take the next numbers, in the same order
(they belong to the written questions after the choice questions). A 选考题 chooser chooses between the questions
whose score boxes follow it in reading order, one per bubble (it stands above them, in their column); only
without them are the numbers its labels read as taken. Fields are named by their role (:mod:`.roles`): 考号
``exam_id``, ``form``, ``absent``, ``violation``; a chooser ``choose`` and its question numbers (``choose22_23``),
a guide ``guide``. These are proposals the user checks: nothing printed says which question is multi-select.
"""

from __future__ import annotations

from dataclasses import dataclass

from omr.template_learn.grouping import FoundChoiceBlock, FoundChooser, FoundField, FoundGrid, FoundMark, FoundScoreBox
from omr.template_learn.guide import FoundGuide

__all__ = ["NamedField", "number_fields"]

_ROLE_IDS = {"student_id": "exam_id", "form": "form", "absent": "absent", "violation": "violation"}


@dataclass(frozen=True)
class NamedField:
    id: str
    role: str | None
    found: FoundField | FoundGuide


def _choosers(fields: list) -> None:
    """Set each chooser's questions: the score boxes after it in reading order, one per bubble."""
    for index, item in enumerate(fields):
        if isinstance(item, FoundChooser):
            following = [f.question for f in fields[index + 1:] if isinstance(f, FoundScoreBox)][:item.count]
            item.questions = following if len(following) == item.count else list(item.printed)


def number_fields(pages: list[list]) -> list[list[NamedField]]:
    """Number and name every page's fields, given in reading order with their roles (:func:`.roles.assign_roles`);
    sets ``first``, ``question`` and a chooser's ``questions`` in place."""
    number = 1
    for fields in pages:
        for item in fields:
            if isinstance(item, FoundChoiceBlock):
                item.first = number
                number += item.count
    for fields in pages:
        for item in fields:
            if isinstance(item, FoundScoreBox):
                item.question = number
                number += 1
    named_pages: list[list[NamedField]] = []
    have_guide = False
    for page_index, fields in enumerate(pages):
        _choosers(fields)
        named: list[NamedField] = []
        counts = {"grid": 0, "mark": 0, "guide": 0}
        for item in fields:
            if isinstance(item, FoundChoiceBlock):
                named.append(NamedField(f"q{item.first}_{item.first + item.count - 1}", None, item))
            elif isinstance(item, FoundScoreBox):
                named.append(NamedField(f"score{item.question}", None, item))
            elif isinstance(item, FoundChooser):
                named.append(NamedField("choose" + "_".join(str(q) for q in item.questions), None, item))
            elif isinstance(item, FoundGuide):
                counts["guide"] += 1
                name = "guide" if not have_guide else f"guide{page_index + 1}_{counts['guide']}"
                have_guide = True
                named.append(NamedField(name, None, item))
            else:
                assert isinstance(item, (FoundGrid, FoundMark))
                kind = "grid" if isinstance(item, FoundGrid) else "mark"
                if item.role in _ROLE_IDS:
                    named.append(NamedField(_ROLE_IDS[item.role], item.role, item))
                else:
                    counts[kind] += 1
                    named.append(NamedField(f"{kind}{page_index + 1}_{counts[kind]}", "other", item))
        named_pages.append(named)
    return named_pages
