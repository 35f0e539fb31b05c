"""The class and grade workbooks open in LibreOffice (headless) without repair: converted to PDF, with pages.

Needs ``soffice`` (Debian's libreoffice-calc-nogui) and ``pdfinfo`` (poppler-utils): ``make system-deps``
installs both. Missing tools fail the test rather than skip it.
"""

from __future__ import annotations

import re
import shutil
import subprocess

from analytics.workbook import write_class_workbook, write_grade_workbook


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
