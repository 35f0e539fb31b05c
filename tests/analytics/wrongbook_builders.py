"""A small item bank for the sample exam, for the 错题本 and practice tests (independent of the demo's generator)."""

from __future__ import annotations

import numpy as np

from grading.exam import Exam, exam_to_dict
from itembank.model import Bank, Item, ItemStats

PRACTICE_B = np.repeat(np.linspace(-4.0, 4.0, 15), 2)  # pairs of equal b: the seed decides between them


def exam_with_ids(exam: Exam, *, unlinked: tuple[str, ...] = (), missing: tuple[str, ...] = ()) -> Exam:
    """The exam with item id "t:<Q>" on every question, none on ``unlinked``, "t:missing-<Q>" (not in the bank)
    on ``missing``."""
    definition = exam_to_dict(exam)
    for q in definition["questions"]:
        if q["id"] in unlinked:
            q.pop("item_id", None)
        else:
            q["item_id"] = f"t:missing-{q['id']}" if q["id"] in missing else f"t:{q['id']}"
    return Exam.model_validate(definition)


def stem_of(question_id: str, point: str) -> str:
    return f"第{question_id[1:]}题题干:关于{point}的问题,请选出正确答案。"


def bank_for(exam: Exam, *, every_b: bool = False, image: str | None = None) -> Bank:
    """Items for the exam's linked questions (Rasch b = −logit(expected P); written questions only with
    ``every_b``) and 30 practice items "t:P…" per knowledge point; ``image`` goes on Q1's item."""
    items = []
    points: dict[str, str] = {}
    for q in exam.questions:
        for kp in q.knowledge_points:
            points.setdefault(kp.id, kp.name)
        if not q.item_id or q.item_id.startswith("t:missing"):
            continue
        p = q.difficulty or 0.6
        b = float(np.log((1 - p) / p)) if (q.type != "subjective" or every_b) else None
        name = q.knowledge_points[0].name if q.knowledge_points else "综合"
        options = {label: f"选项{label}" for label in q.options} if q.type in ("single", "multi") else {}
        items.append(Item(id=q.item_id, subject=exam.subject, type=q.type, stem=stem_of(q.id, name),
                          stem_image=image if q.id == "Q1" else None, options=options,
                          answer=q.answers[0] if q.answers else "", points=q.points,
                          knowledge_points=[kp.id for kp in q.knowledge_points],
                          stats=ItemStats(students=300, p=p, rasch_b=b)))
    number = 0
    for point, name in points.items():
        for b in PRACTICE_B.tolist():
            number += 1
            items.append(Item(id=f"t:P{number:03d}", subject=exam.subject, type="single",
                              stem=f"练习{number}:{name}的巩固题。", options={"A": "甲", "B": "乙", "C": "丙", "D": "丁"},
                              answer="ABCD"[number % 4], knowledge_points=[point],
                              stats=ItemStats(students=300, rasch_b=b)))
    return Bank(items=items)
