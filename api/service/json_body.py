"""JSON request bodies read within limits: every router's routes parse their body through :class:`LimitedJSONRoute`.

The standard library's parser builds whatever it is given: a body of 100 000 ``[`` raises RecursionError, a
million small values build a million objects, ``NaN`` and ``1e999`` become floats no JSON response can carry, and
``"\\ud800"`` a string no UTF-8 database column can hold. Here a body must be UTF-8, and is refused before it is
built when a count over its text shows it nested deeper than :data:`MAX_DEPTH` (422) or holding more than
:data:`MAX_VALUES` values (413); while parsing, non-finite numbers and integers longer than :data:`MAX_INT_DIGITS`
digits are refused, and after it a string with an unpaired surrogate (422). Refusals of the 422 kind are FastAPI's
own ``json_invalid`` errors, with the reason in ``ctx.error``.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Coroutine
from itertools import accumulate
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

# A JSON string as written (escapes included), removed before counting brackets and commas. The closing quote is
# optional: an unterminated string runs to the end (the parser fails inside it, with no nesting after it), and a
# failed match never restarts at a later quote, which made the search quadratic on '"\\"\\"\\"...'.
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"?', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_LEVEL_CHANGE = {"[": 1, "{": 1, "]": -1, "}": -1}.__getitem__
# an escape of a surrogate half (or a backslash before "ud8..."): only then is the parsed value searched
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


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


def _check_shape(document: str, max_values: int = MAX_VALUES) -> None:
    """Refuse a document nested deeper than MAX_DEPTH (422) or holding more than MAX_VALUES values (413), from
    counts over its text with its strings taken out, so nothing is built. Up to the first syntax error the parser
    sees the same brackets, and it stops there: the depth counted is at least the depth it would reach."""
    skeleton = _STRING.sub('""', document)
    opened = skeleton.count("[") + skeleton.count("{")
    values = opened + skeleton.count(",") + 1
    if values > max_values:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE,
                            f"JSON body holds more than {max_values} values")
    if opened > MAX_DEPTH and max(accumulate(map(_LEVEL_CHANGE, _NOT_BRACKET.sub("", skeleton)))) > MAX_DEPTH:
        raise _Refused(f"nested deeper than {MAX_DEPTH} levels")


def _has_unpaired_surrogate(value: Any) -> bool:
    # The parser joins escaped pairs (\ud83d\ude00) into one character; what is left of U+D800-DFFF is unpaired,
    # and UTF-8 refuses to encode it. One encode of the whole document checks every key and string at C speed.
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def parse_json_body(body: bytes, *, max_values: int = MAX_VALUES) -> Any:
    """The JSON value of a request body, within the limits of this module (``max_values``: an operation whose
    documents are larger by nature, an item bank, names its own).

    Raises
    ------
    json.JSONDecodeError
        Not JSON in UTF-8 (RFC 8259 §8.1: the encoding JSON exchanged between systems must have), or JSON this
        service does not take (too deep, NaN/Infinity, a number out of range, an unpaired surrogate): FastAPI
        answers 422 ``json_invalid``.
    fastapi.HTTPException
        413 when the body holds more than ``max_values`` values.
    """
    try:
        document = body.decode("utf-8")  # strict: also refuses surrogates encoded as bytes (ED A0 80)
    except UnicodeDecodeError as error:
        raise json.JSONDecodeError(f"not UTF-8 text (byte {error.start + 1})", "", 0) from None
    try:
        _check_shape(document, max_values)
        value = json.loads(document, parse_constant=_refuse_constant, parse_float=_finite_float,
                           parse_int=_bounded_int)
        if _SURROGATE_ESCAPE.search(document) and _has_unpaired_surrogate(value):
            raise _Refused("a string holds an unpaired surrogate (\\ud800-\\udfff)")
    except _Refused as error:
        raise json.JSONDecodeError(str(error), "", 0) from None
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
