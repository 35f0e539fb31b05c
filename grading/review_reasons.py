"""What a reviewer's corrections must cover for each reason a sheet was flagged (复核): pure rules on OMR's and
grading's reason strings, shared by the review API and the review pages.

A reason that lists questions (``uncertain marks: Q3, Q17``, ``page 2: score uncertain: Q56``) needs a correction
of each question listed; a 考号 reason needs the 考号 (or the sheet dropped as a second scan), an absent-mark
reason the absent flag, a paper-version reason the form, an unsure 违纪 mark the proctor's decision
(``violation``), an unsure 选考题 chooser the question answered (``choice``), a missing page a rescan or the
sheet dropped. Any other reason no correction can cover: the reviewer checks the sheet and resolves it.
"""

from __future__ import annotations

import re

__all__ = ["listed_questions", "correction_needs", "correction_hint", "page_hint", "uncovered"]

_LISTED = re.compile(r"^(?:page \d+: )?(?:uncertain marks|multiple marks|score \w+): (.+)$")
_PAGE_PREFIX = re.compile(r"^page \d+: ")
#: omr.read.other_template_reason: "page of another template cn-a3-100 (code 123, page 1): ..."
_OTHER_TEMPLATE = re.compile(r"^page of another template(?: (\S+))? \(code \d+, page \d+\)")
_YES = ("1", "yes", "true", "是", "y")


def listed_questions(reason: str) -> list[str] | None:
    """The questions a reason lists (``multiple marks: Q41`` → ``["Q41"]``), or None when it lists none."""
    listed = _LISTED.match(reason)
    if listed is None:
        return None
    return [q.strip() for q in listed.group(1).split(",") if q.strip()]


def correction_needs(reason: str) -> list[frozenset[str]] | None:
    """What corrections cover a reason: a list of alternatives that must each be met (any name in an alternative
    will do); None when no correction can (the reviewer resolves the sheet instead)."""
    questions = listed_questions(reason)
    if questions is not None:
        return [frozenset({q}) for q in questions]
    text = _PAGE_PREFIX.sub("", reason)
    if text.startswith(("student id", "duplicate student id")):
        return [frozenset({"exam_id", "exclude"})]
    if text.startswith("absent mark"):
        return [frozenset({"absent"})]
    if text.startswith("paper version"):
        return [frozenset({"form"})]
    if text.startswith("violation mark"):
        return [frozenset({"violation"})]
    if text.startswith("optional question choice"):
        return [frozenset({"choice"})]
    if text.startswith("missing page"):
        return [frozenset({"exclude"})]
    return None


def correction_hint(reason: str) -> str:
    """What a reviewer can send for one reason, in words (the API's ``fix``)."""
    questions = listed_questions(reason)
    if questions is not None:
        named = ", ".join(questions)
        if _PAGE_PREFIX.sub("", reason).startswith("score "):
            return f"send the score of {named} (question, value = the score)"
        return f"send what is marked on {named} (question, value = the letters; '' for none)"
    needs = correction_needs(reason)
    if needs == [frozenset({"exam_id", "exclude"})]:
        return "send the 考号 (question 'exam_id'), or drop a second scan of the same paper ('exclude', '1')"
    if needs == [frozenset({"absent"})]:
        return "send 'absent' with 1 (absent) or 0 (sat the exam)"
    if needs == [frozenset({"form"})]:
        return "send 'form' with the paper version (A, B ...)"
    if needs == [frozenset({"violation"})]:
        return "send 'violation' with 1 (违纪 confirmed) or 0 (no violation)"
    if needs == [frozenset({"choice"})]:
        return "send 'choice' with the optional question the student answered (选考题, e.g. 23)"
    if needs == [frozenset({"exclude"})]:
        return "rescan the missing page(s), or drop the sheet ('exclude', '1'), or resolve it"
    return "check the sheet against the overlay, then mark it resolved (resolved: true)"


def page_hint(reasons: list[str]) -> str:
    """What a reviewer can do about an unreadable page, in words (Chinese first)."""
    other = next(filter(None, map(_OTHER_TEMPLATE.match, reasons)), None)
    if other:
        return (f"这页属于另一份答题卡模板 ({other.group(1) or '未知模板'}), 不是本考试的: 请在对应考试中上传, "
                f"再在此标记为已处理 (a page of another template: upload it to that exam, then resolve it here)")
    return ("这页无法识别: 请查看图像, 若是答题卡请重新扫描上传, 再在此标记为已处理 "
            "(the page could not be read: check the image, rescan it if it is a sheet)")


def uncovered(reasons: list[str], corrections: list[tuple[str, str]]) -> list[str]:
    """Reasons the corrections (question, value) do not cover; a sheet dropped with ``exclude`` has none left."""
    named = {q for q, _ in corrections}
    if any(q == "exclude" and v.strip().lower() in _YES for q, v in corrections):
        return []
    left = []
    for reason in reasons:
        needs = correction_needs(reason)
        if needs is None or any(not (alternatives & named) for alternatives in needs):
            left.append(reason)
    return left
