"""Tables teachers hand in (CSV saved by Excel or WPS, or xlsx), read as text with spreadsheet row numbers.

Every cell comes back as a stripped string so that ids keep their leading zeros. Excel habits are undone where
that is safe: a whole number stored as a number becomes its digits (``2026010001.0`` -> ``"2026010001"``); a
number too large to be exact in Excel (more than 15 significant digits) keeps its exponent form
(``"4.10101200801012e+17"``) so that an id column can reject it with a clear message instead of silently
keeping wrong digits. CSV files may be UTF-8 (with or without BOM) or GBK/GB18030 (what Excel writes on a
Chinese Windows).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

__all__ = ["Table", "TableError", "read_table", "cell_text", "normalise_header", "find_columns", "parse_number",
           "SCIENTIFIC_HINT"]

#: Added to messages about ids that went through Excel's number formatting.
SCIENTIFIC_HINT = "Excel stored it as a number; format the column as text (文本) and type the ids again"

_MAX_EXACT = 10**15  # Excel keeps 15 significant digits; beyond that a "number" id has lost digits


class TableError(ValueError):
    """A table that cannot be used; ``errors`` lists every problem found, each starting with its row."""

    def __init__(self, what: str, errors: Sequence[str]):
        self.errors = list(errors)
        shown = self.errors[:50]
        more = f"\n  ... and {len(self.errors) - len(shown)} more" if len(self.errors) > len(shown) else ""
        super().__init__(f"{what}: {len(self.errors)} problem(s)\n  " + "\n  ".join(shown) + more)


@dataclass
class Table:
    """A header and data rows, each row with its 1-based spreadsheet row number (the header is row 1)."""

    source: str
    header: list[str]
    rows: list[tuple[int, list[str]]] = field(default_factory=list)

    def cell(self, row: list[str], index: int | None) -> str:
        """The text at ``index`` of ``row`` ('' when the column is absent or the row is short)."""
        if index is None or index >= len(row):
            return ""
        return row[index]


def cell_text(value: object) -> str:
    """A spreadsheet cell value as text (see the module docstring for how numbers are treated)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value.is_integer() and abs(value) < _MAX_EXACT:
            return str(int(value))
        return repr(value)
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value).strip()


def _decode(data: bytes) -> str:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise TableError("cannot decode file", ["not UTF-8 and not GBK/GB18030 text"])


def _read_csv(path: Path) -> list[list[str]]:
    text = _decode(path.read_bytes())
    first = text.split("\n", 1)[0]
    delimiter = "\t" if "\t" in first and "," not in first else ","
    return [[cell.strip() for cell in row] for row in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)]


def _read_xlsx(path: Path, sheet_names: Sequence[str]) -> list[list[str]]:
    from openpyxl import load_workbook

    with warnings.catch_warnings():
        # openpyxl warns about workbook features it drops (extensions, styles): noise for reading values
        warnings.simplefilter("ignore")
        workbook = load_workbook(path, read_only=True, data_only=True)
    try:
        sheet = next((workbook[name] for name in sheet_names if name in workbook.sheetnames), workbook.worksheets[0])
        return [[cell_text(value) for value in row] for row in sheet.iter_rows(values_only=True)]
    finally:
        workbook.close()


def read_table(path: str | Path, *, sheet_names: Sequence[str] = (), what: str = "table") -> Table:
    """Read a CSV or xlsx file: first non-empty row is the header, blank rows are skipped.

    Parameters
    ----------
    path : str or Path
        ``.csv``/``.txt`` (comma or tab separated) or ``.xlsx``/``.xlsm``.
    sheet_names : sequence of str
        For xlsx, the first worksheet with one of these names is read; otherwise the first worksheet.
    what : str
        What the table is, for error messages.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    try:
        if suffix in (".xlsx", ".xlsm"):
            raw = _read_xlsx(path, sheet_names)
        elif suffix in (".csv", ".txt", ".tsv"):
            raw = _read_csv(path)
        elif suffix == ".xls":
            raise TableError(f"{what} {path.name}", ["old .xls workbooks are not supported: save as .xlsx or CSV"])
        else:
            raise TableError(f"{what} {path.name}", [f"unknown file type {suffix or '(none)'}: use .xlsx or .csv"])
    except OSError as error:
        raise TableError(f"cannot read {what} {path}", [f"cannot read the file: {error.strerror or error}"]) from None
    except TableError:
        raise
    except Exception as error:  # a corrupt xlsx raises zipfile/KeyError/...: one clear message instead
        raise TableError(f"cannot read {what} {path}",
                         [f"cannot read the file: {type(error).__name__}: {error}"]) from None
    table = Table(source=str(path), header=[])
    for number, row in enumerate(raw, start=1):
        while row and row[-1] == "":
            row = row[:-1]
        if not row:
            continue
        if not table.header:
            table.header = row
            continue
        table.rows.append((number, row))
    if not table.header:
        raise TableError(f"{what} {path.name}", ["the file is empty (no header row)"])
    return table


_SPACES = re.compile(r"[\s_\-()（）:：]+")


def normalise_header(text: str) -> str:
    """Header text compared loosely: lower case, no spaces, underscores, hyphens, brackets or colons."""
    return _SPACES.sub("", text.strip().lower())


def find_columns(header: Sequence[str], aliases: dict[str, Iterable[str]]) -> dict[str, int]:
    """Column index of each key whose header (or one of its aliases) appears; keys not found are left out."""
    positions = {normalise_header(name): i for i, name in reversed(list(enumerate(header)))}
    found: dict[str, int] = {}
    for key, names in aliases.items():
        for name in (key, *names):
            index = positions.get(normalise_header(name))
            if index is not None:
                found[key] = index
                break
    return found


def parse_number(text: str) -> float:
    """A number typed by a person: accepts full-width digits and a trailing '分'; raises ValueError otherwise."""
    cleaned = text.strip().translate(_FULL_WIDTH).removesuffix("分").strip()
    value = float(cleaned)
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError(f"not a finite number: {text!r}")
    return value


_FULL_WIDTH = str.maketrans("０１２３４５６７８９．－", "0123456789.-")
