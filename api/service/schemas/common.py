"""Bases every API model builds on, and the type of every field of people's text."""

from __future__ import annotations

from typing import Annotated, Any, Generic, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, StringConstraints, ValidationInfo
from sqlalchemy.orm import InstrumentedAttribute

from grading.text import clean_text

__all__ = ["Input", "Output", "Page", "text", "column_length"]

T = TypeVar("T")


class Input(BaseModel):
    """What a client sends: unknown fields refused (no mass assignment), no type coercion (``true`` is not 1)."""

    model_config = ConfigDict(extra="forbid", strict=True)


class Output(BaseModel):
    """What the service returns (read from ORM rows)."""

    model_config = ConfigDict(from_attributes=True)


class Page(Output, Generic[T]):
    """One page of a long list; ask again with ``cursor=next_cursor`` until it is None."""

    items: list[T]
    next_cursor: str | None = None


def column_length(column: InstrumentedAttribute) -> int:
    """``n`` of the ``String(n)`` column ``column`` (a model attribute such as ``Student.name``)."""
    return column.type.length


def text(limit: int | InstrumentedAttribute, *, min_length: int = 0, multiline: bool = False) -> Any:
    """The type of a request field of people's text: stripped, NFC, and refused (422 naming the field) when it
    holds a control character, an unpaired surrogate, an unassigned or private-use character
    (:func:`grading.text.clean_text`) or is longer than ``limit``.

    ``limit`` is the ``String(n)`` column the field is stored in (its length is the limit, so PostgreSQL never
    refuses the value), or a number for text kept elsewhere (JSON, the audit log). ``multiline`` allows line
    feeds and tabs (free-text reasons).
    """
    max_length = limit if isinstance(limit, int) else column_length(limit)

    def clean(value: str, info: ValidationInfo) -> str:
        return clean_text(value, field=info.field_name or "text", max_length=max_length, multiline=multiline)

    return Annotated[str, StringConstraints(strip_whitespace=True, min_length=min_length, max_length=max_length),
                     AfterValidator(clean)]
