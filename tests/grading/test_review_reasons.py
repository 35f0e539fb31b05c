"""grading.review_reasons: which corrections cover each reason a sheet was flagged."""

from __future__ import annotations

from grading.review_reasons import correction_hint, correction_needs, listed_questions, page_hint, uncovered


def test_what_covers_a_reason():
    """Each kind of OMR reason and the corrections that deal with it (multi-page cards prefix 'page N: ')."""
    reasons = ["uncertain marks: Q3, Q17", "page 2: multiple marks: Q41", "page 2: score uncertain: Q56",
               "student id unreadable", "absent mark uncertain", "paper version uncertain"]
    assert uncovered(reasons, []) == reasons
    fixes = [("Q3", "A"), ("Q41", "AB"), ("Q56", "8"), ("exam_id", "2026010001"), ("absent", "0"), ("form", "A")]
    assert uncovered(reasons, fixes) == ["uncertain marks: Q3, Q17"]  # every question listed needs its answer
    assert uncovered(reasons, [("Q17", "")] + fixes) == []
    assert uncovered(reasons, [("Q17", "")] + fixes[1:]) == ["uncertain marks: Q3, Q17"]
    assert uncovered(reasons, [("Q17", "")] + fixes[:-1]) == ["paper version uncertain"]
    assert uncovered(["duplicate student id 2026010001", "missing page(s) 2"], [("exam_id", "2026010009")]) == \
        ["missing page(s) 2"]
    assert uncovered(["missing page(s) 2", "anchor missing: registered on 3 of 4 anchors"], [("exclude", "1")]) == []
    assert uncovered(["anchor missing: registered on 3 of 4 anchors"], [("exclude", "0")]) == \
        ["anchor missing: registered on 3 of 4 anchors"]


def test_listed_questions_and_hints():
    assert listed_questions("page 2: multiple marks: Q41, Q42") == ["Q41", "Q42"]
    assert listed_questions("student id unreadable") is None
    assert correction_needs("page 1: student id unreadable") == [frozenset({"exam_id", "exclude"})]
    assert correction_needs("template mismatch") is None
    assert "Q56" in correction_hint("page 2: score uncertain: Q56")
    assert correction_hint("template mismatch").startswith("check the sheet")
    assert "cn-a3-100" in page_hint(["page of another template cn-a3-100 (code 123, page 1): not this exam"])
    assert page_hint(["layout not found"]).startswith("这页无法识别")


def test_proctor_mark_and_chooser_reasons_are_covered_by_their_corrections():
    """An unsure 违纪 mark needs the proctor's decision, an unsure 选考题 chooser the question answered (the
    corrections grading.corrections applies as ``violation`` and ``choice``)."""
    violation = "page 1: violation mark uncertain"
    chooser = "page 1: optional question choice uncertain: choose22_23 (Q22/Q23)"
    assert correction_needs(violation) == [frozenset({"violation"})]
    assert correction_needs(chooser) == [frozenset({"choice"})]
    assert uncovered([violation, chooser], [("violation", "0")]) == [chooser]
    assert uncovered([violation, chooser], [("violation", "0"), ("choice", "23")]) == []
    assert "'choice'" in correction_hint(chooser) and "'violation'" in correction_hint(violation)
