"""From stored pages to sheets, and from stored sheets to what grading reads. No HTTP, no jobs: plain functions."""

from __future__ import annotations

from dataclasses import asdict

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.service.models import BatchFile, Exam, Page, Sheet

__all__ = ["assemble_batch", "sheets_file"]


def assemble_batch(session: Session, batch_id: str, school_id: str, exam_id: int, page_count: int) -> list[Sheet]:
    """Group a batch's stored pages into sheets (in scan order: file order, then page order) and add them to
    ``session``, replacing any the batch had. Unreadable pages belong to no sheet; they stay in the review
    queue as pages. A sheet is flagged (in the review queue) when a reason needs a person: a sure double mark,
    which the exam's rule scores, only when the exam sets ``review_multiple``."""
    from grading.sheets import review_reasons
    from omr.assemble import assemble_sheets
    from omr.result import page_result_from_dict

    rows = session.execute(
        select(Page).join(BatchFile, BatchFile.id == Page.file_id).where(Page.batch_id == batch_id)
        .order_by(BatchFile.seq, Page.page_index)).scalars().all()
    results = []
    page_ids: dict[tuple[str, int], int] = {}
    for row in rows:
        result = page_result_from_dict(row.result)
        # Sources are made unique per stored page so sheets can name their pages by id.
        result.source = f"page:{row.id}"
        page_ids[(result.source, result.page_index)] = row.id
        results.append(result)
    for old in session.scalars(select(Sheet).where(Sheet.batch_id == batch_id)):
        session.delete(old)
    session.flush()
    sheets, _unreadable = assemble_sheets(results, page_count)
    exam = session.get(Exam, exam_id)
    review_multiple = bool(exam is not None and (exam.definition or {}).get("review_multiple", False))
    made = []
    for sheet in sheets:
        data = asdict(sheet)
        ids = [page_ids[(p["source"], p["page_index"])] for p in sheet.pages]
        # An id longer than a 考号 can be (a misread barcode) stays in the result, not the indexed column.
        student_id = sheet.student_id if sheet.student_id and len(sheet.student_id) <= 32 else None
        in_review = bool(review_reasons(sheet.reasons, review_multiple=review_multiple))
        row = Sheet(batch_id=batch_id, school_id=school_id, exam_id=exam_id, sheet_index=sheet.sheet_index,
                    student_id=student_id, status="flagged" if in_review else "ok", reasons=list(sheet.reasons),
                    page_ids=ids, result=data)
        session.add(row)
        made.append(row)
    session.flush()
    return made


def sheets_file(session: Session, school_id: str, exam_id: int):
    """Every sheet and unreadable page of one school's exam, as :class:`grading.sheets.SheetsFile`.

    Sheet numbers are the stored sheet ids, so a reviewer's correction (which names a sheet id) and the grading
    exceptions (which name a sheet number) point at the same sheet.
    """
    from grading.sheets import SheetsFile, UnreadablePage, sheet_from_json

    records = []
    for sheet in session.scalars(select(Sheet).where(Sheet.school_id == school_id, Sheet.exam_id == exam_id)
                                 .order_by(Sheet.id)):
        data = dict(sheet.result)
        data["sheet_index"] = sheet.id - 1  # sheet_from_json numbers sheets sheet_index + 1
        record = sheet_from_json(data, f"batch {sheet.batch_id[:8]}")
        record.source = f"sheet {sheet.id}"
        records.append(record)
    unreadable = []
    for page in session.scalars(
            select(Page).join(BatchFile, BatchFile.id == Page.file_id)
            .where(Page.school_id == school_id, BatchFile.exam_id == exam_id, Page.status == "error")
            .order_by(Page.id)):
        unreadable.append(UnreadablePage(f"page {page.id}", page.page_index, tuple(page.reasons or
                                                                                   ["unreadable page"])))
    return SheetsFile(f"school {school_id} exam {exam_id}", "results_jsonl", records, unreadable)
