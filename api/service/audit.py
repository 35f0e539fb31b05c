"""The append-only audit log: every correction, key change, credential and roster change is recorded."""

from __future__ import annotations

import unicodedata
from typing import Any

from sqlalchemy.orm import Session

from api.service.models import AuditEntry
from api.service.security import Principal

__all__ = ["record"]


_OBJECT_ID_LENGTH = AuditEntry.object_id.type.length


def record(session: Session, who: Principal, action: str, object_type: str, object_id: Any, *,
           school_id: str | None = None, before: dict | None = None, after: dict | None = None) -> None:
    """Add one entry to ``session`` (it commits with the change it describes, or not at all)."""
    session.add(AuditEntry(school_id=school_id if school_id is not None else who.school_id, actor=who.actor,
                           action=action, object_type=object_type, object_id=_label(str(object_id)), before=before,
                           after=after))


def _label(object_id: str) -> str:
    """The object's name fit for its column: a class name or an uploaded file's name may be longer than it (the
    whole name is in ``before``/``after`` where it matters) or hold what the database refuses (NUL, surrogates)."""
    label = "".join("?" if unicodedata.category(char) in ("Cc", "Cs") else char for char in object_id)
    return label if len(label) <= _OBJECT_ID_LENGTH else label[:_OBJECT_ID_LENGTH - 1] + "…"
