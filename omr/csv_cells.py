"""CSV cells yuejuan writes: text a person typed never becomes a formula (OWASP's CSV injection advice).

Excel, WPS and LibreOffice may run a CSV cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return
as a formula: a scan file named ``=HYPERLINK("http://x","y").jpg`` or a student named so would become a live link
in the teacher's spreadsheet. Every text cell a writer of this project puts in a CSV goes through
:func:`csv_cell`, which prefixes such text with a single quote; numbers we compute are written as they are (a
negative number must stay a number), so callers pass text and numbers apart. :func:`from_csv_cell` undoes the
prefix exactly for our own readers of our own files (``results.csv`` read by ``yuejuan grade``, ``scores.csv``
read back by the analytics): the quote is also added before a text that already starts with a quote and one of
these characters, so that every text survives the round trip.

Here, at the bottom of the dependencies, so that omr's own CSVs follow the rule; :mod:`grading.safe_cells` adds
the xlsx side.
"""

from __future__ import annotations

from typing import Any, Iterable

__all__ = ["FORMULA_STARTS", "csv_cell", "csv_row", "from_csv_cell"]

#: First characters that make a spreadsheet read a CSV cell as a formula.
FORMULA_STARTS = frozenset("=+-@\t\r")
_QUOTED = FORMULA_STARTS | {"'"}


def csv_cell(text: str) -> str:
    """``text`` safe as a CSV cell: a leading ``'`` when it starts like a formula (or like an escaped one)."""
    if text[:1] in FORMULA_STARTS or (text[:1] == "'" and text[1:2] in _QUOTED):
        return "'" + text
    return text


def from_csv_cell(text: str) -> str:
    """The text :func:`csv_cell` was given (identity on text it did not change)."""
    if text[:1] == "'" and text[1:2] in _QUOTED:
        return text[1:]
    return text


def csv_row(values: Iterable[Any]) -> list[Any]:
    """A row of user text and other values: every ``str`` through :func:`csv_cell`, anything else as given.

    Only for rows whose ``str`` cells are all text: a number already formatted as text (``"-1.5"``) would be
    quoted. Format computed numbers after escaping the text cells, or keep them numbers.
    """
    return [csv_cell(value) if isinstance(value, str) else value for value in values]
