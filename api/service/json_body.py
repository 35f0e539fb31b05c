"""JSON request bodies read within limits: every router's routes parse their body through :class:`LimitedJSONRoute`.

The standard library's parser builds whatever it is given: a body of 100 000 ``[`` raises RecursionError, a
million small values build a million objects, ``NaN`` and ``1e999`` become floats no JSON response can carry, and
``"\\ud800"`` a string no UTF-8 database column can hold. Here a body is refused before it is built when a
count over its bytes shows it nested deeper than :data:`MAX_DEPTH` (422) or holding more than :data:`MAX_VALUES`
values (413); while parsing, non-finite numbers and integers longer than :data:`MAX_INT_DIGITS` digits are refused,
and after it a string with an unpaired surrogate (422). Refusals of the 422 kind are FastAPI's own ``json_invalid``
errors, with the reason in ``ctx.error``.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import HTTPException, Request, Response, status
from fastapi.routing import APIRoute

__all__ = ["LimitedJSONRoute", "LimitedJSONRequest", "parse_json_body", "MAX_DEPTH", "MAX_VALUES",
           "MAX_INT_DIGITS"]

#: Deepest nesting of arrays and objects a body may have (an exam definition has 5, a sheet template 7).
MAX_DEPTH = 32
#: Most values (array items, object members, counted by their separators) a body may hold; the sample exam has
#: about 1 000.
MAX_VALUES = 100_000
#: Longest integer a body may hold: every integer the service stores fits 64 bits (19 digits).
MAX_INT_DIGITS = 19

# A JSON string as it appears in the bytes (escapes included): removed before counting brackets and commas.
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_OPENERS = frozenset(b"[{")
_CLOSERS = frozenset(b"]}")


class _Refused(ValueError):
    """A body that is well-formed JSON but not acceptable (the reason is the message)."""


def _refuse_constant(name: str) -> Any:
    raise _Refused(f"{name} is not a number JSON allows")


def _finite_float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise _Refused(f"the number {text[:40]} is out of range")
    return number


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise _Refused(f"an integer of more than {MAX_INT_DIGITS} digits ({text[:40]}…)")
    return int(text)


def _check_shape(body: bytes) -> None:
    """Refuse a body nested deeper than MAX_DEPTH (422) or holding more than MAX_VALUES values (413), from counts
    over its bytes with its strings taken out, so nothing is built. Brackets inside an unterminated string are
    counted too: the count can only overstate the depth the parser would reach."""
    skeleton = _STRING.sub(b'""', body)
    opened = skeleton.count(b"[") + skeleton.count(b"{")
    values = opened + skeleton.count(b",") + 1
    if values > MAX_VALUES:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE,
                            f"JSON body holds more than {MAX_VALUES} values")
    if opened <= MAX_DEPTH:
        return
    depth = 0
    for byte in skeleton:
        if byte in _OPENERS:
            depth += 1
            if depth > MAX_DEPTH:
                raise _Refused(f"nested deeper than {MAX_DEPTH} levels")
        elif byte in _CLOSERS:
            depth -= 1


def _has_unpaired_surrogate(value: Any) -> bool:
    # The parser joins escaped pairs (\ud83d\ude00) into one character; what is left of U+D800-DFFF is unpaired,
    # and UTF-8 refuses to encode it. One encode of the whole document checks every key and string at C speed.
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def parse_json_body(body: bytes) -> Any:
    """The JSON value of a request body, within the limits of this module.

    Raises
    ------
    json.JSONDecodeError
        Not JSON, or JSON this service does not take (too deep, NaN/Infinity, a number out of range, an
        unpaired surrogate): FastAPI answers 422 ``json_invalid``.
    fastapi.HTTPException
        413 when the body holds more than MAX_VALUES values.
    """
    try:
        _check_shape(body)
        value = json.loads(body, parse_constant=_refuse_constant, parse_float=_finite_float, parse_int=_bounded_int)
        if _has_unpaired_surrogate(value):
            raise _Refused("a string holds an unpaired surrogate (\\ud800-\\udfff)")
    except _Refused as error:
        raise json.JSONDecodeError(str(error), body.decode("utf-8", "replace")[:200], 0) from None
    except UnicodeDecodeError:  # bytes that are not UTF-8, -16 or -32 text
        raise json.JSONDecodeError("not UTF-8 text", "", 0) from None
    return value


class LimitedJSONRequest(Request):
    """A request whose ``json()`` is :func:`parse_json_body` (what FastAPI calls to read a JSON body)."""

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = parse_json_body(await self.body())
        return self._json


class LimitedJSONRoute(APIRoute):
    """A route that reads its JSON body with :class:`LimitedJSONRequest`: ``APIRouter(route_class=...)``."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def limited(request: Request) -> Response:
            return await handler(LimitedJSONRequest(request.scope, request.receive))

        return limited
