"""Duplicates: the same item re-typed (width, punctuation, spaces) or nearly the same is found with both ids;
items that only look alike are not."""

from __future__ import annotations

import random

import pytest

from bank_builders import item
from itembank.dedupe import NEAR_THRESHOLD, bigrams, find_duplicates, image_duplicates, item_text, jaccard
from itembank.simulate import simulated_bank

LONG = "已知二次函数 y=x²-4x+3 的图像与 x 轴交于 A、B 两点，与 y 轴交于点 C，求三角形 ABC 的面积，并写出对称轴方程。"


def test_a_retyped_copy_is_the_same_item():
    first = item("A1", LONG)
    copy = item("B7", "已知二次函数ｙ＝ｘ²－４ｘ＋３的图像与ｘ轴交于Ａ,Ｂ两点, 与ｙ轴交于点Ｃ, 求三角形ＡＢＣ的面积, 并写出对称轴方程.")
    found = find_duplicates([first, item("C1", "完全不同的一道题：计算 12 × 13。"), copy])
    assert [(d.first, d.second, d.kind) for d in found] == [("A1", "B7", "same")]


def test_a_nearly_same_stem_is_a_near_duplicate():
    edited = LONG.replace("对称轴方程", "对称轴的方程")
    found = find_duplicates([item("A1", LONG), item("A2", edited)])
    assert len(found) == 1 and found[0].kind == "near" and NEAR_THRESHOLD <= found[0].similarity < 1


def test_near_misses_are_not_duplicates():
    short = [item("N1", "计算：3 + 4 = ?"), item("N2", "计算：3 + 5 = ?")]
    # the same short stem with other options is another question
    other_options = [item("O1", "计算 x 的值"), item("O2", "计算 x 的值", options={"A": "12", "B": "23", "C": "34", "D": "46"})]
    other_question = [item("Q1", LONG), item("Q2", LONG.replace("面积", "周长").replace("对称轴方程", "顶点坐标"))]
    assert find_duplicates(short + other_options + other_question) == []


def test_the_pair_search_finds_what_comparing_every_pair_finds():
    # prefix filtering must not lose pairs: planted copies in a generated bank, checked against all pairs
    bank = simulated_bank(300, seed=4)
    items = list(bank.items)
    items += [items[k].model_copy(update={"id": f"COPY{k}", "stem": items[k].stem.replace("，", ", ")})
              for k in (3, 50, 299)]
    items.append(items[10].model_copy(update={"id": "EDIT10", "stem": items[10].stem[:-3] + "的结果"}))
    sets = [bigrams(item_text(i)) for i in items]
    every = {(items[a].id, items[b].id) for a in range(len(items)) for b in range(a + 1, len(items))
             if jaccard(sets[a], sets[b]) >= NEAR_THRESHOLD}
    found = {(d.first, d.second) for d in find_duplicates(items)}
    assert found == every and {("M00004", "COPY3"), ("M00051", "COPY50"), ("M00300", "COPY299")} <= found


def test_identical_images_are_duplicates():
    found = image_duplicates({"A": "h1", "B": "h2", "C": "h1"}, ["A", "B", "C"])
    assert [(d.first, d.second, d.kind, d.label) for d in found] == [("A", "C", "image", "题干图片相同")]


@pytest.mark.parametrize("threshold", [0.75, 0.9, 1.0])
def test_the_filters_lose_no_pair_among_edited_variants(threshold):
    # variants of 120 random stems, each edited by a few characters, so that similarities spread across the threshold
    rng = random.Random(3)
    letters = "函数图像已知求证明直线平面三角形圆方程不等式数列概率向量集合"
    items = []
    for base_no in range(120):
        base = "".join(rng.choice(letters) for _ in range(rng.randint(10, 60)))
        for variant in range(4):
            stem = list(base)
            for _ in range(rng.randint(0, 4)):
                k, edit = rng.randrange(len(stem)), rng.random()
                if edit < 0.4:
                    stem[k] = rng.choice(letters)
                elif edit < 0.7:
                    stem.insert(k, rng.choice(letters))
                elif len(stem) > 3:
                    del stem[k]
            items.append(item(f"I{base_no}_{variant}", "".join(stem), kind="subjective"))
    sets = [bigrams(item_text(i)) for i in items]
    every = {(items[a].id, items[b].id) for a in range(len(items)) for b in range(a + 1, len(items))
             if jaccard(sets[a], sets[b]) >= threshold}
    assert len(every) > 30
    assert {(d.first, d.second) for d in find_duplicates(items, threshold=threshold)} == every
