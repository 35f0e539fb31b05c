"""考场编排 requests: how to seat the school's students (rooms, seats, the 考号 format, the sheet)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from api.arranging import MOST_ROOMS

from api.service.models import SchoolClass
from api.service.schemas.common import Input, text

_ROW_ID = {"ge": 1, "le": 2**31 - 1}


class ArrangementCreate(Input):
    """Seat the school's students (or one 年级's, or some classes') into rooms; the answer is a ZIP of the files
    ``yuejuan exam arrange`` writes."""

    rooms: Annotated[int, Field(ge=1, le=MOST_ROOMS)] | Annotated[list[text(40, min_length=1)], Field(
        min_length=1, max_length=MOST_ROOMS)] = Field(description="how many rooms (named 第01考场 …), or their names "
                                                                  "in order", examples=[20, ["101", "102"]])
    capacity: int = Field(ge=1, le=100, description="seats per room")
    columns: int = Field(default=5, ge=1, le=20, description="columns of seats in a room")
    school_number: str = Field(default="", pattern=r"^\d{0,10}$", description="the school's number in the 考号")
    grade_number: int = Field(default=0, ge=0, le=99, description="the grade in the 考号")
    exam_id_format: text(80) = Field(default="{school}{grade:02d}{room:02d}{seat:02d}",
                                     description="考号 format: {school}, {grade}, {room:0Nd}, {seat:0Nd}")
    seed: int = Field(default=1, ge=0, le=2**31 - 1, description="same seed, same arrangement")
    title: text(100) = Field(default="", description="exam title printed on every page")
    grade: text(SchoolClass.grade) | None = Field(default=None, description="only the classes of this 年级")
    class_names: list[text(SchoolClass.name, min_length=1)] | None = Field(
        default=None, max_length=200, description="only these classes")
    exam_id: int | None = Field(default=None, **_ROW_ID, description="an exam of the school whose answer-sheet "
                                                                      "template the personalised sheets print")
    sheets: bool = Field(default=True, description="personalised sheets per room")
