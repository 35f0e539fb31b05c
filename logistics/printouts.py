"""The papers of a 考场编排 as PDF (A4, Chinese): door lists, seat labels, sign-in sheets and absence lists.

- 考场门贴 (door list): one page per room, every seat with its 考号, name and class, for the door;
- 座位标签 (seat labels): one label per seat, twelve to a page, to stick on the desks;
- 签到表 (sign-in sheet): one page per room, a line per student to sign;
- 缺考登记表 (the proctor's absence list): one page per room, a 缺考 box per student, the counts and signatures.

Chinese is set in the CJK TrueType font OMR's renderer finds (:func:`omr.render.cjk_font_path`, WenQuanYi from
``fonts-wqy-microhei``), else reportlab's built-in ``STSong-Light``. Files carry no creation date (reproducible).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import PageBreak, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from logistics.arrange import Arrangement, RoomSeating
from omr.pdf_font import cjk_font_name

__all__ = ["PRINTOUTS", "write_printouts", "door_lists", "seat_labels", "sign_in_sheets", "absence_lists",
           "cjk_font"]



def cjk_font() -> str:
    """The registered reportlab font name for Chinese text."""
    return cjk_font_name()


def _styles() -> dict[str, ParagraphStyle]:
    font = cjk_font()
    return {
        "title": ParagraphStyle("title", fontName=font, fontSize=20, leading=26, alignment=1, spaceAfter=4),
        "subtitle": ParagraphStyle("subtitle", fontName=font, fontSize=11, leading=15, alignment=1, spaceAfter=6),
        "normal": ParagraphStyle("normal", fontName=font, fontSize=10.5, leading=15),
        "big": ParagraphStyle("big", fontName=font, fontSize=16, leading=20),
    }


def _document(path: Path, title: str) -> SimpleDocTemplate:
    return SimpleDocTemplate(str(path), pagesize=A4, leftMargin=15 * mm, rightMargin=15 * mm, topMargin=14 * mm,
                             bottomMargin=14 * mm, title=title, author="yuejuan", creator="yuejuan", invariant=1)


def _table(header: list[str], rows: list[list[str]], widths_mm: list[float], row_mm: float = 6.4) -> Table:
    table = Table([header, *rows], colWidths=[w * mm for w in widths_mm], rowHeights=row_mm * mm, repeatRows=1)
    table.setStyle(TableStyle([
        ("FONTNAME", (0, 0), (-1, -1), cjk_font()), ("FONTSIZE", (0, 0), (-1, -1), 10),
        ("GRID", (0, 0), (-1, -1), 0.5, colors.black), ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8e8e8")),
        ("ALIGN", (0, 0), (-1, -1), "CENTER"), ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
    ]))
    return table


def _rooms(arrangement: Arrangement) -> list[RoomSeating]:
    return [r for r in arrangement.rooms if r.seats]


def _heading(seating: RoomSeating, what: str, exam_title: str, styles: dict[str, ParagraphStyle]) -> list:
    first, last = seating.seats[0].exam_id, seating.seats[-1].exam_id
    return [Paragraph(escape(f"{exam_title} {what}"), styles["subtitle"]),
            Paragraph(escape(seating.room.name), styles["title"]),
            Paragraph(f"考号 {first} – {last}　共 {len(seating.seats)} 人", styles["subtitle"])]


def _per_room(arrangement: Arrangement, path: Path, exam_title: str, what: str,
              body: Callable[[RoomSeating, dict[str, ParagraphStyle]], list]) -> Path:
    styles = _styles()
    story: list = []
    for seating in _rooms(arrangement):
        if story:
            story.append(PageBreak())
        story.extend(_heading(seating, what, exam_title, styles))
        story.extend(body(seating, styles))
    if not story:
        story.append(Paragraph("没有学生", styles["title"]))
    _document(path, f"{exam_title} {what}").build(story)
    return path


def door_lists(arrangement: Arrangement, path: Path, exam_title: str = "") -> Path:
    """考场门贴: a page per room listing every seat."""
    def body(seating: RoomSeating, styles: dict[str, ParagraphStyle]) -> list:
        rows = [[str(s.seat), s.exam_id, s.student.name, s.student.class_name] for s in seating.seats]
        return [_table(["座位号", "考号", "姓名", "班级"], rows, [22, 50, 50, 50])]
    return _per_room(arrangement, path, exam_title, "考场门贴", body)


def sign_in_sheets(arrangement: Arrangement, path: Path, exam_title: str = "") -> Path:
    """签到表: a line per student to sign, a page per room."""
    def body(seating: RoomSeating, styles: dict[str, ParagraphStyle]) -> list:
        rows = [[str(s.seat), s.exam_id, s.student.name, s.student.class_name, ""] for s in seating.seats]
        return [_table(["座位号", "考号", "姓名", "班级", "考生签名"], rows, [18, 40, 34, 36, 52]), Spacer(1, 5 * mm),
                Paragraph("监考员签名：______________　　______________", styles["normal"])]
    return _per_room(arrangement, path, exam_title, "签到表", body)


def absence_lists(arrangement: Arrangement, path: Path, exam_title: str = "") -> Path:
    """缺考登记表: the proctor ticks who is absent and fills in the counts."""
    def body(seating: RoomSeating, styles: dict[str, ParagraphStyle]) -> list:
        rows = [[str(s.seat), s.exam_id, s.student.name, s.student.class_name, "□", ""] for s in seating.seats]
        counts = f"应考 {len(seating.seats)} 人　　实考 ______ 人　　缺考 ______ 人"
        return [Paragraph(counts, styles["normal"]), Spacer(1, 2 * mm),
                _table(["座位号", "考号", "姓名", "班级", "缺考", "备注"], rows, [18, 40, 34, 36, 16, 36]),
                Spacer(1, 5 * mm),
                Paragraph("缺考考生的答题卡由监考员填涂“缺考”标记。监考员签名：__________　__________",
                          styles["normal"])]
    return _per_room(arrangement, path, exam_title, "缺考登记表", body)


def seat_labels(arrangement: Arrangement, path: Path, exam_title: str = "") -> Path:
    """座位标签: two columns of six labels a page, in room and seat order."""
    styles = _styles()
    cells = []
    for room, seat in arrangement.seats:
        cells.append([Paragraph(escape(exam_title), styles["normal"]),
                      Paragraph(f"{escape(room.name)}　{seat.seat:02d} 号座位", styles["big"]),
                      Paragraph(f"考号 {seat.exam_id}", styles["big"]),
                      Paragraph(escape(f"{seat.student.name}　{seat.student.class_name}"), styles["normal"])])
    if len(cells) % 2:
        cells.append("")
    rows = [cells[i:i + 2] for i in range(0, len(cells), 2)]
    story: list = []
    if rows:
        table = Table(rows, colWidths=[90 * mm, 90 * mm], rowHeights=44 * mm)
        table.setStyle(TableStyle([("BOX", (0, 0), (-1, -1), 0.5, colors.black),
                                   ("INNERGRID", (0, 0), (-1, -1), 0.5, colors.grey),
                                   ("VALIGN", (0, 0), (-1, -1), "MIDDLE"), ("LEFTPADDING", (0, 0), (-1, -1), 6 * mm)]))
        story.append(table)
    else:
        story.append(Paragraph("没有学生", styles["title"]))
    _document(path, f"{exam_title} 座位标签").build(story)
    return path


#: File name -> writer, in the order the CLI and the service write them.
PRINTOUTS: dict[str, Callable[[Arrangement, Path, str], Path]] = {
    "考场门贴.pdf": door_lists, "座位标签.pdf": seat_labels, "签到表.pdf": sign_in_sheets, "缺考登记表.pdf": absence_lists,
}


def write_printouts(arrangement: Arrangement, out_dir: Path, exam_title: str = "") -> list[Path]:
    """Every PDF of :data:`PRINTOUTS` into ``out_dir``; the paths written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    return [writer(arrangement, out_dir / name, exam_title) for name, writer in PRINTOUTS.items()]
