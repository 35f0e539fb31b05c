"""Items and banks the item-bank tests build (each test writes its own files under tmp_path)."""

from __future__ import annotations

import io
from datetime import date

import numpy as np
from PIL import Image

from itembank.model import Bank, Item, ItemStats, ItemUse


def png_bytes(seed: int = 0, size: tuple[int, int] = (40, 30)) -> bytes:
    """A small real PNG whose pixels depend on ``seed``."""
    pixels = np.random.default_rng(seed).integers(0, 256, (size[1], size[0]), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def item(item_id: str, stem: str = "", *, kind: str = "single", kp: str = "函数", level: str = "应用",
         p: float | None = 0.6, students: int = 200, b: float | None = None, points: float = 5.0,
         uses: list[ItemUse] | None = None, options: dict[str, str] | None = None, **extra) -> Item:
    """One 数学 item; single choice with four options unless told otherwise."""
    if options is None:
        options = {"A": "1", "B": "2", "C": "3", "D": "4"} if kind in ("single", "multi") else {}
    answer = {"single": "B", "multi": "AC", "truefalse": "T", "subjective": ""}[kind]
    return Item(id=item_id, subject="数学", type=kind, stem=stem or f"题目 {item_id}：求下列式子的值，并说明理由。",
                options=options, answer=answer, points=points, knowledge_points=[kp], cognitive_level=level,
                stats=ItemStats(students=students if p is not None else 0, p=p, rasch_b=b), uses=uses or [], **extra)


def chinese_bank() -> Bank:
    """Four items of every type, Chinese text, an id with a leading zero, a formula-looking stem, stats, a use."""
    return Bank(items=[
        item("0701003", "=HYPERLINK(\"http://x\",\"点我\")求函数 f(x)=2x+1 在 x=3 处的值\n（第二行）",
             options={"A": "5", "B": "7", "C": "=1+1", "D": "@SUM(A1)"}, b=-0.4, difficulty=0.7,
             uses=[ItemUse(exam_id="m2026-mid", date=date(2026, 4, 20), classes=["0701", "0702"])]),
        item("T1", "平行四边形的对角线互相平分。", kind="truefalse", points=2, p=None),
        item("S1", "证明：三角形内角和等于 180°。", kind="subjective", points=12.5, stem_image="S1.png"),
        item("M1", "下列各数中，是无理数的有", kind="multi",
             options={"A": "√2", "B": "0.5", "C": "π", "D": "22/7", "E": "−3"}),
    ])
