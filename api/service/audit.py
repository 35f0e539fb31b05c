"""The append-only audit log: every correction, key change, credential, log-in and log-out, roster change and
result export is recorded, with who did it and from which address."""

from __future__ import annotations

import unicodedata
from typing import Any

from sqlalchemy.orm import Session

from api.service.context import Service
from api.service.models import AuditEntry
from api.service.security import Principal

__all__ = ["record", "record_now"]


_OBJECT_ID_LENGTH = AuditEntry.object_id.type.length


def record(session: Session, who: Principal | None, action: str, object_type: str, object_id: Any, *,
           school_id: str | None = None, before: dict | None = None, after: dict | None = None,
           actor: str | None = None, address: str | None = None) -> None:
    """Add one entry to ``session`` (it commits with the change it describes, or not at all).

    ``who`` is the caller (its actor, school and address are recorded); ``actor`` and ``address`` stand in when
    there is no caller yet (a failed log-in).
    """
    session.add(AuditEntry(school_id=school_id if school_id is not None or who is None else who.school_id,
                           actor=actor if actor is not None else who.actor, action=action, object_type=object_type,
                           object_id=_label(str(object_id)), before=before, after=after,
                           address=address if address is not None or who is None else who.address))


def record_now(service: Service, who: Principal, action: str, object_type: str, object_id: Any, *,
               school_id: str | None = None, after: dict | None = None) -> None:
    """Record an entry in a short transaction of its own: for what changes nothing (a download, an export),
    so a request that only reads does not hold the write lock while it works."""
    with service.db.write() as session:
        record(session, who, action, object_type, object_id, school_id=school_id, after=after)
        session.commit()


def _label(object_id: str) -> str:
    """The object's name fit for its column: a class name or an uploaded file's name may be longer than it (the
    whole name is in ``before``/``after`` where it matters) or hold what the database refuses (NUL, surrogates)."""
    label = "".join("?" if unicodedata.category(char) in ("Cc", "Cs") else char for char in object_id)
    return label if len(label) <= _OBJECT_ID_LENGTH else label[:_OBJECT_ID_LENGTH - 1] + "…"
