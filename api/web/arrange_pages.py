"""The 考场编排 page: a school admin fills in rooms, seats and the 考号 format and downloads the ZIP the API's
arrangement endpoint makes (``api/service/routes/arrange.py``: the same school checks and audit entry)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from pydantic import ValidationError
from starlette.datastructures import FormData

from api.service.deps import CurrentPrincipal, ReadSession, ServiceDep, permit
from api.service.routes import admin
from api.service.routes import arrange as arrange_api
from api.service.schemas.arrange import ArrangementCreate
from api.web.guard import csrf_form
from api.web.render import render

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
_NUMBERS = {"capacity": "每考场座位数", "columns": "每考场列数", "grade_number": "考号中的年级", "seed": "随机种子"}
#: What the form shows first: 30 seats in 5 columns, the usual 考号 layout.
DEFAULTS = {"rooms": "", "capacity": "30", "columns": "5", "school_number": "", "grade_number": "",
            "exam_id_format": "{school}{grade:02d}{room:02d}{seat:02d}", "seed": "1", "title": "", "grade": "",
            "sheets": "on"}


def _page(request: Request, principal, session, values: dict, error: str | None = None) -> Response:
    classes = admin.list_classes(principal, session, school_id=None)
    grades = sorted({c.grade for c in classes if c.grade})
    return render(request, "arrange.html", principal, values=values, grades=grades, error=error,
                  status_code=200 if error is None else 422)


def _body(values: dict) -> ArrangementCreate:
    """The form as the API's request (rooms: a count or names separated by commas)."""
    from api.arranging import parse_rooms

    data: dict = {"rooms": parse_rooms(values["rooms"]), "school_number": values["school_number"].strip(),
                  "exam_id_format": values["exam_id_format"], "title": values["title"],
                  "grade": values["grade"] or None, "sheets": values.get("sheets") == "on"}
    for name, label in _NUMBERS.items():
        text = values[name].strip() or ("0" if name == "grade_number" else "")
        if not text.isdigit():
            raise ValueError(f"{label}: 请填写整数")
        data[name] = int(text)
    return ArrangementCreate.model_validate(data)


@router.get("/admin/arrange", dependencies=[permit("roster:read", roles=("school_admin",))])
def arrange_page(request: Request, principal: CurrentPrincipal, session: ReadSession) -> Response:
    return _page(request, principal, session, dict(DEFAULTS))


@router.post("/admin/arrange", dependencies=[permit("roster:write", roles=("school_admin",))])
def arrange_download(request: Request, form: Annotated[FormData, Depends(csrf_form)], principal: CurrentPrincipal,
                     session: ReadSession, service: ServiceDep) -> Response:
    """The ZIP of the arrangement, or the form again with what is wrong."""
    from api.web.pages import _problem

    values = {name: str(form.get(name) or "") for name in DEFAULTS}
    values["sheets"] = "on" if form.get("sheets") else ""
    try:
        return arrange_api.create_arrangement(_body(values), principal, session, service)
    except (HTTPException, ValidationError, ValueError) as error:
        return _page(request, principal, session, values, _problem(error))
