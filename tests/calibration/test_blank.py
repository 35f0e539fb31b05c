"""A bold print read with the default profile against the profile calibrated from its blank scan (or its batch).

The station prints bolder than the render (see conftest): empty bubbles read above the empty ceiling. The
reader's per-page empty level takes up most of it for the kinds printed often (the option letters), but not for
the rare ones (考号 digits, the absence mark, score boxes), and most sheets go to review by default. Learning
each bubble's printed darkness from the blank card, or from the first pages of a marked batch, must bring the flags
down to (almost) none and never read a clear mark wrong but sure.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from calibration.blank import MIN_BATCH_PAGES, baseline_from_batch, baseline_from_blank, page_darkness, with_baseline
from calibration.sources import RegisteredPage, registered_pages
from omr.profile import ScannerProfile, layout_hash
from omr.read import prepare_template, read_page
from omr.register import apply_homography, homography_jacobians
from sample_sheets.evaluate import Accuracy, compare_page


def _registered(pages, prepared) -> list[RegisteredPage]:
    out = []
    for index, sim in enumerate(pages):
        result = read_page(sim.image, prepared)
        assert result.page is not None, result.reasons
        out.append(RegisteredPage(sim.image, result.page, np.asarray(result.page_to_image), "sim", index))
    return out


def _accuracy(pages, prepared, template) -> Accuracy:
    accuracy = Accuracy()
    for sim in pages:
        accuracy += compare_page(read_page(sim.image, prepared), sim.truth, template)
    return accuracy


@pytest.fixture(scope="module")
def default(template):
    return prepare_template(template)


def test_blank_calibration_removes_the_flags_of_a_bold_print(template, default, bold_blank_scans, bold_sheets):
    baseline = baseline_from_blank(_registered(bold_blank_scans, default), default)
    profile = with_baseline(ScannerProfile(), default, baseline, source="blank")
    before = _accuracy(bold_sheets, default, template)
    after = _accuracy(bold_sheets, prepare_template(template, profile), template)
    print(f"\nbold print, default profile: {before.line()}\nbold print, blank-calibrated: {after.line()}")
    assert before.pages_unsure >= 0.5 * before.pages  # the problem is real: most sheets go to review
    assert after.pages_unsure <= before.pages_unsure // 4
    assert after.flagged_groups <= 0.005 * after.groups < before.flagged_groups
    assert before.wrong_sure == after.wrong_sure == 0
    assert after.correct_sure > before.correct_sure


def test_batch_calibration_learns_the_print_from_marked_sheets(template, default, bold_sheets):
    learn_from, judge = bold_sheets[:12], bold_sheets[12:]
    profile = with_baseline(ScannerProfile(), default, baseline_from_batch(_registered(learn_from, default), default),
                            source="batch")
    before = _accuracy(judge, default, template)
    after = _accuracy(judge, prepare_template(template, profile), template)
    print(f"\nbold print, default profile: {before.line()}\nbold print, batch-calibrated: {after.line()}")
    assert before.pages_unsure >= 0.5 * before.pages
    assert after.pages_unsure <= before.pages_unsure // 4
    assert after.flagged_groups <= 0.005 * after.groups < before.flagged_groups
    assert after.wrong_sure == 0


def test_batch_baseline_is_not_pulled_up_by_a_bubble_marked_on_every_page(template, default, bold_blank_scans,
                                                                           bold_sheets):
    """An answer nearly every student marks is dark on most pages; its learned empty level must stay its print's."""
    pages = _registered(bold_sheets[:12], default)
    page = default.pages[0]
    marked_everywhere = int(np.flatnonzero(page.label_index == page.label_index[0])[0])
    for registered in pages:  # paint that bubble solid on every page (as a mark)
        image = registered.image.copy()
        centre = page.centres_mm[marked_everywhere:marked_everywhere + 1]
        (x, y), = apply_homography(registered.page_to_image, centre)
        px_per_mm = np.sqrt(abs(np.linalg.det(homography_jacobians(registered.page_to_image, centre)[0])))
        radius = int(page.semi_axes_mm[marked_everywhere].min() * px_per_mm)
        cv2.circle(image, (int(round(x)), int(round(y))), radius, 40, -1)
        registered.image = image
    from_batch = np.array(baseline_from_batch(pages, default)[0])
    from_blank = np.array(baseline_from_blank(_registered(bold_blank_scans, default), default)[0])
    assert abs(from_batch[marked_everywhere] - from_blank[marked_everywhere]) < 0.1
    assert np.median(np.abs(from_batch - from_blank)) < 0.03


def test_batch_needs_enough_pages(default, bold_sheets):
    with pytest.raises(ValueError, match=f"at least {MIN_BATCH_PAGES}"):
        baseline_from_batch(_registered(bold_sheets[:3], default), default)


def test_blank_baseline_is_what_the_reader_measures_on_the_blank(template, default, bold_blank_scans):
    """On the blank scan itself, a calibrated reader finds every bubble at its empty level (strength about 0)."""
    registered = _registered(bold_blank_scans[:1], default)
    profile = with_baseline(ScannerProfile(), default, baseline_from_blank(registered, default), source="blank")
    entry = profile.print_baselines[template.id]
    assert entry["layout"] == layout_hash(template)
    assert np.allclose(entry["pages"][0], page_darkness(registered[0], default), atol=1e-4)
    result = read_page(bold_blank_scans[0].image, prepare_template(template, profile))
    assert result.status == "ok" or all(r.startswith("student id") for r in result.reasons), result.reasons


def test_registered_pages_skips_what_it_cannot_use(tmp_path, default):
    (tmp_path / "white.png").write_bytes(b"")  # empty file: unreadable
    skipped: list = []
    assert list(registered_pages([tmp_path], default, skipped=skipped)) == []
    assert skipped and "white.png" in skipped[0][0]
