"""The answer sheet (答题卡) of an assembled paper: an :mod:`omr.template` template on A4, laid out from the exam.

Every page has the four corner anchors and the page-identity strip of the bundled ``cn-a4-55``; page 1 has the
name box, the 10-digit 考号 grid and the 缺考 mark. Then, in paper order, each part under its heading: choice
questions as ``choice_block``s (consecutive questions with the same options share a block, in as many columns as
the page width holds), and each subjective question as a ``score_box`` (tens and units rows, and a half mark)
beside the ``region`` the student writes in. A part that does not fit continues on the next page (at most 8).
"""

from __future__ import annotations

import math
from typing import Any

from grading.exam import Exam, Question
from omr.template import Template, parse_template

__all__ = ["answer_sheet", "SHEET_PAGE_LIMIT"]

SHEET_PAGE_LIMIT = 8
_WIDTH, _BOTTOM = 210.0, 278.0  # the lowest bubble centre or region edge (the bottom anchors sit at 285)
_ANCHORS = [{"id": "tl", "x": 12, "y": 12, "size": 5}, {"id": "tr", "x": 198, "y": 12, "size": 5},
            {"id": "bl", "x": 12, "y": 285, "size": 5}, {"id": "br", "x": 198, "y": 285, "size": 5}]
_IDENTITY = {"x": 60, "y": 12}
_ROW_PITCH, _OPTION_PITCH, _LEFT, _RIGHT = 5.5, 7.0, 25.0, 195.0
_ASCII_HEADINGS = {"single": "SINGLE CHOICE", "multi": "MULTIPLE CHOICE", "truefalse": "TRUE/FALSE",
                   "subjective": "WRITTEN ANSWERS"}


class _Pages:
    """Pages being filled top to bottom."""

    def __init__(self, title: str):
        self.pages: list[dict[str, Any]] = []
        self.new_page()
        page = self.pages[0]
        page["texts"] += [{"x": 20, "y": 25, "text": title, "ascii": "ANSWER SHEET", "size": 4.5},
                          {"x": 20, "y": 46, "text": "考号", "ascii": "EXAM ID", "size": 3},
                          {"x": 86, "y": 46, "text": "缺考", "ascii": "ABSENT", "size": 3}]
        page["fields"] += [{"kind": "region", "id": "name", "x": 110, "y": 18, "w": 45, "h": 10, "caption": "姓名"},
                           {"kind": "grid", "id": "exam_id", "role": "student_id", "labels": "0123456789",
                            "columns": 10, "x": 22, "y": 52, "column_pitch": 6.0, "row_pitch": 4.6},
                           {"kind": "mark", "id": "absent", "role": "absent", "x": 90, "y": 53}]
        self.y = 101.0

    def new_page(self) -> None:
        if len(self.pages) == SHEET_PAGE_LIMIT:
            raise ValueError(f"the answer sheet would need more than {SHEET_PAGE_LIMIT} A4 pages")
        self.pages.append({"anchors": _ANCHORS, "identity": _IDENTITY, "fields": [], "texts": []})
        self.y = 25.0

    @property
    def page(self) -> dict[str, Any]:
        return self.pages[-1]

    def room(self, height: float) -> None:
        """Start a new page unless ``height`` mm fit below the current position."""
        if self.y + height > _BOTTOM:
            self.new_page()


def _runs(questions: list[Question]) -> list[list[Question]]:
    runs: list[list[Question]] = []
    for q in questions:
        if runs and runs[-1][-1].options == q.options:
            runs[-1].append(q)
        else:
            runs.append([q])
    return runs


def _choice_blocks(pages: _Pages, questions: list[Question]) -> None:
    for run in _runs(questions):
        options = run[0].options
        column_pitch = max(46.0, _OPTION_PITCH * len(options) + 18.0)
        columns = int((_RIGHT - _LEFT - (len(options) - 1) * _OPTION_PITCH) // column_pitch) + 1
        start = 0
        while start < len(run):
            pages.room(_ROW_PITCH + 2)
            rows_fit = int((_BOTTOM - pages.y) // _ROW_PITCH) + 1
            rows = min(rows_fit, math.ceil((len(run) - start) / columns))
            count = min(len(run) - start, rows * columns)
            first = int(run[start].id[1:])
            pages.page["fields"].append({
                "kind": "choice_block", "id": f"block{first}", "first": first, "count": count, "options": options,
                "select": "multi" if run[0].type == "multi" else "single", "x": _LEFT, "y": pages.y, "rows": rows,
                "row_pitch": _ROW_PITCH, "column_pitch": column_pitch, "option_pitch": _OPTION_PITCH})
            pages.y += rows * _ROW_PITCH + 3
            start += count


def _digits(max_score: float) -> list[dict[str, Any]]:
    top = int(max_score)
    places = [place for place in (100, 10, 1) if top >= place] or [1]
    digits = []
    for k, place in enumerate(places):
        highest = min(9, top // place) if k == 0 else 9
        digits.append({"place": place, "labels": "0123456789"[:max(highest, 1) + 1]})
    return digits


def _score_boxes(pages: _Pages, questions: list[Question]) -> None:
    for q in questions:
        digits = _digits(q.points)
        height = max(26.0, (len(digits) + 1) * 4.6 + 8)
        pages.room(height)
        number = q.id[1:]
        pages.page["fields"] += [
            {"kind": "score_box", "id": f"score{number}", "question": q.id, "max_score": q.points, "half": True,
             "digits": digits, "x": 27, "y": pages.y + 4},
            {"kind": "region", "id": f"answer{number}", "question": q.id, "x": 85, "y": pages.y, "w": 110,
             "h": height, "caption": number}]
        pages.y += height + 3


def answer_sheet(exam: Exam, *, template_id: str | None = None, title: str = "") -> Template:
    """The validated answer-sheet template for ``exam`` (see the module docstring).

    Raises
    ------
    ValueError
        When the sheet would need more than :data:`SHEET_PAGE_LIMIT` pages.
    """
    pages = _Pages(title or f"{exam.name or exam.subject} 答题卡")
    parts: list[tuple[str, list[Question]]] = []
    for q in exam.questions:
        if parts and parts[-1][0] == q.type:
            parts[-1][1].append(q)
        else:
            parts.append((q.type, [q]))
    for kind, questions in parts:
        pages.room(5 + _ROW_PITCH)
        heading = exam.section_name(questions[0].section) if questions[0].section else kind
        pages.page["texts"].append({"x": 20, "y": pages.y, "text": heading, "ascii": _ASCII_HEADINGS[kind],
                                    "size": 3})
        pages.y += 5
        if kind == "subjective":
            pages.y -= 1
            _score_boxes(pages, questions)
        else:
            _choice_blocks(pages, questions)
        pages.y += 3
    return parse_template({"id": template_id or f"{exam.id}-sheet", "name": pages.pages[0]["texts"][0]["text"],
                           "page_size": "A4", "pages": pages.pages})
