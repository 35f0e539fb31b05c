"""Batches of uploaded scans and how far their reading has got."""

from __future__ import annotations

import datetime as dt

from pydantic import Field

from api.service.schemas.common import Output
from api.service.schemas.profiles import ProfileRef


class RejectedFile(Output):
    """A file refused before reading (not an image or PDF, too large, a zip bomb ...)."""

    file: str
    reason: str


class DuplicateFile(Output):
    """A file whose exact bytes this school already uploaded for this exam: stored once, read once."""

    file: str
    duplicate_of_batch: str = Field(description="the batch that holds the first upload of these bytes")


class Progress(Output):
    """Counts of a batch, from upload to sheets."""

    status: str = Field(description="processing | done")
    files_received: int = Field(description="files accepted (duplicates included)")
    duplicates: int
    rejected: int
    jobs_queued: int
    jobs_running: int
    jobs_done: int
    jobs_failed: int = Field(description="files given up after repeated failures (each shows as an error page)")
    pages_read: int
    pages_ok: int
    pages_flagged: int
    pages_failed: int = Field(description="pages that could not be read at all (status error)")
    sheets: int
    sheets_ok: int
    sheets_flagged: int


class BatchPublic(Output):
    id: str
    exam_id: int
    status: str
    uploaded_by: str
    created_at: dt.datetime
    finished_at: dt.datetime | None
    files_received: int
    duplicates: list[DuplicateFile]
    rejected: list[RejectedFile]
    progress: Progress
    profile: ProfileRef | None = Field(default=None, description="the scanner profile its files are read with "
                                                                 "(None: the default)")
