"""The demo's 题库: the exam's items under "demo:<question id>" with the exam's keys, practice items "demo:P001"…
for every knowledge point, the same bank for the same seed."""

from __future__ import annotations

from api.demo import SAMPLE_EXAM
from api.demo_bank import PRACTICE_PER_POINT, demo_bank, exam_with_item_ids, write_demo_bank
from grading.exam import load_exam
from itembank.store import load_bank


def test_demo_bank_follows_the_exam_and_the_id_scheme(tmp_path):
    exam = exam_with_item_ids(load_exam(SAMPLE_EXAM))
    assert [q.item_id for q in exam.questions] == [f"demo:{q.id}" for q in exam.questions]
    bank = demo_bank(exam)
    items = bank.by_id()
    for q in exam.questions:
        item = items[q.item_id]
        assert item.type == q.type and item.knowledge_points == [kp.id for kp in q.knowledge_points]
        assert item.answer == (q.answers[0] if q.answers else "")
        assert (item.stats.rasch_b is None) == (q.type == "subjective")
    points = {kp.id for q in exam.questions for kp in q.knowledge_points}
    practice = [i for i in bank.items if i.id.startswith("demo:P")]
    assert len(practice) == PRACTICE_PER_POINT * len(points)
    assert [i.id for i in practice][:2] == ["demo:P001", "demo:P002"]
    assert {kp for i in practice for kp in i.knowledge_points} == points
    assert demo_bank(exam) == bank  # deterministic
    bank_path, exam_path = write_demo_bank(tmp_path, SAMPLE_EXAM)
    assert load_bank(bank_path) == bank and load_exam(exam_path) == exam
    assert (tmp_path / "images" / "cuboid.png").is_file()
