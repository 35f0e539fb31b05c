"""A school's sheets and pages as stored, loaded with the school check, and a page's image decoded again from its
stored file: shared by the review API, the review pages and calibration from corrections."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from sqlalchemy.orm import Session

from api.service.context import Service
from api.service.deps import not_found, of_school
from api.service.models import BatchFile, Page, Sheet
from api.service.security import Principal

__all__ = ["sheet_of", "page_of", "stored_file", "decode_page"]


def sheet_of(session: Session, principal: Principal, sheet_id: int) -> Sheet:
    """The sheet, or 404 when there is none or it is another school's."""
    return of_school(session.get(Sheet, sheet_id), principal, "sheet")


def page_of(session: Session, principal: Principal, page_id: int) -> tuple[Page, BatchFile]:
    """The page and the uploaded file it came from, or 404 when there is none or it is another school's."""
    page = of_school(session.get(Page, page_id), principal, "page")
    return page, session.get(BatchFile, page.file_id)


def stored_file(service: Service, file: BatchFile) -> Path:
    """Where the uploaded file is kept, or 404 when it is no longer stored."""
    path = service.blobs.path(file.sha256)
    if not path.is_file():
        raise not_found("the page's file is no longer stored")
    return path


def decode_page(service: Service, path: Path, page_index: int, reduce_to: int | None = None) -> np.ndarray | None:
    """The page's gray image (re-extracted from a multi-page file under the upload limits), or None."""
    from omr.load import iter_pages

    pages = iter_pages(path, limits=service.settings.load_limits(), reduce_jpeg_to_min_px=reduce_to)
    try:
        for loaded in pages:
            if loaded.page_index == page_index:
                return loaded.image
            if loaded.page_index > page_index:
                break
    finally:
        pages.close()
    return None
