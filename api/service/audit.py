"""The append-only audit log: every correction, key change, credential and roster change is recorded."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from api.service.models import AuditEntry
from api.service.security import Principal

__all__ = ["record"]


def record(session: Session, who: Principal, action: str, object_type: str, object_id: Any, *,
           school_id: str | None = None, before: dict | None = None, after: dict | None = None) -> None:
    """Add one entry to ``session`` (it commits with the change it describes, or not at all)."""
    session.add(AuditEntry(school_id=school_id if school_id is not None else who.school_id, actor=who.actor,
                           action=action, object_type=object_type, object_id=str(object_id), before=before,
                           after=after))
