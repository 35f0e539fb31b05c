"""Every reason OMR gives a teacher has Chinese words (the English stays beside it for scripts)."""

from __future__ import annotations

import re

import numpy as np
import pytest

from omr.read import REGISTRATION_UNSURE, prepare_template, read_page
from omr.reason_text import reason_zh, untranslated
from sample_sheets import resolve_template
from sample_sheets.simulate import random_truth, simulate_sheet

TEMPLATE = resolve_template("cn-a4-55")


def test_reasons_of_hard_pages_are_all_translated():
    prepared = prepare_template(TEMPLATE)
    reasons = set()
    for seed in range(6):
        truth = random_truth(TEMPLATE, np.random.default_rng(seed))
        for sim in simulate_sheet(TEMPLATE, truth, seed=seed, profile="hard"):
            reasons.update(read_page(sim.image, prepared, source=str(seed)).reasons)
    assert reasons, "hard pages always give a reason or two"
    assert not [r for r in reasons if untranslated(r)], sorted(reasons)
    assert not [reason_zh(r) for r in reasons if re.search("[a-z]{4}", reason_zh(r))]


@pytest.mark.parametrize("reason, words", [
    ("uncertain marks: Q7, Q8", "涂点不清：Q7, Q8"),
    ("page 2: multiple marks: Q3", "第2页：重复涂卡：Q3"),
    ("student id grid uncertain; barcode used", "考号涂写不清，已按条码认定"),
    ("anchor missing: registered on 3 of 4 anchors; score blank: Q56", "定位点缺失：按 4 个中的 3 个定位；分数框未填：Q56"),
    (REGISTRATION_UNSURE, "定位存疑：气泡印刷轮廓与定位点推算的位置不符，本页所有识别结果均需人工核对"),
])
def test_known_reasons(reason, words):
    assert reason_zh(reason) == words and untranslated(reason) == []


def test_an_unknown_reason_is_kept_as_written_and_listed():
    assert reason_zh("a reason nobody wrote a rule for; no anchors found") == \
        "a reason nobody wrote a rule for；未找到定位点"
    assert untranslated("a reason nobody wrote a rule for; no anchors found") == ["a reason nobody wrote a rule for"]
