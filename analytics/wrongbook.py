"""错题本: per student after an exam, the questions they got wrong or partly wrong — the stem from the item bank
(through the question's ``item_id``), what they answered as read, the key, the points lost and the knowledge points
— and a practice set for each weak knowledge point (:mod:`analytics.practice`).

A question with no ``item_id``, or whose item is not in the bank, is still listed (number, answer, key) with a
note saying why its stem is missing. Weak points are the report's (:mod:`analytics.student_report`): the student's
lowest knowledge-point rates against the grade, those below it. Pure functions over an
:class:`~analytics.analysis.Analysis` and a :class:`itembank.model.Bank`; the PDF and files are written by
:mod:`analytics.wrongbook_pdf`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Literal, Mapping

import numpy as np

from analytics.analysis import Analysis
from analytics.model import ExamData, clean_float, jsonable
from analytics.practice import (MIN_P_STUDENTS, AbilityScale, Candidate, PracticeSet, ability_on_bank_scale,
                                pick_items, point_pools)
from grading.mark import mask_to_letters
from itembank.model import Bank, Item

__all__ = ["WrongQuestion", "StudentWrongbook", "Wrongbook", "build_wrongbook", "wrongbook_json",
           "answered_items"]

_EPS = 1e-9


@dataclass(frozen=True)
class WrongQuestion:
    """One question the student lost points on.

    ``answer_read`` is the letters read from the sheet ('' when blank; '' for a written question, whose score is
    what was read); ``key`` the accepted answers ('C 或 D'), '' for a written question; ``kind`` 'wrong' (no
    points) or 'partial'; ``note`` says, in Chinese, why the stem is missing when it is.
    """

    question_id: str
    item_id: str | None
    question_type: str
    stem: str
    stem_image: str | None
    options: tuple[tuple[str, str], ...]
    answer_read: str
    key: str
    score: float
    points: float
    knowledge_points: tuple[str, ...]
    kind: Literal["wrong", "partial"]
    note: str = ""

    @property
    def lost(self) -> float:
        return self.points - self.score


@dataclass(frozen=True)
class StudentWrongbook:
    """One student's 错题本: who, the total, θ on the practice scale, the wrong questions and the practice sets."""

    row: int
    exam_id: str
    student_no: str
    name: str
    class_name: str
    school_code: str
    total: float
    theta: float
    theta_se: float
    wrong: tuple[WrongQuestion, ...]
    practice: tuple[PracticeSet, ...]


@dataclass(frozen=True)
class Wrongbook:
    """Every chosen student's 错题本 for one exam, the ability scale used, and notes for the teacher."""

    exam_id: str
    exam_name: str
    subject: str
    full_marks: float
    scale: AbilityScale
    students: tuple[StudentWrongbook, ...]
    notes: tuple[str, ...]


def answered_items(data: ExamData) -> dict[str, set[str]]:
    """学籍号 -> the bank item ids of ``data``'s exam, for every graded student with a 学籍号 (an earlier exam's
    students, linked across exams by 学籍号 as the reports link them; 考号 change)."""
    ids = {q.item_id for q in data.exam.questions if q.item_id}
    if not ids:
        return {}
    graded = data.graded
    return {str(no): set(ids) for no, sat in zip(data.student_nos.tolist(), graded.tolist()) if sat and no}


def _key_text(question) -> str:
    return " 或 ".join(question.answers) if question.type != "subjective" else ""


def _wrong_questions(data: ExamData, row: int, questions: list, items: Mapping[str, Item],
                     point_names: list[tuple[str, ...]]) -> list[WrongQuestion]:
    wrong = []
    scores = data.scores[row]
    for j in np.flatnonzero(np.isfinite(scores) & (scores < data.points - _EPS)).tolist():
        score, points, q = float(scores[j]), float(data.points[j]), questions[j]
        item = items.get(q.item_id) if q.item_id else None
        if q.item_id is None:
            note = "本题未关联题库(试卷中无题库编号),题干请看试卷。"
        elif item is None:
            note = f"题库中没有编号为 {q.item_id} 的题目,题干请看试卷。"
        else:
            note = ""
        read = "" if q.type == "subjective" else mask_to_letters(int(data.masks[row, j]), q.options)
        wrong.append(WrongQuestion(
            question_id=q.id, item_id=q.item_id, question_type=q.type, stem=item.stem if item else "",
            stem_image=item.stem_image if item else None,
            options=tuple(item.options.items()) if item else (), answer_read=read, key=_key_text(q),
            score=score, points=points, knowledge_points=point_names[j],
            kind="partial" if score > _EPS else "wrong", note=note))
    return wrong


def _candidates(bank_items: Iterable[Item], subject: str) -> list[Candidate]:
    return [Candidate(item.id, tuple(item.knowledge_points), item.stats.rasch_b, item.stats.p, item.stats.students)
            for item in bank_items if item.subject == subject]


def build_wrongbook(analysis: Analysis, bank: Bank, *, answered_before: Mapping[str, set[str]] | None = None,
                    classes: Iterable[str] | None = None, count: int = 3, seed: int = 0,
                    use_p: bool = True) -> Wrongbook:
    """The 错题本 of every graded student (of ``classes`` when given: class names as in the roster).

    Parameters
    ----------
    analysis : the exam's :func:`analytics.analysis.analyse` result (weak points, scores, answers read)
    bank : the item bank; stems come from it by ``Question.item_id``, practice items from its items of the
        exam's subject
    answered_before : 学籍号 -> item ids the student answered in earlier exams (:func:`answered_items`)
    count : practice items wanted per weak point
    seed : the practice order's seed (the same seed gives the same sets)
    use_p : place items that have a classical P but no Rasch b on the scale (else leave them out)
    """
    data, s, bp = analysis.data, analysis.students, analysis.blueprint
    exam = data.exam
    items = bank.by_id()
    questions = [exam.question(qid) for qid in data.item_ids]
    bank_b = [items[q.item_id].stats.rasch_b if q.item_id in items else None for q in questions]
    scale = ability_on_bank_scale(data.scores, data.points, data.graded, bank_b,
                                  correct_at=analysis.config.correct_at)
    names = dict(zip(bp.point_ids, bp.point_names))
    point_names = [tuple(names.get(kp.id) or kp.name or kp.id for kp in q.knowledge_points) for q in questions]
    candidates = _candidates(bank.items, exam.subject)
    pools = point_pools(candidates, mean=scale.mean, sigma=scale.sigma, use_p=use_p)
    exam_items = {q.item_id for q in exam.questions if q.item_id}
    notes = [scale.method_zh()]
    unlinked = [q.id for q in questions if not q.item_id]
    missing = [q.id for q in questions if q.item_id and q.item_id not in items]
    if unlinked:
        notes.append(f"未关联题库的题目(错题中只列题号、作答与答案):{'、'.join(unlinked)}。")
    if missing:
        notes.append(f"题库中找不到的题目:{'、'.join(missing)}。")
    if not bp.point_ids:
        notes.append("试卷没有标注知识点(双向细目表),无法确定薄弱知识点,只列错题。")
    elif not candidates:
        notes.append(f"题库中没有“{exam.subject}”学科的题目,无法生成巩固练习。")
    wanted = None if classes is None else set(classes)
    before = answered_before or {}
    students = []
    for i, row in enumerate(s.rows.tolist()):
        class_name = str(data.classes[row])
        if wanted is not None and class_name not in wanted:
            continue
        student_no, exam_id = str(data.student_nos[row]), str(data.exam_ids[row])
        seen = set(exam_items) | set(before.get(student_no, ()) if student_no else ())
        practice = []
        for t, gap in zip(s.weakest[i].tolist(), s.weakest_gaps[i].tolist()):
            if not (np.isfinite(gap) and gap < 0):
                continue
            chosen = pick_items(float(scale.theta[row]), bp.point_ids[t], bp.point_names[t] or bp.point_ids[t],
                                pools.get(bp.point_ids[t]), seen, count=count, seed=seed,
                                student=student_no or exam_id)
            seen |= {item.item_id for item in chosen.items}  # an item covering two weak points is given once
            practice.append(chosen)
        students.append(StudentWrongbook(
            row=row, exam_id=exam_id, student_no=student_no, name=str(data.names[row]), class_name=class_name,
            school_code=str(data.schools[row]), total=float(data.totals[row]), theta=float(scale.theta[row]),
            theta_se=float(scale.theta_se[row]),
            wrong=tuple(_wrong_questions(data, row, questions, items, point_names)), practice=tuple(practice)))
    students.sort(key=lambda st: (st.class_name, st.exam_id))
    from_p = sum(it.b_source == "p" for st in students for ps in st.practice for it in ps.items)
    notes.append(f"题库中没有 Rasch 难度、但有 {MIN_P_STUDENTS} 人以上历史得分率 P 的题目,按 P 换算到同一标尺"
                 f"(本次选用 {from_p} 道);两者都没有的题目不选。" if use_p else
                 "题库中没有 Rasch 难度的题目不选(不按历史得分率换算)。")
    return Wrongbook(exam.id, exam.name or exam.id, exam.subject, data.full_marks, scale, tuple(students),
                     tuple(notes))


def _item_json(item: Item | None, *, answer: bool) -> dict[str, Any]:
    if item is None:
        return {}
    document: dict[str, Any] = {"stem": item.stem, "stem_image": item.stem_image, "options": dict(item.options),
                                "type": item.type}
    if answer:
        document["answer"] = item.answer
    return document


def wrongbook_json(book: Wrongbook, bank: Bank) -> dict[str, Any]:
    """The 错题本 as JSON for the service: per student, the wrong questions and the practice sets with the items'
    stems and options (each practice item's key under ``answer``)."""
    items = bank.by_id()
    scale = book.scale
    return {
        "exam_id": book.exam_id, "exam_name": book.exam_name, "subject": book.subject,
        "scale": {"source": scale.source, "method": scale.method_zh(), "mean": clean_float(scale.mean),
                  "sigma": clean_float(scale.sigma), "anchored_questions": int(scale.anchored.sum())},
        "notes": list(book.notes),
        "students": [{
            "exam_id": st.exam_id, "student_no": st.student_no, "name": st.name, "class": st.class_name,
            "school_code": st.school_code, "total": clean_float(st.total), "theta": clean_float(st.theta, 4),
            "theta_se": clean_float(st.theta_se, 4),
            "wrong": [{"question": w.question_id, "item_id": w.item_id, "type": w.question_type, "kind": w.kind,
                       "answer_read": w.answer_read, "key": w.key, "score": clean_float(w.score),
                       "points": clean_float(w.points), "lost": clean_float(w.lost),
                       "knowledge_points": list(w.knowledge_points), "note": w.note,
                       **_item_json(items.get(w.item_id) if w.item_id else None, answer=False)}
                      for w in st.wrong],
            "practice": [{"point_id": ps.point_id, "point": ps.point_name, "wanted": ps.wanted,
                          "shortage": ps.shortage,
                          "items": [{**jsonable({"item_id": it.item_id, "b": it.b, "b_source": it.b_source,
                                                 "p_correct": it.p_correct}, 4),
                                     **_item_json(items.get(it.item_id), answer=True)} for it in ps.items]}
                         for ps in st.practice],
        } for st in book.students],
    }
