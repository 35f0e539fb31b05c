"""The classes a teacher teaches (任课班级): what their class views and downloads are limited to."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from api.service.schemas.common import Input

__all__ = ["TeacherClassesUpdate"]


class TeacherClassesUpdate(Input):
    classes: list[Annotated[int, Field(ge=1, le=2**31 - 1)]] = Field(
        max_length=500, description="ids of the school's classes the teacher teaches (the whole list: it replaces "
                                    "the one before; empty: none)")
