"""The school's item bank (题库): uploaded as the bank JSON ``yuejuan report --wrongbook`` reads
(:func:`itembank.store.bank_from_json`), stored as a blob named by its SHA-256 with a row naming the school's current
bank (:class:`api.service.models.ItemBank`). The class 错题本 downloads (``routes/results.py``) are built with it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, status
from sqlalchemy.orm import Session

from api.service import audit
from api.service.deps import (MIB, CurrentPrincipal, ReadSession, SchoolQuery, ServiceDep, WriteSession, not_found,
                              permit, school_of)
from api.service.jobs import ensure_blob
from api.service.json_body import parse_json_body
from api.service.models import ItemBank, School, as_utc, utcnow
from api.service.schemas.bank import BankPublic
from api.service.security import Principal
from grading.text import text_problem
from itembank.model import Bank, BankError
from itembank.store import bank_from_json

__all__ = ["router", "BANK_BODY", "BANK_MAX_VALUES", "current_bank"]

router = APIRouter(tags=["bank"])

#: Largest bank body: a 20 000-item bank is ~15 MB (the CLI reads up to ``itembank.store.MAX_BANK_BYTES``; the
#: service keeps one request's memory smaller).
BANK_BODY = 32 * MIB
#: Most JSON values a bank body may hold (an item has 10–30): parsed within :mod:`api.service.json_body`'s limits.
BANK_MAX_VALUES = 1_000_000


async def _body(request: Request) -> bytes:
    """The request's body (the gate has authenticated the caller and bounds it to :data:`BANK_BODY`)."""
    return await request.body()


def _unprintable(bank: Bank) -> str | None:
    """The first item text a page must not print (a control, private-use or unassigned character), named."""
    for item in bank.items:
        for field, value in (("stem", item.stem), *((f"options.{k}", v) for k, v in item.options.items())):
            # printable text (C speed) holds none of what text_problem refuses: a big bank is checked in ms, not s
            if value.replace("\n", "").replace("\t", "").isprintable():
                continue
            problem = text_problem(value, multiline=True)
            if problem:
                return f"item {item.id}: {field}: {problem}"
    return None


def _read_bank(body: bytes) -> Bank:
    """The uploaded bank, or 422 naming the problem (413 when it holds too many values)."""
    try:
        document = parse_json_body(body, max_values=BANK_MAX_VALUES)
        bank = bank_from_json(document if isinstance(document, dict) else body, source="bank")
    except json.JSONDecodeError as error:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"bank: not JSON this service takes: "
                                                                   f"{error.msg}") from None
    except BankError as error:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(error)) from None
    problem = _unprintable(bank)
    if problem:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"bank: {problem}")
    return bank


def _public(row: ItemBank) -> BankPublic:
    return BankPublic(school_id=row.school_id, sha256=row.sha256, items=row.items,
                      uploaded_at=as_utc(row.uploaded_at), uploaded_by=row.uploaded_by)


def current_bank(session: Session, school_id: str) -> ItemBank | None:
    """The school's current item bank row, or None."""
    return session.get(ItemBank, school_id)


@dataclass(frozen=True)
class _Upload:
    """A bank as uploaded: read and checked, its bytes stored as a blob (not yet recorded in the database)."""

    bank: Bank
    sha256: str
    size: int


def _uploaded(service: ServiceDep, body: Annotated[bytes, Depends(_body)]) -> _Upload:
    """Read, check and store the bank before the route opens its write transaction (a 20 000-item bank takes
    ~0.6 s of CPU: the database's write lock is not held meanwhile)."""
    bank = _read_bank(body)
    return _Upload(bank, service.blobs.put(body), len(body))


@router.put("/bank", response_model=BankPublic, dependencies=[permit("roster:write", roles=("school_admin",),
                                                                      body=BANK_BODY)],
            openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "description": "the bank JSON (itembank/model.py Bank: format, items), as "
                                                 "`yuejuan report --wrongbook BANK.json` reads it"}}}}})
def put_bank(upload: Annotated[_Upload, Depends(_uploaded)], principal: CurrentPrincipal,
             session: WriteSession) -> BankPublic:
    """Store the school's item bank (the whole bank: it replaces the one before); audited. The school's 错题本
    downloads are built with it from then on. Stem images are not uploaded: a stem's figure is not printed and
    the page says so."""
    school = _school(session, principal)
    items = len(upload.bank.items)
    ensure_blob(session, upload.sha256, upload.size, "application/json")
    row = current_bank(session, school)
    before = None if row is None else {"sha256": row.sha256, "items": row.items}
    if row is None:
        row = ItemBank(school_id=school, sha256=upload.sha256, items=items, uploaded_by=principal.actor,
                       uploaded_at=utcnow())
        session.add(row)
    else:
        row.sha256, row.items, row.uploaded_by, row.uploaded_at = upload.sha256, items, principal.actor, utcnow()
    audit.record(session, principal, "bank.upload", "item_bank", school, school_id=school, before=before,
                 after={"sha256": upload.sha256, "items": items, "bytes": upload.size})
    session.commit()
    return _public(row)


@router.get("/bank", response_model=BankPublic, dependencies=[permit("results:read")])
def get_bank(principal: CurrentPrincipal, session: ReadSession, school_id: SchoolQuery = None) -> BankPublic:
    """What item bank the school has (items, when, by whom); never the bank itself. 404 when it has none."""
    school = school_of(principal, school_id)
    row = current_bank(session, school)
    if row is None:
        raise not_found("this school has no item bank yet (PUT /bank)")
    return _public(row)


def _school(session: Session, principal: Principal) -> str:
    school = school_of(principal)
    if session.get(School, school) is None:
        raise not_found("school not found")
    return school
