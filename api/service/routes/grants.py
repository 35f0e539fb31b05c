"""Per-exam grants (least privilege inside a school): changing an exam's key, and so regrading it, belongs to the
school admin and to the teachers the admin names for that exam (its subject leader), not to every teacher.
Granting and revoking are audited."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.service import audit
from api.service.deps import CurrentPrincipal, ReadSession, RowId, WriteSession, not_found, of_school, permit
from api.service.json_body import LimitedJSONRoute
from api.service.models import Exam, ExamGrant, User, utcnow
from api.service.routes.exams import owned_exam
from api.service.schemas.grants import ExamGrantCreate, ExamGrantPublic
from api.service.security import Principal

router = APIRouter(tags=["exams"], route_class=LimitedJSONRoute)


def _active(session: Session, exam_id: int, user_id: int, right: str) -> ExamGrant | None:
    return session.scalar(select(ExamGrant).where(ExamGrant.exam_id == exam_id, ExamGrant.user_id == user_id,
                                                  ExamGrant.right == right, ExamGrant.revoked_at.is_(None)))


def require_key_right(session: Session, principal: Principal, exam: Exam) -> None:
    """403 unless ``principal`` may change ``exam``'s key: the municipal system (city-wide exams, checked by
    ``owned_exam``), the school admin, or a teacher holding the exam's ``key`` grant."""
    if principal.role == "teacher" and _active(session, exam.id, principal.user_id, "key") is None:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "changing this exam's key is for the school admin and the "
                                                       "exam's subject leader (POST /exams/{id}/grants)")


def _public(grant: ExamGrant, username: str) -> ExamGrantPublic:
    return ExamGrantPublic(id=grant.id, exam_id=grant.exam_id, user_id=grant.user_id, username=username,
                           right=grant.right, granted_by=grant.granted_by, granted_at=grant.granted_at,
                           revoked_at=grant.revoked_at)


@router.get("/exams/{exam_id}/grants", response_model=list[ExamGrantPublic], dependencies=[permit("grants:read")])
def list_grants(exam_id: RowId, principal: CurrentPrincipal, session: ReadSession) -> list[ExamGrantPublic]:
    """The exam's grants, revoked ones included (with when)."""
    exam = owned_exam(session, principal, exam_id)
    rows = session.execute(select(ExamGrant, User.username).join(User, User.id == ExamGrant.user_id)
                           .where(ExamGrant.exam_id == exam.id).order_by(ExamGrant.id))
    return [_public(grant, username) for grant, username in rows]


@router.post("/exams/{exam_id}/grants", response_model=ExamGrantPublic, status_code=201,
             dependencies=[permit("grants:write")])
def create_grant(exam_id: RowId, body: ExamGrantCreate, principal: CurrentPrincipal, session: WriteSession
                 ) -> ExamGrantPublic:
    """Make a teacher of the school the exam's subject leader (``key``: may change its key); audited."""
    exam = owned_exam(session, principal, exam_id)
    user = of_school(session.get(User, body.user_id), principal, "user")
    if user.role != "teacher" or not user.active:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "grants are for active teachers (a school admin "
                                                                   "holds every right already)")
    if _active(session, exam.id, user.id, body.right) is not None:
        raise HTTPException(status.HTTP_409_CONFLICT, f"{user.username} holds this right already")
    grant = ExamGrant(school_id=exam.school_id, exam_id=exam.id, user_id=user.id, right=body.right,
                      granted_by=principal.actor)
    session.add(grant)
    session.flush()
    audit.record(session, principal, "exam_grant.create", "exam", exam.id, school_id=exam.school_id,
                 after={"grant_id": grant.id, "username": user.username, "right": body.right})
    session.commit()
    return _public(grant, user.username)


@router.delete("/exams/{exam_id}/grants/{grant_id}", response_model=ExamGrantPublic,
               dependencies=[permit("grants:write")])
def revoke_grant(exam_id: RowId, grant_id: RowId, principal: CurrentPrincipal, session: WriteSession
                 ) -> ExamGrantPublic:
    """Revoke a grant at once (it stays listed, with when); audited."""
    exam = owned_exam(session, principal, exam_id)
    grant = session.get(ExamGrant, grant_id)
    if grant is None or grant.exam_id != exam.id:
        raise not_found("grant not found")
    username = session.get(User, grant.user_id).username
    if grant.revoked_at is None:
        grant.revoked_at = utcnow()
        audit.record(session, principal, "exam_grant.revoke", "exam", exam.id, school_id=exam.school_id,
                     before={"grant_id": grant.id, "username": username, "right": grant.right})
        session.commit()
    return _public(grant, username)
