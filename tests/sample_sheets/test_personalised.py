"""Personalised sheets: one PDF per batch, each sheet printed with its student's name, class and 考号 and a code
that decodes to the 考号 (Code 128 on cn-a4-55, QR on cn-a3-100)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from omr.barcode import read_label
from omr.template import expand_page
from sample_sheets import resolve_template
from sample_sheets.personalised import HINT_TEXT, PersonalSheet, render_personalised_pdf

SHEETS = [PersonalSheet("0101260101", "王伟", "高一(1)班", "第01考场", 1),
          PersonalSheet("0101260102", "欧阳娜娜", "高一(12)班", "第01考场", 2)]


def _pdftotext(path: Path, page: int) -> str:
    return subprocess.run(["pdftotext", "-f", str(page), "-l", str(page), str(path), "-"], check=True,
                          capture_output=True, text=True).stdout


@pytest.mark.parametrize("template_name, symbology", [("cn-a4-55", "code128"), ("cn-a3-100", "qr")])
def test_each_sheet_carries_its_student_and_a_code_that_reads_as_the_id(tmp_path: Path, template_name: str,
                                                                          symbology: str) -> None:
    template = resolve_template(template_name)
    path = tmp_path / "room.pdf"
    render_personalised_pdf(template, SHEETS, path)
    pages = len(template.pages)
    rect = next(r for n in range(1, pages + 1) for r in expand_page(template, n).barcodes)
    assert rect.symbology == symbology
    for index, sheet in enumerate(SHEETS):
        first = index * pages + 1  # every sheet has all the template's pages, in order
        text = _pdftotext(path, first)
        assert f"考号 {sheet.exam_id}" in text and sheet.name in text and sheet.class_name in text
        assert f"{sheet.room} {sheet.seat:02d}号座" in text and HINT_TEXT not in text
        dpi = 150
        subprocess.run(["pdftoppm", "-r", str(dpi), "-gray", "-png", "-f", str(first), "-l", str(first), str(path),
                        str(tmp_path / f"p{index}")], check=True)
        image = np.asarray(Image.open(next(tmp_path.glob(f"p{index}*.png"))).convert("L"))
        k = dpi / 25.4
        crop = image[int(rect.y * k):int((rect.y + rect.h) * k), int(rect.x * k):int((rect.x + rect.w) * k)]
        assert read_label(crop, symbology) == sheet.exam_id


def test_a_template_without_a_printable_code_is_refused(tmp_path: Path) -> None:
    template = resolve_template("cn-a4-55")
    data = template.model_dump(mode="json")
    for page in data["pages"]:
        page["fields"] = [dict(f, symbology="pdf417") if f["kind"] == "barcode" else f for f in page["fields"]]
    with pytest.raises(ValueError, match="code128 or qr, not pdf417"):
        render_personalised_pdf(type(template).model_validate(data), SHEETS, tmp_path / "x.pdf")
    data["pages"] = [dict(p, fields=[f for f in p["fields"] if f["kind"] != "barcode"]) for p in data["pages"]]
    with pytest.raises(ValueError, match="no barcode field"):
        render_personalised_pdf(type(template).model_validate(data), SHEETS, tmp_path / "y.pdf")
