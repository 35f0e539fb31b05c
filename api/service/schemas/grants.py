"""Per-exam grants: a school admin names an exam's subject leader."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import Field

from api.service.schemas.common import Input, Output


class ExamGrantCreate(Input):
    user_id: int = Field(ge=1, le=2**31 - 1, description="a teacher of the exam's school")
    right: Literal["key"] = Field(default="key", description="key: change the exam's key (and so regrade it)")


class ExamGrantPublic(Output):
    id: int
    exam_id: int
    user_id: int
    username: str
    right: str
    granted_by: str
    granted_at: dt.datetime
    revoked_at: dt.datetime | None
