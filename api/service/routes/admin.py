"""Log-in, schools, classes, students and rosters, people and API keys."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Query, UploadFile, status
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.service import audit
from api.service.deps import (CurrentPrincipal, ReadSession, RowId, STAFF, SchoolQuery, SettingsDep, WriteSession,
                              not_found, of_school, require_roles, require_scope, school_of)
from api.service.json_body import LimitedJSONRoute
from api.service.models import AccessToken, ApiKey, School, SchoolClass, Student, User, as_utc, utcnow
from api.service.schemas.admin import (ApiKeyCreate, ApiKeyCreated, ApiKeyPublic, ClassCreate, ClassGrade, ClassPublic,
                                       RosterImportResult, SchoolCreate, SchoolPublic, StudentCreate,
                                       StudentPublic, StudentUpdate, TokenPublic, TokenRequest, UserCreate,
                                       UserPublic, UserUpdate)
from api.service.security import SCOPES, Principal, hash_password, new_api_key, new_token, verify_password
from api.service.uploaded import uploaded_table

router = APIRouter(route_class=LimitedJSONRoute)
ADMINS = require_roles("school_admin", "municipal")


def _school_exists(session: Session, school_id: str) -> None:
    if session.get(School, school_id) is None:
        raise not_found("school not found")


# --- log-in ---------------------------------------------------------------------------------------------------

@router.post("/auth/token", response_model=TokenPublic, tags=["auth"],
             responses={423: {"description": "too many wrong passwords: the account is locked for a while"}})
def log_in(body: TokenRequest, session: WriteSession, settings: SettingsDep) -> TokenPublic:
    """A teacher's or school admin's bearer token for username and password.

    After ``login_max_failures`` wrong passwords in a row the account is locked for ``login_lock_minutes``
    (423); every log-in, failure and lock is in the audit log. An unknown username gets the same 401 as a wrong
    password, after the same argon2 work.
    """
    user = session.scalar(select(User).where(User.username == body.username))
    now = utcnow()
    if user is not None and user.locked_until is not None and as_utc(user.locked_until) > now:
        raise HTTPException(status.HTTP_423_LOCKED, "too many wrong passwords: try again later")
    if not verify_password(user.password_hash if user else None, body.password) or user is None or not user.active:
        if user is not None:
            _log_in_failed(session, user, settings, now)
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "wrong username or password")
    user.failed_logins, user.locked_until = 0, None
    token, token_hash = new_token()
    expires = now + dt.timedelta(hours=settings.token_hours)
    session.add(AccessToken(token_hash=token_hash, user_id=user.id, expires_at=expires))
    audit.record(session, _person(user), "auth.login", "user", user.username, school_id=user.school_id)
    session.commit()
    return TokenPublic(access_token=token, expires_at=expires, role=user.role, school_id=user.school_id)


def _person(user: User) -> Principal:
    return Principal(user.role, user.school_id, f"user:{user.username}", user_id=user.id)


def _log_in_failed(session: Session, user: User, settings, now: dt.datetime) -> None:
    """Count a wrong password (committed even though the request fails) and lock after too many."""
    user.failed_logins = (user.failed_logins or 0) + 1
    after: dict = {"failed_logins": user.failed_logins}
    if user.failed_logins >= settings.login_max_failures:
        user.locked_until = now + dt.timedelta(minutes=settings.login_lock_minutes)
        user.failed_logins = 0
        after = {"locked_until": user.locked_until.isoformat()}
    audit.record(session, _person(user), "auth.login_failed" if "failed_logins" in after else "auth.locked",
                 "user", user.username, school_id=user.school_id, after=after)
    session.commit()


@router.post("/auth/logout", status_code=204, tags=["auth"])
def log_out(principal: CurrentPrincipal, session: WriteSession) -> None:
    """Revoke every token of the calling person (machines revoke keys instead)."""
    if principal.user_id is None:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "API keys are revoked with DELETE /api-keys/{id}")
    for token in session.scalars(select(AccessToken).where(AccessToken.user_id == principal.user_id,
                                                           AccessToken.revoked.is_(False))):
        token.revoked = True
    session.commit()


# --- schools --------------------------------------------------------------------------------------------------

@router.post("/schools", response_model=SchoolPublic, status_code=201, tags=["schools"],
             dependencies=[require_roles("municipal"), require_scope("schools:write")])
def create_school(body: SchoolCreate, session: WriteSession, principal: CurrentPrincipal) -> School:
    if session.get(School, body.id) is not None:
        raise HTTPException(status.HTTP_409_CONFLICT, f"school {body.id} exists")
    school = School(id=body.id, name=body.name)
    session.add(school)
    audit.record(session, principal, "school.create", "school", body.id, school_id=body.id, after=body.model_dump())
    session.commit()
    return school


@router.get("/schools", response_model=list[SchoolPublic], tags=["schools"])
def list_schools(principal: CurrentPrincipal, session: ReadSession) -> list[School]:
    query = select(School).order_by(School.id)
    if principal.school_id is not None:
        query = query.where(School.id == principal.school_id)
    return list(session.scalars(query))


@router.get("/schools/{school_id}", response_model=SchoolPublic, tags=["schools"])
def read_school(school_id: str, principal: CurrentPrincipal, session: ReadSession) -> School:
    school = session.get(School, school_of(principal, school_id))
    if school is None:
        raise not_found("school not found")
    return school


# --- classes --------------------------------------------------------------------------------------------------

@router.post("/classes", response_model=ClassPublic, status_code=201, tags=["classes"], dependencies=[ADMINS])
def create_class(body: ClassCreate, principal: CurrentPrincipal, session: WriteSession,
                 school_id: SchoolQuery = None) -> SchoolClass:
    school = school_of(principal, school_id)
    _school_exists(session, school)
    if session.scalar(select(SchoolClass).where(SchoolClass.school_id == school, SchoolClass.name == body.name)):
        raise HTTPException(status.HTTP_409_CONFLICT, f"class {body.name} exists")
    row = SchoolClass(school_id=school, name=body.name, grade=body.grade)
    session.add(row)
    audit.record(session, principal, "class.create", "class", body.name, school_id=school, after=body.model_dump())
    session.commit()
    return row


@router.get("/classes", response_model=list[ClassPublic], tags=["classes"], dependencies=[STAFF])
def list_classes(principal: CurrentPrincipal, session: ReadSession, school_id: SchoolQuery = None
                 ) -> list[SchoolClass]:
    school = school_of(principal, school_id)
    return list(session.scalars(select(SchoolClass).where(SchoolClass.school_id == school)
                                .order_by(SchoolClass.name)))


# --- students and rosters -------------------------------------------------------------------------------------

def _ensure_class(session: Session, school: str, name: str, grade: str | None = None) -> bool:
    """Create the class ``name`` when the school lacks it (and set its grade when given); True when created."""
    if not name:
        return False
    row = session.scalar(select(SchoolClass).where(SchoolClass.school_id == school, SchoolClass.name == name))
    if row is not None:
        if grade is not None:
            row.grade = grade
        return False
    session.add(SchoolClass(school_id=school, name=name, grade=grade or ""))
    session.flush()
    return True


def _student(session: Session, principal: Principal, student_id: int) -> Student:
    return of_school(session.get(Student, student_id), principal, "student")


@router.post("/students", response_model=StudentPublic, status_code=201, tags=["students"], dependencies=[ADMINS])
def create_student(body: StudentCreate, principal: CurrentPrincipal, session: WriteSession,
                   school_id: SchoolQuery = None) -> Student:
    school = school_of(principal, school_id)
    _school_exists(session, school)
    if session.scalar(select(Student.id).where(Student.school_id == school, Student.exam_id == body.exam_id)):
        raise HTTPException(status.HTTP_409_CONFLICT, f"考号 {body.exam_id} is on the roster already")
    _ensure_class(session, school, body.class_name)
    row = Student(school_id=school, **body.model_dump())
    session.add(row)
    audit.record(session, principal, "student.create", "student", body.exam_id, school_id=school,
                 after=body.model_dump())
    session.commit()
    return row


@router.get("/students", response_model=list[StudentPublic], tags=["students"], dependencies=[STAFF])
def list_students(principal: CurrentPrincipal, session: ReadSession, school_id: SchoolQuery = None,
                  class_name: Annotated[str | None, Query(max_length=100)] = None) -> list[Student]:
    school = school_of(principal, school_id)
    query = select(Student).where(Student.school_id == school)
    if class_name is not None:
        query = query.where(Student.class_name == class_name)
    return list(session.scalars(query.order_by(Student.exam_id)))


@router.get("/students/{student_id}", response_model=StudentPublic, tags=["students"], dependencies=[STAFF])
def read_student(student_id: RowId, principal: CurrentPrincipal, session: ReadSession) -> Student:
    return _student(session, principal, student_id)


@router.patch("/students/{student_id}", response_model=StudentPublic, tags=["students"], dependencies=[ADMINS])
def update_student(student_id: RowId, body: StudentUpdate, principal: CurrentPrincipal, session: WriteSession
                   ) -> Student:
    row = _student(session, principal, student_id)
    changes = body.model_dump(exclude_unset=True)
    if "student_no" in changes and changes["student_no"]:
        from grading.roster import validate_student_no

        try:
            changes["student_no"] = validate_student_no(changes["student_no"])
        except ValueError as error:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(error)) from None
    before = {k: getattr(row, k) for k in changes}
    for key, value in changes.items():
        setattr(row, key, value)
    if changes.get("class_name"):
        _ensure_class(session, row.school_id, changes["class_name"])
    audit.record(session, principal, "student.update", "student", row.exam_id, school_id=row.school_id,
                 before=before, after=changes)
    session.commit()
    return row


@router.post("/students/import", response_model=RosterImportResult, tags=["students"], dependencies=[ADMINS])
def import_roster(file: UploadFile, principal: CurrentPrincipal, session: WriteSession, settings: SettingsDep,
                  school_id: SchoolQuery = None,
                  grade: Annotated[ClassGrade | None,
                                   Form(description="年级 of the roster's classes (高一 …)")] = None
                  ) -> RosterImportResult:
    """Add or update students from a roster workbook or CSV (考号, 学籍号, 姓名, 班级, 卷型; ids as text).

    Every row is checked first; a roster with problems changes nothing and lists them all (422). With
    ``grade``, the roster's classes are that grade's (an exam for that grade rosters only them).
    """
    from grading.roster import RosterError, load_roster

    school = school_of(principal, school_id)
    _school_exists(session, school)
    with uploaded_table(file, settings.max_file_bytes, "roster") as path:
        try:
            roster = load_roster(path)
        except (RosterError, ValueError) as error:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(error)) from None
    existing = {s.exam_id: s for s in session.scalars(select(Student).where(Student.school_id == school))}
    created = updated = classes = 0
    for entry in roster.students:
        if entry.school_code and entry.school_code != school:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                                f"考号 {entry.exam_id}: school code {entry.school_code} is not this school ({school})")
        classes += _ensure_class(session, school, entry.class_name, grade)
        values = dict(student_no=entry.student_no, name=entry.name, class_name=entry.class_name,
                      version=entry.version)
        row = existing.get(entry.exam_id)
        if row is None:
            session.add(Student(school_id=school, exam_id=entry.exam_id, **values))
            created += 1
        elif any(getattr(row, k) != v for k, v in values.items()):
            for key, value in values.items():
                setattr(row, key, value)
            updated += 1
    audit.record(session, principal, "roster.import", "roster", file.filename or "roster", school_id=school,
                 after={"created": created, "updated": updated, "rows": len(roster.students)})
    session.commit()
    return RosterImportResult(created=created, updated=updated, classes_created=classes, warnings=roster.warnings)


# --- people ---------------------------------------------------------------------------------------------------

def _user(session: Session, principal: Principal, user_id: int) -> User:
    return of_school(session.get(User, user_id), principal, "user")


def _user_public(user: User) -> dict:
    return {"username": user.username, "role": user.role, "school_id": user.school_id, "active": user.active,
            "display_name": user.display_name}


@router.post("/users", response_model=UserPublic, status_code=201, tags=["users"], dependencies=[ADMINS])
def create_user(body: UserCreate, principal: CurrentPrincipal, session: WriteSession) -> User:
    """School admins add their school's teachers and admins; the municipal system adds any school's admins."""
    school = school_of(principal, body.school_id)
    _school_exists(session, school)
    if session.scalar(select(User.id).where(User.username == body.username)):
        raise HTTPException(status.HTTP_409_CONFLICT, f"username {body.username} is taken")
    user = User(username=body.username, display_name=body.display_name, password_hash=hash_password(body.password),
                role=body.role, school_id=school)
    session.add(user)
    audit.record(session, principal, "user.create", "user", body.username, school_id=school,
                 after=_user_public(user))
    session.commit()
    return user


@router.get("/users", response_model=list[UserPublic], tags=["users"], dependencies=[ADMINS])
def list_users(principal: CurrentPrincipal, session: ReadSession, school_id: SchoolQuery = None) -> list[User]:
    school = school_of(principal, school_id)
    return list(session.scalars(select(User).where(User.school_id == school).order_by(User.username)))


@router.patch("/users/{user_id}", response_model=UserPublic, tags=["users"], dependencies=[ADMINS])
def update_user(user_id: RowId, body: UserUpdate, principal: CurrentPrincipal, session: WriteSession) -> User:
    user = _user(session, principal, user_id)
    before = _user_public(user)
    changes = body.model_dump(exclude_unset=True)
    if changes.get("password") is not None:
        user.password_hash = hash_password(changes["password"])
    if changes.get("display_name") is not None:
        user.display_name = changes["display_name"]
    if changes.get("active") is not None:
        user.active = changes["active"]
        if not user.active:  # a deactivated person's tokens stop working at once
            for token in session.scalars(select(AccessToken).where(AccessToken.user_id == user.id)):
                token.revoked = True
    audit.record(session, principal, "user.update", "user", user.username, school_id=user.school_id, before=before,
                 after={**_user_public(user), "password_changed": changes.get("password") is not None})
    session.commit()
    return user


# --- API keys -------------------------------------------------------------------------------------------------

def _key_public(key: ApiKey) -> dict:
    return {"prefix": key.prefix, "role": key.role, "school_id": key.school_id, "scopes": key.scopes,
            "name": key.name}


@router.post("/api-keys", response_model=ApiKeyCreated, status_code=201, tags=["api keys"], dependencies=[ADMINS])
def create_api_key(body: ApiKeyCreate, principal: CurrentPrincipal, session: WriteSession) -> ApiKeyCreated:
    """A scanner station's key (school admins, for their school) or a municipal key (the municipal system)."""
    if body.role == "municipal":
        if principal.role != "municipal":
            raise HTTPException(status.HTTP_403_FORBIDDEN, "only the municipal system issues municipal keys")
        school = None
        if body.school_id is not None:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "a municipal key belongs to no school")
    else:
        school = school_of(principal, body.school_id)
        _school_exists(session, school)
    allowed = SCOPES[body.role]
    scopes = list(body.scopes) if body.scopes is not None else list(allowed)
    if any(s not in allowed for s in scopes):
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"a {body.role} key may have {', '.join(allowed)}")
    secret, prefix, key_hash = new_api_key()
    key = ApiKey(prefix=prefix, key_hash=key_hash, name=body.name, role=body.role, school_id=school, scopes=scopes)
    session.add(key)
    session.flush()
    audit.record(session, principal, "api_key.create", "api_key", prefix, school_id=school, after=_key_public(key))
    session.commit()
    return ApiKeyCreated.model_validate({**ApiKeyPublic.model_validate(key).model_dump(), "key": secret})


def _keys_query(principal: Principal, school_id: str | None):
    query = select(ApiKey).order_by(ApiKey.id)
    if principal.school_id is not None or school_id is not None:
        query = query.where(ApiKey.school_id == school_of(principal, school_id))
    return query


@router.get("/api-keys", response_model=list[ApiKeyPublic], tags=["api keys"], dependencies=[ADMINS])
def list_api_keys(principal: CurrentPrincipal, session: ReadSession, school_id: SchoolQuery = None) -> list[ApiKey]:
    return list(session.scalars(_keys_query(principal, school_id)))


@router.delete("/api-keys/{key_id}", response_model=ApiKeyPublic, tags=["api keys"], dependencies=[ADMINS])
def revoke_api_key(key_id: RowId, principal: CurrentPrincipal, session: WriteSession) -> ApiKey:
    """Revoke a key at once (it stays listed, with when it was revoked)."""
    key = of_school(session.get(ApiKey, key_id), principal, "API key")
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        audit.record(session, principal, "api_key.revoke", "api_key", key.prefix, school_id=key.school_id,
                     before=_key_public(key))
        session.commit()
    return key

