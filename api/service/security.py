"""Credentials: API keys for machines, argon2 passwords and bearer tokens for people, and the roles.

Keys and tokens are random 256-bit secrets shown once; the database keeps only their SHA-256 (a fast hash is
right for high-entropy secrets, and lets a request be checked with one indexed lookup). Passwords are chosen by
people, so they get argon2id.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

__all__ = ["Principal", "Role", "ROLES", "SCOPES", "new_api_key", "new_token", "secret_hash", "hash_password",
           "verify_password", "key_prefix"]

Role = Literal["station", "teacher", "school_admin", "municipal"]
ROLES: tuple[str, ...] = ("station", "teacher", "school_admin", "municipal")
#: What a key may be scoped to; a key with no scopes gets its role's defaults.
SCOPES: dict[str, tuple[str, ...]] = {
    "station": ("upload", "batches:read"),
    "municipal": ("schools:write", "exams:write", "aggregates:read", "scores:export", "users:write"),
}

# argon2id at OWASP's recommended minimum (19 MiB, 2 passes, 1 lane): ~50 ms a log-in on a 2-core server, which
# a busy morning of teachers logging in can afford; argon2-cffi's default (64 MiB, 3 passes, 4 lanes) takes ~0.3 s.
_hasher = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)
_DUMMY_HASH = _hasher.hash("not a password")


@dataclass(frozen=True)
class Principal:
    """Who is calling: ``school_id`` is None only for the municipal system."""

    role: str
    school_id: str | None
    actor: str  # for the audit log: "user:wang" or "key:yj_ab12cd34"
    scopes: frozenset[str] = frozenset()
    user_id: int | None = None
    key_id: int | None = None


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
