"""Cookie sessions, CSRF tokens and the pages' security headers.

A browser session is one cookie (``yj_session``, HttpOnly, SameSite=Strict, Secure over https): a person's
bearer token (an ``AccessToken`` row, as ``POST /api/v1/auth/token`` makes) or, for a scanner station or the
municipal system logging in with its key, the token of a session that key opened (a ``KeySession`` row: the
key itself never goes into a cookie). Logging out revokes the token, whichever it is. The gate reads it only
for page paths (:func:`is_page_path`): the JSON API never accepts the cookie, so no API operation can be driven
by a cross-site request.

Every POST of a page carries a CSRF token: derived from the session cookie (SHA-256 of a label and the cookie,
so a page can show it and nobody can work back to the session), or before log-in the random ``yj_csrf`` cookie
(double submit). :class:`WebGuard` refuses a cross-site POST (``Sec-Fetch-Site``/``Origin``) and checks an
``X-CSRF-Token`` header before the body is read; a form's ``csrf`` field is checked by :func:`csrf_form` before
any other field is used.
"""

from __future__ import annotations

import hashlib
import hmac
import json

from fastapi import HTTPException, Request, status
from starlette.datastructures import FormData, Headers
from starlette.requests import cookie_parser
from starlette.responses import HTMLResponse, RedirectResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["SESSION_COOKIE", "CSRF_COOKIE", "is_page_path", "session_credentials", "csrf_token", "csrf_form",
           "csrf_header_checked", "WebGuard", "set_session_cookie", "clear_session_cookie", "PAGE_CSP", "DOCS_CSP"]

SESSION_COOKIE = "yj_session"
CSRF_COOKIE = "yj_csrf"
CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"
_CSRF_OK = "yuejuan_csrf_ok"
API_PREFIX = "/api/"

#: Self only, no inline script or style, no framing, forms post only here.
PAGE_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
            "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
            "frame-ancestors 'none'")
#: Swagger UI sets style attributes from its script (React); its scripts are still ours only.
DOCS_CSP = PAGE_CSP.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")
_HEADERS = [(b"x-frame-options", b"DENY"), (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"same-origin"), (b"cross-origin-opener-policy", b"same-origin")]
_UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def is_page_path(path: str) -> bool:
    """A web page (or its asset), as opposed to the JSON API under /api/."""
    return not path.startswith(API_PREFIX)


def _cookies(headers: Headers) -> dict[str, str]:
    return cookie_parser(headers.get("cookie", ""))


def session_credentials(headers: Headers) -> tuple[str | None, str | None]:
    """(API key, bearer token) held by the session cookie; (None, None) without one. The cookie never holds a key:
    a key's log-in opens a session of its own (``KeySession``), whose token the cookie holds like a person's."""
    value = _cookies(headers).get(SESSION_COOKIE, "")
    kind, _, secret = value.partition(".")
    return (None, secret) if kind == "t" and secret else (None, None)


def csrf_token(cookies: dict[str, str]) -> str | None:
    """The token a POST must carry: derived from the session cookie, else the pre-log-in ``yj_csrf`` cookie."""
    session = cookies.get(SESSION_COOKIE)
    if session:
        return hashlib.sha256(b"yuejuan-csrf\0" + session.encode("utf-8", "replace")).hexdigest()
    return cookies.get(CSRF_COOKIE) or None


def _matches(sent: str | None, cookies: dict[str, str]) -> bool:
    expected = csrf_token(cookies)
    return bool(sent) and expected is not None and hmac.compare_digest(sent.encode(), expected.encode())


async def csrf_form(request: Request) -> FormData:
    """The POSTed form, once its CSRF token (the ``X-CSRF-Token`` header the guard checked, or the ``csrf``
    field) is right; 403 before any other field is used."""
    form = await request.form()
    if not request.scope.get("state", {}).get(_CSRF_OK):
        sent = form.get(CSRF_FIELD)
        if not isinstance(sent, str) or not _matches(sent, request.cookies):
            await form.close()
            raise HTTPException(status.HTTP_403_FORBIDDEN, "CSRF token missing or wrong")
    return form


def csrf_header_checked(request: Request) -> None:
    """For a POST whose body is large (an upload): the token must come in the header, checked before the body."""
    if not request.scope.get("state", {}).get(_CSRF_OK):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "CSRF token missing or wrong (send X-CSRF-Token)")


def _secure(request: Request) -> bool:
    """Whether the browser reached us over https (behind a TLS proxy: uvicorn ``--proxy-headers``)."""
    return request.url.scheme == "https"


def set_session_cookie(response, request: Request, value: str) -> None:
    response.set_cookie(SESSION_COOKIE, value, httponly=True, samesite="strict", secure=_secure(request), path="/")
    response.delete_cookie(CSRF_COOKIE, path="/")


def clear_session_cookie(response, request: Request) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict", secure=_secure(request))


def new_csrf_cookie(response, request: Request, value: str) -> None:
    response.set_cookie(CSRF_COOKIE, value, httponly=True, samesite="strict", secure=_secure(request), path="/")


def _cross_site(headers: Headers) -> bool:
    """A request a browser says came from another site (Sec-Fetch-Site), or whose Origin is not this host."""
    site = headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        return True
    origin = headers.get("origin")
    if origin is None or origin == "null":
        return origin == "null"
    # The host and port only: behind a TLS proxy the service may see http while the browser says https.
    return origin.partition("://")[2].rstrip("/") != headers.get("host", "")


class WebGuard:
    """The outermost middleware: security headers on every answer (CSP, no framing, nosniff), CSRF checks of page
    POSTs before the body is read, and a page's refusals as a page: a browser asking for HTML without a session
    is sent to the log-in page, and a refusal or error is shown in Chinese rather than as JSON."""

    def __init__(self, app: ASGIApp, docs_path: str):
        self.app = app
        self.docs_path = docs_path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        csp = (DOCS_CSP if path == self.docs_path else PAGE_CSP).encode()
        page = is_page_path(path)
        headers = Headers(scope=scope)

        async def secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *_HEADERS,
                                                  (b"content-security-policy", csp)]}
            await send(message)

        if page and scope["method"] in _UNSAFE:
            if _cross_site(headers):
                await _refuse(403, "跨站请求被拒绝 (cross-site request refused)")(scope, receive, secured)
                return
            sent = headers.get(CSRF_HEADER)
            if sent is not None:
                if not _matches(sent, _cookies(headers)):
                    await _refuse(403, "CSRF token missing or wrong")(scope, receive, secured)
                    return
                scope = {**scope, "state": {**scope.get("state", {}), _CSRF_OK: True}}
        if page and "text/html" in headers.get("accept", ""):
            await self.app(scope, receive, _as_page(scope, secured))
        else:
            await self.app(scope, receive, secured)


def _refuse(code: int, detail: str):
    from fastapi.responses import JSONResponse

    return JSONResponse({"detail": detail}, status_code=code)


_TITLES = {401: "请先登录", 403: "无权访问", 404: "未找到", 405: "不支持的操作", 409: "无法完成",
           413: "文件太大", 422: "输入有误", 423: "账号已锁定", 429: "尝试过多"}


def _as_page(scope: Scope, send: Send) -> Send:
    """``send`` turning a JSON refusal (4xx) of a page a browser navigates to into a Chinese page, and a 401 into
    a redirect to the log-in page."""
    held: dict = {}

    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            kind = dict(message.get("headers", [])).get(b"content-type", b"")
            if 400 <= message["status"] < 500 and kind.startswith(b"application/json"):
                held["start"], held["body"] = message, b""
                return
        elif held and message["type"] == "http.response.body":
            held["body"] += message.get("body", b"")
            if message.get("more_body"):
                return
            code = held["start"]["status"]
            if code == 401:
                response = RedirectResponse("/login", status_code=303)
            else:
                try:
                    detail = json.loads(held["body"]).get("detail", "")
                except (ValueError, AttributeError):
                    detail = ""
                response = HTMLResponse(_error_html(code, detail), status_code=code)
            await response(scope, _no_body, send)
            return
        await send(message)

    return wrapped


async def _no_body() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


def _error_html(code: int, detail) -> str:
    from api.web.render import render_text

    return render_text("error.html", title=_TITLES.get(code, "出错了"), code=code,
                       detail=detail if isinstance(detail, str) else "; ".join(map(str, detail))[:2000])
