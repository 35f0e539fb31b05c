"""The printed 错题本: one PDF per class, each student's wrong questions then their practice sets, and at the end of
the class batch the practice sets' answer key (参考答案), as teachers print and hand them out; ``wrongbook.json``
beside them for the service.

The CJK font is every PDF's (:mod:`omr.pdf_font`). Stems are the bank's text, escaped (a stem
is never markup: :func:`itembank.paper_pdf.paragraph_markup`) with its image below when the bank's image folder has it and it passes
:func:`itembank.images.stem_image_path`'s checks (else the page says the figure could not be printed).
"""

from __future__ import annotations

import json
from pathlib import Path

from omr.pdf_font import cjk_font_name
from analytics.workbook import safe_name
from analytics.analysis import Analysis
from analytics.wrongbook import StudentWrongbook, Wrongbook, WrongQuestion, build_wrongbook, wrongbook_json
from itembank.images import stem_image_path
from itembank.model import Bank, BankError, Item
from itembank.paper_pdf import paragraph_markup

__all__ = ["write_wrongbook_pdf", "write_wrongbooks", "make_wrongbooks", "PRACTICE_ITEMS", "PRACTICE_SEED"]

#: Practice items per weak knowledge point, and the seed of their order, unless told otherwise (``yuejuan report
#: --practice-items/--practice-seed``; the service's 错题本 downloads always use these).
PRACTICE_ITEMS, PRACTICE_SEED = 3, 0

_TYPES = {"single": "单选", "multi": "多选", "truefalse": "判断", "subjective": "解答"}
_TRUE_FALSE = {"T": "对(√)", "F": "错(×)"}


def _num(value: float) -> str:
    return f"{value:g}"


class _Styles:
    def __init__(self, font: str):
        from reportlab.lib import colors
        from reportlab.lib.styles import ParagraphStyle

        self.title = ParagraphStyle("wb-title", fontName=font, fontSize=15, leading=20, spaceAfter=4)
        self.heading = ParagraphStyle("wb-heading", fontName=font, fontSize=12, leading=16, spaceBefore=8,
                                      spaceAfter=4)
        self.question = ParagraphStyle("wb-question", fontName=font, fontSize=10, leading=14, spaceBefore=6,
                                       textColor=colors.HexColor("#1F4E79"))
        self.normal = ParagraphStyle("wb-normal", fontName=font, fontSize=10, leading=14)
        self.item = ParagraphStyle("wb-item", fontName=font, fontSize=10, leading=14, spaceBefore=5)
        self.option = ParagraphStyle("wb-option", fontName=font, fontSize=10, leading=14, leftIndent=14)
        self.small = ParagraphStyle("wb-small", fontName=font, fontSize=8, leading=11,
                                    textColor=colors.HexColor("#555555"))
        self.warn = ParagraphStyle("wb-warn", fontName=font, fontSize=9, leading=12,
                                   textColor=colors.HexColor("#9C2A00"))


def _image(image_dir: Path | None, name: str | None) -> tuple[Path | None, str]:
    """(path, '') of a printable stem image, or (None, why not in a teacher's words); (None, '') without one."""
    if not name:
        return None, ""
    if image_dir is None:
        return None, f"题干图片 {name} 未印出:没有题库图片文件夹。"
    try:
        return stem_image_path(image_dir, name), ""
    except BankError:  # the reason in English is the bank tools' (yuejuan bank …); the page says it in Chinese
        return None, f"题干图片 {name} 未印出:图片缺失、不在题库图片文件夹内,或不是可用的 PNG/JPEG 图片。"


def _stem(item: Item | None, stem: str, image: str | None, image_dir: Path | None, width: float,
          styles: _Styles) -> list:
    """The stem paragraph, its image (or why not) and the options."""
    from reportlab.platypus import Image, Paragraph

    flow: list = []
    if stem:
        flow.append(Paragraph(paragraph_markup(stem), styles.normal))
    path, problem = _image(image_dir, image)
    if path is not None:
        picture = Image(str(path))
        scale = min(1.0, (width * 0.6) / picture.imageWidth, 160.0 / picture.imageHeight)
        picture.drawWidth, picture.drawHeight = picture.imageWidth * scale, picture.imageHeight * scale
        picture.hAlign = "LEFT"
        flow.append(picture)
    elif problem:
        flow.append(Paragraph(paragraph_markup(problem), styles.warn))
    options = item.options if item is not None else {}
    for label, text in options.items():
        flow.append(Paragraph(f"{paragraph_markup(label)}. {paragraph_markup(text)}", styles.option))
    return flow


def _wrong_block(w: WrongQuestion, item: Item | None, image_dir: Path | None, width: float, styles: _Styles
                 ) -> list:
    from reportlab.platypus import KeepTogether, Paragraph

    kind = "部分得分" if w.kind == "partial" else "错误"
    head = (f"{w.question_id}({_TYPES.get(w.question_type, w.question_type)},{_num(w.points)} 分,得 "
            f"{_num(w.score)} 分,失 {_num(w.lost)} 分,{kind})")
    if w.knowledge_points:
        head += f"  知识点:{'、'.join(w.knowledge_points)}"
    flow = [Paragraph(paragraph_markup(head), styles.question)]
    flow += _stem(item, w.stem, w.stem_image, image_dir, width, styles)
    if w.question_type == "subjective":
        answer = f"本题得分 {_num(w.score)}/{_num(w.points)}(解答题,请对照评分标准订正)"
    else:
        def shown(letters: str) -> str:
            return _TRUE_FALSE.get(letters, letters) if w.question_type == "truefalse" else letters
        key = " 或 ".join(shown(k) for k in w.key.split(" 或 ")) if w.key else "-"
        answer = f"你的答案:{shown(w.answer_read) if w.answer_read else '未作答'}    正确答案:{key}"
    flow.append(Paragraph(paragraph_markup(answer), styles.normal))
    if w.note:
        flow.append(Paragraph(paragraph_markup(w.note), styles.warn))
    return [KeepTogether(flow)]


def _student_story(book: Wrongbook, st: StudentWrongbook, items: dict[str, Item], image_dir: Path | None,
                   width: float, styles: _Styles) -> list:
    from reportlab.platypus import KeepTogether, Paragraph, Spacer

    lost = sum(w.lost for w in st.wrong)
    story: list = [
        Paragraph(paragraph_markup(f"错题本 · {book.exam_name}"), styles.title),
        Paragraph(paragraph_markup(f"姓名:{st.name}    考号:{st.exam_id}    班级:{st.class_name}    "
                        f"总分:{_num(st.total)}/{_num(book.full_marks)}"), styles.normal),
        Spacer(1, 4),
        Paragraph(paragraph_markup(f"一、错题订正(共 {len(st.wrong)} 题,失 {_num(lost)} 分)"), styles.heading),
    ]
    if not st.wrong:
        story.append(Paragraph("本次考试没有失分的题目。", styles.normal))
    for w in st.wrong:
        story += _wrong_block(w, items.get(w.item_id) if w.item_id else None, image_dir, width, styles)
    story.append(Paragraph("二、巩固练习", styles.heading))
    if not st.practice:
        story.append(Paragraph("本次各知识点得分率均不低于年级,暂无专项练习。", styles.normal))
    else:
        story.append(Paragraph("按你本次的能力水平从题库选题,每题预计答对率约 60%–80%;答案见班级参考答案页。",
                               styles.small))
    number = 0
    for practice in st.practice:
        story.append(Paragraph(paragraph_markup(f"{practice.point_name}({len(practice.items)} 题)"), styles.question))
        for chosen in practice.items:
            number += 1
            item = items[chosen.item_id]
            flow = [Paragraph(paragraph_markup(f"练习 {number}.({_TYPES.get(item.type, item.type)})"), styles.item)]
            flow += _stem(item, item.stem, item.stem_image, image_dir, width, styles)
            story.append(KeepTogether(flow))
        if practice.shortage:
            story.append(Paragraph(paragraph_markup(practice.shortage), styles.warn))
    return story


def _key_of(item: Item) -> str:
    if item.type == "subjective" or not item.answer:
        return "略(解答题)"
    return _TRUE_FALSE.get(item.answer, item.answer) if item.type == "truefalse" else item.answer


def _answer_key(book: Wrongbook, students: list[StudentWrongbook], items: dict[str, Item], width: float,
                styles: _Styles) -> list:
    """参考答案: one row per student, their practice items' keys in order; the method notes below."""
    from reportlab.lib import colors
    from reportlab.platypus import Paragraph, Table, TableStyle

    rows = [[Paragraph("姓名", styles.normal), Paragraph("考号", styles.normal),
             Paragraph("巩固练习答案", styles.normal)]]
    for st in students:
        keys, number = [], 0
        for practice in st.practice:
            for chosen in practice.items:
                number += 1
                keys.append(f"{number}. {_key_of(items[chosen.item_id])}")
        rows.append([Paragraph(paragraph_markup(st.name), styles.normal), Paragraph(paragraph_markup(st.exam_id), styles.normal),
                     Paragraph(paragraph_markup("    ".join(keys) or "无"), styles.normal)])
    table = Table(rows, colWidths=[width * 0.16, width * 0.2, width * 0.64], repeatRows=1)
    table.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#BFBFBF")),
                               ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#DDEBF7")),
                               ("VALIGN", (0, 0), (-1, -1), "TOP")]))
    return [Paragraph(paragraph_markup(f"参考答案(巩固练习) · {book.exam_name} · {students[0].class_name if students else ''}"),
                      styles.title), table,
            *[Paragraph(paragraph_markup(note), styles.small) for note in book.notes]]


def write_wrongbook_pdf(book: Wrongbook, bank: Bank, path: str | Path, class_name: str, *,
                        school_code: str | None = None, image_dir: str | Path | None = None) -> tuple[Path, int]:
    """Write the 错题本 of every student of ``class_name`` (of ``school_code`` when given) in ``book`` to one PDF
    (each student from a new page, the answer key last); returns (path, students)."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.platypus import PageBreak, SimpleDocTemplate

    styles = _Styles(cjk_font_name())
    items = bank.by_id()
    students = [st for st in book.students
                if st.class_name == class_name and school_code in (None, st.school_code)]
    folder = Path(image_dir) if image_dir is not None else None
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    margin = 15 * mm
    width = A4[0] - 2 * margin
    doc = SimpleDocTemplate(str(path), pagesize=A4, leftMargin=margin, rightMargin=margin, topMargin=margin,
                            bottomMargin=margin, title=f"{book.exam_name} 错题本 {class_name}", author="yuejuan")
    story: list = []
    for st in students:
        story += _student_story(book, st, items, folder, width, styles)
        story.append(PageBreak())
    story += _answer_key(book, students, items, width, styles)
    doc.build(story)
    return path, len(students)


def write_wrongbooks(book: Wrongbook, bank: Bank, out: str | Path, *, image_dir: str | Path | None = None
                     ) -> list[Path]:
    """``wrongbook_<班级>.pdf`` for every class in ``book`` (``wrongbook_<school>_<班级>.pdf`` when several
    schools) and ``wrongbook.json``; returns the paths."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    classes = sorted({(st.school_code, st.class_name) for st in book.students})
    several = len({school for school, _ in classes}) > 1
    for school, class_name in classes:
        name = f"{safe_name(school)}_{safe_name(class_name)}" if several else safe_name(class_name)
        path, _ = write_wrongbook_pdf(book, bank, out / f"wrongbook_{name}.pdf", class_name, school_code=school,
                                      image_dir=image_dir)
        written.append(path)
    document = out / "wrongbook.json"
    document.write_text(json.dumps(wrongbook_json(book, bank), ensure_ascii=False, allow_nan=False) + "\n",
                        encoding="utf-8")
    return [*written, document]


def make_wrongbooks(analysis: Analysis, bank: Bank, out: str | Path, *, classes: list[str] | None = None,
                    answered_before: dict[str, set[str]] | None = None, count: int = PRACTICE_ITEMS,
                    seed: int = PRACTICE_SEED, use_p: bool = True, image_dir: str | Path | None = None
                    ) -> tuple[Wrongbook, list[Path]]:
    """Build the 错题本 of ``analysis``'s exam from ``bank`` (:func:`analytics.wrongbook.build_wrongbook`, the
    same options) and write it into ``out`` (:func:`write_wrongbooks`): what ``yuejuan report --wrongbook`` and
    the service's class download both do. Returns (the book, the paths written)."""
    book = build_wrongbook(analysis, bank, answered_before=answered_before, classes=classes, count=count,
                           seed=seed, use_p=use_p)
    return book, write_wrongbooks(book, bank, out, image_dir=image_dir)
