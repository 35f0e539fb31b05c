"""The FastAPI application: ``create_app()`` (what `yuejuan serve` runs) with every router under /api/v1."""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager

from fastapi import FastAPI, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts
from sqlalchemy.exc import DataError, IntegrityError
from starlette.datastructures import Headers
from starlette.routing import Match, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.service.context import Service, open_service
from api.service.deps import PRINCIPAL_STATE, Permit, authenticate, declared_permit, public
from api.service.routes import (admin, arrange, bank, batches, exams, grants, marking, municipal, profiles,
                                results, review, teaching)
from api.service.settings import Settings
from api.web import WebGuard, include_pages, is_page_path
from api.web.guard import session_credentials

__all__ = ["create_app", "check_declarations", "Gate", "API_PREFIX"]

API_PREFIX = "/api/v1"
DOCS_URL = f"{API_PREFIX}/docs"
logger = logging.getLogger(__name__)


class Gate:
    """Authenticate and authorise every request before its body is read, and bound the body by what the route
    takes.

    The route is found for (method, path); its :class:`~api.service.deps.Permit` (declared with ``permit`` or
    ``public``) says which roles and scope it needs and how large a body it takes. For a non-public route the
    caller is looked up from ``X-API-Key`` or ``Authorization: Bearer`` (in a thread), refused with 401 or 403
    without reading a byte of the body, and otherwise handed to the route in ``scope["state"]``. A body above
    the route's limit is refused with 413: by Content-Length when given, and by counting as it streams in when
    not (chunked uploads). A route without a declaration is refused (deny by default).
    """

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        api = scope["app"]
        rule = _permit_of(api.state.permits, scope)
        if rule is None and any(route.matches(scope)[0] == Match.FULL for route in api.router.routes):
            await _answer(403, "this operation declares no permission")(scope, receive, send)  # deny by default
            return
        service = api.state.service
        limit = rule.body_limit(service.settings) if rule is not None else 0
        if rule is not None and not rule.public:
            headers = Headers(scope=scope)
            scheme, _, token = headers.get("authorization", "").partition(" ")
            api_key, bearer = headers.get("x-api-key"), token.strip() if scheme.lower() == "bearer" else None
            if is_page_path(scope["path"]):  # pages: the session cookie, never a header; the API: never the cookie
                api_key, bearer = session_credentials(headers)
            client = scope.get("client")
            try:
                principal = await run_in_threadpool(authenticate, service, api_key, bearer,
                                                    client[0] if client else None)
            except HTTPException as error:
                await _answer(error.status_code, error.detail, error.headers)(scope, receive, send)
                return
            refusal = rule.refusal(principal)
            if refusal is not None:
                await _answer(403, refusal)(scope, receive, send)
                return
            scope = {**scope, "state": {**scope.get("state", {}), PRINCIPAL_STATE: principal}}
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await _too_large(limit)(scope, receive, send)
            return
        await _bounded(self.app, limit)(scope, receive, send)


def _permit_of(permits: list[tuple[RouteContext, Permit]], scope: Scope) -> Permit | None:
    """What the route answering ``scope`` (method and path) declares; None when no route answers it (the app
    says 404 or 405 itself, without reading the body)."""
    for context, rule in permits:
        match, _ = context.matches(scope)
        if match == Match.FULL:
            return rule
    return None


def _bounded(app: ASGIApp, limit: int) -> ASGIApp:
    """``app`` reading at most ``limit`` bytes of body: past it the client hears 413 and the app a disconnect."""

    async def call(scope: Scope, receive: Receive, send: Send) -> None:
        seen = 0
        started = refused = False

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if refused:
                return  # the 413 went out; whatever the app says after that is dropped
            started = started or message["type"] == "http.response.start"
            await send(message)

        async def counted() -> Message:
            nonlocal seen, refused
            message = await receive()
            if message["type"] == "http.request" and not refused:
                seen += len(message.get("body", b""))
                if seen > limit:
                    if not started:
                        await _too_large(limit)(scope, receive, send)
                    refused = True
                    return {"type": "http.disconnect"}
            return message

        try:
            await app(scope, counted, guarded_send)
        except Exception:
            if not refused:
                raise

    return call


def _answer(status_code: int, detail, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status_code, headers=headers)


def _too_large(limit: int) -> JSONResponse:
    return _answer(413, f"request body above the limit of {limit} bytes for this operation")


def check_declarations(app: FastAPI) -> list[tuple[RouteContext, Permit]]:
    """Every route (as the router matches it, prefix included) with its :class:`~api.service.deps.Permit`: what
    the gate reads. Raises ``RuntimeError`` naming the API routes that declare none. FastAPI's own pages (the
    OpenAPI document, the docs) are public and take no body; any other route without a declaration is an error,
    so an operation cannot be added unguarded."""
    permits, undeclared = [], []
    for context in iter_route_contexts(app.router.routes):
        route = context.original_route
        if isinstance(route, APIRoute):
            rule = declared_permit(context)
            if rule is None:
                undeclared.append(f"{','.join(sorted(route.methods))} {context.path}")
                continue
        elif isinstance(route, Route) and set(route.methods or ()) <= {"GET", "HEAD"}:
            rule = Permit(None, frozenset(), 0, public=True)
        else:
            undeclared.append(repr(route))
            continue
        permits.append((context, rule))
    if undeclared:
        raise RuntimeError("operations without a permission declaration (deps.permit or deps.public): "
                           + "; ".join(undeclared))
    return permits


def create_app(settings: Settings | None = None, *, service: Service | None = None) -> FastAPI:
    """The application; opens (and migrates) the database at start-up unless ``service`` is given."""
    settings = service.settings if service is not None else (settings or Settings())

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        own = service is None
        app.state.service = service if service is not None else open_service(settings)
        try:
            yield
        finally:
            if own:
                app.state.service.close()

    app = FastAPI(title="yuejuan", version="0.1.0", lifespan=lifespan, openapi_url=f"{API_PREFIX}/openapi.json",
                  docs_url=None, redoc_url=None,
                  description="阅卷: answer-sheet scanning, marking and academic analytics for a city's schools.")
    if service is not None:
        app.state.service = service

    @app.get(f"{API_PREFIX}/health", tags=["health"], dependencies=[public(body=0)])
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.exception_handler(IntegrityError)
    async def _conflict(_request: Request, _error: IntegrityError) -> JSONResponse:
        # Two requests racing to create the same thing: the database's constraint decides, the loser hears why.
        return JSONResponse({"detail": "conflicts with an existing record"}, status_code=409)

    @app.exception_handler(DataError)
    async def _unstorable(request: Request, error: DataError) -> JSONResponse:
        # The last guard behind the request models: a value the database cannot hold (a NUL in a query string,
        # text longer than its column, a number out of range) is the client's to fix, not a server error.
        logger.warning("%s %s: a value the database cannot store: %s", request.method, request.url.path,
                       str(error.orig).splitlines()[0] if error.orig else error)
        return JSONResponse({"detail": "a value cannot be stored: too long, out of range or holding a NUL "
                                       "character"}, status_code=422)

    for module in (admin, exams, grants, batches, review, results, municipal, profiles, marking, arrange, teaching,
                   bank):
        app.include_router(module.router, prefix=API_PREFIX)
    include_pages(app, docs_url=DOCS_URL)  # the web pages, their assets, Swagger UI served offline
    app.state.permits = check_declarations(app)
    _document_permissions(app, settings)
    app.add_middleware(Gate)
    app.add_middleware(WebGuard, docs_path=DOCS_URL)  # outermost: security headers, CSRF, refusals as pages
    return app


def _document_permissions(app: FastAPI, settings: Settings) -> None:
    """Each operation's declaration in the OpenAPI document too (``x-permission``: scope, roles, public, body
    limit), so a client reads what it needs where it reads everything else."""
    made = app.openapi

    def openapi() -> dict:
        if app.openapi_schema is None:
            document = made()
            for context, rule in app.state.permits:
                for method in (context.methods or ()) if isinstance(context.original_route, APIRoute) else ():
                    operation = document["paths"].get(context.path, {}).get(method.lower())
                    if operation is not None:
                        operation["x-permission"] = {"public": rule.public, "scope": rule.scope,
                                                     "roles": sorted(rule.roles),
                                                     "max_body_bytes": rule.body_limit(settings)}
        return app.openapi_schema

    app.openapi = openapi
