"""A spreadsheet sent with a request (roster, key workbook), put where the file readers of grading/ can open it."""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from fastapi import HTTPException, UploadFile, status

__all__ = ["uploaded_table"]


@contextmanager
def uploaded_table(file: UploadFile, max_bytes: int, what: str, *, keep_stem: bool = False) -> Iterator[Path]:
    """The upload as a temporary .csv or .xlsx file (removed afterwards); 415 for another kind, 413 when larger
    than ``max_bytes``. The client's file name lends its suffix and, with ``keep_stem``, its stem reduced to
    letters, digits, ``_.-`` (a key workbook's name is the exam's default id); never a folder."""
    suffix = Path(file.filename or "").suffix.lower()
    if suffix not in (".csv", ".xlsx"):
        raise HTTPException(status.HTTP_415_UNSUPPORTED_MEDIA_TYPE, f"a {what} is .csv or .xlsx")
    data = file.file.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, f"{what} file too large")
    with tempfile.TemporaryDirectory() as folder:
        stem = re.sub(r"[^A-Za-z0-9_.-]", "", Path(file.filename or "").stem)[:60].strip(".") if keep_stem else ""
        path = Path(folder) / f"{stem or 'upload'}{suffix}"
        path.write_bytes(data)
        yield path
