"""Tables teachers hand in (CSV saved by Excel or WPS, or xlsx), read as text with spreadsheet row numbers.

Every cell comes back as a stripped string so that ids keep their leading zeros. Excel habits are undone where
that is safe: a whole number stored as a number becomes its digits (``2026010001.0`` -> ``"2026010001"``); a
number too large to be exact in Excel (more than 15 significant digits) keeps its exponent form
(``"4.10101200801012e+17"``) so that an id column can reject it with a clear message instead of silently
keeping wrong digits. CSV files may be UTF-8 (with or without BOM) or GBK/GB18030 (what Excel writes on a
Chinese Windows).

Every reader is bounded (:class:`TableLimits`: rows, columns, cells, bytes, CSV line length, the xlsx's zip parts)
and refuses a file at the first row beyond a limit, naming the limit. An xlsx is read with openpyxl in read-only
mode with its declared dimension ignored: a file may declare ``A1:XFD1048576`` around one cell.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator, Sequence

__all__ = ["Table", "TableError", "TableLimits", "DEFAULT_LIMITS", "read_table", "read_rows", "check_xlsx_archive",
           "cell_text", "normalise_header", "find_columns", "parse_number", "SCIENTIFIC_HINT"]

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


@dataclass(frozen=True)
class TableLimits:
    """How much of a table is read before it is refused (a roster or key is far smaller; a hostile file is not).

    Attributes
    ----------
    rows : int
        Spreadsheet rows, counted by row number (header and blank rows included): a city's roster is ~100 000.
    columns : int
        Cells in one row, after its trailing empty cells are dropped.
    cells : int
        Cells of all rows together (each row up to its last non-empty cell). An xlsx row comes from openpyxl padded
        with None up to its last cell, empty or not: at most four times this many values are looked at in all.
    file_bytes : int
        Size of the file itself.
    line_chars : int
        Characters in one line of a CSV file (a quoted field may span lines; each line is bounded). One field is
        bounded by the csv module's limit, 131 072 characters.
    xlsx_bytes : int
        Uncompressed size of all the parts of an xlsx (a zip) together, as its directory declares them; the zip
        reader never inflates more than a part declares.
    shared_strings_bytes : int
        Uncompressed size of the shared-strings part, which openpyxl holds in memory whole.
    xlsx_ratio : int
        Largest uncompressed/compressed ratio of a part bigger than 1 MiB (a zip bomb's is in the thousands;
        worksheet XML compresses about 10-30 times).
    """

    rows: int = 200_000
    columns: int = 200
    cells: int = 2_000_000
    file_bytes: int = 256 * 2**20
    line_chars: int = 1_000_000
    xlsx_bytes: int = 256 * 2**20
    shared_strings_bytes: int = 64 * 2**20
    xlsx_ratio: int = 200


#: The limits every reader of this module applies unless given others.
DEFAULT_LIMITS = TableLimits()


class _Bounded:
    """Counts what a table reader yields and refuses it, with the limit named, at the first row beyond one."""

    def __init__(self, what: str, limits: TableLimits):
        self.what, self.limits = what, limits
        self.cells = self.padding = 0

    def refuse(self, problem: str) -> TableError:
        return TableError(f"{self.what} too large", [problem])

    def row(self, number: int, values: list[str]) -> list[str]:
        """``values`` without its trailing empty cells (one pass from the end: linear in the row's length)."""
        limits = self.limits
        if number > limits.rows:
            raise self.refuse(f"row {number}: more than {limits.rows} rows (limit {limits.rows} rows)")
        end = len(values)
        while end and values[end - 1] == "":
            end -= 1
        if end > limits.columns:
            raise self.refuse(f"row {number}: {end} columns (limit {limits.columns} columns)")
        self.cells += end
        if self.cells > limits.cells:
            raise self.refuse(f"row {number}: more than {limits.cells} cells (limit {limits.cells} cells)")
        return values[:end] if end < len(values) else values

    def within_columns(self, number: int, values: tuple) -> tuple:
        """The first ``columns`` values of a row as openpyxl gives it (None up to its last cell, which may be an
        empty styled cell far to the right); refused when a value lies beyond. The padding is bounded too: a
        million rows each padded to column XFD would be billions of Nones."""
        limits = self.limits
        self.padding += len(values)
        if self.padding > 4 * limits.cells:
            raise self.refuse(f"row {number}: rows padded by empty cells to column {len(values)}, more than "
                              f"{4 * limits.cells} values in all (limit {limits.cells} cells)")
        if len(values) <= limits.columns:
            return values
        beyond = values[limits.columns:]
        if beyond.count(None) != len(beyond):
            raise self.refuse(f"row {number}: a cell beyond column {limits.columns} (limit {limits.columns} "
                              "columns)")
        return values[:limits.columns]


def _check_size(path: Path, bounded: _Bounded) -> None:
    size = path.stat().st_size
    if size > bounded.limits.file_bytes:
        raise bounded.refuse(f"the file has {size} bytes (limit {bounded.limits.file_bytes} bytes)")


def _csv_rows(path: Path, bounded: _Bounded) -> Iterator[tuple[int, list[str]]]:
    _check_size(path, bounded)
    text = _decode(path.read_bytes())
    longest = max((len(line) for line in text.splitlines()), default=0)
    if longest > bounded.limits.line_chars:
        raise bounded.refuse(f"a line of {longest} characters (limit {bounded.limits.line_chars} characters)")
    first = text.split("\n", 1)[0]
    delimiter = "\t" if "\t" in first and "," not in first else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        for number, row in enumerate(reader, start=1):
            yield number, bounded.row(number, [cell.strip() for cell in row])
    except csv.Error as error:  # e.g. a field over csv.field_size_limit()
        raise bounded.refuse(f"line {reader.line_num}: {error}") from None


def check_xlsx_archive(path: str | Path, limits: TableLimits = DEFAULT_LIMITS, *, what: str = "workbook") -> None:
    """Refuse an xlsx whose zip parts would inflate beyond ``limits`` (before any XML is parsed).

    Raises
    ------
    TableError
        When a part is absurdly compressed or the parts together (or the shared strings) are too large.
    """
    import zipfile

    bounded = _Bounded(what, limits)
    with zipfile.ZipFile(path) as archive:
        parts = archive.infolist()
    total = sum(part.file_size for part in parts)
    if total > limits.xlsx_bytes:
        raise bounded.refuse(f"its parts unpack to {total} bytes (limit {limits.xlsx_bytes} bytes)")
    for part in parts:
        if part.filename.lower().endswith("sharedstrings.xml") and part.file_size > limits.shared_strings_bytes:
            raise bounded.refuse(f"{part.filename}: {part.file_size} bytes (limit {limits.shared_strings_bytes} "
                                 "bytes)")
        if part.file_size > 2**20 and part.file_size > limits.xlsx_ratio * max(part.compress_size, 1):
            raise bounded.refuse(f"{part.filename}: compressed {part.file_size // max(part.compress_size, 1)} "
                                 f"times (limit {limits.xlsx_ratio}: not a spreadsheet, a zip bomb)")


def _xlsx_rows(path: Path, sheet_names: Sequence[str], bounded: _Bounded, *, named_only: bool
               ) -> Iterator[tuple[int, list[str]]]:
    from openpyxl import load_workbook

    _check_size(path, bounded)
    check_xlsx_archive(path, bounded.limits, what=bounded.what)
    with warnings.catch_warnings():
        # openpyxl warns about workbook features it drops (extensions, styles): noise for reading values
        warnings.simplefilter("ignore")
        workbook = load_workbook(path, read_only=True, data_only=True)
    try:
        sheet = next((workbook[name] for name in sheet_names if name in workbook.sheetnames), None)
        if sheet is None and not named_only:
            sheet = workbook.worksheets[0]
        if sheet is None:
            return
        # The declared dimension (<dimension ref="A1:XFD1048576"/>) is whatever the file says: without it each row
        # is as wide as its last cell, and absent rows come back as empty tuples.
        sheet.reset_dimensions()
        for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
            yield number, bounded.row(number, [cell_text(v) for v in bounded.within_columns(number, values)])
    finally:
        workbook.close()


def read_rows(path: str | Path, *, sheet_names: Sequence[str] = (), what: str = "table",
              limits: TableLimits = DEFAULT_LIMITS, named_only: bool = False) -> list[tuple[int, list[str]]]:
    """The non-blank rows of a CSV or xlsx file, each with its spreadsheet row number, trailing empty cells dropped.

    Parameters
    ----------
    path : str or Path
        ``.csv``/``.txt``/``.tsv`` (comma or tab separated) or ``.xlsx``/``.xlsm``.
    sheet_names : sequence of str
        For xlsx, the first worksheet with one of these names is read; otherwise the first worksheet (or, with
        ``named_only``, none: an empty list).
    what : str
        What the table is, for error messages.
    limits : TableLimits
        Rows, columns, cells and bytes read before the file is refused.

    Raises
    ------
    TableError
        The file cannot be read, is of another kind, or exceeds ``limits`` (the message names the limit).
    """
    path = Path(path)
    suffix = path.suffix.lower()
    bounded = _Bounded(f"{what} {path.name}", limits)
    try:
        if suffix in (".xlsx", ".xlsm"):
            rows = _xlsx_rows(path, sheet_names, bounded, named_only=named_only)
        elif suffix in (".csv", ".txt", ".tsv"):
            rows = _csv_rows(path, bounded)
        elif suffix == ".xls":
            raise TableError(f"{what} {path.name}", ["old .xls workbooks are not supported: save as .xlsx or CSV"])
        else:
            raise TableError(f"{what} {path.name}", [f"unknown file type {suffix or '(none)'}: use .xlsx or .csv"])
        return [(number, row) for number, row in rows if row]
    except OSError as error:
        raise TableError(f"cannot read {what} {path}", [f"cannot read the file: {error.strerror or error}"]) from None
    except TableError:
        raise
    except Exception as error:  # a corrupt xlsx raises zipfile/KeyError/...: one clear message instead
        raise TableError(f"cannot read {what} {path}",
                         [f"cannot read the file: {type(error).__name__}: {error}"]) from None


def read_table(path: str | Path, *, sheet_names: Sequence[str] = (), what: str = "table",
               limits: TableLimits = DEFAULT_LIMITS) -> Table:
    """Read a CSV or xlsx file (:func:`read_rows`): the first non-blank row is the header.

    Parameters
    ----------
    path : str or Path
        ``.csv``/``.txt`` (comma or tab separated) or ``.xlsx``/``.xlsm``.
    sheet_names : sequence of str
        For xlsx, the first worksheet with one of these names is read; otherwise the first worksheet.
    what : str
        What the table is, for error messages.
    limits : TableLimits
        Rows, columns, cells and bytes read before the file is refused (:data:`DEFAULT_LIMITS`).
    """
    path = Path(path)
    rows = read_rows(path, sheet_names=sheet_names, what=what, limits=limits)
    if not rows:
        raise TableError(f"{what} {path.name}", ["the file is empty (no header row)"])
    return Table(source=str(path), header=rows[0][1], rows=rows[1:])


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
