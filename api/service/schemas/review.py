"""The review queue, sheets and pages as read, reviewer corrections and the audit log."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints

from api.service.models import Correction
from api.service.schemas.common import Input, Output, Page, text

__all__ = ["ReviewItem", "ReviewPage", "CorrectionItem", "CorrectionsCreate", "CorrectionPublic",
           "AppliedCorrectionPublic", "CorrectionsResult", "SheetPublic", "PagePublic", "AuditPublic", "AuditPage"]

QuestionName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_\-]{1,32}$")]


class ReviewItem(Output):
    """One thing a person must look at: a flagged sheet, or a page that could not be read at all.

    ``reasons`` are OMR's own words ("uncertain marks: Q3", "multiple marks: Q5", "duplicate student id ...",
    "student id unreadable", "absent mark uncertain", "missing page(s) 2", "no anchors found" ...);
    ``fix`` says what a reviewer can send to deal with each of them.
    """

    kind: Literal["sheet", "page"]
    id: int
    batch_id: str
    exam_id: int
    student_id: str | None
    status: str
    reasons: list[str]
    fix: list[str]
    page_ids: list[int]


class RejectedUpload(Output):
    """A file refused at upload (not a scan, a zip bomb, too large ...): nothing was read from it, so it is
    rescanned or sent again in a batch of its own."""

    batch_id: str
    exam_id: int
    file: str
    reason: str


class ReviewPage(Page[ReviewItem]):
    rejected_files: list[RejectedUpload] = Field(
        default_factory=list, description="files refused at upload, newest batch first (on the first page only)")


class CorrectionItem(Input):
    """One decision: ``question`` as printed on the sheet ("Q12" or "12"), or ``exam_id``, ``form``, ``absent``,
    ``exclude``, ``violation`` (违纪) or ``choice`` (选考题); ``value`` the letters marked ("" or "-" for none), a
    score, the 考号, the version, 1/0, or the optional question answered ("23")."""

    question: QuestionName
    value: text(Correction.value)
    reason: text(Correction.reason, multiline=True) = ""


class CorrectionsCreate(Input):
    corrections: list[CorrectionItem] = Field(default_factory=list, max_length=200)
    resolved: bool = Field(default=False, description="mark the sheet dealt with even if some reason is not "
                                                      "covered by a correction (e.g. an anchor missing)")


class CorrectionPublic(Output):
    id: int
    sheet_id: int
    question: str
    value: str
    reason: str
    by: str
    created_at: dt.datetime


class AppliedCorrectionPublic(Output):
    question: str
    before: str = Field(description="what OMR read")
    after: str
    reason: str


class SheetPublic(Output):
    id: int
    batch_id: str
    exam_id: int
    sheet_index: int
    student_id: str | None
    status: str
    reasons: list[str]
    resolved: bool
    page_ids: list[int]
    result: dict[str, Any] = Field(description="the sheet as OMR assembled it (readings per question)")
    corrections: list[CorrectionPublic] = []


class CorrectionsResult(Output):
    sheet: SheetPublic
    applied: list[AppliedCorrectionPublic]
    uncovered: list[str] = Field(description="reasons no correction covers yet")


class PagePublic(Output):
    id: int
    batch_id: str
    file_id: int
    filename: str
    page_index: int
    status: str
    reasons: list[str]
    student_id: str | None
    has_overlay: bool
    resolved: bool = False
    result: dict[str, Any]


class PageResolve(Input):
    """A reviewer's word on an unreadable page: what was done about it (rescanned, not a sheet, blank ...)."""

    reason: text(500, min_length=1, multiline=True)


class AuditPublic(Output):
    id: int
    at: dt.datetime
    school_id: str | None
    actor: str
    action: str
    object_type: str
    object_id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    address: str | None = None  # the client's address (None: the CLI, or made before addresses were kept)


class AuditPage(Page[AuditPublic]):
    pass
