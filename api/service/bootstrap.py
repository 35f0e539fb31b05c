"""First credentials of a new installation (the CLI's ``yuejuan admin``), without going through HTTP."""

from __future__ import annotations

from api.service.context import Service
from api.service.models import ApiKey, AuditEntry, School, User
from api.service.security import KEY_ROLES, SCOPES, hash_password, new_api_key

__all__ = ["add_school", "add_user", "add_api_key"]

_ACTOR = "cli:yuejuan-admin"


def add_school(service: Service, school_id: str, name: str) -> None:
    from grading.roster import validate_school_code

    school_id = validate_school_code(school_id)
    with service.db.write() as session:
        session.add(School(id=school_id, name=name))
        session.add(AuditEntry(school_id=school_id, actor=_ACTOR, action="school.create", object_type="school",
                               object_id=school_id, after={"name": name}))
        session.commit()


def add_user(service: Service, username: str, password: str, role: str, school_id: str, display_name: str = "") -> int:
    if role not in ("teacher", "school_admin"):
        raise ValueError(f"role {role!r}: teacher or school_admin")
    if len(password) < 10:
        raise ValueError("a password needs at least 10 characters")
    with service.db.write() as session:
        user = User(username=username, password_hash=hash_password(password), role=role, school_id=school_id,
                    display_name=display_name)
        session.add(user)
        session.flush()
        session.add(AuditEntry(school_id=school_id, actor=_ACTOR, action="user.create", object_type="user",
                               object_id=username, after={"role": role}))
        session.commit()
        return user.id


def add_api_key(service: Service, role: str, school_id: str | None = None, name: str = "") -> str:
    """Create a key and return its secret (shown once). Stations need a school; the municipal key has none."""
    if role not in KEY_ROLES:
        raise ValueError(f"role {role!r}: {' or '.join(KEY_ROLES)}")
    if (role == "station") != (school_id is not None):
        raise ValueError("a station key belongs to one school; a municipal key to none")
    secret, prefix, key_hash = new_api_key()
    with service.db.write() as session:
        session.add(ApiKey(prefix=prefix, key_hash=key_hash, role=role, school_id=school_id, name=name,
                           scopes=list(SCOPES[role])))
        session.add(AuditEntry(school_id=school_id, actor=_ACTOR, action="api_key.create", object_type="api_key",
                               object_id=prefix, after={"role": role, "name": name}))
        session.commit()
    return secret
