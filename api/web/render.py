"""Rendering pages: one Jinja2 environment (autoescaped) over ``api/web/templates``, and what every page shows
(the signed-in caller, the navigation of their role, the CSRF token its forms carry)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from fastapi import Request
from fastapi.responses import HTMLResponse
from grading.reason_text import reason_zh as grading_reason_zh, untranslated
from jinja2 import Environment, FileSystemLoader, select_autoescape

from api.service.security import Principal

__all__ = ["render", "render_text", "ROLE_NAMES", "navigation", "reason_zh"]

TEMPLATES = Path(__file__).resolve().parent / "templates"
ROLE_NAMES = {"teacher": "教师", "school_admin": "学校管理员", "station": "扫描站", "municipal": "市教育局"}
_NAV = {
    "school_admin": [("/exams", "考试与进度"), ("/marking", "网上阅卷"), ("/review", "复核队列"),
                     ("/station", "上传扫描"), ("/admin/users", "用户"), ("/admin/keys", "扫描站密钥"),
                     ("/admin/roster", "学生名册"), ("/admin/arrange", "考场编排")],
    "teacher": [("/exams", "考试与下载"), ("/marking", "网上阅卷"), ("/review", "复核队列"), ("/station", "上传扫描")],
    "station": [("/station", "上传扫描")],
    "municipal": [("/city", "全市统计")],
}


#: OMR's reasons start with one of these (omr/read.py, omr/assemble.py): the Chinese a teacher reads first.
def reason_zh(reason: str) -> str:
    """A reason in a teacher's words (:func:`grading.reason_text.reason_zh`: every OMR and grading reason the rules
    know; one they do not is shown as written, after 需人工查看)."""
    words = grading_reason_zh(reason)
    return words if not untranslated(reason) else f"需人工查看 · {words}"


def exam_title(exam) -> str:
    """An exam's name as its definition gives it (考试名称), else its code."""
    return str((exam.definition or {}).get("name") or exam.code)


@lru_cache(maxsize=1)
def _environment() -> Environment:
    environment = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(("html",)),
                              trim_blocks=True, lstrip_blocks=True)
    environment.filters["reason_zh"] = reason_zh
    environment.filters["exam_title"] = exam_title
    return environment


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
