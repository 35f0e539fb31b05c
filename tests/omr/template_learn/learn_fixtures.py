"""Shared by the ``template learn`` tests: the mild scan, learning a bundled template, comparing a draft."""

from __future__ import annotations

import numpy as np

from omr.render import render_page
from omr.template import ExpandedPage, Template, expand_page
from omr.template_learn import LearnedTemplate, learn_template
from sample_sheets.scanner import ScanParams, scan

TOLERANCE_MM = 0.3
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
