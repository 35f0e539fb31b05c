"""``yuejuan bank …`` and ``yuejuan assemble``: from a teacher's workbook and image folder to the four files of a
paper, and the clear refusals."""

from __future__ import annotations

import csv
import json
import re

from api.cli import main
from bank_builders import chinese_bank, png_bytes
from grading.exam import load_exam
from itembank.simulate import simulated_bank
from itembank.store import load_bank, save_bank
from itembank.xlsx import write_bank_xlsx
from omr.template import load_template


def test_import_checks_images_and_reports_duplicates(tmp_path, capsys):
    bank = chinese_bank()
    bank = bank.model_copy(update={"items": [*bank.items, bank.items[1].model_copy(update={"id": "T2"})]})
    write_bank_xlsx(bank, tmp_path / "items.xlsx")
    (tmp_path / "images").mkdir()
    assert main(["bank", "import", str(tmp_path / "items.xlsx"), "--out", str(tmp_path / "bank.json")]) == 2
    assert "item S1: stem image 'S1.png': no such file" in capsys.readouterr().err
    (tmp_path / "images" / "S1.png").write_bytes(png_bytes(1))
    (tmp_path / "images" / "M1.png").write_bytes(png_bytes(1))  # attached by its name; the same picture as S1's
    assert main(["bank", "import", str(tmp_path / "items.xlsx"), "--out", str(tmp_path / "bank.json")]) == 0
    out = capsys.readouterr().out
    assert "5 items -> " in out and "(1 stem images attached by name)" in out and "T1 与 T2: 题目相同" in out
    assert load_bank(tmp_path / "bank.json").by_id()["M1"].stem_image == "M1.png"
    assert main(["bank", "dedupe", str(tmp_path / "bank.json"), "--csv", str(tmp_path / "dup.csv")]) == 0
    with open(tmp_path / "dup.csv", encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows == [["试题1", "试题2", "类型", "相似度"], ["T1", "T2", "题目相同", "1.0000"],
                    ["S1", "M1", "题干图片相同", "1.0000"]]
    assert main(["bank", "export", str(tmp_path / "bank.json"), "--xlsx", str(tmp_path / "again.xlsx")]) == 0


def test_assemble_writes_exam_paper_and_sheet(tmp_path, capsys):
    save_bank(simulated_bank(600, seed=3, knowledge_points=5), tmp_path / "bank.json")
    blueprint = {"exam_id": "m7-u3", "name": "七年级数学第三单元", "subject": "数学",
                 "types": {"single": {"count": 8, "points_each": 5}, "subjective": {"count": 2, "points": 20}},
                 "cells": [{"knowledge_point": f"K0{k}", "level": level, "count": 1}
                           for k in range(1, 6) for level in ("理解", "应用")],
                 "difficulty": [0.55, 0.75]}
    (tmp_path / "blueprint.json").write_text(json.dumps(blueprint, ensure_ascii=False), encoding="utf-8")
    code = main(["assemble", str(tmp_path / "bank.json"), str(tmp_path / "blueprint.json"), "--out",
                 str(tmp_path / "paper")])
    out = capsys.readouterr()
    assert code == 0, out.err
    assert out.out.startswith("10 items, 60 points, expected mean P 0.")
    exam = load_exam(tmp_path / "paper" / "exam.json")
    assert exam.template == "m7-u3-sheet" and len(exam.questions) == 10 and all(q.item_id for q in exam.questions)
    assert load_template(tmp_path / "paper" / "sheet.json").id == "m7-u3-sheet"
    for name in ("paper.pdf", "sheet.pdf"):
        assert (tmp_path / "paper" / name).read_bytes().startswith(b"%PDF")
    blueprint["cells"][0]["count"] = 400
    (tmp_path / "blueprint.json").write_text(json.dumps(blueprint, ensure_ascii=False), encoding="utf-8")
    code = main(["assemble", str(tmp_path / "bank.json"), str(tmp_path / "blueprint.json"), "--out",
                 str(tmp_path / "nothing")])
    err = capsys.readouterr().err
    assert code == 2 and "知识点 K01 × 理解 needs 400 items, the bank has " in err
    assert not (tmp_path / "nothing").exists()


def test_a_bad_blueprint_names_its_field(tmp_path, capsys):
    save_bank(chinese_bank(), tmp_path / "bank.json")
    (tmp_path / "bp.json").write_text('{"exam_id": "x", "subject": "数学", "types": {"single": {"count": 2}}, '
                                      '"difficulty": [0.8, 0.6]}')
    assert main(["assemble", str(tmp_path / "bank.json"), str(tmp_path / "bp.json"), "--out", str(tmp_path)]) == 2
    assert "difficulty [0.8, 0.6]: give [low, high]" in capsys.readouterr().err


def test_assemble_prints_stem_images_and_keeps_identical_ones_apart(tmp_path, capsys):
    import subprocess

    from bank_builders import item
    from itembank.model import Bank

    bank = Bank(items=[item("A", "看图回答：图中阴影部分的面积是多少？", stem_image="a.png"),
                       item("B", "观察下图，求出三角形的周长并写出过程。", stem_image="b.png"),
                       item("C", "计算：(-3) × 4 + 5 的结果。")])
    save_bank(bank, tmp_path / "bank.json")
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "a.png").write_bytes(png_bytes(5, (300, 200)))
    (tmp_path / "images" / "b.png").write_bytes(png_bytes(5, (300, 200)))  # the same picture under another name
    (tmp_path / "bp.json").write_text('{"exam_id": "img", "subject": "数学", "types": {"single": {"count": 2}}}',
                                      encoding="utf-8")
    assert main(["assemble", str(tmp_path / "bank.json"), str(tmp_path / "bp.json"), "--out",
                 str(tmp_path / "out")]) == 0, capsys.readouterr().err
    chosen = {q.item_id for q in load_exam(tmp_path / "out" / "exam.json").questions}
    assert chosen in ({"A", "C"}, {"B", "C"})
    listing = subprocess.run(["pdfimages", "-list", str(tmp_path / "out" / "paper.pdf")], capture_output=True,
                             text=True, check=True).stdout
    assert "300   200" in listing  # the stem image, at its pixel size
    (tmp_path / "images" / "a.png").write_text("not an image")
    (tmp_path / "images" / "b.png").write_text("not an image")
    assert main(["assemble", str(tmp_path / "bank.json"), str(tmp_path / "bp.json"), "--out",
                 str(tmp_path / "out2")]) == 2
    err = capsys.readouterr().err
    assert re.search(r"item [AB]: stem image '[ab].png': not a PNG or JPEG image", err), err
