"""Shared by the ``template learn`` tests: the mild scan, learning a bundled template, comparing a draft."""

from __future__ import annotations

import numpy as np

from omr.render import render_page
from omr.template import Anchor, ExpandedPage, Template, TimingTrack, expand_page
from omr.template_learn import LearnedTemplate, learn_template
from sample_sheets.scanner import ScanParams, scan

TOLERANCE_MM = 0.3
# Sizes of solid marks (anchors, timing bars): the renderer's anti-aliased polygon fill prints them larger than
# drawn at 150 dpi (a 12 x 8 mm L renders 12.36 x 8.13 mm, a 5 x 1.5 mm bar 5.2 x 1.7 mm, measured on the render),
# and the draft keeps what is printed.
SIZE_TOLERANCE_MM = 0.5
DPIS = (150, 200, 300)
# Kinds whose select the print tells (one bubble per column, digit or mark); a question's single/multi it does not.
SELECT_FROM_KIND = {"id_column", "score_digit", "score_half", "mark"}


def mild_scan(page: np.ndarray, dpi: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    params = ScanParams(
        dpi=dpi, rotation_deg=float(rng.uniform(-2, 2)), shift_mm=tuple(float(v) for v in rng.uniform(-2, 2, 2)),
        blur=float(rng.uniform(0.3, 0.8)), noise=float(rng.uniform(1.5, 4)), jpeg_quality=int(rng.integers(75, 96)),
        paper=float(rng.uniform(238, 252)), lid=float(rng.uniform(238, 252)), overscan_mm=3.0, texture_seed=seed,
    )
    image, _, _ = scan(page, params)
    return image


def learn_bundled(template: Template, dpi: int, seed: int) -> LearnedTemplate:
    pages = [(mild_scan(render_page(expand_page(template, n), dpi), dpi, seed + n), float(dpi))
             for n in range(1, len(template.pages) + 1)]
    return learn_template(pages, template_id=template.id)


def compare_page(truth: ExpandedPage, draft: ExpandedPage) -> tuple[float, int, list[str]]:
    """(max bubble error in mm, groups found right, problems) of a drafted page against the template's."""
    problems = []
    drafted = {group.id: group for group in draft.groups}
    worst, right = 0.0, 0
    for group in truth.groups:
        found = drafted.pop(group.id, None)
        if found is None:
            problems.append(f"{group.id}: not found")
            continue
        if (found.kind, len(found.bubbles), found.role) != (group.kind, len(group.bubbles), group.role):
            problems.append(f"{group.id}: {found.kind}/{len(found.bubbles)}/{found.role}, "
                            f"expected {group.kind}/{len(group.bubbles)}/{group.role}")
            continue
        if [b.label for b in found.bubbles] != [b.label for b in group.bubbles]:
            problems.append(f"{group.id}: labels {[b.label for b in found.bubbles]}")
        if group.kind in SELECT_FROM_KIND and found.select != group.select:
            problems.append(f"{group.id}: select {found.select}")
        errors = [float(np.hypot(a.x - b.x, a.y - b.y)) for a, b in zip(group.bubbles, found.bubbles)]
        worst = max(worst, *errors)
        right += 1
    problems.extend(f"{group_id}: not in the template" for group_id in drafted)
    return worst, right, problems


def compare_anchors(truth: list[Anchor] | tuple[Anchor, ...], draft: list[Anchor] | tuple[Anchor, ...]) -> list[str]:
    """Problems of drafted anchors against the template's: shape, centre, box size, an L's elbow and arm."""
    problems = []
    for found, anchor in zip(draft, truth, strict=True):
        if found.shape != anchor.shape:
            problems.append(f"anchor {anchor.id}: {found.shape}, expected {anchor.shape}")
            continue
        if np.hypot(found.x - anchor.x, found.y - anchor.y) > TOLERANCE_MM:
            problems.append(f"anchor {anchor.id}: at {found.x:g}, {found.y:g}, expected {anchor.x:g}, {anchor.y:g}")
        if max(abs(a - b) for a, b in zip(found.box, anchor.box)) > SIZE_TOLERANCE_MM:
            problems.append(f"anchor {anchor.id}: {found.box}, expected {anchor.box}")
        if anchor.shape == "l_corner" and (found.corner != anchor.corner
                                           or abs(found.arm_mm - anchor.arm_mm) > SIZE_TOLERANCE_MM):
            problems.append(f"anchor {anchor.id}: elbow {found.corner} arm {found.arm_mm:g}, expected "
                            f"{anchor.corner} {anchor.arm_mm:g}")
    return problems


def compare_tracks(truth: tuple[TimingTrack, ...], draft: tuple[TimingTrack, ...]) -> tuple[float, list[str]]:
    """(max bar error in mm, problems) of drafted timing tracks against the template's, matched by side."""
    problems, worst = [], 0.0
    if sorted(t.side for t in truth) != sorted(t.side for t in draft):
        return worst, [f"tracks on {[t.side for t in draft]}, expected {[t.side for t in truth]}"]
    for track in truth:
        found = min((t for t in draft if t.side == track.side), key=lambda t: abs(t.x - track.x) + abs(t.y - track.y))
        if found.count != track.count:
            problems.append(f"track {track.side}: {found.count} bars, expected {track.count}")
            continue
        errors = [float(np.hypot(a[0] - b[0], a[1] - b[1])) for a, b in zip(found.bar_centres(), track.bar_centres())]
        worst = max(worst, *errors)
        if max(abs(found.bar_width - track.bar_width), abs(found.bar_height - track.bar_height)) > SIZE_TOLERANCE_MM:
            problems.append(f"track {track.side}: bars {found.bar_width:g} x {found.bar_height:g}, expected "
                            f"{track.bar_width:g} x {track.bar_height:g}")
    return worst, problems
