"""The class and grade workbooks open in LibreOffice (headless) without repair: converted to PDF, with pages.

Needs ``soffice`` (Debian's libreoffice-calc-nogui) and ``pdfinfo`` (poppler-utils): ``make system-deps``
installs both. Missing tools fail the test rather than skip it.
"""

from __future__ import annotations

import re
import shutil
import subprocess

from analytics.workbook import write_class_workbook, write_grade_workbook
from analytics_builders import assert_prints_legibly


def _tool(*names: str) -> str:
    for name in names:
        path = shutil.which(name)
        if path:
            return path
    raise AssertionError(f"{' or '.join(names)} not found: run `make system-deps` (installs libreoffice-calc-nogui "
                         "and poppler-utils)")


def test_class_and_grade_workbooks_convert_to_pdf(tmp_path, sample_analysis):
    soffice = _tool("soffice", "libreoffice")
    pdfinfo = _tool("pdfinfo")
    books = [write_class_workbook(sample_analysis, tmp_path / "class.xlsx", 0),
             write_grade_workbook(sample_analysis, tmp_path / "grade.xlsx")]
    profile = tmp_path / "lo-profile"  # a private profile: no clash with a running LibreOffice or another test
    done = subprocess.run([soffice, f"-env:UserInstallation=file://{profile}", "--headless", "--norestore",
                           "--convert-to", "pdf", "--outdir", str(tmp_path), *map(str, books)],
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    for book in books:
        pdf = book.with_suffix(".pdf")
        assert pdf.is_file(), f"LibreOffice did not convert {book.name}: {done.stdout} {done.stderr}"
        info = subprocess.run([pdfinfo, str(pdf)], capture_output=True, text=True, timeout=60)
        pages = int(re.search(r"^Pages:\s+(\d+)", info.stdout, re.M).group(1))
        assert pages > 0


def test_workbooks_print_legibly(tmp_path, sample_analysis):
    """Every heading and wrapped note has the row height its lines need at its column's width; narrow sheets print
    one page wide, wide ones (小题得分, 试卷分析) at full size across pages; LibreOffice prints every heading."""
    from openpyxl import load_workbook
    from openpyxl.utils import get_column_letter

    from analytics.workbook import wrapped_lines

    soffice, pdftotext = _tool("soffice", "libreoffice"), _tool("pdftotext")
    book = write_grade_workbook(sample_analysis, tmp_path / "grade.xlsx")
    workbook = load_workbook(book)
    for ws in workbook.worksheets:
        assert_prints_legibly(ws)
    assert not _fits_width(workbook["小题得分"]) or sample_analysis.data.scores.shape[1] < 20
    profile = tmp_path / "lo-profile"
    done = subprocess.run([soffice, f"-env:UserInstallation=file://{profile}", "--headless", "--norestore",
                           "--convert-to", "pdf", "--outdir", str(tmp_path), str(book)],
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    text = subprocess.run([pdftotext, str(book.with_suffix(".pdf")), "-"], capture_output=True, text=True,
                          timeout=60).stdout
    flat = re.sub(r"\s+", "", text)
    for title in ("知识点诊断", "试卷分析"):  # headings on one line come out whole (wrapped ones interleave)
        ws = workbook[title]
        widths = {get_column_letter(col): dim.width for dim in ws.column_dimensions.values() if dim.width
                  for col in range(dim.min, dim.max + 1)}
        for cell in ws[1]:
            if isinstance(cell.value, str) and wrapped_lines(cell.value, widths.get(cell.column_letter, 8.43)) == 1:
                assert re.sub(r"\s+", "", cell.value) in flat, (title, cell.value)


def _fits_width(ws) -> bool:
    setup = ws.sheet_properties.pageSetUpPr
    return bool(setup is not None and setup.fitToPage)
