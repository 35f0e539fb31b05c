"""The printable paper (试卷) of an assembled paper: an A4 PDF with the heading, each part's title and points, and
every question's number, stem, stem image and options, set in a CJK font (the one :mod:`omr.render` finds, as the
printable sheets use; reportlab's built-in ``STSong-Light`` when none is installed).

Stems are the teachers' text: they are escaped before reportlab's paragraph markup sees them (a stem with ``<b>``
prints those characters), line breaks kept. Images are the bank's checked stem images
(:func:`itembank.images.stem_image_path`), scaled to at most 120 x 70 mm.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping
from xml.sax.saxutils import escape

from grading.exam import Exam
from itembank.assemble import Paper
from omr.pdf_font import cjk_font_name

__all__ = ["write_paper_pdf", "paper_font", "paragraph_markup"]

def paper_font() -> str:
    """The registered reportlab font for the paper's text (Chinese and Latin alike)."""
    return cjk_font_name()


def paragraph_markup(text: str) -> str:
    """Bank or exam text as a reportlab paragraph: escaped (a stem prints as text, never as markup), line breaks
    kept, control characters dropped."""
    kept = "".join(ch for ch in text if ch in "\n\t" or ord(ch) >= 32)
    return escape(kept).replace("\n", "<br/>")


def _number(value: float) -> str:
    return f"{value:g}"


def write_paper_pdf(paper: Paper, exam: Exam, path: str | Path, *, images: Mapping[str, Path] | None = None,
                    title: str = "") -> int:
    """Write the paper to ``path``; returns the number of pages.

    Parameters
    ----------
    paper, exam : the assembled paper and its exam (:func:`itembank.paper.paper_exam`), in the same order.
    images : mapping of item id to a checked image path, optional
        Stem images to print (items whose image is not given print their text only).
    """
    from reportlab.lib.enums import TA_CENTER
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import Image, KeepTogether, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    font = paper_font()
    images = images or {}
    heading = ParagraphStyle("heading", fontName=font, fontSize=16, leading=22, alignment=TA_CENTER)
    small = ParagraphStyle("small", fontName=font, fontSize=9, leading=13, alignment=TA_CENTER)
    part = ParagraphStyle("part", fontName=font, fontSize=11.5, leading=16, spaceBefore=8, spaceAfter=4)
    body = ParagraphStyle("body", fontName=font, fontSize=10.5, leading=15, spaceBefore=3, wordWrap="CJK")
    option = ParagraphStyle("option", fontName=font, fontSize=10.5, leading=14, leftIndent=14, wordWrap="CJK")
    story = [Paragraph(paragraph_markup(title or exam.name or f"{exam.subject} 试卷"), heading),
             Paragraph(paragraph_markup(f"科目：{exam.subject}　满分：{_number(exam.full_marks)} 分　共 {len(exam.questions)} 题"),
                       small),
             Spacer(1, 2 * mm),
             Paragraph("学校＿＿＿＿＿＿　班级＿＿＿＿＿＿　姓名＿＿＿＿＿＿　考号＿＿＿＿＿＿＿＿＿＿", small),
             Paragraph("注意：请将答案填涂、书写在答题卡上，写在试卷上无效。", small)]
    width = A4[0] - 36 * mm
    section = None
    for q, item in zip(exam.questions, paper.items):
        if q.section != section:
            section = q.section
            members = [other for other in exam.questions if other.section == section]
            total = sum(other.points for other in members)
            each = {other.points for other in members}
            note = f"每题 {_number(each.pop())} 分，" if len(each) == 1 else ""
            story.append(Paragraph(paragraph_markup(f"{exam.section_name(section)}（共 {len(members)} 题，{note}"
                                           f"共 {_number(total)} 分）"), part))
        points = f"（{_number(q.points)} 分）" if q.type == "subjective" else ""
        block = [Paragraph(f"{q.id[1:]}. {points}{paragraph_markup(item.stem)}", body)]
        if item.id in images:
            picture = Image(str(images[item.id]))
            scale = min(120 * mm / picture.imageWidth, 70 * mm / picture.imageHeight, 0.25 * mm)  # <= 0.25 mm a pixel
            picture.drawWidth, picture.drawHeight = picture.imageWidth * scale, picture.imageHeight * scale
            block.append(picture)
        texts = [(label, text) for label, text in item.options.items()]
        if texts:
            longest = max(len(text) for _, text in texts)
            per_row = 4 if longest <= 8 else (2 if longest <= 20 else 1)
            cells = [Paragraph(f"{label}. {paragraph_markup(text)}", option) for label, text in texts]
            rows = [cells[k:k + per_row] for k in range(0, len(cells), per_row)]
            rows[-1] += [""] * (per_row - len(rows[-1]))
            grid = Table(rows, colWidths=[width / per_row] * per_row)
            grid.setStyle(TableStyle([("LEFTPADDING", (0, 0), (-1, -1), 0), ("TOPPADDING", (0, 0), (-1, -1), 0),
                                      ("BOTTOMPADDING", (0, 0), (-1, -1), 1)]))
            block.append(grid)
        elif q.type == "subjective":
            block.append(Spacer(1, 4 * mm))
        story.append(KeepTogether(block))

    pages = {"count": 0}

    def footer(canvas, document) -> None:
        pages["count"] = document.page
        canvas.setFont(font, 9)
        canvas.drawCentredString(A4[0] / 2, 10 * mm, f"第 {document.page} 页")

    document = SimpleDocTemplate(str(path), pagesize=A4, leftMargin=18 * mm, rightMargin=18 * mm, topMargin=16 * mm,
                                 bottomMargin=18 * mm, title=title or exam.name or exam.id, author="yuejuan")
    document.build(story, onFirstPage=footer, onLaterPages=footer)
    return pages["count"]
