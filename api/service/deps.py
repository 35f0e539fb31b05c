"""FastAPI dependencies, all in one place (``Annotated`` types the routes declare)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import Depends, HTTPException, Path, Query, Request, Security, status
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.service.context import Service
from api.service.models import AccessToken, ApiKey, KeySession, User, as_utc, utcnow
from api.service.security import ALL_SCOPES, SCOPES, Principal, effective_scopes, secret_hash
from api.service.settings import Settings

T = TypeVar("T")

__all__ = ["of_school", "RowId", "SchoolQuery", "ServiceDep", "SettingsDep", "ReadSession", "WriteSession",
           "CurrentPrincipal", "Permit", "permit", "public", "declared_permit", "authenticate", "client_address",
           "PRINCIPAL_STATE", "KIB", "MIB", "IMPORT_BODY", "UPLOAD_LIMIT", "school_of", "not_found"]

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


#: Where the gate leaves the authenticated caller for the route (``scope["state"]``).
PRINCIPAL_STATE = "yuejuan_principal"


def _unauthorised(detail: str) -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, detail, headers={"WWW-Authenticate": "Bearer"})


def authenticate(service: Service, api_key: str | None, bearer: str | None, address: str | None) -> Principal:
    """The caller, from an API key (machines) or a bearer token (people); HTTPException 401 otherwise.

    Blocking (one indexed database lookup): the gate runs it in a thread before the request's body is read.
    """
    with service.db.read() as session:
        if api_key:
            key = session.scalar(select(ApiKey).where(ApiKey.key_hash == secret_hash(api_key)))
            if key is None or key.revoked_at is not None:
                raise _unauthorised("invalid or revoked API key")
            return Principal(key.role, key.school_id, f"key:{key.prefix}", effective_scopes(key.role, key.scopes),
                             key_id=key.id, address=address)
        if bearer:
            row = session.execute(
                select(AccessToken, User).join(User, User.id == AccessToken.user_id)
                .where(AccessToken.token_hash == secret_hash(bearer))).first()
            if row is None:
                return _key_session(session, bearer, address)
            token, user = row
            if token.revoked or not user.active or as_utc(token.expires_at) <= utcnow():
                raise _unauthorised("token expired or revoked")
            return Principal(user.role, user.school_id, f"user:{user.username}", effective_scopes(user.role),
                             user_id=user.id, address=address)
    raise _unauthorised("send X-API-Key (stations, municipal system) or Authorization: Bearer (teachers)")


def _key_session(session: Session, secret: str, address: str | None) -> Principal:
    """The key behind a browser session opened with it (:class:`api.service.models.KeySession`); 401 when the
    session is unknown, logged out or expired, or its key revoked."""
    row = session.execute(select(KeySession, ApiKey).join(ApiKey, ApiKey.id == KeySession.key_id)
                          .where(KeySession.token_hash == secret_hash(secret))).first()
    if row is None:
        raise _unauthorised("invalid token")
    opened, key = row
    if opened.revoked or key.revoked_at is not None or as_utc(opened.expires_at) <= utcnow():
        raise _unauthorised("session ended, expired or its key revoked")
    return Principal(key.role, key.school_id, f"key:{key.prefix}", effective_scopes(key.role, key.scopes),
                     key_id=key.id, address=address)


def client_address(request: Request) -> str | None:
    return request.client.host if request.client else None


def get_principal(request: Request, service: ServiceDep, api_key: Annotated[str | None, Security(_api_key_header)],
                  bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)]) -> Principal:
    """The caller: the one the gate (:class:`api.service.app.Gate`) authenticated before the body was read, or
    from ``X-API-Key`` (machines) or ``Authorization: Bearer`` (people); 401 otherwise."""
    known = request.scope.get("state", {}).get(PRINCIPAL_STATE)
    if isinstance(known, Principal):
        return known
    return authenticate(service, api_key, bearer.credentials if bearer else None, client_address(request))


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]

KIB, MIB = 1024, 1024 * 1024
#: A roster or key workbook: a few MiB (the batch upload is the big one: :data:`UPLOAD_LIMIT`).
IMPORT_BODY = 4 * MIB
#: A body limit that is the upload setting (``Settings.max_request_bytes``) rather than a fixed size.
UPLOAD_LIMIT = "max_request_bytes"


@dataclass(frozen=True)
class Permit:
    """What an operation needs, declared once next to it (:func:`permit`, :func:`public`): the roles and the scope
    a caller must hold, and the largest body it takes (bytes, or the name of the setting that holds it)."""

    scope: str | None
    roles: frozenset[str]
    body: int | str
    public: bool = False

    def body_limit(self, settings: Settings) -> int:
        return int(getattr(settings, self.body)) if isinstance(self.body, str) else self.body

    def refusal(self, principal: Principal) -> str | None:
        """Why ``principal`` may not call the operation (None: it may)."""
        if self.public:
            return None
        if principal.role not in self.roles:
            return f"{principal.role} may not do this"
        if self.scope is not None and self.scope not in principal.scopes:
            kind = "key" if principal.key_id is not None else principal.role
            return f"this {kind} lacks the scope {self.scope!r}"
        return None


def permit(scope: str | None, *, roles: tuple[str, ...] | None = None, body: int | str = 64 * KIB):
    """The dependency every non-public operation declares: callers need ``scope`` (people have their role's,
    keys what they were given) and one of ``roles`` (default: every role that has the scope); the body may hold
    at most ``body`` bytes. The gate checks all this before the body is read; the dependency checks it again."""
    if scope is not None and scope not in ALL_SCOPES:
        raise ValueError(f"unknown scope {scope!r}")
    if roles is None:
        if scope is None:
            raise ValueError("an operation without a scope names its roles")
        roles = tuple(role for role, scopes in SCOPES.items() if scope in scopes)
    if scope is not None and any(scope not in SCOPES[role] for role in roles):
        raise ValueError(f"{roles}: not every role has the scope {scope!r}")
    rule = Permit(scope, frozenset(roles), body)

    def check(principal: CurrentPrincipal) -> Principal:
        refusal = rule.refusal(principal)
        if refusal is not None:
            raise HTTPException(status.HTTP_403_FORBIDDEN, refusal)
        return principal

    check.permit = rule  # type: ignore[attr-defined]  # what the gate reads
    return Depends(check)


def public(*, body: int = 4 * KIB):
    """The declaration of an operation anyone may call (log-in, health): only its body limit."""
    rule = Permit(None, frozenset(), body, public=True)

    def check() -> None:
        return None

    check.permit = rule  # type: ignore[attr-defined]
    return Depends(check)


def declared_permit(route: Any) -> Permit | None:
    """The :class:`Permit` an API route declares (among its dependencies), or None."""
    found = [d.dependency.permit for d in getattr(route, "dependencies", ()) if hasattr(d.dependency, "permit")]
    if len(found) > 1:
        raise RuntimeError(f"{route.path}: more than one permit declared")
    return found[0] if found else None


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
