"""The per-process template cache of the readers: one preparing per exam, whatever other templates come along."""

from __future__ import annotations

from api.service.processing import canonical_template, prepared_template
from sample_sheets import resolve_template


#: The pages of the other bundled templates an A4 cn-a4-55 exam recognises (the A3 card's two, the Letter sheet's one).
BUNDLED_OTHERS = ["cn-a3-100"] * 2 + ["us-letter-70"]


def _dump(template) -> dict:
    return template.model_dump(mode="json")


def test_other_templates_are_recognised_without_preparing_the_exam_again():
    a4 = _dump(resolve_template("cn-a4-55"))
    card = _dump(resolve_template("cn-a3-100").model_copy(update={"id": "school-a3-card", "code": 303}))
    bundled_only = prepared_template(a4)
    with_card = prepared_template(a4, others=[canonical_template(card)[0]])
    # the bundled A3 card's two pages, never the exam's own; then the school's card's two pages as well
    assert sorted(p.template_id for p in bundled_only.others) == BUNDLED_OTHERS
    assert sorted(p.template_id for p in with_card.others) == ["cn-a3-100"] * 2 + ["school-a3-card"] * 2 + [
        "us-letter-70"]
    assert with_card.pages is bundled_only.pages  # the exam was prepared once
    assert sorted(p.template_id for p in prepared_template(a4).others) == BUNDLED_OTHERS  # no leak between calls


def test_a_broken_template_of_another_exam_does_not_stop_reading():
    a4 = _dump(resolve_template("cn-a4-55"))
    prepared = prepared_template(a4, others=['{"id": "x"}', "not json"])
    assert sorted(p.template_id for p in prepared.others) == BUNDLED_OTHERS
