"""Credentials: API keys for machines, argon2 passwords and bearer tokens for people, and the roles.

Keys and tokens are random 256-bit secrets shown once; the database keeps only their SHA-256 (a fast hash is
right for high-entropy secrets, and lets a request be checked with one indexed lookup). Passwords are chosen by
people, so they get argon2id.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

__all__ = ["Principal", "Role", "ROLES", "PEOPLE", "Scope", "ALL_SCOPES", "SCOPES", "KEY_ROLES", "effective_scopes",
           "new_api_key", "new_token", "secret_hash", "hash_password", "verify_password", "key_prefix"]

Role = Literal["station", "teacher", "school_admin", "municipal"]
ROLES: tuple[str, ...] = ("station", "teacher", "school_admin", "municipal")
#: People log in with a password; machines (stations, the municipal system) use API keys.
PEOPLE: tuple[str, ...] = ("teacher", "school_admin")

#: Every scope an operation can need (each route declares one with :func:`api.service.deps.permit`).
Scope = Literal["schools:read", "schools:write", "roster:read", "roster:write", "users:read", "users:write",
                "keys:read", "keys:write", "grants:read", "grants:write", "exams:read", "exams:write",
                "exams:grade", "upload", "batches:read", "review:read", "review:write", "results:read",
                "scores:export", "aggregates:read", "audit:read", "profiles:read", "profiles:write", "marking:score",
                "marking:manage"]
ALL_SCOPES: tuple[str, ...] = Scope.__args__

_TEACHING = ("schools:read", "roster:read", "exams:read", "exams:write", "exams:grade", "upload", "batches:read",
             "review:read", "review:write", "results:read", "scores:export", "marking:score", "marking:manage")
#: What each role may do. A person has their role's scopes; a key has the scopes stored with it, and never more
#: than its role's (a key's stored scopes are intersected with this at every request).
SCOPES: dict[str, tuple[str, ...]] = {
    "station": ("upload", "batches:read"),
    "teacher": _TEACHING,
    "school_admin": _TEACHING + ("roster:write", "users:read", "users:write", "keys:read", "keys:write",
                                 "grants:read", "grants:write", "audit:read", "profiles:read", "profiles:write"),
    "municipal": ("schools:read", "schools:write", "roster:read", "roster:write", "users:read", "users:write",
                  "keys:read", "keys:write", "exams:read", "exams:write", "exams:grade", "review:read",
                  "results:read", "scores:export", "aggregates:read", "audit:read", "profiles:read"),
}
#: Roles that API keys are issued for.
KEY_ROLES: tuple[str, ...] = ("station", "municipal")


def effective_scopes(role: str, stored: Iterable[str] | None = None) -> frozenset[str]:
    """What a caller may do: a person (``stored`` None) their role's scopes; a key exactly its stored scopes
    that its role allows (an empty list is no scope at all, never "everything")."""
    allowed = frozenset(SCOPES.get(role, ()))
    return allowed if stored is None else allowed & frozenset(stored)


# argon2id at OWASP's recommended minimum (19 MiB, 2 passes, 1 lane): ~50 ms a log-in on a 2-core server, which
# a busy morning of teachers logging in can afford; argon2-cffi's default (64 MiB, 3 passes, 4 lanes) takes ~0.3 s.
_hasher = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)
_DUMMY_HASH = _hasher.hash("not a password")


@dataclass(frozen=True)
class Principal:
    """Who is calling: ``school_id`` is None only for the municipal system; ``scopes`` what it may do
    (:func:`effective_scopes`)."""

    role: str
    school_id: str | None
    actor: str  # for the audit log: "user:wang" or "key:yj_ab12cd34"
    scopes: frozenset[str] = frozenset()
    user_id: int | None = None
    key_id: int | None = None
    address: str | None = None  # the client's network address, for the audit log


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def new_api_key() -> tuple[str, str, str]:
    """(the key to hand out once, its public prefix, its hash)."""
    body = secrets.token_urlsafe(32)
    key = f"yj_{body}"
    return key, key_prefix(key), secret_hash(key)


def key_prefix(key: str) -> str:
    return key[:11]


def new_token() -> tuple[str, str]:
    """(a bearer token to hand out once, its hash)."""
    token = secrets.token_urlsafe(32)
    return token, secret_hash(token)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True when ``password`` matches; takes as long for an unknown user (``password_hash`` None)."""
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False
