"""Grading's reasons and kinds in Chinese, on top of OMR's."""

from __future__ import annotations

import pytest

from grading.reason_text import EXCEPTION_KINDS_ZH, kind_zh, reason_zh, untranslated


@pytest.mark.parametrize("reason, words", [
    ("uncertain: Q3 (A ?C); no reading: Q41", "涂点不清：Q3 (A ?C)；未识别：Q41"),
    ("no sheet (counted as absent, 缺考)", "无答题卡（按缺考计）"),
    ("exam id 2026010099 not on the roster", "考号 2026010099 不在名单中"),
    ("policy zero: Q1, Q2", "按规则“计0分”计分：Q1, Q2"),
    ("Q56 score 14 above its 12 points: capped", "Q56 分数 14 超过满分 12，按满分计"),
    ("page 1: uncertain marks: Q5", "第1页：涂点不清：Q5"),  # OMR's rules hold here too
])
def test_grading_reasons(reason, words):
    assert reason_zh(reason) == words and untranslated(reason) == []


def test_every_kind_has_chinese_and_unknown_kinds_pass_through():
    assert all(kind_zh(kind) == name and name != kind for kind, name in EXCEPTION_KINDS_ZH.items())
    assert kind_zh("something_new") == "something_new"
