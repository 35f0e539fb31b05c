"""The demo's item bank (题库) for its sample exam: an item per exam question ("demo:Q12" for Q12, the id scheme the
demo's IRT linking uses too) and practice items "demo:P001"… for every knowledge point of the exam, so that
``report --wrongbook`` has stems for the wrong questions and practice at every level of ability.

Stems are short generated 数学 questions with computed keys (a template per knowledge point, random numbers, the
right option among three near misses); a few 立体几何 stems carry a drawn figure (``images/cuboid.png``). The exam's
items take the exam's key letters and their Rasch b from the question's expected difficulty (b = −logit(P): the
demo's simulated students answer on that scale); written questions get only a classical P. Practice items spread b
over −4…3 logits; every seventh has only a classical P (placed on the scale from it) and every thirteenth neither
(left out of practice), as a real bank has.
"""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path
from typing import Callable

import numpy as np

from grading.exam import Exam, exam_to_dict, load_exam
from itembank.model import Bank, Item, ItemStats
from itembank.store import save_bank

__all__ = ["write_demo_bank", "demo_bank", "exam_with_item_ids", "PRACTICE_PER_POINT"]

PRACTICE_PER_POINT = 24
_SUBJECTIVE_TAIL = "请写出完整的解答过程。"
Problem = tuple[str, str, list[str]]  # (statement to complete, the right value, near misses)


def _near(rng: np.random.Generator, value: int, spread: int = 4, *, low: int | None = None) -> list[str]:
    misses: list[int] = []
    while len(misses) < 3:
        candidate = value + int(rng.integers(-spread, spread + 1))
        if candidate != value and candidate not in misses and (low is None or candidate >= low):
            misses.append(candidate)
    return [str(v) for v in misses]


def _coefficient(value: int) -> str:
    return "" if value == 1 else str(value)


def _fraction(value: Fraction) -> str:
    return str(value.numerator) if value.denominator == 1 else f"{value.numerator}/{value.denominator}"


def _sets(rng):
    a, b, c = int(rng.integers(4, 10)), int(rng.integers(2, 6)), int(rng.integers(6, 12))
    right = max(0, min(a, c) - b + 1)
    return (f"已知集合 A = {{x | 1 ≤ x ≤ {a}, x ∈ Z}},B = {{x | {b} ≤ x ≤ {c}, x ∈ Z}},则 A ∩ B 中元素的个数为",
            str(right), _near(rng, right, 3, low=0))


def _complex(rng):
    a, b, c, d = (int(v) for v in rng.integers(1, 7, 4))
    right = a * c + b * d
    return f"复数 z = ({a} + {_coefficient(b)}i)({c} − {_coefficient(d)}i) 的实部为", str(right), _near(rng, right, 5)


def _function(rng):
    a, b, c = int(rng.integers(1, 5)), int(rng.choice([-5, -3, -2, -1, 1, 2, 3, 5])), int(rng.integers(1, 5))
    right = a * c * c + b
    return f"已知函数 f(x) = {_coefficient(a)}x² {'+' if b >= 0 else '−'} {abs(b)},则 f({c}) 的值为", str(right), \
        _near(rng, right)


def _trigonometry(rng):
    a, w = int(rng.integers(1, 5)), int(rng.choice([1, 2, 3, 4, 6]))

    def period(k: int) -> str:
        value = Fraction(2, k)
        return ("π" if value == 1 else f"{value.numerator}π" if value.denominator == 1
                else f"{'' if value.numerator == 1 else value.numerator}π/{value.denominator}")
    others = [period(k) for k in (1, 2, 3, 4, 6, 8) if k != w]
    picks = rng.choice(len(others), 3, replace=False)
    return f"函数 y = {_coefficient(a)}sin({_coefficient(w)}x) 的最小正周期为", period(w), [others[int(k)] for k in picks]


def _sequence(rng):
    first, step, n = int(rng.integers(1, 9)), int(rng.integers(2, 6)), int(rng.integers(5, 12))
    right = first + (n - 1) * step
    return (f"等差数列的首项为 {first},公差为 {step},则它的第 {n} 项为", str(right), _near(rng, right, step + 2))


def _solid(rng):
    a, b, c = (int(v) for v in rng.integers(2, 7, 3))
    right = 2 * (a * b + b * c + c * a)
    return f"长、宽、高分别为 {a}、{b}、{c} 的长方体的表面积为", str(right), _near(rng, right, 8)


def _probability(rng):
    n = int(rng.integers(5, 13))
    right = Fraction(n // 2, n)
    misses = {_fraction(Fraction(k, n)) for k in range(1, n)} - {_fraction(right)}
    pool = sorted(misses)
    return (f"从 1,2,…,{n} 这 {n} 个整数中随机取一个,取到偶数的概率为", _fraction(right),
            [pool[int(k)] for k in rng.choice(len(pool), 3, replace=False)])


def _geometry(rng):
    k, (x, y) = int(rng.integers(1, 5)), [(3, 4), (5, 12), (6, 8), (8, 15)][int(rng.integers(4))]
    right = k * int(round((x * x + y * y) ** 0.5))
    return f"平面直角坐标系中,点 P({k * x}, {k * y}) 到原点的距离为", str(right), _near(rng, right, 3)


def _derivative(rng):
    a, b, c = int(rng.integers(1, 4)), int(rng.choice([-4, -3, -2, -1, 1, 2, 3, 4])), int(rng.integers(1, 4))
    right = 3 * a * c * c + b
    return (f"已知 f(x) = {_coefficient(a)}x³ {'+' if b >= 0 else '−'} {_coefficient(abs(b))}x,则 f′({c}) 的值为", str(right),
            _near(rng, right, 5))


#: One template per knowledge point of the sample exam; another point gets the function template.
TEMPLATES: dict[str, Callable[[np.random.Generator], Problem]] = {
    "K01": _sets, "K02": _complex, "K03": _function, "K04": _trigonometry, "K05": _sequence, "K06": _solid,
    "K07": _probability, "K08": _geometry, "K09": _derivative}


def _single(rng, problem: Problem, key: str, options: str = "ABCD") -> tuple[str, dict[str, str]]:
    statement, right, misses = problem
    texts = iter(misses)
    return f"{statement}(  )", {label: right if label == key else next(texts) for label in options}


def _statement(problem: Problem, true: bool) -> str:
    statement, right, misses = problem
    return f"{statement} {right if true else misses[0]}"


def _item_for_question(rng, exam: Exam, question) -> Item:
    point = question.knowledge_points[0].id if question.knowledge_points else ""
    make = TEMPLATES.get(point, _function)
    p = question.difficulty if question.difficulty is not None else 0.65
    b = float(np.log((1 - p) / p))
    common = dict(id=question.item_id, subject=exam.subject, type=question.type, points=question.points,
                  knowledge_points=[kp.id for kp in question.knowledge_points],
                  cognitive_level=question.cognitive_level, difficulty=question.difficulty)
    if question.type == "single":
        stem, options = _single(rng, make(rng), question.answers[0], question.options)
        return Item(stem=stem, options=options, answer=question.answers[0],
                    stats=ItemStats(students=400, p=p, rasch_b=b), **common)
    if question.type == "multi":
        key = question.answers[0]
        options = {label: _statement(make(rng), label in key) for label in question.options}
        return Item(stem="下列结论中,正确的是(  )(多选)", options=options, answer=key,
                    stats=ItemStats(students=400, p=p, rasch_b=b), **common)
    if question.type == "truefalse":
        key = question.answers[0]
        return Item(stem=f"判断正误:{_statement(make(rng), key == question.options[0])}。", answer=key,
                    stats=ItemStats(students=400, p=p, rasch_b=b), **common)
    statement, _, _ = make(rng)
    return Item(stem=f"解答题:{statement}多少?{_SUBJECTIVE_TAIL}", stats=ItemStats(students=400, p=p), **common)


def exam_with_item_ids(exam: Exam) -> Exam:
    """The exam with ``item_id`` "demo:<question id>" on every question that has none (ids already given, e.g.
    for the demo's IRT linking, follow the same scheme and are kept)."""
    definition = exam_to_dict(exam)
    for question in definition["questions"]:
        question["item_id"] = question.get("item_id") or f"demo:{question['id']}"
    return Exam.model_validate(definition)


def demo_bank(exam: Exam, *, seed: int = 14, figure: str | None = "cuboid.png") -> Bank:
    """The bank: the exam's items ("demo:Q…", ``exam`` must carry item ids) and :data:`PRACTICE_PER_POINT`
    practice items per knowledge point ("demo:P001"…), deterministic in ``seed``."""
    rng = np.random.default_rng(seed)
    items = [_item_for_question(rng, exam, q) for q in exam.questions if q.item_id]
    points: list[str] = []
    for q in exam.questions:
        points += [kp.id for kp in q.knowledge_points if kp.id not in points]
    number = 0
    for point in points:
        make = TEMPLATES.get(point, _function)
        for k, b in enumerate(np.linspace(-4.0, 3.0, PRACTICE_PER_POINT).tolist()):
            number += 1
            b += float(rng.normal(0, 0.1))
            if number % 13 == 0:
                stats = ItemStats()
            elif number % 7 == 0:  # a classical P from past use only: P of a b-item in a N(0, 1.7²) cohort
                stats = ItemStats(students=120, p=round(float(1 / (1 + np.exp(b * 1.702 / np.hypot(1.702, 1.7)))),
                                                        3))
            else:
                stats = ItemStats(students=300, p=None, rasch_b=round(b, 3))
            level = "识记" if b < -1.5 else "理解" if b < 0.5 else "应用"
            common = dict(id=f"demo:P{number:03d}", subject=exam.subject, knowledge_points=[point],
                          cognitive_level=level, stats=stats)
            if k % 6 == 5:
                key = "T" if rng.random() < 0.5 else "F"
                items.append(Item(type="truefalse", stem=f"判断正误:{_statement(make(rng), key == 'T')}。",
                                  answer=key, **common))
                continue
            key = "ABCD"[int(rng.integers(4))]
            stem, options = _single(rng, make(rng), key)
            image = figure if point == "K06" and k % 4 == 0 else None
            if image:
                stem = "如图所示," + stem
            items.append(Item(type="single", stem=stem, stem_image=image, options=options, answer=key, **common))
    return Bank(items=items)


def _draw_cuboid(path: Path) -> None:
    """A cuboid's wire-frame figure (hidden edges dashed would need more; plain lines suffice for a stem)."""
    from PIL import Image, ImageDraw

    image = Image.new("L", (360, 240), 255)
    draw = ImageDraw.Draw(image)
    front = [(40, 90), (240, 90), (240, 210), (40, 210)]
    back = [(x + 80, y - 60) for x, y in front]
    draw.polygon(front, outline=0, width=3)
    draw.line([back[0], back[1], back[2]], fill=0, width=3)
    for a, b in zip(front[:3], back[:3]):
        draw.line([a, b], fill=0, width=3)
    for a, b in ((back[3], back[0]), (back[3], back[2]), (back[3], front[3])):
        for t in range(0, 20, 2):  # hidden edges dashed
            start = (a[0] + (b[0] - a[0]) * t / 20, a[1] + (b[1] - a[1]) * t / 20)
            end = (a[0] + (b[0] - a[0]) * (t + 1) / 20, a[1] + (b[1] - a[1]) * (t + 1) / 20)
            draw.line([start, end], fill=0, width=2)
    image.save(path)


def write_demo_bank(folder: Path, exam_path: Path, *, seed: int = 14) -> tuple[Path, Path]:
    """Write ``bank.json``, ``images/`` and ``exam.json`` (the exam with item ids) into ``folder``; returns
    (bank path, exam path)."""
    folder.mkdir(parents=True, exist_ok=True)
    exam = exam_with_item_ids(load_exam(exam_path))
    (folder / "images").mkdir(exist_ok=True)
    _draw_cuboid(folder / "images" / "cuboid.png")
    bank_path, linked_exam = folder / "bank.json", folder / "exam.json"
    save_bank(demo_bank(exam, seed=seed), bank_path)
    linked_exam.write_text(json.dumps(exam_to_dict(exam), ensure_ascii=False, indent=1), encoding="utf-8")
    return bank_path, linked_exam
