"""Schools, classes, students (rosters), people, keys and tokens."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import Field, StringConstraints, field_validator

from api.service.schemas.common import Input, Output
from api.service.security import Scope

SchoolCode = Annotated[str, StringConstraints(pattern=r"^\d{10}$")]
Name = Annotated[str, StringConstraints(min_length=1, max_length=100, strip_whitespace=True)]
Username = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.\-]{3,64}$")]
Password = Annotated[str, StringConstraints(min_length=10, max_length=200)]


class SchoolCreate(Input):
    id: SchoolCode = Field(description="学校标识码: 10 digits, as text")
    name: Name


class SchoolPublic(Output):
    id: str
    name: str


class ClassCreate(Input):
    name: Name
    grade: Annotated[str, StringConstraints(max_length=50)] = ""


class ClassPublic(Output):
    id: int
    name: str
    grade: str


class StudentCreate(Input):
    exam_id: Annotated[str, StringConstraints(min_length=1, max_length=32)] = Field(description="考号, text")
    student_no: Annotated[str, StringConstraints(max_length=32)] | None = None
    name: Annotated[str, StringConstraints(max_length=100)] = ""
    class_name: Annotated[str, StringConstraints(max_length=100)] = ""
    version: Annotated[str, StringConstraints(max_length=8)] | None = None

    @field_validator("exam_id")
    @classmethod
    def _exam_id(cls, value: str) -> str:
        from grading.roster import validate_exam_id

        return validate_exam_id(value)

    @field_validator("student_no")
    @classmethod
    def _student_no(cls, value: str | None) -> str | None:
        from grading.roster import validate_student_no

        return validate_student_no(value) if value else None


class StudentUpdate(Input):
    student_no: Annotated[str, StringConstraints(max_length=32)] | None = None
    name: Annotated[str, StringConstraints(max_length=100)] | None = None
    class_name: Annotated[str, StringConstraints(max_length=100)] | None = None
    version: Annotated[str, StringConstraints(max_length=8)] | None = None


class StudentPublic(Output):
    id: int
    exam_id: str
    student_no: str | None
    name: str
    class_name: str
    version: str | None


class RosterImportResult(Output):
    created: int
    updated: int
    classes_created: int
    warnings: list[str]


class UserCreate(Input):
    username: Username
    password: Password
    display_name: Annotated[str, StringConstraints(max_length=100)] = ""
    role: Literal["teacher", "school_admin"] = "teacher"
    school_id: SchoolCode | None = Field(default=None, description="the municipal system names the school")


class UserUpdate(Input):
    display_name: Annotated[str, StringConstraints(max_length=100)] | None = None
    password: Password | None = None
    active: bool | None = None


class UserPublic(Output):
    id: int
    username: str
    display_name: str
    role: str
    school_id: str
    active: bool


class ApiKeyCreate(Input):
    name: Annotated[str, StringConstraints(max_length=100)] = ""
    role: Literal["station", "municipal"] = "station"
    school_id: SchoolCode | None = Field(default=None, description="station keys: the school (municipal: required)")
    scopes: list[Scope] | None = Field(default=None, description="default: the role's that you hold; [] is refused")


class ApiKeyPublic(Output):
    id: int
    prefix: str
    name: str
    role: str
    school_id: str | None
    scopes: list[str]
    created_at: dt.datetime
    revoked_at: dt.datetime | None


class ApiKeyCreated(ApiKeyPublic):
    key: str = Field(description="the secret, shown this once; only its hash is stored")


class TokenRequest(Input):
    username: Username
    password: Annotated[str, StringConstraints(min_length=1, max_length=200)]


class TokenPublic(Output):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_at: dt.datetime
    role: str
    school_id: str
