"""OMR's reasons in a teacher's words (Chinese).

OMR states its reasons in stable English (the service and the review queue parse them, scripts match them);
what a teacher reads — the scan's ``exceptions.csv``, review pages — shows them through :func:`reason_zh`. Several
reasons joined by "; " are translated one by one; a reason no rule knows is kept as written (nothing is lost) and
:func:`untranslated` lists it for the tests. :mod:`grading.reason_text` adds grading's reasons to these rules.
"""

from __future__ import annotations

import re
from typing import Callable, Sequence

__all__ = ["Rule", "OMR_RULES", "make_rules", "reason_zh", "untranslated", "status_zh"]

Rule = tuple[re.Pattern[str], Callable[[re.Match[str]], str]]

_STATUS = {  # status words inside a reason
    "uncertain": "不清", "blank": "未填", "multiple": "重复", "unreadable": "无法识别", "invalid": "无效",
    "missing": "缺失", "over_max": "超出满分", "unknown": "未知", "pending": "待复核", "score_as_read": "按识别计分",
    "zero": "计0分", "ok": "正常",
}


def status_zh(word: str) -> str:
    """A status word (uncertain, blank, …) in Chinese; the word itself when unknown."""
    return _STATUS.get(word, word)


def make_rules(pairs) -> list[Rule]:
    return [(re.compile(pattern), say) for pattern, say in pairs]


OMR_RULES: list[Rule] = make_rules([
    (r"^uncertain marks: (.+)$", lambda m: f"涂点不清：{m[1]}"),
    (r"^multiple marks: (.+)$", lambda m: f"重复涂卡：{m[1]}"),
    (r"^score (\w+): (.+)$", lambda m: f"分数框{status_zh(m[1])}：{m[2]}"),
    (r"^absent mark(?: \(缺考\))? uncertain$", lambda m: "缺考标记不清"),
    (r"^violation mark uncertain$", lambda m: "违纪标记不清"),
    (r"^optional question choice (\w+): (\S+) \((.+)\)$", lambda m: f"选考题选择{status_zh(m[1])}：{m[3]}"),
    (r"^anchor missing: registered on (\d+) of (\d+) anchors$",
     lambda m: f"定位点缺失：按 {m[2]} 个中的 {m[1]} 个定位"),
    (r"^timing track (.+): only (\d+) of (\d+) bars usable",
     lambda m: f"同步头 {m[1]} 仅 {m[2]}/{m[3]} 个标记可用，按定位点推算位置识别"),
    (r"^timing tracks disagree with the printed bubbles", lambda m: "同步头与气泡印刷位置不符，按定位点推算位置识别"),
    (r"^registration unsure: ", lambda m: "定位存疑：气泡印刷轮廓与定位点推算的位置不符，本页所有识别结果均需人工核对"),
    (r"^student id grid (\S+) and barcode (\S+) disagree$", lambda m: f"考号涂写 {m[1]} 与条码 {m[2]} 不一致"),
    (r"^student id grid (\w+); barcode used$", lambda m: f"考号涂写{status_zh(m[1])}，已按条码认定"),
    (r"^student id (\w+)$", lambda m: f"考号{status_zh(m[1])}"),
    (r"^duplicate student id (\S+)$", lambda m: f"考号 {m[1]} 重复"),
    (r"^missing page\(s\) (.+)$", lambda m: f"缺页：第 {m[1]} 页"),
    (r"^paper version (\w+)$", lambda m: f"卷型{status_zh(m[1])}"),
    (r"^no anchors found$", lambda m: "未找到定位点"),
    (r"^page of another template(?: (\S+))? \(code \d+, page (\d+)\)",
     lambda m: f"其他答题卡模板的页（{m[1] or ''}第{m[2]}页）"),
    (r"^resolution too low \((\d+) dpi\)$", lambda m: f"分辨率过低（{m[1]} dpi）"),
    # Pages without an identity strip (omr.orient)
    (r"^layout not found: ", lambda m: "版面不符：任何方向、任何页的气泡位置都与本页印刷不符（其他答题卡或页面损坏），本页未识别"),
    (r"^orientation ambiguous: page (\d+) at (\d+)° and page (\d+) at (\d+)°",
     lambda m: f"方向无法确定：第{m[1]}页 {m[2]}° 与第{m[3]}页 {m[4]}° 同样符合印刷内容，本页未识别"),
])


def _one(part: str, rules: Sequence[Rule]) -> str | None:
    page = re.match(r"^page (\d+): (.+)$", part)
    if page:  # a sheet's reason about one of its pages
        inner = _one(page[2], rules)
        return None if inner is None else f"第{page[1]}页：{inner}"
    for pattern, say in rules:
        match = pattern.match(part)
        if match:
            return say(match)
    return None


def _parts(reason: str, rules: Sequence[Rule]) -> list[str]:
    """A reason split at "; " into the reasons it joins; a piece no rule knows is joined with the pieces after it
    when together they form one reason (such as "student id grid uncertain; barcode used")."""
    pieces = [piece.strip() for piece in reason.split("; ") if piece.strip()]
    parts: list[str] = []
    while pieces:
        take = 1
        if _one(pieces[0], rules) is None:
            take = next((end for end in range(2, len(pieces) + 1)
                         if _one("; ".join(pieces[:end]), rules) is not None), 1)
        parts.append("; ".join(pieces[:take]))
        del pieces[:take]
    return parts


def reason_zh(reason: str, rules: Sequence[Rule] = OMR_RULES) -> str:
    """``reason`` in Chinese by ``rules``; parts no rule knows are kept as written."""
    return "；".join(_one(part, rules) or part for part in _parts(reason, rules))


def untranslated(reason: str, rules: Sequence[Rule] = OMR_RULES) -> list[str]:
    """The parts of ``reason`` no rule translates."""
    return [part for part in _parts(reason, rules) if _one(part, rules) is None]
