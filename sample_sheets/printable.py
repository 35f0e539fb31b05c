"""Printable answer sheets: a vector PDF (and a raster PNG) of every page of a template.

The PDF is drawn from :func:`omr.layout.page_primitives`, the same list the raster renderer draws, so a
printed sheet, a rendered PNG and the pixel geometry of :mod:`omr.geometry` all agree. Each PDF page has the
template's physical page size; print it at 100 % ("actual size"), never "fit to page".

Text: ASCII (and the Latin-1 punctuation Helvetica carries, such as ``½``) is set in Helvetica; Chinese is
set in a real CJK TrueType font when one is installed (WenQuanYi, Droid Sans Fallback, Microsoft YaHei,
SimHei ...; ``YUEJUAN_CJK_FONT`` names one explicitly), else in reportlab's built-in CID font
``STSong-Light``, which every PDF viewer with Adobe's Chinese fonts (or poppler-data) can show.
"""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfgen.canvas import Canvas

from omr.layout import (FillEllipse, FillPolygon, FillRect, Label, Primitive, StrokeEllipse, StrokeRect,
                        page_primitives)
from omr.pdf_font import cjk_font_name
from omr.render import render_page
from omr.template import Template, expand_page

__all__ = ["render_pdf", "render_png", "cjk_font_name"]

_LATIN_FONT = "Helvetica"
_LATIN_CAP_HEIGHT = 0.718  # Helvetica cap height as a fraction of the em (AFM CapHeight 718)
_DASH_MM = 2.0  # dash and gap length of dashed outlines, as in omr.render


def _latin(ch: str) -> bool:
    # Helvetica is WinAnsi-encoded in reportlab: anything cp1252 encodes is drawable in it.
    try:
        ch.encode("cp1252")
    except UnicodeEncodeError:
        return False
    return ch.isprintable()


def _runs(text: str) -> list[tuple[str, str]]:
    """Split ``text`` into (font name, chunk) runs: Helvetica for Latin, the CJK font for the rest."""
    runs: list[tuple[str, str]] = []
    for ch in text:
        font = _LATIN_FONT if _latin(ch) else cjk_font_name()
        if runs and runs[-1][0] == font:
            runs[-1] = (font, runs[-1][1] + ch)
        else:
            runs.append((font, ch))
    return runs


class PageDrawer:
    """Draws primitives in template millimetres (origin top-left, y down) onto a reportlab canvas."""

    def __init__(self, canvas: Canvas, height_mm: float) -> None:
        self.c = canvas
        self.height_mm = height_mm

    def pt(self, x: float, y: float) -> tuple[float, float]:
        # reportlab's origin is the bottom-left corner with y up.
        return x * mm, (self.height_mm - y) * mm

    def draw(self, item: Primitive) -> None:
        c = self.c
        if isinstance(item, FillRect):
            x, y = self.pt(item.x, item.y + item.h)
            c.setFillGray(0)
            c.rect(x, y, item.w * mm, item.h * mm, stroke=0, fill=1)
        elif isinstance(item, FillPolygon):
            path = c.beginPath()
            first, *rest = item.points
            path.moveTo(*self.pt(*first))
            for point in rest:
                path.lineTo(*self.pt(*point))
            path.close()
            c.setFillGray(item.gray)
            c.drawPath(path, stroke=0, fill=1)
        elif isinstance(item, FillEllipse):
            x0, y0 = self.pt(item.cx - item.rx, item.cy + item.ry)
            c.setFillGray(item.gray)
            c.ellipse(x0, y0, x0 + 2 * item.rx * mm, y0 + 2 * item.ry * mm, stroke=0, fill=1)
        elif isinstance(item, StrokeEllipse):
            x0, y0 = self.pt(item.cx - item.rx, item.cy + item.ry)
            self._pen(item.gray, item.width, dashed=False)
            c.ellipse(x0, y0, x0 + 2 * item.rx * mm, y0 + 2 * item.ry * mm, stroke=1, fill=0)
        elif isinstance(item, StrokeRect):
            x, y = self.pt(item.x, item.y + item.h)
            self._pen(item.gray, item.width, dashed=item.dashed)
            c.rect(x, y, item.w * mm, item.h * mm, stroke=1, fill=0)
        elif isinstance(item, Label):
            self._label(item)
        else:  # a primitive added to omr.layout must be drawn here too, or print and PNG disagree
            raise TypeError(f"cannot draw {type(item).__name__}")

    def _pen(self, gray: float, width_mm: float, *, dashed: bool) -> None:
        self.c.setStrokeGray(gray)
        self.c.setLineWidth(width_mm * mm)
        if dashed:
            self.c.setDash([_DASH_MM * mm, _DASH_MM * mm], 0)
        else:
            self.c.setDash([], 0)

    def _label(self, label: Label) -> None:
        if not label.text.strip():
            return
        # One em size for the whole label, chosen so Latin capitals are ``size`` mm tall.
        font_size = label.size * mm / _LATIN_CAP_HEIGHT
        runs = _runs(label.text)
        widths = [pdfmetrics.stringWidth(chunk, font, font_size) for font, chunk in runs]
        if label.centred:
            x = label.x * mm - sum(widths) / 2
            _, y = self.pt(label.x, label.y + label.size / 2)  # baseline half a cap height below the centre
        else:
            x, y = self.pt(label.x, label.y)
        text = self.c.beginText(x, y)
        self.c.setFillGray(label.gray)
        for font, chunk in runs:
            text.setFont(font, font_size)
            text.textOut(chunk)
        self.c.drawText(text)


def render_pdf(template: Template, path_or_file: str | Path | BinaryIO) -> None:
    """Write a printable vector PDF of every page of ``template``.

    Parameters
    ----------
    template
        A validated template.
    path_or_file
        Where to write: a file path, or a binary file object open for writing.

    Notes
    -----
    One PDF page per template page, each exactly the template's page size (``A4`` is 595.3 x 841.9 pt).
    The output is byte-for-byte reproducible (no creation date), so it can be compared or cached.
    """
    width_mm, height_mm = template.page_mm
    target = str(path_or_file) if isinstance(path_or_file, Path) else path_or_file
    canvas = Canvas(target, pagesize=(width_mm * mm, height_mm * mm), invariant=1, pageCompression=1)
    canvas.setTitle(template.name or template.id)
    canvas.setSubject(f"yuejuan answer sheet template {template.id} (code {template.identity_code})")
    canvas.setAuthor("yuejuan")
    canvas.setCreator("yuejuan")
    for page_no in range(1, len(template.pages) + 1):
        canvas.setLineCap(0)
        canvas.setLineJoin(0)
        drawer = PageDrawer(canvas, height_mm)
        for item in page_primitives(expand_page(template, page_no)):
            drawer.draw(item)
        canvas.showPage()
    canvas.save()


def render_png(template: Template, page: int, dpi: float, path: str | Path) -> None:
    """Write the raster rendering of one page (:func:`omr.render.render_page`) as a grayscale PNG.

    Parameters
    ----------
    template
        A validated template.
    page
        1-based page number.
    dpi
        Resolution; also recorded in the PNG's ``pHYs`` chunk so viewers and printers know the physical size.
    path
        Output file.
    """
    image = render_page(expand_page(template, page), dpi)
    Image.fromarray(np.ascontiguousarray(image)).save(Path(path), format="PNG", dpi=(dpi, dpi))

