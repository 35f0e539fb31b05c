"""Personalised answer sheets (个性化答题卡): each student's sheet printed with their name, class, 考号 and a
barcode of the 考号 in the template's barcode field, so nobody sticks a label and the barcode is the identity.

The personal print is a list of :mod:`omr.layout` primitives in template millimetres
(:func:`personal_primitives`): the code's bars or modules as filled rectangles, the 考号 under the code, then
name, class, room and seat. The PDF (:func:`render_personalised_pdf`, one PDF per batch, sheets in the order
given: a room in seat order) draws them over the template's own page without its "贴条形码区" hint; the scan
simulator draws the same list into its printed page (:func:`draw_personalisation`).

Code 128 comes from yuejuan's encoder (:mod:`omr.code128`), 0.6 mm modules where the field is wide enough (a
10-digit 考号 is 66 mm with its quiet zones): on the simulator's hard scans they read on 37 of 40 sheets where
0.5 mm read 30 (``benchmarks/personalised_read.py``). QR comes from OpenCV's encoder. Other symbologies are
refused: schools print their stickers in those.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import BinaryIO, Sequence

import cv2
import numpy as np
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas

from omr import code128
from omr.geometry import MM_PER_INCH
from omr.layout import FillRect, Label, Primitive, page_primitives
from omr.render import render_page
from omr.template import ExpandedPage, Rect, Template, Text, expand_page
from sample_sheets.printable import PageDrawer

__all__ = ["PersonalSheet", "personal_primitives", "sheet_primitives", "render_personalised_pdf",
           "draw_personalisation", "PERSONAL_SYMBOLOGIES", "HINT_TEXT"]

#: Symbologies a personalised sheet can print.
PERSONAL_SYMBOLOGIES = ("code128", "qr")
#: The template's hint in an empty barcode field; a printed code takes its place.
HINT_TEXT = "贴条形码区"
_MODULE_MM = 0.6
_BAR_MM = 12.0
_TEXT_MM = 2.8


@dataclass(frozen=True)
class PersonalSheet:
    """What is printed on one student's sheet."""

    exam_id: str
    name: str = ""
    class_name: str = ""
    room: str = ""
    seat: int | None = None

    def lines(self) -> list[str]:
        """The text lines under (or beside) the code: 考号 first, then who and where."""
        where = " ".join(part for part in (self.room, f"{self.seat:02d}号座" if self.seat else "") if part)
        return [line for line in (f"考号 {self.exam_id}", f"{self.name} {self.class_name}".strip(), where) if line]


def _runs(row: np.ndarray) -> list[tuple[int, int]]:
    """(start, length) of every run of True in a 1-D boolean array."""
    padded = np.concatenate([[False], row.astype(bool), [False]])
    edges = np.flatnonzero(padded[1:] != padded[:-1])
    return [(int(a), int(b - a)) for a, b in zip(edges[::2], edges[1::2])]


def _code_primitives(rect: Rect, exam_id: str) -> tuple[list[Primitive], float, float]:
    """Bars (or modules) of the code in ``rect``, and where the text goes: (items, text x, text top y)."""
    if rect.symbology in (None, "code128"):
        modules = code128.encode(exam_id)
        module = min(_MODULE_MM, (rect.w - 2) / len(modules))
        x0, y0 = rect.x + (rect.w - len(modules) * module) / 2, rect.y + 2.0
        height = min(_BAR_MM, rect.h - 4 * _TEXT_MM - 4)
        items: list[Primitive] = [FillRect(x0 + start * module, y0, length * module, height)
                                  for start, length in _runs(modules)]
        return items, rect.x + 3.0, y0 + height + 1.0
    if rect.symbology == "qr":
        matrix = cv2.QRCodeEncoder.create().encode(exam_id) < 128  # a 2-module quiet zone included
        module = min(0.9, (min(rect.w, rect.h) - 4) / matrix.shape[0])
        x0, y0 = rect.x + 2.0, rect.y + 2.0
        items = [FillRect(x0 + start * module, y0 + r * module, length * module, module)
                 for r, row in enumerate(matrix) for start, length in _runs(row)]
        return items, rect.x + 3.0, y0 + matrix.shape[0] * module + 1.0
    raise ValueError(f"personalised sheets print {' or '.join(PERSONAL_SYMBOLOGIES)}, not {rect.symbology} "
                     f"(barcode field {rect.id})")


def personal_primitives(page: ExpandedPage, sheet: PersonalSheet) -> list[Primitive]:
    """The personal print of ``sheet`` in every barcode field of ``page`` (none when it has no barcode field)."""
    items: list[Primitive] = []
    for rect in page.barcodes:
        code, x, y = _code_primitives(rect, sheet.exam_id)
        items.extend(code)
        for number, line in enumerate(sheet.lines(), start=1):
            items.append(Label(x, y + number * (_TEXT_MM + 1.4), line, _TEXT_MM,
                               ascii=sheet.exam_id if number == 1 else None))
    return items


def sheet_primitives(page: ExpandedPage, sheet: PersonalSheet) -> list[Primitive]:
    """Everything printed on ``page`` for ``sheet``: the template's print without the hint, then the personal."""
    template = [item for item in page_primitives(page) if not (isinstance(item, Label) and item.text == HINT_TEXT)]
    return template + personal_primitives(page, sheet)


def render_personalised_pdf(template: Template, sheets: Sequence[PersonalSheet],
                            path_or_file: str | Path | BinaryIO, *, title: str = "") -> None:
    """One vector PDF with every page of ``template`` for each sheet, in the order given.

    Print it at 100 % ("actual size"), like :func:`sample_sheets.printable.render_pdf`; the file has no creation
    date (reproducible). A template whose barcode field is not Code 128 or QR raises ValueError.
    """
    for rect in (r for n in range(1, len(template.pages) + 1) for r in expand_page(template, n).barcodes):
        if rect.symbology not in (None, *PERSONAL_SYMBOLOGIES):
            raise ValueError(f"personalised sheets print {' or '.join(PERSONAL_SYMBOLOGIES)}, not "
                             f"{rect.symbology} (template {template.id})")
    if not any(expand_page(template, n).barcodes for n in range(1, len(template.pages) + 1)):
        raise ValueError(f"template {template.id} has no barcode field to print the 考号 in")
    width_mm, height_mm = template.page_mm
    target = str(path_or_file) if isinstance(path_or_file, Path) else path_or_file
    canvas = Canvas(target, pagesize=(width_mm * mm, height_mm * mm), invariant=1, pageCompression=1)
    canvas.setTitle(title or f"{template.name or template.id} 个性化答题卡")
    canvas.setAuthor("yuejuan")
    canvas.setCreator("yuejuan")
    pages = [expand_page(template, n) for n in range(1, len(template.pages) + 1)]
    # Each template page is drawn once, as a form every sheet's page reuses: a room's PDF stays small and fast.
    for number, page in enumerate(pages, start=1):
        canvas.beginForm(f"page{number}")
        canvas.setLineCap(0)
        canvas.setLineJoin(0)
        drawer = PageDrawer(canvas, height_mm)
        for item in page_primitives(page):
            if not (isinstance(item, Label) and item.text == HINT_TEXT):
                drawer.draw(item)
        canvas.endForm()
    for sheet in sheets:
        for number, page in enumerate(pages, start=1):
            canvas.doForm(f"page{number}")
            drawer = PageDrawer(canvas, height_mm)
            for item in personal_primitives(page, sheet):
                drawer.draw(item)
            canvas.showPage()
    canvas.save()


def draw_personalisation(image: np.ndarray, page: ExpandedPage, dpi: float, sheet: PersonalSheet) -> np.ndarray:
    """``image`` (the printed blank of ``page`` at ``dpi``) with the personal print of ``sheet`` added.

    Each barcode field is first cleared inside its dashed outline (the hint is not printed on a personalised
    sheet), then the code's rectangles are filled (anti-aliased) and the text drawn as the renderer draws labels.
    """
    out = np.array(image, dtype=np.uint8, copy=True)
    scale = dpi / MM_PER_INCH
    for rect in page.barcodes:
        x0, y0 = int(np.ceil((rect.x + 0.8) * scale)), int(np.ceil((rect.y + 0.8) * scale))
        x1, y1 = int((rect.x + rect.w - 0.8) * scale), int((rect.y + rect.h - 0.8) * scale)
        out[max(y0, 0):max(y1, 0), max(x0, 0):max(x1, 0)] = 255
    texts = []
    for item in personal_primitives(page, sheet):
        if isinstance(item, FillRect):
            corners = np.array([[item.x, item.y], [item.x + item.w, item.y], [item.x + item.w, item.y + item.h],
                                [item.x, item.y + item.h]]) * scale - 0.5
            cv2.fillPoly(out, [np.round(corners * 16).astype(np.int32)], 0, cv2.LINE_AA, 4)
        else:
            texts.append(Text(x=item.x, y=item.y, text=item.text, size=item.size, ascii=item.ascii))
    if texts:  # the renderer's own text drawing, on a page that holds nothing else
        bare = replace(page, anchors=(), groups=(), regions=(), barcodes=(), identity_bits=(), texts=tuple(texts))
        out = np.minimum(out, render_page(bare, dpi))
    return out
