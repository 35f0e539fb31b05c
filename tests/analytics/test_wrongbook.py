"""错题本: the wrong questions are the grade's, with the bank's stems; a question without a bank item is still listed;
the PDF shows the stems in Chinese and ends with the class's answer key; the CLI writes it."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess

import numpy as np
import pytest
from PIL import Image

from analytics.analysis import analyse
from analytics.load import load_grade_output
from analytics.wrongbook import answered_items, build_wrongbook, wrongbook_json
from analytics.wrongbook_pdf import write_wrongbooks
from analytics_builders import sample_exam
from grading.exam import save_exam
from wrongbook_builders import bank_for, exam_with_ids, stem_of


def _pdftotext(path) -> str:
    tool = shutil.which("pdftotext")
    assert tool, "pdftotext not found: run `make system-deps` (installs poppler-utils)"
    return subprocess.run([tool, "-layout", str(path), "-"], capture_output=True, text=True, timeout=60,
                          check=True).stdout


@pytest.fixture(scope="module")
def book_inputs(graded_folder, tmp_path_factory):
    """Q5 has no item id, Q7's item is not in the bank; Q1's item has a figure in the bank's image folder."""
    exam = exam_with_ids(sample_exam(), unlinked=("Q5",), missing=("Q7",))
    folder = tmp_path_factory.mktemp("bank")
    (folder / "images").mkdir()
    Image.new("L", (120, 80), 200).save(folder / "images" / "figure.png")
    bank = bank_for(exam, image="figure.png")
    (folder / "bank.json").write_text(bank.model_dump_json(), encoding="utf-8")
    save_exam(exam, folder / "exam.json")
    return analyse(load_grade_output(graded_folder, exam)), bank, folder


def _answers_given(graded_folder) -> dict[str, dict[str, str]]:
    """考号 -> question -> the letters the student marked (the responses table the grade was made from)."""
    with open(graded_folder.parent / "inputs" / "responses.csv", encoding="utf-8-sig", newline="") as handle:
        return {row["考号"]: row for row in csv.DictReader(handle)}


def test_the_wrong_questions_are_the_grades_with_stems_from_the_bank(book_inputs, graded_folder):
    analysis, bank, _ = book_inputs
    exam = analysis.data.exam
    # the grade as `yuejuan grade` wrote it, read again on its own
    grade = load_grade_output(graded_folder, sample_exam())
    given = _answers_given(graded_folder)
    book = build_wrongbook(analysis, bank)
    assert len(book.students) == int(grade.graded.sum())
    for st in book.students:
        row = int(np.flatnonzero(grade.exam_ids == st.exam_id)[0])
        lost = [q for j, q in enumerate(grade.item_ids) if grade.scores[row, j] < grade.points[j] - 1e-9]
        assert [w.question_id for w in st.wrong] == lost
        for w in st.wrong:
            q = exam.question(w.question_id)
            j = grade.item_ids.index(w.question_id)
            assert w.lost == pytest.approx(grade.points[j] - grade.scores[row, j])
            assert w.kind == ("partial" if grade.scores[row, j] > 0 else "wrong")
            if q.type != "subjective":
                assert w.answer_read == given[st.exam_id][w.question_id]
                assert w.key == " 或 ".join(q.answers)
            if w.question_id == "Q5":  # no item id: still listed, with the reason and no stem
                assert w.item_id is None and w.stem == "" and "未关联题库" in w.note
            elif w.question_id == "Q7":
                assert w.stem == "" and "题库中没有" in w.note and "t:missing-Q7" in w.note
            else:
                assert w.stem == stem_of(w.question_id, q.knowledge_points[0].name) and not w.note
    assert any(w.question_id == "Q5" for st in book.students for w in st.wrong)
    assert any("Q5" in note for note in book.notes) and any("Q7" in note for note in book.notes)


def test_pdf_per_class_shows_stems_in_chinese_and_ends_with_the_answer_key(book_inputs, tmp_path):
    analysis, bank, folder = book_inputs
    book = build_wrongbook(analysis, bank, classes=["高一(2)班"], seed=1)
    written = write_wrongbooks(book, bank, tmp_path, image_dir=folder / "images")
    assert [p.name for p in written] == ["wrongbook_高一(2)班.pdf", "wrongbook.json"]
    text = _pdftotext(written[0])
    pages = text.split("\f")
    students = book.students
    assert students and all(st.class_name == "高一(2)班" for st in students)
    for st in students:
        assert st.name in text
        for w in st.wrong:
            if w.stem:
                assert w.stem[:12] in text  # the bank's Chinese stem, as printed
    assert "错题本" in pages[0] and "一、错题订正" in pages[0] and "二、巩固练习" in text
    assert "本题未关联题库" in text and "题库中没有编号为 t:missing-Q7" in text
    key_page = "\n".join(p for p in pages if "参考答案" in p)
    assert key_page and text.rfind("参考答案") > text.rfind("二、巩固练习")  # the key comes last
    items = bank.by_id()
    for st in students:
        practice = [it.item_id for ps in st.practice for it in ps.items]
        for it in practice:
            assert items[it].stem in text.replace("\n", "")
        if practice:
            assert f"1. {items[practice[0]].answer}" in key_page
    document = json.loads(written[1].read_text(encoding="utf-8"))
    assert document == json.loads(json.dumps(wrongbook_json(book, bank)))
    assert [s["exam_id"] for s in document["students"]] == [st.exam_id for st in students]


def test_a_stem_image_that_cannot_be_printed_is_named_on_the_page(book_inputs, tmp_path):
    analysis, bank, folder = book_inputs
    (tmp_path / "images").mkdir()
    Image.new("L", (10, 10)).save(tmp_path / "outside.png")
    (tmp_path / "images" / "fake.png").write_bytes(b"not an image")
    names = {"t:Q1": "../outside.png", "t:Q2": "fake.png", "t:Q3": "gone.png"}
    items = [item.model_copy(update={"stem_image": names[item.id]}) if item.id in names else item
             for item in bank.items]
    pictured = bank.model_copy(update={"items": items})
    book = build_wrongbook(analysis, pictured)
    lost = {w.question_id for st in book.students for w in st.wrong}
    assert {"Q1", "Q2", "Q3"} <= lost
    text = "".join(_pdftotext(p) for p in write_wrongbooks(book, pictured, tmp_path / "out",
                                                          image_dir=tmp_path / "images")[:-1]).replace("\n", "")
    for name in names.values():
        assert f"题干图片 {name} 未印出" in text
    without = "".join(_pdftotext(p) for p in write_wrongbooks(book, pictured, tmp_path / "none")[:-1])
    assert "未印出:没有题库图片文件夹" in without


def test_earlier_exams_items_count_as_answered(book_inputs):
    analysis, _, _ = book_inputs
    answered = answered_items(analysis.data)
    graded = analysis.data.student_nos[analysis.data.graded].tolist()
    assert set(answered) == set(graded) and answered[graded[0]] == {
        q.item_id for q in analysis.data.exam.questions if q.item_id}


def test_cli_writes_one_class_and_refuses_an_unknown_one(book_inputs, graded_folder, tmp_path, capsys):
    from api.cli import main

    _, _, folder = book_inputs
    base = ["report", "--exam", str(folder / "exam.json"), "--scores", str(graded_folder),
            "--wrongbook", str(folder / "bank.json")]
    assert main([*base, "--out", str(tmp_path / "bad"), "--wrongbook-class", "高三(9)班"]) == 2
    assert "--wrongbook-class 高三(9)班: no graded student" in capsys.readouterr().err
    assert not (tmp_path / "bad").exists()  # refused before anything was written
    broken = tmp_path / "broken.json"
    broken.write_text('{"items": [{"id": "a b", "subject": "数学", "type": "single", "stem": "x"}]}', encoding="utf-8")
    assert main([*base[:-1], str(broken), "--out", str(tmp_path / "bad")]) == 2
    assert "broken.json" in capsys.readouterr().err and not (tmp_path / "bad").exists()
    assert main([*base, "--out", str(tmp_path / "ok"), "--wrongbook-class", "高一(1)班", "--practice-items", "2"]) == 0
    assert "错题本: 12 students" in capsys.readouterr().out
    assert sorted(p.name for p in (tmp_path / "ok").glob("wrongbook*")) == ["wrongbook.json", "wrongbook_高一(1)班.pdf"]
    document = json.loads((tmp_path / "ok" / "wrongbook.json").read_text(encoding="utf-8"))
    assert all(ps["wanted"] == 2 for s in document["students"] for ps in s["practice"])


def test_stems_are_printed_as_text_never_as_markup(book_inputs, tmp_path):
    analysis, bank, _ = book_inputs
    hostile = "若 a<b 且 b>c & d,<font size=40>大</font> <para"
    items = [item.model_copy(update={"stem": hostile}) if item.id == "t:Q1" else item for item in bank.items]
    marked = bank.model_copy(update={"items": items})
    book = build_wrongbook(analysis, marked, classes=["高一(1)班"])
    assert any(w.question_id == "Q1" for st in book.students for w in st.wrong)
    path = write_wrongbooks(book, marked, tmp_path)[0]
    assert "若 a<b 且 b>c & d,<font size=40>大</font> <para" in _pdftotext(path)


def test_a_bank_of_another_subject_gives_no_practice_and_says_so(book_inputs):
    analysis, bank, _ = book_inputs
    physics = bank.model_copy(update={"items": [item.model_copy(update={"subject": "物理"}) for item in bank.items]})
    book = build_wrongbook(analysis, physics)
    assert any("没有“数学”学科的题目" in note for note in book.notes)
    sets = [ps for st in book.students for ps in st.practice]
    assert sets and all(not ps.items and "仅找到 0 道" in ps.shortage for ps in sets)
    # the stems still come from the bank: the item is found by id whatever its subject
    assert any(w.stem for st in book.students for w in st.wrong)
