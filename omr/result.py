"""What OMR says about a page: plain dataclasses, JSON-able with :func:`page_result_to_dict`."""

from __future__ import annotations

from dataclasses import dataclass, field, fields

import hashlib
from pathlib import Path

__all__ = ["QuestionReading", "ScoreReading", "ChoiceReading", "PageResult", "page_result_to_dict",
           "page_result_from_dict", "page_file_stem"]


def page_file_stem(source: str, page_index: int) -> str:
    """A file name stem for what is written about one page (overlay, crops): readable, and unique per source
    path, so a/scan.jpg and b/scan.jpg (or scan.jpg and scan.png) never overwrite each other's files."""
    digest = hashlib.sha1(str(Path(source).resolve()).encode("utf-8")).hexdigest()[:8] if source else "memory"
    return f"{Path(source).stem or 'page'}-{digest}_p{page_index + 1}"


@dataclass
class QuestionReading:
    """One question (or id column, score digit, mark): the options read as filled, status and confidence.

    ``status`` is ``ok`` (a clear reading), ``blank`` (clearly nothing marked), ``multiple`` (more than one
    mark on a single-choice question) or ``uncertain`` (some bubble is neither clearly filled nor clearly
    empty: ``uncertain`` lists those labels). ``marked`` never includes an uncertain bubble.
    """

    marked: str
    status: str
    confidence: float
    uncertain: str = ""


@dataclass
class ScoreReading:
    """A subjective question's score from its score boxes; ``value`` is None unless ``status`` is ok."""

    value: float | None
    status: str  # ok | blank | uncertain | multiple | over_max
    confidence: float


@dataclass
class ChoiceReading:
    """A 选考题 chooser: which of ``questions`` the student marked as answered (``chosen``, "" unless ``status`` is
    ok), ``status`` as for a question (``blank``: none chosen, ``multiple``: two or more, ``uncertain``)."""

    chosen: str
    status: str
    confidence: float
    questions: list[str] = field(default_factory=list)


@dataclass
class PageResult:
    """Everything read from one scanned page, or why it could not be read.

    ``status`` is ``ok`` (every reading sure), ``flagged`` (read, but something needs a person: see
    ``reasons``) or ``error`` (the page could not be read at all: no anchors, another template, not a sheet).
    """

    source: str
    page_index: int
    status: str
    reasons: list[str] = field(default_factory=list)
    template_id: str | None = None
    page: int | None = None
    orientation: int | None = None
    residual_mm: float | None = None
    student_id: str | None = None
    student_id_status: str | None = None
    id_grid: str | None = None  # what the 考号 grid says, '?' for unreadable columns, ' ' for blank ones
    barcode: str | None = None
    absent: bool | None = None
    form: str | None = None  # paper version (A/B …) read from a grid with role "form"
    violation: bool | None = None  # the proctor's 违纪 mark (None: the page has none, or it is uncertain)
    choices: dict[str, ChoiceReading] = field(default_factory=dict)  # 选考题 chooser id -> what it says
    questions: dict[str, QuestionReading] = field(default_factory=dict)
    scores: dict[str, ScoreReading] = field(default_factory=dict)
    crops: dict[str, str] = field(default_factory=dict)
    overlay: str | None = None
    page_to_image: list[list[float]] | None = None
    mark_level: float | None = None
    timings_ms: dict[str, float] = field(default_factory=dict)

    def flag(self, reason: str) -> None:
        """Add a reason for review (the page becomes ``flagged`` unless it is already an ``error``)."""
        if reason not in self.reasons:
            self.reasons.append(reason)
        if self.status == "ok":
            self.status = "flagged"


def page_result_to_dict(result: PageResult) -> dict:
    """A JSON-able dict of ``result`` (what ``results.jsonl`` holds per line); equal to ``dataclasses.asdict``.

    Written out because ``asdict`` deep-copies every leaf (~0.5 ms a page, a sixth of reading the page).
    """
    data = {f.name: getattr(result, f.name) for f in _PAGE_FIELDS}
    data["reasons"] = list(result.reasons)
    data["questions"] = {k: {"marked": q.marked, "status": q.status, "confidence": q.confidence,
                             "uncertain": q.uncertain} for k, q in result.questions.items()}
    data["scores"] = {k: {"value": s.value, "status": s.status, "confidence": s.confidence}
                      for k, s in result.scores.items()}
    data["choices"] = {k: {"chosen": c.chosen, "status": c.status, "confidence": c.confidence,
                           "questions": list(c.questions)} for k, c in result.choices.items()}
    data["crops"] = dict(result.crops)
    data["timings_ms"] = dict(result.timings_ms)
    if result.page_to_image is not None:
        data["page_to_image"] = [list(row) for row in result.page_to_image]
    return data


_PAGE_FIELDS = fields(PageResult)


def page_result_from_dict(data: dict) -> PageResult:
    """Inverse of :func:`page_result_to_dict`."""
    data = dict(data)
    data["questions"] = {k: QuestionReading(**v) for k, v in data.get("questions", {}).items()}
    data["scores"] = {k: ScoreReading(**v) for k, v in data.get("scores", {}).items()}
    data["choices"] = {k: ChoiceReading(**v) for k, v in data.get("choices", {}).items()}
    return PageResult(**data)
