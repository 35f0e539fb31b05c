"""组卷: a paper that meets its blueprint exactly (every constraint checked here from the exam JSON and the bank,
not from the solver), a clear message when the bank cannot, no item the classes saw recently, no duplicates, and
an exam, answer sheet and paper that grading, OMR and a printer take."""

from __future__ import annotations

import json
import math
import subprocess
from collections import Counter
from datetime import date

import numpy as np
import pytest

from bank_builders import item
from grading.exam import parse_exam, save_exam
from itembank.assemble import AssemblyError, assemble
from itembank.blueprint import parse_blueprint
from itembank.dedupe import bigrams, item_text, jaccard
from itembank.model import Bank, ItemUse
from itembank.paper import paper_exam
from itembank.paper_pdf import write_paper_pdf
from itembank.sheet import answer_sheet
from itembank.simulate import simulated_bank
from omr.render import render_page
from omr.template import expand_page, parse_template
from sample_sheets.printable import render_pdf

CELLS = {("K01", "理解"): 2, ("K01", "应用"): 1, ("K02", "理解"): 1, ("K02", "应用"): 2, ("K03", "理解"): 1,
         ("K03", "应用"): 1, ("K04", "理解"): 1, ("K04", "应用"): 1, ("K05", "理解"): 1, ("K05", "应用"): 1}
SINCE = date(2026, 3, 1)


def _blueprint(**changes):
    data = {"exam_id": "m7-u3", "name": "七年级数学第三单元", "subject": "数学", "grade": "七年级",
            "types": {"single": {"count": 6, "points_each": 4},
                      "multi": {"count": 2, "points_each": 5, "rule": "gaokao", "partial_points": 2},
                      "truefalse": {"count": 2, "points_each": 2}, "subjective": {"count": 2, "points": 22}},
            "cells": [{"knowledge_point": kp, "level": level, "count": n} for (kp, level), n in CELLS.items()],
            "knowledge_point_names": {"K01": "有理数"}, "difficulty": [0.6, 0.7], "item_p": [0.3, 0.9],
            "information": [{"theta": 0, "min": 0.8}], "classes": ["0701"], "unseen_since": SINCE.isoformat(),
            "seed": 2}
    data.update(changes)
    return parse_blueprint(data)


@pytest.fixture(scope="module")
def bank():
    return simulated_bank(1200, seed=5, knowledge_points=5)


def _p(it) -> float:  # the P a blueprint means: measured once 30 answered, else the writer's estimate
    return it.stats.p if it.stats.p is not None and it.stats.students >= 30 else it.difficulty


def _verify(exam, bank, blueprint) -> None:
    """Every constraint of ``blueprint``, recomputed from the exam JSON's questions and the bank's items."""
    items = bank.by_id()
    chosen = [items[q.item_id] for q in exam.questions]
    assert len({q.item_id for q in exam.questions}) == len(exam.questions) == blueprint.item_count
    kinds = Counter(q.type for q in exam.questions)
    for kind, target in blueprint.types.items():
        assert kinds[kind] == target.count
        of_kind = [q.points for q in exam.questions if q.type == kind]
        assert sum(of_kind) == pytest.approx(target.total if target.total is not None else sum(of_kind))
        if target.points_each is not None:
            assert set(of_kind) == {target.points_each}
    assert exam.full_marks == pytest.approx(sum(t.total for t in blueprint.types.values()))
    cells = Counter((kp.id, q.cognitive_level) for q in exam.questions for kp in q.knowledge_points)
    assert cells == Counter({(c.knowledge_point, c.level): c.count for c in blueprint.cells if c.count})
    mean = sum(q.points * _p(it) for q, it in zip(exam.questions, chosen)) / exam.full_marks
    assert blueprint.difficulty[0] - 1e-9 <= mean <= blueprint.difficulty[1] + 1e-9
    assert all(blueprint.item_p[0] <= _p(it) <= blueprint.item_p[1] for it in chosen)
    for target in blueprint.information:
        info = sum(1 / (1 + math.exp(-(target.theta - it.stats.rasch_b))) *
                   (1 - 1 / (1 + math.exp(-(target.theta - it.stats.rasch_b))))
                   for it in chosen if it.stats.rasch_b is not None)
        assert info >= target.min - 1e-9
    for it in chosen:
        assert it.subject == blueprint.subject and it.grade == blueprint.grade
        assert not any(u.date >= blueprint.unseen_since and set(u.classes) & set(blueprint.classes) for u in it.uses)
        assert it.id not in blueprint.exclude
    assert set(blueprint.include) <= {it.id for it in chosen}
    for q, it in zip(exam.questions, chosen):
        assert q.answers == ([it.answer] if it.type != "subjective" else [])
        assert q.options == ("".join(it.options) or ("TF" if it.type == "truefalse" else ""))
    sets = [bigrams(item_text(it)) for it in chosen]
    assert all(jaccard(sets[a], sets[b]) < 0.9 for a in range(len(sets)) for b in range(a + 1, len(sets)))


def test_a_paper_meets_its_blueprint_exactly(bank, tmp_path):
    fixed = next(it for it in bank.items if it.type == "single" and it.knowledge_points == ["K03"]
                 and it.cognitive_level == "理解" and not it.uses and 0.55 <= (_p(it) or 0) <= 0.75)
    blueprint = _blueprint(include=[fixed.id], exclude=["M00001", "M00002"])
    paper = assemble(bank, blueprint)
    save_exam(paper_exam(paper, template_id="m7-u3-sheet"), tmp_path / "exam.json")
    exam = parse_exam((tmp_path / "exam.json").read_text(encoding="utf-8"))  # what grading will read
    _verify(exam, bank, blueprint)
    with pytest.raises(AssertionError):  # the check can fail: the same paper against a harder band
        _verify(exam, bank, _blueprint(difficulty=[0.3, 0.4]))
    assert [q.id for q in exam.questions] == [f"Q{k}" for k in range(1, 13)]
    assert [q.type for q in exam.questions] == ["single"] * 6 + ["multi"] * 2 + ["truefalse"] * 2 + ["subjective"] * 2
    assert {q.rule for q in exam.questions if q.type == "multi"} == {"gaokao"}
    assert [s.name for s in exam.sections] == ["一、单项选择题", "二、多项选择题", "三、判断题", "四、解答题"]
    assert any(kp.name == "有理数" for q in exam.questions for kp in q.knowledge_points if kp.id == "K01")


def test_another_seed_another_paper_to_the_same_blueprint(bank):
    one, other = assemble(bank, _blueprint(seed=1)), assemble(bank, _blueprint(seed=9))
    assert {it.id for it in one.items} != {it.id for it in other.items}
    for paper in (one, other):
        _verify(paper_exam(paper), bank, paper.blueprint)


def test_a_cell_the_bank_cannot_fill_is_named_with_what_it_has():
    seen = [ItemUse(exam_id="mid", date=date(2026, 4, 1), classes=["0701"])]
    bank = Bank(items=[item("F1", "函数应用题一：求 f(2)。", kp="函数"),
                       item("F2", "函数应用题二：求 f(3) 的值。", kp="函数", uses=seen),
                       item("F3", "函数应用题三：求 f(4) 与 f(5) 的和。", kp="函数", uses=seen),
                       item("G1", "几何理解题：说明理由。", kp="几何", level="理解")])
    blueprint = parse_blueprint({"exam_id": "x", "subject": "数学", "types": {"single": {"count": 3}},
                                 "cells": [{"knowledge_point": "函数", "level": "应用", "count": 3}],
                                 "classes": ["0701"], "unseen_since": "2026-03-01"})
    with pytest.raises(AssemblyError) as caught:
        assemble(bank, blueprint)
    assert caught.value.problems == [
        "题型 单项选择题 (single) needs 3 items, the bank has 1 unseen",
        "知识点 函数 × 应用 needs 3 items, the bank has 1 unseen (2 more seen by 0701 since 2026-03-01)"]


def test_constraints_that_conflict_only_together_are_explained():
    bank = Bank(items=[item("E1", "容易题一：计算 1+1。", p=0.9), item("E2", "容易题二：计算 2+2 的结果。", p=0.9),
                       item("H1", "难题一：证明费马小定理的一个特例。", p=0.3), item("H2", "难题二：求这个级数的和。", p=0.3)])
    blueprint = parse_blueprint({"exam_id": "x", "subject": "数学", "types": {"single": {"count": 2}},
                                 "difficulty": [0.75, 0.8]})
    with pytest.raises(AssemblyError) as caught:
        assemble(bank, blueprint)
    [problem] = caught.value.problems
    assert problem.startswith("difficulty: the mean P must lie in [0.75, 0.8]; the closest paper meeting the other "
                              "constraints has ")
    assert float(problem.rsplit(" ", 1)[1]) in (0.6, 0.9)


def test_no_item_a_class_saw_since_the_date(bank):
    blueprint = _blueprint()
    unseen = assemble(bank, blueprint)
    recent = [u for it in unseen.items for u in it.uses if u.date >= SINCE and "0701" in u.classes]
    assert recent == []
    assert sum(bool(it.uses) for it in bank.items) > 300  # the generated bank has many used items to avoid


def test_seen_means_this_class_on_or_after_the_date():
    def used(cls: str, day: date) -> list[ItemUse]:
        return [ItemUse(exam_id="past", date=day, classes=[cls])]
    bank = Bank(items=[item("F1", "题一：化简 3a+2a。", uses=used("0701", SINCE)),  # seen on the day itself
                       item("F2", "题二：解方程 x+5=9 并检验。", uses=used("0702", date(2026, 4, 1))),  # another class
                       item("F3", "题三：比较 -3 与 -5 的大小并说明理由。", uses=used("0701", date(2026, 2, 28)))])  # before
    blueprint = {"exam_id": "x", "subject": "数学", "types": {"single": {"count": 2}}, "classes": ["0701"],
                 "unseen_since": SINCE.isoformat()}
    assert {it.id for it in assemble(bank, parse_blueprint(blueprint)).items} == {"F2", "F3"}
    blueprint["types"]["single"]["count"] = 3
    with pytest.raises(AssemblyError, match="单项选择题 .* needs 3 items, the bank has 2 unseen"):
        assemble(bank, parse_blueprint(blueprint))


def test_no_two_duplicates_on_a_paper():
    stem = "已知一次函数 y=kx+b 的图像经过点 (1, 3) 和 (2, 5)，求这个函数的解析式，并判断点 (3, 7) 是否在图像上。"
    copy = stem.replace("，", ", ").replace("解析式", "解析式子")
    bank = Bank(items=[item("A", stem, p=0.62), item("A2", copy, p=0.63), item("B", "另一道题：求 2x=6 的解。", p=0.55)])
    paper = assemble(bank, parse_blueprint({"exam_id": "x", "subject": "数学", "types": {"single": {"count": 2}},
                                            "difficulty": [0.55, 0.7]}))
    assert paper.duplicate_cuts == 1  # the solver's first choice, A and A2, was cut
    assert {it.id for it in paper.items} in ({"A", "B"}, {"A2", "B"})


def test_the_exam_sheet_and_paper_can_be_printed_and_read(bank, tmp_path):
    paper = assemble(bank, _blueprint())
    exam = paper_exam(paper, template_id="m7-u3-sheet")
    sheet = answer_sheet(exam, template_id="m7-u3-sheet", title="七年级数学 答题卡")
    template = parse_template(json.dumps(sheet.model_dump(mode="json")))  # the sheet.json validates on load
    groups = {g.id: g for n in range(1, len(template.pages) + 1) for g in expand_page(template, n).groups}
    for q in exam.questions:  # every objective question has its bubbles, every written one a score box
        if q.type == "subjective":
            assert any(getattr(f, "question", None) == q.id and f.kind == "score_box"
                       for page in template.pages for f in page.fields)
        else:
            assert "".join(b.label for b in groups[q.id].bubbles) == q.options
            assert groups[q.id].select == ("multi" if q.type == "multi" else "single")
    from grading.exam_io import template_problems
    assert template_problems(exam, template) == []
    image = render_page(expand_page(template, 1), 100)
    assert image.shape == (round(297 / 25.4 * 100), round(210 / 25.4 * 100)) and (image < 128).mean() > 0.01
    render_pdf(template, tmp_path / "sheet.pdf")
    pages = write_paper_pdf(paper, exam, tmp_path / "paper.pdf", title="七年级数学第三单元")
    assert pages >= 1 and (tmp_path / "sheet.pdf").read_bytes().startswith(b"%PDF")
    text = subprocess.run(["pdftotext", str(tmp_path / "paper.pdf"), "-"], capture_output=True, text=True,
                          check=True).stdout
    assert "一、单项选择题" in text and "七年级数学第三单元" in text
    first_stem = paper.items[0].stem
    assert first_stem[:6] in text.replace("\n", "")
    assert np.isfinite(paper.expected_p)


def test_a_sheet_filled_with_the_key_is_read_back(bank):
    """The assembled paper's answer sheet, filled in with the exam's key and full scores, printed and scanned by the
    simulator, reads back mark for mark: the paper can be sat and scanned."""
    from omr.batch import decode_min_side_px
    from omr.load import load_array
    from omr.read import prepare_template, read_page
    from sample_sheets.evaluate import Accuracy, compare_page
    from sample_sheets.simulate import SheetTruth, simulate_sheet

    exam = paper_exam(assemble(bank, _blueprint()), template_id="m7-u3-sheet")
    template = answer_sheet(exam, template_id="m7-u3-sheet")
    truth = SheetTruth(template_id=template.id, sheet_index=0, student_id="2026070105", absent=False,
                       answers={q.id: q.answers[0] for q in exam.questions if q.type != "subjective"},
                       scores={q.id: q.points - 0.5 for q in exam.questions if q.type == "subjective"},
                       barcode="", pages=len(template.pages))
    prepared = prepare_template(template)
    accuracy = Accuracy()
    for sim in simulate_sheet(template, truth, seed=7, profile="clean", dpi=150):
        image = load_array(sim.jpeg, reduce_jpeg_to_min_px=decode_min_side_px(template))[0].image \
            if sim.jpeg else sim.image
        accuracy += compare_page(read_page(image, prepared, source="sheet", page_index=sim.page - 1), sim.truth,
                                 template)
    assert accuracy.pages_read == len(template.pages)
    assert accuracy.wrong_sure == 0 and accuracy.ids_wrong_sure == 0, accuracy.wrong_examples
    assert accuracy.correct_sure == accuracy.groups > len(exam.questions), accuracy.line()
