"""Bases every API model builds on."""

from __future__ import annotations

from typing import Generic, TypeVar

from pydantic import BaseModel, ConfigDict

__all__ = ["Input", "Output", "Page"]

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
