"""Log-in, schools, classes, students and rosters, people and API keys."""

from __future__ import annotations

import datetime as dt
import math
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Query, Request, UploadFile, status
from sqlalchemy import case, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from api.service import audit
from api.service.deps import (IMPORT_BODY, KIB, CurrentPrincipal, ReadSession, RowId, SchoolQuery, SettingsDep,
                              WriteSession, client_address, not_found, of_school, permit, public, school_of)
from api.service.json_body import LimitedJSONRoute
from api.service.models import (AccessToken, ApiKey, LoginAttempt, School, SchoolClass, Student, User, as_utc,
                                utcnow)
from api.service.schemas.admin import (ApiKeyCreate, ApiKeyCreated, ApiKeyPublic, ClassCreate, ClassGrade,
                                       ClassPublic, RosterImportResult, SchoolCreate, SchoolPublic, StudentCreate,
                                       StudentPublic, StudentUpdate, TokenPublic, TokenRequest, UserCreate,
                                       UserPublic, UserUpdate)
from api.service.security import PEOPLE, SCOPES, Principal, hash_password, new_api_key, new_token, verify_password
from api.service.uploaded import uploaded_table

router = APIRouter(route_class=LimitedJSONRoute)


def _school_exists(session: Session, school_id: str) -> None:
    if session.get(School, school_id) is None:
        raise not_found("school not found")


# --- log-in ---------------------------------------------------------------------------------------------------

@router.post("/auth/token", response_model=TokenPublic, tags=["auth"], dependencies=[public(body=4 * KIB)],
             responses={423: {"description": "too many wrong passwords: the username is locked for a while"},
                        429: {"description": "too many failed log-ins from this address: wait Retry-After seconds"}})
def log_in(body: TokenRequest, request: Request, session: WriteSession, settings: SettingsDep) -> TokenPublic:
    """A teacher's or school admin's bearer token for username and password.

    After ``login_max_failures`` wrong passwords in a row a username is locked for ``login_lock_minutes`` (423),
    whether or not such a user exists, so a made-up name answers exactly like a real one. After
    ``login_address_max_failures`` failed log-ins from one address within ``login_address_window_minutes`` that
    address is refused (429, with Retry-After) whatever name it tries, so one client cannot lock every account.
    Every log-in, failure, lock, attempt while locked and throttling is in the audit log with the address.
    """
    now = utcnow()
    address = client_address(request)
    origin = session.get(LoginAttempt, ("address", _attempt_key(address or "unknown")))
    if origin is not None and _locked(origin, now):
        wait = math.ceil((as_utc(origin.locked_until) - now).total_seconds())
        raise HTTPException(status.HTTP_429_TOO_MANY_REQUESTS, "too many failed log-ins from this address: "
                            "try again later", headers={"Retry-After": str(max(wait, 1))})
    user = session.scalar(select(User).where(User.username == body.username))
    name = session.get(LoginAttempt, ("username", _attempt_key(body.username)))
    actor = f"user:{body.username}" if user is not None else "anonymous"
    school = user.school_id if user is not None else None
    if name is not None and _locked(name, now):
        audit.record(session, None, "auth.login_locked", "user", body.username, school_id=school, actor=actor,
                     address=address, after={"locked_until": as_utc(name.locked_until).isoformat()})
        _address_failed(session, address, settings, now)
        session.commit()
        raise HTTPException(status.HTTP_423_LOCKED, "too many wrong passwords: try again later")
    if not verify_password(user.password_hash if user else None, body.password) or user is None or not user.active:
        _name_failed(session, body.username, user, address, settings, now)
        _address_failed(session, address, settings, now)
        session.commit()  # the failure counts even though the request fails
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "wrong username or password")
    if name is not None:
        name.failures, name.locked_until = 0, None
    token, token_hash = new_token()
    expires = now + dt.timedelta(hours=settings.token_hours)
    session.add(AccessToken(token_hash=token_hash, user_id=user.id, expires_at=expires))
    audit.record(session, None, "auth.login", "user", user.username, school_id=user.school_id, actor=actor,
                 address=address)
    session.commit()
    return TokenPublic(access_token=token, expires_at=expires, role=user.role, school_id=user.school_id)


def _attempt_key(text: str) -> str:
    return text[:100]  # LoginAttempt.key


def _locked(row: LoginAttempt, now: dt.datetime) -> bool:
    return row.locked_until is not None and as_utc(row.locked_until) > now


def _count_failure(session: Session, kind: str, key: str, now: dt.datetime,
                   restart_before: dt.datetime | None = None) -> LoginAttempt:
    """Add one failed log-in to the (kind, key) row in one statement (INSERT … ON CONFLICT DO UPDATE), and return
    the row as it now stands.

    Read-then-write lost failures to concurrent wrong passwords (each request added one to the same old count) and
    made the first two failures of a new name collide on the primary key (a 500). The upsert also holds the row
    until commit, so the lock decision that follows sees every failure. A window that began at or before
    ``restart_before`` starts again at this failure.
    """
    table = LoginAttempt.__table__
    insert = postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    counted = table.c.failures + 1
    changes = {"failures": counted}
    if restart_before is not None:
        restart = table.c.window_start <= restart_before
        changes = {"failures": case((restart, 1), else_=counted),
                   "window_start": case((restart, now), else_=table.c.window_start),
                   "locked_until": case((restart, None), else_=table.c.locked_until)}
    statement = insert(table).values(kind=kind, key=key, failures=1, window_start=now, locked_until=None)
    session.execute(statement.on_conflict_do_update(index_elements=[table.c.kind, table.c.key], set_=changes))
    return session.get(LoginAttempt, (kind, key), populate_existing=True)


def _name_failed(session: Session, username: str, user: User | None, address: str | None, settings,
                 now: dt.datetime) -> None:
    """Count a wrong password against the username, known or not, and lock it after too many in a row."""
    name = _count_failure(session, "username", _attempt_key(username), now)
    action, after = "auth.login_failed", {"failed_logins": name.failures, "known": user is not None}
    if name.failures >= settings.login_max_failures:
        name.locked_until = now + dt.timedelta(minutes=settings.login_lock_minutes)
        name.failures = 0
        action, after = "auth.locked", {"locked_until": name.locked_until.isoformat(), "known": user is not None}
    audit.record(session, None, action, "user", username, school_id=user.school_id if user else None,
                 actor=f"user:{username}" if user else "anonymous", address=address, after=after)


def _address_failed(session: Session, address: str | None, settings, now: dt.datetime) -> None:
    """Count a failed log-in against the client's address; too many within the window refuse it for the rest
    of the window (audited once, when it starts)."""
    window = dt.timedelta(minutes=settings.login_address_window_minutes)
    origin = _count_failure(session, "address", _attempt_key(address or "unknown"), now, restart_before=now - window)
    if origin.failures >= settings.login_address_max_failures and origin.locked_until is None:
        origin.locked_until = as_utc(origin.window_start) + window
        audit.record(session, None, "auth.throttled", "address", origin.key, actor="anonymous", address=address,
                     after={"failures": origin.failures, "until": origin.locked_until.isoformat()})


def _revoke_tokens(session: Session, user_id: int) -> None:
    for token in session.scalars(select(AccessToken).where(AccessToken.user_id == user_id,
                                                           AccessToken.revoked.is_(False))):
        token.revoked = True


@router.post("/auth/logout", status_code=204, tags=["auth"], dependencies=[permit(None, roles=PEOPLE)])
def log_out(principal: CurrentPrincipal, session: WriteSession) -> None:
    """Revoke every token of the calling person (machines revoke keys instead); audited."""
    _revoke_tokens(session, principal.user_id)
    audit.record(session, principal, "auth.logout", "user", principal.actor.removeprefix("user:"))
    session.commit()


# --- schools --------------------------------------------------------------------------------------------------

@router.post("/schools", response_model=SchoolPublic, status_code=201, tags=["schools"],
             dependencies=[permit("schools:write")])
def create_school(body: SchoolCreate, session: WriteSession, principal: CurrentPrincipal) -> School:
    if session.get(School, body.id) is not None:
        raise HTTPException(status.HTTP_409_CONFLICT, f"school {body.id} exists")
    school = School(id=body.id, name=body.name)
    session.add(school)
    audit.record(session, principal, "school.create", "school", body.id, school_id=body.id, after=body.model_dump())
    session.commit()
    return school


@router.get("/schools", response_model=list[SchoolPublic], tags=["schools"], dependencies=[permit("schools:read")])
def list_schools(principal: CurrentPrincipal, session: ReadSession) -> list[School]:
    query = select(School).order_by(School.id)
    if principal.school_id is not None:
        query = query.where(School.id == principal.school_id)
    return list(session.scalars(query))


@router.get("/schools/{school_id}", response_model=SchoolPublic, tags=["schools"],
            dependencies=[permit("schools:read")])
def read_school(school_id: str, principal: CurrentPrincipal, session: ReadSession) -> School:
    school = session.get(School, school_of(principal, school_id))
    if school is None:
        raise not_found("school not found")
    return school


# --- classes --------------------------------------------------------------------------------------------------

@router.post("/classes", response_model=ClassPublic, status_code=201, tags=["classes"],
             dependencies=[permit("roster:write")])
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


@router.get("/classes", response_model=list[ClassPublic], tags=["classes"], dependencies=[permit("roster:read")])
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


@router.post("/students", response_model=StudentPublic, status_code=201, tags=["students"],
             dependencies=[permit("roster:write")])
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


@router.get("/students", response_model=list[StudentPublic], tags=["students"],
            dependencies=[permit("roster:read")])
def list_students(principal: CurrentPrincipal, session: ReadSession, school_id: SchoolQuery = None,
                  class_name: Annotated[str | None, Query(max_length=100)] = None) -> list[Student]:
    school = school_of(principal, school_id)
    query = select(Student).where(Student.school_id == school)
    if class_name is not None:
        query = query.where(Student.class_name == class_name)
    return list(session.scalars(query.order_by(Student.exam_id)))


@router.get("/students/{student_id}", response_model=StudentPublic, tags=["students"],
            dependencies=[permit("roster:read")])
def read_student(student_id: RowId, principal: CurrentPrincipal, session: ReadSession) -> Student:
    return _student(session, principal, student_id)


@router.patch("/students/{student_id}", response_model=StudentPublic, tags=["students"],
              dependencies=[permit("roster:write")])
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


@router.post("/students/import", response_model=RosterImportResult, tags=["students"],
             dependencies=[permit("roster:write", body=IMPORT_BODY)])
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


@router.post("/users", response_model=UserPublic, status_code=201, tags=["users"],
             dependencies=[permit("users:write")])
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


@router.get("/users", response_model=list[UserPublic], tags=["users"], dependencies=[permit("users:read")])
def list_users(principal: CurrentPrincipal, session: ReadSession, school_id: SchoolQuery = None) -> list[User]:
    school = school_of(principal, school_id)
    return list(session.scalars(select(User).where(User.school_id == school).order_by(User.username)))


@router.patch("/users/{user_id}", response_model=UserPublic, tags=["users"], dependencies=[permit("users:write")])
def update_user(user_id: RowId, body: UserUpdate, principal: CurrentPrincipal, session: WriteSession) -> User:
    user = _user(session, principal, user_id)
    before = _user_public(user)
    changes = body.model_dump(exclude_unset=True)
    if changes.get("password") is not None:  # a new password ends every session of the old one
        user.password_hash = hash_password(changes["password"])
        _revoke_tokens(session, user.id)
    if changes.get("display_name") is not None:
        user.display_name = changes["display_name"]
    if changes.get("active") is not None:
        user.active = changes["active"]
        if not user.active:  # a deactivated person's tokens stop working at once
            _revoke_tokens(session, user.id)
    audit.record(session, principal, "user.update", "user", user.username, school_id=user.school_id, before=before,
                 after={**_user_public(user), "password_changed": changes.get("password") is not None})
    session.commit()
    return user


# --- API keys -------------------------------------------------------------------------------------------------

def _key_public(key: ApiKey) -> dict:
    return {"prefix": key.prefix, "role": key.role, "school_id": key.school_id, "scopes": key.scopes,
            "name": key.name}


@router.post("/api-keys", response_model=ApiKeyCreated, status_code=201, tags=["api keys"],
             dependencies=[permit("keys:write")])
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
    scopes = _key_scopes(body.role, body.scopes, principal)
    secret, prefix, key_hash = new_api_key()
    key = ApiKey(prefix=prefix, key_hash=key_hash, name=body.name, role=body.role, school_id=school, scopes=scopes)
    session.add(key)
    session.flush()
    audit.record(session, principal, "api_key.create", "api_key", prefix, school_id=school, after=_key_public(key))
    session.commit()
    return ApiKeyCreated.model_validate({**ApiKeyPublic.model_validate(key).model_dump(), "key": secret})


def _key_scopes(role: str, asked: list[str] | None, creator: Principal) -> list[str]:
    """The scopes of a new key: those asked for (default: its role's), never one its role lacks (422) nor one
    its creator lacks (403); an empty list is refused (422) rather than read as anything."""
    allowed = SCOPES[role]
    if asked is None:
        asked = [s for s in allowed if s in creator.scopes]
    elif not asked:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "a key needs at least one scope")
    if any(s not in allowed for s in asked):
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"a {role} key may have {', '.join(allowed)}")
    beyond = [s for s in asked if s not in creator.scopes]
    if beyond or not asked:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "a key cannot hold more than its creator: "
                                                       f"{', '.join(beyond) or 'none of its scopes'} not yours")
    return list(dict.fromkeys(asked))


def _keys_query(principal: Principal, school_id: str | None):
    query = select(ApiKey).order_by(ApiKey.id)
    if principal.school_id is not None or school_id is not None:
        query = query.where(ApiKey.school_id == school_of(principal, school_id))
    return query


@router.get("/api-keys", response_model=list[ApiKeyPublic], tags=["api keys"], dependencies=[permit("keys:read")])
def list_api_keys(principal: CurrentPrincipal, session: ReadSession, school_id: SchoolQuery = None) -> list[ApiKey]:
    return list(session.scalars(_keys_query(principal, school_id)))


@router.delete("/api-keys/{key_id}", response_model=ApiKeyPublic, tags=["api keys"],
               dependencies=[permit("keys:write")])
def revoke_api_key(key_id: RowId, principal: CurrentPrincipal, session: WriteSession) -> ApiKey:
    """Revoke a key at once (it stays listed, with when it was revoked)."""
    key = of_school(session.get(ApiKey, key_id), principal, "API key")
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        audit.record(session, principal, "api_key.revoke", "api_key", key.prefix, school_id=key.school_id,
                     before=_key_public(key))
        session.commit()
    return key

