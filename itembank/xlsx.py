"""The bank in a workbook teachers edit: a ``试题`` sheet, one row per item, and a ``说明`` sheet explaining it.

Import reads with :func:`grading.tabular.read_rows` (openpyxl read-only, the row, cell, byte and zip limits every
importer has), checks each cell with :func:`grading.text.clean_text`, and lists every problem with its row before
refusing the file (:class:`BankImportError`). Export writes every text as a string cell (a stem starting ``=`` stays
text, never a formula) and ids as text, so an id like ``0701003`` keeps its leading zero.

Columns (Chinese headers; the English field names are accepted too): 试题编号, 科目, 题型, 题干, 题干图片, 选项A …
选项J, 答案, 分值, 知识点 (separated by ``;``), 认知层次, 年级, 预估难度, then what past use showed: 作答人数, 难度P,
区分度, Rasch难度b and 使用记录 (``考试编号@日期:班级,班级;…``).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from grading.exam_io import parse_answers
from grading.tabular import TableError, TableLimits, DEFAULT_LIMITS, find_columns, parse_number, read_rows
from grading.text import clean_text
from itembank.model import Bank, BankError, Item, ItemUse

__all__ = ["BankImportError", "ITEM_COLUMNS", "OPTION_LABELS", "read_bank_xlsx", "write_bank_xlsx"]

#: Option columns 选项A … 选项J (an item has at most ten options, as a question does).
OPTION_LABELS = "ABCDEFGHIJ"

#: field -> (Chinese header written, other accepted headers)
ITEM_COLUMNS: dict[str, tuple[str, tuple[str, ...]]] = {
    "id": ("试题编号", ("item id", "题目编号", "编号")),
    "subject": ("科目", ("学科",)),
    "type": ("题型", ("question type",)),
    "stem": ("题干", ("题目", "question")),
    "stem_image": ("题干图片", ("stem image", "图片")),
    **{f"option_{label}": (f"选项{label}", (f"option {label}",)) for label in OPTION_LABELS},
    "answer": ("答案", ("标准答案", "key")),
    "points": ("分值", ("分数", "score")),
    "knowledge_points": ("知识点", ("knowledge point",)),
    "cognitive_level": ("认知层次", ("cognitive level", "能力层次")),
    "grade": ("年级", ()),
    "difficulty": ("预估难度", ("expected difficulty",)),
    "students": ("作答人数", ("stat students",)),
    "p": ("难度P", ("stat p", "实测难度")),
    "discrimination": ("区分度", ("stat discrimination",)),
    "rasch_b": ("Rasch难度b", ("stat rasch b", "rasch b")),
    "uses": ("使用记录", ("uses",)),
}

_TYPES = {"single": "single", "单选": "single", "单选题": "single", "单项选择题": "single",
          "multi": "multi", "多选": "multi", "多选题": "multi", "多项选择题": "multi", "不定项": "multi",
          "truefalse": "truefalse", "判断": "truefalse", "判断题": "truefalse",
          "subjective": "subjective", "主观": "subjective", "主观题": "subjective", "解答题": "subjective",
          "填空题": "subjective"}
_TYPE_LABELS = {"single": "单选", "multi": "多选", "truefalse": "判断", "subjective": "主观"}
_LIST_SPLIT = re.compile(r"[;；、|\n]+")
_USE = re.compile(r"^\s*([^@]+?)\s*@\s*(\d{4}-\d{2}-\d{2})\s*(?::\s*(.*))?$")


class BankImportError(TableError, BankError):
    """An item workbook with problems; ``errors`` lists each with its row (the message shows the first 50)."""


def _number(text: str, label: str) -> float | None:
    if not text:
        return None
    try:
        return parse_number(text)
    except ValueError:
        raise ValueError(f"{label} {text!r} is not a number") from None


def _uses(text: str) -> list[dict[str, Any]]:
    uses = []
    for part in (p for p in text.split(";") if p.strip()):
        match = _USE.match(part)
        if match is None:
            raise ValueError(f"使用记录 {part.strip()!r}: write 考试编号@YYYY-MM-DD:班级,班级")
        classes = [c.strip() for c in re.split(r"[,，、]", match.group(3) or "") if c.strip()]
        uses.append({"exam_id": match.group(1), "date": match.group(2), "classes": classes})
    return uses


def _item_from_cells(cells: dict[str, str]) -> dict[str, Any]:
    """One row's cells -> the dict an :class:`Item` validates (ValueError naming the column otherwise)."""
    text = {key: clean_text(value, field=ITEM_COLUMNS[key][0], multiline=key == "stem" or key.startswith("option_"))
            for key, value in cells.items()}
    kind_text = text.get("type", "")
    kind = _TYPES.get(kind_text.lower()) or _TYPES.get(kind_text)
    if kind is None:
        raise ValueError(f"题型 {kind_text!r} unknown: use 单选, 多选, 判断 or 主观")
    options = {label: text[f"option_{label}"] for label in OPTION_LABELS if text.get(f"option_{label}")}
    labels = "".join(options) or ("TF" if kind == "truefalse" else "")
    answer = "".join(parse_answers(text.get("answer", ""), kind, labels)) if kind != "subjective" else \
        text.get("answer", "")
    if kind == "multi":
        answer = "".join(sorted(set(answer)))
    data: dict[str, Any] = {
        "id": text.get("id", ""), "subject": text.get("subject", ""), "type": kind, "stem": text.get("stem", ""),
        "stem_image": text.get("stem_image") or None, "options": options, "answer": answer,
        "knowledge_points": [p.strip() for p in _LIST_SPLIT.split(text.get("knowledge_points", "")) if p.strip()],
        "cognitive_level": text.get("cognitive_level", ""), "grade": text.get("grade", ""),
        "difficulty": _number(text.get("difficulty", ""), "预估难度"),
        "uses": _uses(text.get("uses", "")),
    }
    points = _number(text.get("points", ""), "分值")
    if points is not None:
        data["points"] = points
    stats = {"students": _number(text.get("students", ""), "作答人数") or 0, "p": _number(text.get("p", ""), "难度P"),
             "discrimination": _number(text.get("discrimination", ""), "区分度"),
             "rasch_b": _number(text.get("rasch_b", ""), "Rasch难度b")}
    if stats["students"] != int(stats["students"]):
        raise ValueError(f"作答人数 {stats['students']:g} is not a whole number")
    data["stats"] = {**stats, "students": int(stats["students"])}
    return data


def _message(error: ValidationError) -> str:
    labels = {key: label for key, (label, _) in ITEM_COLUMNS.items()}
    parts = []
    for problem in error.errors():
        loc = [str(p) for p in problem["loc"]]
        label = labels.get(loc[0], labels.get("_".join(loc[:2]), ".".join(loc))) if loc else ""
        if loc[:1] == ["stats"] and len(loc) > 1:
            label = labels.get(loc[1], ".".join(loc))
        message = re.sub(r"^item \S+: ", "", problem["msg"].removeprefix("Value error, "))
        parts.append(f"{label}: {message}" if label else message)
    return "; ".join(parts)


def read_bank_xlsx(path: str | Path, *, limits: TableLimits = DEFAULT_LIMITS) -> Bank:
    """Import items from the ``试题`` sheet of a workbook (or a CSV of the same columns).

    Raises
    ------
    BankImportError
        Listing every problem with its row (a file over ``limits`` is refused naming the limit).
    """
    path = Path(path)
    try:
        rows = read_rows(path, sheet_names=("试题", "items"), what="item workbook", limits=limits)
    except TableError as error:
        raise BankImportError(str(path), error.errors) from None
    if not rows:
        raise BankImportError(str(path), ["the sheet is empty (no header row)"])
    header = rows[0][1]
    columns = find_columns(header, {key: (label, *aliases) for key, (label, aliases) in ITEM_COLUMNS.items()})
    errors = [f"row 1: no column {ITEM_COLUMNS[key][0]}" for key in ("id", "subject", "type", "stem")
              if key not in columns]
    if errors:
        raise BankImportError(str(path), errors)
    items: list[Item] = []
    rows_of: dict[str, int] = {}
    for number, row in rows[1:]:
        cells = {key: row[index] if index < len(row) else "" for key, index in columns.items()}
        label = f"row {number}" + (f" ({cells['id']})" if cells.get("id") else "")
        try:
            data = _item_from_cells(cells)
            item = Item.model_validate(data)
        except ValidationError as error:
            errors.append(f"{label}: {_message(error)}")
            continue
        except ValueError as error:
            errors.append(f"{label}: {error}")
            continue
        if item.id in rows_of:
            errors.append(f"{label}: 试题编号 {item.id} already on row {rows_of[item.id]}")
            continue
        rows_of[item.id] = number
        items.append(item)
    if errors:
        raise BankImportError(str(path), errors)
    return Bank(items=items)


_HELP = [
    ("试题编号", "the item's id: letters, digits, _ . : - (kept as text: 0701003 keeps its zero)", "M0701003"),
    ("科目", "subject", "数学"),
    ("题型", "单选 / 多选 / 判断 / 主观", "单选"),
    ("题干", "the question text (line breaks kept)", "函数 f(x)=2x+1 在 x=3 处的值是"),
    ("题干图片", "file name of a PNG or JPEG in the bank's image folder (optional)", "M0701003.png"),
    ("选项A … 选项J", "option texts; 判断 may leave them empty (T/F)", "7"),
    ("答案", "单选: one letter; 多选: the letters (ACD); 判断: T/F, √/× or 对/错; 主观: empty", "A"),
    ("分值", "points (default 1)", "5"),
    ("知识点", "knowledge points of the 双向细目表, separated by ;", "函数;一次函数"),
    ("认知层次", "识记 / 理解 / 应用 / 分析 …", "应用"),
    ("年级", "grade", "七年级"),
    ("预估难度", "the writer's expected difficulty P, 0..1 (used until enough students answered)", "0.7"),
    ("作答人数 难度P 区分度 Rasch难度b", "what past use showed (written by yuejuan bank stats)", "412"),
    ("使用记录", "past uses: 考试编号@YYYY-MM-DD:班级,班级; …", "m2026-mid@2026-04-20:0701,0702"),
]


def _use_text(use: ItemUse) -> str:
    return f"{use.exam_id}@{use.date.isoformat()}" + (f":{','.join(use.classes)}" if use.classes else "")


def _row(item: Item) -> dict[str, Any]:
    stats = item.stats
    return {"id": item.id, "subject": item.subject, "type": _TYPE_LABELS[item.type], "stem": item.stem,
            "stem_image": item.stem_image or "",
            **{f"option_{label}": text for label, text in item.options.items()},
            "answer": item.answer, "points": item.points, "knowledge_points": ";".join(item.knowledge_points),
            "cognitive_level": item.cognitive_level, "grade": item.grade, "difficulty": item.difficulty,
            "students": stats.students or None, "p": stats.p, "discrimination": stats.discrimination,
            "rasch_b": stats.rasch_b, "uses": ";".join(_use_text(use) for use in item.uses)}


def write_bank_xlsx(bank: Bank, path: str | Path) -> None:
    """Write ``bank`` as a workbook :func:`read_bank_xlsx` reads back to the same bank."""
    from grading.safe_cells import text_workbook

    used = {label for item in bank.items for label in item.options}
    keys = [key for key in ITEM_COLUMNS if not key.startswith("option_") or key[-1] in used or key[-1] in "ABCD"]
    workbook = text_workbook(path, constant_memory=True)
    heading = workbook.add_format({"bold": True, "bg_color": "#DDEBF7"})
    as_text = workbook.add_format({"num_format": "@"})
    wrap = workbook.add_format({"num_format": "@", "text_wrap": True, "valign": "top"})
    sheet = workbook.add_worksheet("试题")
    for c, key in enumerate(keys):
        sheet.write_string(0, c, ITEM_COLUMNS[key][0], heading)
        sheet.set_column(c, c, 40 if key == "stem" else (24 if key in ("uses", "knowledge_points") else 10),
                         wrap if key == "stem" else as_text)
    for r, item in enumerate(bank.items, start=1):
        row = _row(item)
        for c, key in enumerate(keys):
            value = row.get(key)
            if isinstance(value, str):
                if value:
                    sheet.write_string(r, c, value, wrap if key == "stem" else as_text)
            elif value is not None:
                sheet.write_number(r, c, float(value))
    guide = workbook.add_worksheet("说明")
    for c, header in enumerate(["列", "含义 / meaning", "示例"]):
        guide.write_string(0, c, header, heading)
    for r, cells in enumerate(_HELP, start=1):
        for c, value in enumerate(cells):
            guide.write_string(r, c, value)
    guide.set_column(1, 1, 90)
    workbook.close()


