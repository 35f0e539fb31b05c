"""Every asset the pages load, served by yuejuan itself: the pages' own scripts and style (``api/web/static``)
and Swagger UI from the ``swagger-ui-bundle-v2`` package (Apache-2.0), so ``/api/v1/docs`` works with no
internet. Only the files listed at start-up are served (no path from the request reaches the file system)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse

from api.service.deps import not_found, public

__all__ = ["router", "STATIC", "SWAGGER_FILES"]

router = APIRouter(include_in_schema=False)
STATIC = Path(__file__).resolve().parent / "static"
_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml",
          ".png": "image/png", ".txt": "text/plain; charset=utf-8"}
_CACHE = {"Cache-Control": "public, max-age=3600"}


def _swagger_dir() -> Path:
    from swagger_ui_bundle import swagger_ui_path

    return Path(str(swagger_ui_path))


#: The Swagger UI files the docs page loads.
SWAGGER_FILES = ("swagger-ui-bundle.js", "swagger-ui.css")
_OWN = {p.name: p for p in STATIC.iterdir() if p.suffix in _TYPES} if STATIC.is_dir() else {}


def _file(path: Path) -> FileResponse:
    return FileResponse(path, media_type=_TYPES.get(path.suffix, "application/octet-stream"), headers=_CACHE)


@router.get("/static/{name}", dependencies=[public(body=0)])
def own_asset(name: str) -> FileResponse:
    """A script, style sheet or picture of the pages."""
    if name not in _OWN:
        raise not_found("no such file")
    return _file(_OWN[name])


@router.get("/static/swagger/{name}", dependencies=[public(body=0)])
def swagger_asset(name: str) -> FileResponse:
    """Swagger UI's script and style, from the installed package."""
    if name not in SWAGGER_FILES:
        raise not_found("no such file")
    return _file(_swagger_dir() / name)


def docs_page(request: Request, openapi_url: str) -> HTMLResponse:
    """Swagger UI over ``openapi_url``, with no inline script (its start-up is ``/static/docs.js``)."""
    from api.web.render import render_text

    return HTMLResponse(render_text("docs.html", openapi_url=openapi_url), headers={"Cache-Control": "no-store"})
