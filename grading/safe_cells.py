"""Cells we write to CSV and xlsx: text a person typed never becomes a formula (OWASP's CSV injection advice).

In xlsx every text is written as a string (:func:`text_workbook`: XlsxWriter's ``write_string``, and the generic
``write`` told never to turn text into a formula, number or link).

In CSV every text cell goes through :func:`csv_cell` (a leading ``'`` before text that starts like a formula) and
our own readers undo it with :func:`from_csv_cell`: the rule lives in :mod:`omr.csv_cells`, where omr's own
writers (``results.csv``, ``exceptions.csv``) reach it too, and is re-exported here.
"""

from __future__ import annotations

from pathlib import Path

from omr.csv_cells import FORMULA_STARTS, csv_cell, csv_row, from_csv_cell

__all__ = ["FORMULA_STARTS", "csv_cell", "csv_row", "from_csv_cell", "text_workbook"]


def text_workbook(path: str | Path, *, constant_memory: bool = False):
    """An XlsxWriter workbook that never turns text into a formula, number or link, whichever call writes it.

    Writers call ``write_string`` for text anyway (a student named ``=HYPERLINK(...)`` stays that text); these
    options keep the generic ``write`` safe too. ``constant_memory`` writes each row as soon as the next starts
    (rows in order, one row in memory: the big flat tables).
    """
    import xlsxwriter

    # use_zip64: a city's scores.xlsx unpacks to 2.2 GB, over zipfile's 2 GiB limit without ZIP64 (openpyxl allowed it)
    return xlsxwriter.Workbook(str(path), {"constant_memory": constant_memory, "strings_to_formulas": False,
                                           "strings_to_numbers": False, "strings_to_urls": False,
                                           "use_zip64": True})
