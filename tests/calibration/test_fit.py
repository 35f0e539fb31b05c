"""Labelling pages and fitting a station's profile to them, judged on held-back pages.

The end-to-end case: a station that prints bolder than the render (see conftest) flags several % of its labelled
groups with the default profile (the rarely printed kinds: 考号 digits, the absence mark, score boxes); a profile learned from a few labelled pages flags (almost) none of the held-back pages and
reads none wrong but sure, and is accepted. A station the default already reads well gets nothing accepted.
"""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from calibration.evaluate import decide_page, score_pages
from calibration.fit import _fill_unknown, fit_profile, learn_baselines
from calibration.labels import LabelledPage, label_page
from omr.profile import ScannerProfile, profile_from_dict
from omr.read import prepare_template, read_page

from calibration_station import marked_sheets


def _labelled(pages, prepared) -> list[LabelledPage]:
    out = []
    for sim in pages:
        result = read_page(sim.image, prepared)
        answers = {gid: g["expected"] for gid, g in sim.truth["groups"].items() if not g.get("ambiguous")}
        out.append(label_page(sim.image, np.asarray(result.page_to_image), prepared, result.page, answers))
    return out


@pytest.fixture(scope="module")
def default(template):
    return prepare_template(template)


@pytest.fixture(scope="module")
def bold_labelled(bold_sheets, default) -> list[LabelledPage]:
    return _labelled(bold_sheets, default)


def test_label_page_measures_as_the_reader_does(bold_sheets, default, bold_labelled):
    """Re-deciding a labelled page under the profile it was read with gives the reader's own statuses."""
    for sim, page in zip(bold_sheets[:4], bold_labelled):
        result = read_page(sim.image, default)
        _, statuses = decide_page(page, default.profile)
        for group_id, status in zip(page.group_ids, statuses):
            if group_id in result.questions:
                assert result.questions[group_id].status == status, group_id
    assert page.labelled.sum() > 50
    marked = page.truth.astype(bool)
    assert np.median(page.strengths[marked]) > 0.3 > 0.1 > np.median(page.strengths[~marked])


def test_label_page_refuses_unknown_groups_and_labels(bold_sheets, default):
    sim = bold_sheets[0]
    matrix = np.asarray(read_page(sim.image, default).page_to_image)
    with pytest.raises(ValueError, match="no group Q999"):
        label_page(sim.image, matrix, default, 1, {"Q999": "A"})
    with pytest.raises(ValueError, match="labels it does not have"):
        label_page(sim.image, matrix, default, 1, {"Q1": "AZ"})
    with pytest.raises(ValueError, match="no page 7"):
        label_page(sim.image, matrix, default, 7, {})
    with pytest.raises(ValueError, match="1-bit"):
        label_page(np.where(sim.image > 128, 255, 0).astype(np.uint8), matrix, default, 1, {"Q1": "A"})


def test_fit_learns_a_bold_print_and_is_accepted(bold_labelled):
    train, held_back = bold_labelled[:8], bold_labelled[8:]
    report = fit_profile(train, held_back, ScannerProfile())
    print(f"\nfit on {len(train)} labelled pages, {len(held_back)} held back: {report.reason}; "
          f"flag rate {report.before.flag_rate:.2%} -> {report.after.flag_rate:.2%}")
    assert report.before.flag_rate > 0.02  # over the 0.5 % target: the bold print's bubbles read too dark
    assert report.after.flag_rate <= 0.005
    assert report.after.wrong_sure == 0
    assert report.accepted, report.reason
    data = json.loads(json.dumps(report.to_dict()))  # JSON-able, and the profile survives the trip
    assert profile_from_dict(data["profile"]) == report.profile
    assert data["before"]["questions"] == report.before.questions > 0


def test_fit_accepts_nothing_where_there_is_nothing_to_learn(template, default):
    """A station the default profile already reads without a flag: no fit can be better on held-back pages."""
    plain = _labelled(marked_sheets(template, 6, {"dpi": 200, "stray": False}, first_seed=50), default)
    report = fit_profile(plain[:4], plain[4:], ScannerProfile())
    assert report.before.flagged == 0
    assert not report.accepted
    assert report.after.wrong_sure == 0


def test_fit_never_keeps_a_profile_that_reads_training_marks_wrong(bold_labelled):
    report = fit_profile(bold_labelled[:8], bold_labelled[8:], ScannerProfile())
    assert score_pages(bold_labelled[:8], report.profile).wrong_sure == 0
    assert score_pages(bold_labelled[:8], report.profile, margin=0.03).wrong_sure == 0


def test_a_bubble_rarely_seen_empty_takes_the_shift_of_its_print_kind():
    """Left on the old baseline among shifted neighbours, it would read the whole shift dark, as a mark."""
    current = np.array([0.1, 0.1, 0.1, 0.2, 0.2])
    learned = np.array([0.3, 0.32, 0.1, 0.45, 0.2])
    known = np.array([True, True, False, True, False])
    kinds = np.array([0, 0, 0, 1, 1])
    assert np.allclose(_fill_unknown(learned, current, known, kinds), [0.3, 0.32, 0.31, 0.45, 0.45])


def test_learned_baseline_is_the_bold_print(bold_labelled):
    """Bolder print reads darker when empty: the learned baseline sits above the render's, and on pages it was not
    learned from the empty bubbles read near it (scan to scan, blur and noise move them a little: the reader's
    per-page empty level takes that up)."""
    learned = learn_baselines(bold_labelled[:4], ScannerProfile())
    (entry,) = learned.values()
    assert len(entry["pages"]) == 1 and len(entry["pages"][0]) == len(bold_labelled[0].inner_mean)
    shift = np.array(entry["pages"][0]) - bold_labelled[0].baseline
    assert np.median(shift) > 0.05
    for page in bold_labelled[4:8]:
        empty = page.empty_bubbles
        residual = np.median(page.darkness[empty] - np.array(entry["pages"][0])[empty])
        assert abs(residual) < 0.4 * np.median(shift)


def test_fit_needs_both_sets(bold_labelled):
    with pytest.raises(ValueError, match="held-back"):
        fit_profile(bold_labelled[:3], [], ScannerProfile())


def test_hesitant_groups_read_wrong_are_counted_apart(bold_labelled):
    """A labelled group a careful person could hesitate over, read wrong, is not a clear wrong-but-sure, but a fit
    may not add such errors (see fit_profile)."""
    page = replace(bold_labelled[0])
    page.truth = page.truth.copy()
    page.ambiguous = page.ambiguous.copy()
    plain = ScannerProfile(print_baselines=learn_baselines(bold_labelled[:8], ScannerProfile()))
    _, statuses = decide_page(page, plain)
    sure = [i for i in np.flatnonzero(page.labelled) if statuses[i] == "ok"][:2]
    for index in sure:  # say a different bubble was meant
        start = page.group_starts[index]
        page.truth[start:page.group_starts[index + 1]] = 0
        page.truth[start] = 1 if not bold_labelled[0].truth[start] else 0
        page.truth[start + 1] = 0 if page.truth[start] else 1
    page.ambiguous[sure[0]] = True
    score = score_pages([page], plain)
    assert (score.wrong_sure, score.ambiguous_wrong) == (1, 1)


def test_mcnemar_exact_p():
    """One-sided exact binomial tail: 40 of 40 changes for the better is no chance, 7 of 9 could be."""
    from calibration.fit import mcnemar_p

    assert mcnemar_p(0, 0) == 1.0
    assert mcnemar_p(3, 0) == 0.125
    assert abs(mcnemar_p(7, 2) - 46 / 512) < 1e-12
    assert mcnemar_p(40, 0) < 1e-9
