"""Grading's reasons and exception kinds in a teacher's words (Chinese), on top of OMR's
(:mod:`omr.reason_text`): what ``scores.xlsx``, its 异常 sheet and ``grading_exceptions.csv`` show.
"""

from __future__ import annotations

from omr import reason_text as omr_text
from omr.reason_text import OMR_RULES, Rule, make_rules, status_zh

__all__ = ["reason_zh", "kind_zh", "untranslated", "EXCEPTION_KINDS_ZH", "GRADING_RULES"]

#: Exception kinds (``GradingException.kind``, ``MatchException.kind``) as a teacher names them.
EXCEPTION_KINDS_ZH = {
    "pending": "待复核", "scored_by_policy": "按规则计分", "score_capped": "超出满分", "invalid_mark": "选项外涂点",
    "multiple_marks": "重复涂卡", "correction_problem": "更正有误", "template_mismatch": "答题卡模板不符",
    "subjective_import": "主观分导入", "version": "卷型", "roster": "名单", "id_unreadable": "考号无法识别",
    "unknown_id": "考号不在名单", "id_conflict": "考号与条码不符", "id_from_barcode": "按条码认定考号",
    "no_sheet": "无答题卡(缺考)", "absent_marked": "标记缺考", "absent_uncertain": "缺考标记存疑",
    "duplicate_sheets": "重复答题卡", "unreadable_page": "无法识别的页", "violation": "违纪",
    "id_grid_mismatch": "考号涂写与条码不符", "barcode_unreadable": "条码无法识别",
}

GRADING_RULES: list[Rule] = OMR_RULES + make_rules([
    (r"^uncertain: (.+)$", lambda m: f"涂点不清：{m[1]}"),
    (r"^no reading: (.+)$", lambda m: f"未识别：{m[1]}"),
    (r"^exam id unreadable \(grid (\w+), no barcode\)$", lambda m: f"考号无法识别（涂写{status_zh(m[1])}，无条码）"),
    (r"^exam id (.+) not on the roster$", lambda m: f"考号 {m[1]} 不在名单中"),
    (r"^id grid (\S+) and barcode (\S+) name two different students$",
     lambda m: f"考号涂写 {m[1]} 与条码 {m[2]} 指向不同学生"),
    (r"^id grid read (\S+) \(not on the roster\); barcode (\S+) used$",
     lambda m: f"考号涂写 {m[1]} 不在名单中，已按条码 {m[2]} 认定"),
    (r"^printed barcode (\S+) is the student; id grid read (\S+)$",
     lambda m: f"个性化答题卡按条码 {m[1]} 认定考生，但考号涂写为 {m[2]}，请核对"),
    (r"^printed barcode unreadable; id grid (\S+) used$",
     lambda m: f"个性化答题卡条码无法识别，已按考号涂写 {m[1]} 认定，请核对"),
    (r"^no sheet \(counted as absent, 缺考\)$", lambda m: "无答题卡（按缺考计）"),
    (r"^sheet marked absent \(缺考\)$", lambda m: "答题卡标记缺考"),
    (r"^policy (\w+): (.+)$", lambda m: f"按规则“{status_zh(m[1])}”计分：{m[2]}"),
    (r"^marks outside the options \(scored 0\): (.+)$", lambda m: f"选项外涂点（计0分）：{m[1]}"),
    (r"^(\S+) score (\S+) above its (\S+) points: capped$", lambda m: f"{m[1]} 分数 {m[2]} 超过满分 {m[3]}，按满分计"),
    (r"^optional question choice unclear: (.+)$", lambda m: f"选考题选择不明（未涂、多涂或多做）：{m[1]}"),
    (r"^violation marked \(违纪\): score kept, listed for the exam office$", lambda m: "违纪：成绩保留，列出待考务认定"),
    (r"^violation marked \(违纪\): scored 0 by the exam's rule$", lambda m: "违纪：按考试规定本科计0分"),
    (r"^violation marked \(违纪\): held unscored until decided$", lambda m: "违纪：暂不计分，待考务认定"),
    (r"^subjective score imported for (\S+), an optional question \(选考题\) the student did not choose: ignored$",
     lambda m: f"导入的 {m[1]} 主观分已忽略：该生未选做此选考题"),
])


def reason_zh(reason: str) -> str:
    """A grading or OMR reason in Chinese; parts no rule knows are kept as written."""
    return omr_text.reason_zh(reason, GRADING_RULES)


def untranslated(reason: str) -> list[str]:
    """The parts of ``reason`` no rule translates."""
    return omr_text.untranslated(reason, GRADING_RULES)


def kind_zh(kind: str) -> str:
    """An exception kind in Chinese (the code itself when unknown)."""
    return EXCEPTION_KINDS_ZH.get(kind, kind)
