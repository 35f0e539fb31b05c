"""Schools, classes, students (rosters), people, keys and tokens."""

from __future__ import annotations

import datetime as dt
import unicodedata
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, StringConstraints, field_validator

from api.service.models import ApiKey, School, SchoolClass, Student, User
from api.service.schemas.common import Input, Output, column_length, text
from api.service.security import Scope

__all__ = ["Username", "username_problem", "USERNAME_MIN", "USERNAME_MAX", "SchoolCode", "Password",
           "SchoolCreate", "SchoolPublic", "ClassCreate", "ClassGrade", "ClassPublic", "StudentCreate",
           "StudentUpdate", "StudentPublic", "RosterImportResult", "UserCreate", "UserUpdate", "UserPublic", "ApiKeyCreate",
           "ApiKeyPublic", "ApiKeyCreated", "TokenRequest", "TokenPublic"]

SchoolCode = Annotated[str, StringConstraints(pattern=r"^[0-9]{10}$")]
Password = Annotated[str, StringConstraints(min_length=10, max_length=200)]  # hashed, never stored or shown as is
ExamNumber = Annotated[str, StringConstraints(min_length=1, max_length=column_length(Student.exam_id))]  # 考号
StudentNumber = Annotated[str, StringConstraints(max_length=column_length(Student.student_no))]  # 学籍号
# people's text, each as long as the column that holds it
SchoolName = text(School.name, min_length=1)
ClassName = text(SchoolClass.name, min_length=1)
Grade = text(SchoolClass.grade)
ClassGrade = text(SchoolClass.grade, min_length=1)  # 年级 given to the classes of an imported roster
StudentName = text(Student.name)
StudentClass = text(Student.class_name)
PaperVersion = text(Student.version)
DisplayName = text(User.display_name)
KeyName = text(ApiKey.name)

USERNAME_MIN, USERNAME_MAX = 2, column_length(User.username)
_USERNAME_PUNCTUATION = frozenset("_.-")


def username_problem(name: str) -> str | None:
    """Why ``name`` (already NFC) cannot be a username, or None: 2-64 characters, each a letter of any script
    (with its combining marks: 王老师, José, अनु), a decimal digit, or one of ``_ . -``; no spaces, no
    controls, no other punctuation."""
    if not USERNAME_MIN <= len(name) <= USERNAME_MAX:
        return f"must have {USERNAME_MIN} to {USERNAME_MAX} characters (has {len(name)})"
    for position, char in enumerate(name, start=1):
        category = unicodedata.category(char)  # L*: letters, M*: their marks, Nd: decimal digits
        if not (category[0] in "LM" or category == "Nd" or char in _USERNAME_PUNCTUATION):
            return f"character {position} (U+{ord(char):04X}) is not a letter, a digit, '_', '.' or '-'"
    return None


def _username(value: str) -> str:
    name = unicodedata.normalize("NFC", value)
    problem = username_problem(name)
    if problem is not None:
        raise ValueError(f"username {problem}")
    return name


#: The one rule for usernames, for creating a person (API and ``yuejuan admin create-user``) and for logging in:
#: NFC-normalised, so that a name typed in either composed or decomposed form is the same person.
Username = Annotated[str, StringConstraints(min_length=USERNAME_MIN, max_length=USERNAME_MAX),
                     AfterValidator(_username),
                     Field(description="2-64 letters of any script, digits, '_', '.' or '-' (王老师, li, wang.li)")]


class SchoolCreate(Input):
    id: SchoolCode = Field(description="学校标识码: 10 digits, as text")
    name: SchoolName


class SchoolPublic(Output):
    id: str
    name: str


class ClassCreate(Input):
    name: ClassName
    grade: Grade = ""


class ClassPublic(Output):
    id: int
    name: str
    grade: str


class StudentCreate(Input):
    exam_id: ExamNumber = Field(description="考号, text")
    student_no: StudentNumber | None = None
    name: StudentName = ""
    class_name: StudentClass = ""
    version: PaperVersion | None = None

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
    student_no: StudentNumber | None = None
    name: StudentName | None = None
    class_name: StudentClass | None = None
    version: PaperVersion | None = None


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
    display_name: DisplayName = ""
    role: Literal["teacher", "school_admin"] = "teacher"
    school_id: SchoolCode | None = Field(default=None, description="the municipal system names the school")


class UserUpdate(Input):
    display_name: DisplayName | None = None
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
    name: KeyName = ""
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
