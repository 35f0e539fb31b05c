"""Learned print baselines in a profile: JSON round trip, checks, and prepare_template using (or refusing) them."""

from __future__ import annotations

import json

import numpy as np
import pytest

from omr.profile import ScannerProfile, layout_hash, load_profile, profile_from_dict, profile_to_dict, save_profile
from omr.read import prepare_template
from sample_sheets import resolve_template


def _with_baseline(template, value: float = 0.3, layout: str | None = None) -> ScannerProfile:
    prepared = prepare_template(template)
    pages = [[value] * len(page.blank_darkness) for page in prepared.pages]
    return ScannerProfile(name="s1", version=3, created_at="2026-11-24T15:00:00+00:00", source="blank: x.pdf",
                          print_baselines={template.id: {"layout": layout or layout_hash(template), "pages": pages}})


def test_every_field_round_trips_through_json(tmp_path):
    template = resolve_template("cn-a4-55")
    profile = _with_baseline(template)
    assert profile_from_dict(json.loads(json.dumps(profile_to_dict(profile)))) == profile
    save_profile(profile, tmp_path / "p.json")
    assert load_profile(tmp_path / "p.json") == profile
    hash(profile)  # a frozen profile stays hashable with its baselines


def test_prepare_template_uses_the_learned_baseline():
    template = resolve_template("cn-a4-55")
    prepared = prepare_template(template, _with_baseline(template, 0.3))
    assert np.all(prepared.pages[0].blank_darkness == 0.3)
    other = resolve_template("cn-a3-100")  # a baseline for another template leaves this one on its render
    assert not np.all(prepare_template(other, _with_baseline(template)).pages[0].blank_darkness == 0.3)


def test_a_baseline_learned_on_another_layout_is_refused():
    template = resolve_template("cn-a4-55")
    with pytest.raises(ValueError, match="another bubble layout"):
        prepare_template(template, _with_baseline(template, layout="sha256:0000000000000000"))


def test_layout_hash_follows_the_bubbles():
    template = resolve_template("cn-a4-55")
    data = json.loads(template.model_dump_json())
    assert layout_hash(template) == layout_hash(type(template).model_validate(data))
    block = next(f for f in data["pages"][0]["fields"] if f["kind"] == "choice_block")
    data["pages"][0]["texts"] = []  # printed words are not bubbles
    assert layout_hash(template) == layout_hash(type(template).model_validate(data))
    block["option_pitch"] += 0.5  # the options of one block half a millimetre further apart
    assert layout_hash(template) != layout_hash(type(template).model_validate(data))
    assert layout_hash(template) != layout_hash(resolve_template("cn-a3-100"))


@pytest.mark.parametrize("baselines", [
    [], {"t": [0.1]}, {"t": {"layout": "x"}}, {"t": {"layout": "x", "pages": [[0.1, "a"]]}},
    {"t": {"layout": "x", "pages": [[float("nan")]]}}, {"t": {"layout": "x", "pages": [[1.5]]}},
    {"t": {"layout": "x", "pages": [[True]]}}, {"t": {"layout": "x", "pages": [[0.1]], "extra": 1}},
])
def test_malformed_baselines_are_refused(baselines):
    with pytest.raises(ValueError, match="print_baselines"):
        profile_from_dict({"print_baselines": baselines})
