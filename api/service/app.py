"""The FastAPI application: ``create_app()`` (what `yuejuan serve` runs) with every router under /api/v1."""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, IntegrityError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.service.context import Service, open_service
from api.service.routes import admin, batches, exams, municipal, results, review
from api.service.settings import Settings

__all__ = ["create_app", "API_PREFIX"]

API_PREFIX = "/api/v1"
logger = logging.getLogger(__name__)


class BodyLimit:
    """Refuse request bodies above ``limit`` bytes (413) before they are read: by Content-Length when given,
    and by counting as they stream in when not (chunked uploads)."""

    def __init__(self, app: ASGIApp, limit: int):
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            await _too_large(self.limit)(scope, receive, send)
            return
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
                if seen > self.limit:
                    if not started:
                        await _too_large(self.limit)(scope, receive, send)
                    refused = True
                    return {"type": "http.disconnect"}
            return message

        try:
            await self.app(scope, counted, guarded_send)
        except Exception:
            if not refused:
                raise


def _too_large(limit: int) -> JSONResponse:
    return JSONResponse({"detail": f"request body above the limit of {limit} bytes"}, status_code=413)


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
                  docs_url=f"{API_PREFIX}/docs", redoc_url=None,
                  description="阅卷: answer-sheet scanning, marking and academic analytics for a city's schools.")
    if service is not None:
        app.state.service = service

    @app.get(f"{API_PREFIX}/health", tags=["health"])
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

    for module in (admin, exams, batches, review, results, municipal):
        app.include_router(module.router, prefix=API_PREFIX)
    app.add_middleware(BodyLimit, limit=settings.max_request_bytes)
    return app
