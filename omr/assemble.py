"""Assemble pages into sheets (one per student) by page identity, in scan order.

A multi-page card is scanned page after page. Page 1 opens a sheet; page k joins the open sheet when that sheet
has pages 1..k-1 and no page k yet, and when the page's own student id (if it has one) agrees. A page that
fits no open sheet starts a sheet of its own, flagged with the pages it lacks, so nothing is dropped. A student
id on two sheets flags both.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from omr.result import PageResult, QuestionReading, ScoreReading

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
    for field_name in ("student_id", "student_id_status", "barcode", "absent", "form"):
        value = getattr(page, field_name)
        if value is not None and getattr(sheet, field_name) is None:
            setattr(sheet, field_name, value)
    prefix = f"page {page.page}: " if page_count > 1 else ""
    for reason in page.reasons:
        sheet.flag(prefix + reason)


def assemble_sheets(pages: list[PageResult], page_count: int) -> tuple[list[SheetResult], list[PageResult]]:
    """Group readable pages into sheets; return (sheets, pages that could not be read).

    Parameters
    ----------
    pages : list of PageResult
        In scan order.
    page_count : int
        Pages per sheet of the template.
    """
    sheets: list[SheetResult] = []
    unreadable: list[PageResult] = []
    current: SheetResult | None = None
    for page in pages:
        if page.status == "error" or page.page is None:
            unreadable.append(page)
            continue
        numbers = [p["page"] for p in current.pages] if current else []
        fits = (
            current is not None and page.page not in numbers and numbers == list(range(1, page.page))
            and not (page.student_id and current.student_id and page.student_id != current.student_id)
        )
        if not fits:
            current = _start(len(sheets), page.template_id or "")
            sheets.append(current)
        _add(current, page, page_count)
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
