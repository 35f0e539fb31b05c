"""Rendering pages: one Jinja2 environment (autoescaped) over ``api/web/templates``, and what every page shows
(the signed-in caller, the navigation of their role, the CSRF token its forms carry)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from api.service.security import Principal

__all__ = ["render", "render_text", "ROLE_NAMES", "navigation"]

TEMPLATES = Path(__file__).resolve().parent / "templates"
ROLE_NAMES = {"teacher": "教师", "school_admin": "学校管理员", "station": "扫描站", "municipal": "市教育局"}
_NAV = {
    "school_admin": [("/exams", "考试与进度"), ("/review", "复核队列"), ("/station", "上传扫描"),
                     ("/admin/users", "用户"), ("/admin/keys", "扫描站密钥"), ("/admin/roster", "学生名册")],
    "teacher": [("/exams", "考试与下载"), ("/review", "复核队列"), ("/station", "上传扫描")],
    "station": [("/station", "上传扫描")],
    "municipal": [("/city", "全市统计")],
}


@lru_cache(maxsize=1)
def _environment() -> Environment:
    return Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(("html",)),
                       trim_blocks=True, lstrip_blocks=True)


def navigation(principal: Principal | None) -> list[tuple[str, str]]:
    return _NAV.get(principal.role, []) if principal is not None else []


def render_text(template: str, **context) -> str:
    return _environment().get_template(template).render(**context)


def render(request: Request, template: str, principal: Principal | None = None, *, status_code: int = 200,
           **context) -> HTMLResponse:
    """The page ``template`` for ``request``: with the caller, their navigation and the form's CSRF token."""
    from api.web.guard import csrf_token

    text = render_text(template, principal=principal, nav=navigation(principal), path=request.url.path,
                       role_name=ROLE_NAMES.get(principal.role, "") if principal else "",
                       csrf=context.pop("csrf_override", None) or csrf_token(request.cookies) or "",
                       **context)
    return HTMLResponse(text, status_code=status_code, headers={"Cache-Control": "no-store"})
