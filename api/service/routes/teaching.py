"""The classes a teacher teaches (任课班级): a school admin assigns them; a teacher's class views and class
downloads (workbook, students' PDF, the class's results) are for those classes only. School admins, and the
municipal system, see every class of the school they act on."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from api.service import audit
from api.service.deps import CurrentPrincipal, ReadSession, RowId, WriteSession, not_found, of_school, permit
from api.service.models import SchoolClass, TeacherClass, User
from api.service.schemas.admin import ClassPublic
from api.service.schemas.teaching import TeacherClassesUpdate
from api.service.security import Principal

__all__ = ["router", "taught_classes", "require_class"]

router = APIRouter(tags=["users"])


def taught_classes(session: Session, principal: Principal) -> set[str] | None:
    """Names of the classes the caller may see: a teacher's own (``teacher_classes``); None (every class of the
    school) for anyone else."""
    if principal.role != "teacher":
        return None
    return set(session.scalars(select(SchoolClass.name).join(TeacherClass, TeacherClass.class_id == SchoolClass.id)
                               .where(TeacherClass.user_id == principal.user_id,
                                      SchoolClass.school_id == principal.school_id)))


def require_class(session: Session, principal: Principal, class_name: str) -> None:
    """403 unless the caller may see ``class_name`` (:func:`taught_classes`)."""
    allowed = taught_classes(session, principal)
    if allowed is not None and class_name not in allowed:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "this class is not one of yours: a school admin assigns a "
                                                       "teacher's classes")


def _teacher(session: Session, principal: Principal, user_id: int) -> User:
    return of_school(session.get(User, user_id), principal, "user")


def _classes_of(session: Session, user_id: int) -> list[SchoolClass]:
    return list(session.scalars(select(SchoolClass).join(TeacherClass, TeacherClass.class_id == SchoolClass.id)
                                .where(TeacherClass.user_id == user_id).order_by(SchoolClass.name)))


@router.get("/users/{user_id}/classes", response_model=list[ClassPublic], dependencies=[permit("users:read")])
def user_classes(user_id: RowId, principal: CurrentPrincipal, session: ReadSession) -> list[SchoolClass]:
    """The classes a teacher teaches."""
    return _classes_of(session, _teacher(session, principal, user_id).id)


@router.put("/users/{user_id}/classes", response_model=list[ClassPublic], dependencies=[permit("users:write")])
def set_user_classes(user_id: RowId, body: TeacherClassesUpdate, principal: CurrentPrincipal,
                     session: WriteSession) -> list[SchoolClass]:
    """Set the classes a teacher teaches (the whole list); audited."""
    user = _teacher(session, principal, user_id)
    if user.role != "teacher":
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "classes are assigned to teachers (a school admin "
                                                                   "sees every class)")
    wanted = list(dict.fromkeys(body.classes))
    found = set(session.scalars(select(SchoolClass.id).where(SchoolClass.id.in_(wanted),
                                                             SchoolClass.school_id == user.school_id)))
    missing = [c for c in wanted if c not in found]
    if missing:
        raise not_found(f"class {missing[0]} not found")
    before = [c.name for c in _classes_of(session, user.id)]
    session.execute(delete(TeacherClass).where(TeacherClass.user_id == user.id))
    session.add_all(TeacherClass(user_id=user.id, class_id=c) for c in wanted)
    session.flush()
    classes = _classes_of(session, user.id)
    audit.record(session, principal, "user.classes", "user", user.username, school_id=user.school_id,
                 before={"classes": before}, after={"classes": [c.name for c in classes]})
    session.commit()
    return classes
