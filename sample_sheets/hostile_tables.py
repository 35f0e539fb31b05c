"""Hostile spreadsheets, made on demand: what a roster or key import must refuse (or read) in bounded memory.

Each function returns the file's bytes. The xlsx files are written part by part with :mod:`zipfile` (no
spreadsheet library), so that they can say what a real spreadsheet program would not.
"""

from __future__ import annotations

import io
import zipfile

__all__ = ["sheet_xml", "inline_cell", "xlsx_by_hand", "xlsx_declaring_huge", "csv_trailing_commas"]

_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>')
_RELATIONSHIP = ('<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
                 '{kind}" Target="{target}"/>')
_RELS = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
         '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">{}</Relationships>')
_WORKBOOK = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
             '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
             'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
             '<sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>')


def sheet_xml(dimension: str, rows: str) -> str:
    """A worksheet part declaring ``dimension`` (e.g. ``A1:XFD1048576``) around ``rows`` (``<row>`` elements)."""
    return ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
            f'<dimension ref="{dimension}"/><sheetData>{rows}</sheetData></worksheet>')


def inline_cell(ref: str, text: str) -> str:
    """A cell holding ``text`` as an inline string (no shared-strings part needed)."""
    return f'<c r="{ref}" t="inlineStr"><is><t>{text}</t></is></c>'


def xlsx_by_hand(sheet: str | bytes) -> bytes:
    """A one-sheet xlsx whose worksheet part is ``sheet`` as given."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", _CONTENT_TYPES)
        archive.writestr("_rels/.rels", _RELS.format(_RELATIONSHIP.format(kind="officeDocument",
                                                                           target="xl/workbook.xml")))
        archive.writestr("xl/workbook.xml", _WORKBOOK)
        archive.writestr("xl/_rels/workbook.xml.rels", _RELS.format(_RELATIONSHIP.format(
            kind="worksheet", target="worksheets/sheet1.xml")))
        archive.writestr("xl/worksheets/sheet1.xml", sheet)
    return buffer.getvalue()


def xlsx_declaring_huge() -> bytes:
    """~1.6 KB declaring ``A1:XFD1048576``: a roster header and one cell on the sheet's last row. A reader that
    trusts the dimension pads every row to 16 384 cells (tens of GB)."""
    rows = (f'<row r="1">{inline_cell("A1", "考号")}{inline_cell("B1", "姓名")}</row>'
            f'<row r="1048576">{inline_cell("XFD1048576", "x")}</row>')
    return xlsx_by_hand(sheet_xml("A1:XFD1048576", rows))


def csv_trailing_commas(count: int = 300_000) -> bytes:
    """A roster CSV whose one student row ends in ``count`` empty cells (a reader stripping them one at a time,
    copying the row each time, spins for minutes)."""
    return ("考号,姓名\n2026010001,王芳" + "," * count + "\n").encode("utf-8")
