"""What the fields of a card's header mean: the 考号 grid, the 卷型 row, the 缺考 and 违纪 marks.

Proposals from where fields stand, for the user to check (nothing printed that this reads says it):

* the first grid of ten digit rows, in reading order, is the 考号 (``student_id``);
* on the page with the 考号 grid or the first mark (the header page), a lone question labelled A B ... standing
  above every block of questions is no question but the 卷型 (form) grid, ``across`` as printed (an AB row) or
  ``down``: questions start with the first block, and the header above it holds the student's details;
* the first single mark of page 1 is 缺考 (``absent``); a second single mark of its size on its row, the nearest to
  its right within ``_REACH`` bubble widths, is 违纪 (``violation``): Chinese cards print 缺考 left of 违纪.
"""

from __future__ import annotations

from omr.template_learn.grouping import FoundChoiceBlock, FoundField, FoundGrid, FoundMark
from omr.template_learn.labels import ALPHABET, DIGITS
from omr.template_learn.reading import extent, reading_order

__all__ = ["assign_roles"]

_ROW_MM = 0.6  # mark centres this close in y (or within half a bubble's height) are one row
_SIZE_MM = 0.6
_REACH = 10.0  # in bubble widths


def _form_grid(block: FoundChoiceBlock) -> FoundGrid:
    """A lone question's bubbles as the one-character grid they are (its options are the grid's labels)."""
    style = block.style
    across = block.direction == "across"
    return FoundGrid(block.x, block.y, 1, block.options,
                     column_pitch=style.height + 1.5 if across else style.width + 1.0,
                     row_pitch=block.option_pitch, style=style, direction="across" if across else "down",
                     role="form")


def _is_form(item: FoundField, fields: list[FoundField]) -> bool:
    if not (isinstance(item, FoundChoiceBlock) and item.count == 1 and item.options == ALPHABET[:len(item.options)]):
        return False
    top = extent(item)[1]
    return all(extent(block)[1] > top for block in fields
               if isinstance(block, FoundChoiceBlock) and block is not item and block.count > 1)


def _violation(absent: FoundMark, marks: list[FoundMark]) -> FoundMark | None:
    style = absent.style
    beside = [mark for mark in marks if mark is not absent and mark.x > absent.x
              and abs(mark.y - absent.y) <= max(_ROW_MM, style.height / 2)
              and abs(mark.style.width - style.width) < _SIZE_MM and abs(mark.style.height - style.height) < _SIZE_MM
              and mark.x - absent.x <= _REACH * style.width]
    return min(beside, key=lambda mark: mark.x, default=None)


def assign_roles(pages: list[list[FoundField]]) -> list[list[FoundField]]:
    """Every page's fields in reading order, with the header's roles set (see the module notes): grids and marks
    get their ``role`` in place, and a 卷型 row drafted as a lone question is replaced by its grid."""
    ordered = [reading_order(fields) for fields in pages]
    student_id = next((item for fields in ordered for item in fields
                       if isinstance(item, FoundGrid) and item.labels == DIGITS), None)
    if student_id is not None:
        student_id.role = "student_id"
    marks = [item for item in ordered[0] if isinstance(item, FoundMark)] if ordered else []
    if marks:
        marks[0].role = "absent"
        violation = _violation(marks[0], marks)
        if violation is not None:
            violation.role = "violation"
    have_form = False
    out = []
    for fields in ordered:
        header_page = any(item is student_id or (marks and item is marks[0]) for item in fields)
        page = []
        for item in fields:
            if header_page and not have_form and _is_form(item, fields):
                have_form = True
                item = _form_grid(item)
            page.append(item)
        out.append(page)
    return out
