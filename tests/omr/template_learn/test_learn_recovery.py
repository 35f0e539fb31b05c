"""``template learn`` recovers every bundled template from simulated blank scans at 150, 200 and 300 dpi.

Each page is rendered, passed through the scanner simulator with mild typical effects (skew up to 2°, shift up
to 2 mm, 3 mm overscan, blur, noise, JPEG, tinted paper), and learned. The draft must place every bubble within
0.3 mm of the template's and find every group with its id, kind, size, labels and select kind, every anchor with its
shape and size, and every timing track (同步头) with each bar within 0.3 mm (none where the card prints none). Run
with ``-s`` to print the figures (max bubble error per template and dpi, groups found).
"""

from __future__ import annotations

import pytest

from learn_fixtures import DPIS, TOLERANCE_MM, compare_anchors, compare_page, compare_tracks, learn_bundled
from omr.template import expand_page, parse_template
from sample_sheets import bundled_templates, resolve_template

@pytest.mark.parametrize("dpi", DPIS)
@pytest.mark.parametrize("name", bundled_templates())
def test_every_bubble_and_group_recovered(name: str, dpi: int):
    template = resolve_template(name)
    learned = learn_bundled(template, dpi, seed=dpi)
    draft = parse_template(learned.draft)  # the draft validates as it is
    assert draft.page_mm == template.page_mm and len(draft.pages) == len(template.pages)
    assert draft.identity_code == template.identity_code
    # A page without yuejuan's identity strip gets a note saying how it is then told, and nothing else does.
    assert learned.notes == [note for number, page in enumerate(template.pages, start=1) if page.identity is None
                             for note in learned.notes if f"no yuejuan identity strip on page {number}:" in note]
    for number in range(1, len(template.pages) + 1):
        truth, drafted = expand_page(template, number), expand_page(draft, number)
        worst, right, problems = compare_page(truth, drafted)
        print(f"{name} page {number} at {dpi} dpi: max bubble error {worst:.3f} mm, "
              f"groups found {right}/{len(truth.groups)}")
        assert not problems, problems
        assert worst <= TOLERANCE_MM
        assert not compare_anchors(truth.anchors, drafted.anchors)
        bar_error, track_problems = compare_tracks(truth.timing, drafted.timing)  # none drafted where none printed
        assert not track_problems and bar_error <= TOLERANCE_MM
        strip, found = truth.identity, drafted.identity
        assert (found is None) == (strip is None)
        if strip is None:
            continue
        assert abs(found.x - strip.x) <= TOLERANCE_MM and abs(found.y - strip.y) <= TOLERANCE_MM
        assert abs(found.pitch - strip.pitch) * 18 <= TOLERANCE_MM  # over the whole strip
