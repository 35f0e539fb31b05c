"""Assemble pages into sheets (one per student) by page identity, in scan order.

A multi-page card is scanned page after page, front first (1, 2, ...) or, when the stack was fed the other way
or the files are named in the other order, back first (..., 2, 1). A sheet is a run of consecutive readable
pages that is either a forward run 1, 2, ..., k or a backward run N, N-1, ..., k of the card's N pages, whose
student ids (where a page has one) agree; a page that fits no run is a sheet of its own, flagged with the pages
it lacks, so nothing is dropped.

Runs are chosen for the whole batch at once (dynamic programming): as many complete sheets as possible, then as
few sheets as possible against the batch's direction, then as few sheets as possible. The batch's direction is
front first unless more of the sheets that both directions agree on were fed back first. So a card fed back to
front in a batch fed front first still makes one sheet, while a lone page 2 before a complete card (whose page 1
was lost) is not paired with that card's page 1 -- and a whole batch fed back to front with a lost page is paired
the back-first way. Where pages carry no student id this is the likelier reading, not a certainty: a lost page
can still pair two students' pages, as it could when only front-first runs were taken. A student id on two
sheets flags both.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from omr.result import ChoiceReading, PageResult, QuestionReading, ScoreReading

__all__ = ["SheetResult", "assemble_sheets"]


@dataclass
class SheetResult:
    """One student's answer sheet, from one or more pages."""

    sheet_index: int
    template_id: str
    status: str  # ok | flagged
    reasons: list[str] = field(default_factory=list)
    student_id: str | None = None
    student_id_status: str | None = None
    barcode: str | None = None
    absent: bool | None = None
    form: str | None = None
    pages: list[dict] = field(default_factory=list)  # [{"source", "page_index", "page"}]
    questions: dict[str, QuestionReading] = field(default_factory=dict)
    scores: dict[str, ScoreReading] = field(default_factory=dict)
    violation: bool | None = None  # the proctor's 违纪 mark
    choices: dict[str, ChoiceReading] = field(default_factory=dict)  # 选考题 choosers
    crops: dict[str, str] = field(default_factory=dict)  # region (or part) id -> crop file; a whole answer stitched

    def flag(self, reason: str) -> None:
        if reason not in self.reasons:
            self.reasons.append(reason)
        self.status = "flagged"


def _start(index: int, template_id: str) -> SheetResult:
    return SheetResult(sheet_index=index, template_id=template_id, status="ok")


def _add(sheet: SheetResult, page: PageResult, page_count: int) -> None:
    sheet.pages.append({"source": page.source, "page_index": page.page_index, "page": page.page})
    sheet.questions.update(page.questions)
    sheet.scores.update(page.scores)
    sheet.choices.update(page.choices)
    sheet.crops.update(page.crops)
    for field_name in ("student_id", "student_id_status", "barcode", "absent", "form", "violation"):
        value = getattr(page, field_name)
        if value is not None and getattr(sheet, field_name) is None:
            setattr(sheet, field_name, value)
    prefix = f"page {page.page}: " if page_count > 1 else ""
    for reason in page.reasons:
        sheet.flag(prefix + reason)


def _run_direction(numbers: list[int], page_count: int) -> int | None:
    """+1 for a forward run (1, 2, ..., k), -1 for a backward run (N, ..., k), 0 for one page, None otherwise."""
    if len(numbers) == 1:
        return 0
    if numbers == list(range(1, len(numbers) + 1)):
        return 1
    if numbers == list(range(page_count, page_count - len(numbers), -1)):
        return -1
    return None


def _partition(pages: list[PageResult], page_count: int, direction: int) -> list[tuple[int, int]]:
    """Spans [start, end) of ``pages`` that make the sheets: most complete sheets, then fewest against
    ``direction``, then fewest sheets (see the module docstring)."""
    numbers = [page.page for page in pages]
    ids = [page.student_id or None for page in pages]
    # best[i]: (complete, -against, -sheets) of the best split of pages[:i], and where its last sheet starts
    best: list[tuple[tuple[int, int, int], int]] = [((0, 0, 0), 0)]
    for end in range(1, len(pages) + 1):
        options = []
        seen_id = None
        for start in range(end - 1, max(0, end - page_count) - 1, -1):  # the last sheet, growing backwards
            if ids[start] is not None:
                if seen_id is not None and ids[start] != seen_id:
                    break  # two students' ids: no longer run can be one sheet either
                seen_id = ids[start]
            run = _run_direction(numbers[start:end], page_count)
            if run is None:
                continue
            (complete, against, count), _ = best[start]
            options.append(((complete + (end - start == page_count), against - (run == -direction), count - 1),
                            start))
        best.append(max(options))  # a single page is always a sheet, so there is an option
    spans, end = [], len(pages)
    while end:
        start = best[end][1]
        spans.append((start, end))
        end = start
    return spans[::-1]


def assemble_sheets(pages: list[PageResult], page_count: int) -> tuple[list[SheetResult], list[PageResult]]:
    """Group readable pages into sheets; return (sheets, pages that could not be read).

    Parameters
    ----------
    pages : list of PageResult
        In scan order.
    page_count : int
        Pages per sheet of the template.
    """
    readable = [page for page in pages if page.status != "error" and page.page is not None]
    unreadable = [page for page in pages if page.status == "error" or page.page is None]
    if page_count == 1:
        spans = [(index, index + 1) for index in range(len(readable))]
    else:
        forward, backward = _partition(readable, page_count, 1), _partition(readable, page_count, -1)
        # Where the two readings agree the pages say how the batch was fed; where they differ, it decides.
        agreed = [_run_direction([page.page for page in readable[a:b]], page_count)
                  for a, b in set(forward) & set(backward) if b - a > 1]
        spans = backward if agreed.count(-1) > agreed.count(1) else forward
    sheets: list[SheetResult] = []
    for start, end in spans:
        sheet = _start(len(sheets), readable[start].template_id or "")
        for page in sorted(readable[start:end], key=lambda p: p.page):
            _add(sheet, page, page_count)
        sheets.append(sheet)
    for sheet in sheets:
        present = {p["page"] for p in sheet.pages}
        missing = [n for n in range(1, page_count + 1) if n not in present]
        if missing:
            sheet.flag("missing page(s) " + ", ".join(map(str, missing)))
    counts = Counter(sheet.student_id for sheet in sheets if sheet.student_id)
    for sheet in sheets:
        if sheet.student_id and counts[sheet.student_id] > 1:
            sheet.flag(f"duplicate student id {sheet.student_id}")
    return sheets, unreadable
