"""FastAPI dependencies, all in one place (``Annotated`` types the routes declare)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, TypeVar

from fastapi import Depends, HTTPException, Path, Query, Request, Security, status
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.service.context import Service
from api.service.models import AccessToken, ApiKey, User, as_utc, utcnow
from api.service.security import SCOPES, Principal, secret_hash
from api.service.settings import Settings

T = TypeVar("T")

__all__ = ["of_school", "RowId", "SchoolQuery", "STAFF", "ServiceDep", "SettingsDep", "ReadSession", "WriteSession",
           "CurrentPrincipal", "require_roles", "require_scope", "school_of", "not_found"]

#: The school a municipal request acts on (school users may name only their own).
SchoolQuery = Annotated[str | None, Query(pattern=r"^\d{10}$", description="municipal system: which school")]

#: A row id in a path: bounded, so a huge number is a 422, not an overflow inside the database driver.
RowId = Annotated[int, Path(ge=1, le=2**31 - 1)]

_api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="scanner station or municipal key")
_bearer = HTTPBearer(auto_error=False, description="teacher token from POST /api/v1/auth/token")


def get_service(request: Request) -> Service:
    return request.app.state.service


ServiceDep = Annotated[Service, Depends(get_service)]


def get_settings(service: ServiceDep) -> Settings:
    return service.settings


SettingsDep = Annotated[Settings, Depends(get_settings)]


def _read_session(service: ServiceDep) -> Iterator[Session]:
    with service.db.read() as session:
        yield session


def _write_session(service: ServiceDep) -> Iterator[Session]:
    with service.db.write() as session:
        yield session


ReadSession = Annotated[Session, Depends(_read_session)]
WriteSession = Annotated[Session, Depends(_write_session)]


def _unauthorised(detail: str) -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, detail, headers={"WWW-Authenticate": "Bearer"})


def get_principal(service: ServiceDep, api_key: Annotated[str | None, Security(_api_key_header)],
                  bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)]) -> Principal:
    """The caller, from ``X-API-Key`` (machines) or ``Authorization: Bearer`` (people); 401 otherwise."""
    with service.db.read() as session:
        if api_key:
            key = session.scalar(select(ApiKey).where(ApiKey.key_hash == secret_hash(api_key)))
            if key is None or key.revoked_at is not None:
                raise _unauthorised("invalid or revoked API key")
            scopes = frozenset(key.scopes or SCOPES.get(key.role, ()))
            return Principal(key.role, key.school_id, f"key:{key.prefix}", scopes, key_id=key.id)
        if bearer is not None and bearer.credentials:
            row = session.execute(
                select(AccessToken, User).join(User, User.id == AccessToken.user_id)
                .where(AccessToken.token_hash == secret_hash(bearer.credentials))).first()
            if row is None:
                raise _unauthorised("invalid token")
            token, user = row
            if token.revoked or not user.active or as_utc(token.expires_at) <= utcnow():
                raise _unauthorised("token expired or revoked")
            return Principal(user.role, user.school_id, f"user:{user.username}", user_id=user.id)
    raise _unauthorised("send X-API-Key (stations, municipal system) or Authorization: Bearer (teachers)")


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]


def require_roles(*roles: str):
    """A dependency that lets only ``roles`` through (403 for the others)."""

    def check(principal: CurrentPrincipal) -> Principal:
        if principal.role not in roles:
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"{principal.role} may not do this")
        return principal

    return Depends(check)


#: People of a school and the municipal system: everyone but scanner stations.
STAFF = require_roles("teacher", "school_admin", "municipal")


def require_scope(scope: str):
    """For API keys: the key must carry ``scope``; people's roles decide for them."""

    def check(principal: CurrentPrincipal) -> Principal:
        if principal.key_id is not None and scope not in principal.scopes:
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"this key lacks the scope {scope!r}")
        return principal

    return Depends(check)


def not_found(what: str = "not found") -> HTTPException:
    return HTTPException(status.HTTP_404_NOT_FOUND, what)


def of_school(row: T | None, principal: Principal, what: str) -> T:
    """``row`` when it exists and belongs to the caller's school (the municipal system sees every school's);
    else 404 "<what> not found", the same whether it is missing or another school's."""
    if row is None or (principal.school_id is not None and getattr(row, "school_id") != principal.school_id):
        raise not_found(f"{what} not found")
    return row


def school_of(principal: Principal, school_id: str | None = None) -> str:
    """The school a request acts on: the caller's own; the municipal system names one (``school_id``).

    A school's user naming another school gets 404, as if it did not exist.
    """
    if principal.school_id is not None:
        if school_id is not None and school_id != principal.school_id:
            raise not_found("school not found")
        return principal.school_id
    if school_id is None:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "school_id is required for the municipal system")
    return school_id
