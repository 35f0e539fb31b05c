"""An assembled paper as an exam: the exam JSON (key, points, blueprint labels, item ids) that grading reads."""

from __future__ import annotations

from grading.exam import Exam, ExamError, parse_exam
from itembank.assemble import Paper, expected_p
from itembank.blueprint import TYPE_NAMES, TYPE_ORDER

__all__ = ["paper_exam", "section_heading", "CHINESE_NUMERALS"]

CHINESE_NUMERALS = "一二三四五六七八九十"
_SECTION_IDS = ("I", "II", "III", "IV")


def section_heading(position: int, kind: str) -> str:
    """``一、单项选择题`` for the first part of single-choice items."""
    return f"{CHINESE_NUMERALS[position]}、{TYPE_NAMES[kind]}"


def paper_exam(paper: Paper, *, template_id: str | None = None) -> Exam:
    """The exam of ``paper``: Q1 … in paper order, each with its item's key, options, knowledge points, cognitive
    level, expected difficulty and ``item_id``; one section per question type.

    Raises
    ------
    ExamError
        When an item cannot be a question (e.g. option labels that are not letters), naming the item.
    """
    blueprint = paper.blueprint
    kinds = [kind for kind in TYPE_ORDER if any(item.type == kind for item in paper.items)]
    sections = [{"id": _SECTION_IDS[TYPE_ORDER.index(kind)], "name": section_heading(k, kind)}
                for k, kind in enumerate(kinds)]
    questions = []
    for number, (item, points) in enumerate(zip(paper.items, paper.points), start=1):
        question: dict = {
            "id": f"Q{number}", "type": item.type, "points": points,
            "knowledge_points": [{"id": kp, "name": blueprint.knowledge_point_names.get(kp, kp)}
                                 for kp in item.knowledge_points],
            "cognitive_level": item.cognitive_level, "section": _SECTION_IDS[TYPE_ORDER.index(item.type)],
            "item_id": item.id,
        }
        if (p := expected_p(item)) is not None:
            question["difficulty"] = p
        if item.type != "subjective":
            question["options"] = "".join(item.options) or "TF"
            question["answers"] = [item.answer]
        if item.type == "multi":
            target = blueprint.types["multi"]
            question["rule"] = target.rule or "all_or_nothing"
            if target.partial_points is not None:
                question["partial_points"] = target.partial_points
        questions.append(question)
    data = {"id": blueprint.exam_id, "name": blueprint.name, "subject": blueprint.subject,
            "full_marks": paper.full_marks, "template": template_id, "sections": sections, "questions": questions}
    try:
        return parse_exam({k: v for k, v in data.items() if v is not None})
    except ExamError as error:
        message = str(error)
        for number, item in sorted(enumerate(paper.items, start=1), reverse=True):  # Q12 before Q1
            message = message.replace(f"Q{number}:", f"Q{number} (item {item.id}):")
        raise ExamError(message) from None
