"""The per-process template cache of the readers: one preparing per exam, whatever other templates come along."""

from __future__ import annotations

from api.service.processing import canonical_template, prepared_template
from sample_sheets import bundled_templates, resolve_template

#: every page of every bundled template but the exam's own (cn-a4-55), as the readers know them
BUNDLED_OTHERS = [name for name in bundled_templates() if name != "cn-a4-55"
                  for _ in resolve_template(name).pages]


def _dump(template) -> dict:
    return template.model_dump(mode="json")


def test_other_templates_are_recognised_without_preparing_the_exam_again():
    a4 = _dump(resolve_template("cn-a4-55"))
    card = _dump(resolve_template("cn-a3-100").model_copy(update={"id": "school-a3-card", "code": 303}))
    bundled_only = prepared_template(a4)
    with_card = prepared_template(a4, others=[canonical_template(card)[0]])
    # the other bundled cards' pages, never the exam's own; then the school's card's two pages as well
    assert sorted(p.template_id for p in bundled_only.others) == sorted(BUNDLED_OTHERS)
    assert sorted(p.template_id for p in with_card.others) == sorted(BUNDLED_OTHERS + ["school-a3-card"] * 2)
    assert with_card.pages is bundled_only.pages  # the exam was prepared once
    assert sorted(p.template_id for p in prepared_template(a4).others) == sorted(BUNDLED_OTHERS)  # no leak


def test_a_broken_template_of_another_exam_does_not_stop_reading():
    a4 = _dump(resolve_template("cn-a4-55"))
    prepared = prepared_template(a4, others=['{"id": "x"}', "not json"])
    assert sorted(p.template_id for p in prepared.others) == sorted(BUNDLED_OTHERS)
