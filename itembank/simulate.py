"""A generated item bank for tests, the benchmark and the demo: items over knowledge points × cognitive levels ×
types, with measured statistics and past uses, their stems random phrases (no two near duplicates by chance).
"""

from __future__ import annotations

import math
from datetime import date, timedelta

import numpy as np

from itembank.model import Bank, Item, ItemStats, ItemUse

__all__ = ["LEVELS", "simulated_bank"]

LEVELS = ("识记", "理解", "应用", "分析")
_WORDS = ("函数", "图像", "已知", "求", "证明", "直线", "平面", "三角形", "圆", "方程", "不等式", "数列", "概率", "向量",
          "集合", "定义域", "值域", "最大值", "最小值", "交点", "坐标", "面积", "周长", "角度", "斜率", "对称", "单调",
          "区间", "实数", "整数", "分数", "比例", "样本", "统计", "平均数", "方差", "抛物线", "顶点", "半径", "弦",
          "切线", "相似", "全等", "平行", "垂直", "中点", "线段", "射线", "因式", "分解", "根", "系数", "常数", "变量")
_TYPES = (("single", 0.5), ("multi", 0.15), ("truefalse", 0.15), ("subjective", 0.2))


def _stem(rng: np.random.Generator, kp: str) -> str:
    words = rng.choice(len(_WORDS), size=int(rng.integers(8, 16)))
    numbers = rng.integers(1, 1000, size=3)
    return f"关于{kp}：" + "".join(_WORDS[w] for w in words) + f"，其中 a={numbers[0]}，b={numbers[1]}，求 {numbers[2]} 对应的结果。"


def simulated_bank(count: int, *, seed: int = 0, subject: str = "数学", knowledge_points: int = 20,
                   classes: tuple[str, ...] = ("0701", "0702", "0703", "0704"), today: date = date(2026, 11, 1),
                   prefix: str = "M") -> Bank:
    """``count`` items of ``subject`` over ``knowledge_points`` points (K01 …) and the four levels of
    :data:`LEVELS`; about 70 % measured (P, discrimination, and Rasch b when 100+ students answered), the rest
    with a writer's estimate; a third used in the past year by some of ``classes``."""
    rng = np.random.default_rng(seed)
    kinds = rng.choice(len(_TYPES), size=count, p=[share for _, share in _TYPES])
    items = []
    for k in range(count):
        kind = _TYPES[kinds[k]][0]
        kp = f"K{int(rng.integers(1, knowledge_points + 1)):02d}"
        level = LEVELS[int(rng.integers(0, len(LEVELS)))]
        p = float(rng.uniform(0.25, 0.92))
        options: dict[str, str] = {}
        answer = ""
        points = 5.0
        if kind in ("single", "multi"):
            options = {label: f"{int(rng.integers(1, 10000))}" for label in "ABCD"}
            answer = "ABCD"[int(rng.integers(0, 4))] if kind == "single" else \
                "".join(sorted(rng.choice(list("ABCD"), size=int(rng.integers(2, 4)), replace=False)))
        elif kind == "truefalse":
            answer = "TF"[int(rng.integers(0, 2))]
            points = 2.0
        else:
            points = float(rng.choice([8, 10, 12, 14]))
        stats = ItemStats()
        estimate = None
        if rng.random() < 0.7:
            students = int(rng.integers(40, 600))
            b = math.log((1 - p) / p) + float(rng.normal(0, 0.2)) if students >= 100 and kind != "subjective" else None
            stats = ItemStats(students=students, p=round(p, 3), discrimination=round(float(rng.uniform(0.1, 0.6)), 3),
                              rasch_b=None if b is None else round(b, 3))
        else:
            estimate = round(p, 2)
        uses = []
        if rng.random() < 0.33:
            sat = sorted(rng.choice(classes, size=int(rng.integers(1, len(classes) + 1)), replace=False).tolist())
            uses.append(ItemUse(exam_id=f"past-{int(rng.integers(1, 50))}",
                                date=today - timedelta(days=int(rng.integers(1, 365))), classes=sat))
        items.append(Item(id=f"{prefix}{k + 1:05d}", subject=subject, type=kind, stem=_stem(rng, kp), options=options,
                          answer=answer, points=points, knowledge_points=[kp], cognitive_level=level, grade="七年级",
                          difficulty=estimate, stats=stats, uses=uses))
    return Bank(items=items)
