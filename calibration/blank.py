"""Learn each bubble's print baseline (how dark it reads empty) from scans of the station's own printed sheets.

From a blank printed sheet the baseline is simply the darkness each bubble reads, the median over the scanned
copies. From the first pages of a real batch (marked sheets) it is a low quantile over pages per bubble, so the
marks, which only ever darken a bubble, are outliers; a bubble marked on most pages (an easy question's answer)
would still read dark, so each bubble's excess over its blank render is held within the spread of the excesses
of the bubbles printed alike (same label and size), which are empty on most pages.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone
from typing import Sequence

import numpy as np

from calibration.labels import measure_page, page_ink_level
from calibration.sources import RegisteredPage
from omr.profile import ScannerProfile, layout_hash
from omr.read import PreparedTemplate, prepare_template

__all__ = ["BATCH_QUANTILE", "MIN_BATCH_PAGES", "baseline_from_batch", "baseline_from_blank", "page_darkness",
           "with_baseline"]

#: Per bubble, the share of a batch's pages it may be marked on and still have its own level found.
BATCH_QUANTILE = 20.0
#: Fewest pages of each template page a batch needs (a quantile of fewer says little).
MIN_BATCH_PAGES = 8
_SPREAD_LIMIT = 4.0  # robust standard deviations a bubble's excess may stand above its print kind's


def page_darkness(page: RegisteredPage, prepared: PreparedTemplate) -> np.ndarray:
    """Each bubble's darkness on a registered page, 0 paper .. 1 solid print, measured as the reader does."""
    prepared_page = prepared.pages[page.page - 1]
    ink = page_ink_level(page.image, prepared_page, page.page_to_image, prepared.profile.max_anchor_residual_mm)
    inner_mean, paper = measure_page(page.image, prepared_page, prepared, page.page_to_image, ink)
    return (paper - inner_mean) / max(paper - ink, 1.0)


def _by_page(pages: Sequence[RegisteredPage], prepared: PreparedTemplate) -> dict[int, np.ndarray]:
    seen: dict[int, list[np.ndarray]] = {}
    for page in pages:
        seen.setdefault(page.page, []).append(page_darkness(page, prepared))
    return {number: np.stack(values) for number, values in sorted(seen.items())}


def _render_prepared(prepared: PreparedTemplate) -> PreparedTemplate:
    """The template prepared with the render's baselines (the profile's own learned ones set aside)."""
    if not prepared.profile.print_baselines:
        return prepared
    return prepare_template(prepared.template, replace(prepared.profile, print_baselines={}))


def baseline_from_blank(pages: Sequence[RegisteredPage], prepared: PreparedTemplate) -> list[tuple[float, ...]]:
    """Per template page, each bubble's median darkness over scans of the blank printed sheet.

    Template pages not scanned keep the render's baseline.
    """
    if not pages:
        raise ValueError("no page of the blank scan could be registered on the template")
    measured = _by_page(pages, prepared)
    render = _render_prepared(prepared)
    return [tuple(np.round(np.median(measured[number], axis=0), 4).tolist()) if number in measured
            else tuple(np.round(page.blank_darkness, 4).tolist())
            for number, page in enumerate(render.pages, 1)]


def baseline_from_batch(pages: Sequence[RegisteredPage], prepared: PreparedTemplate) -> list[tuple[float, ...]]:
    """Per template page, each bubble's empty darkness learned from marked sheets (see module doc).

    Raises ValueError when a template page has fewer than :data:`MIN_BATCH_PAGES` registered pages.
    """
    measured = _by_page(pages, prepared)
    render = _render_prepared(prepared)
    baselines = []
    for number, page in enumerate(render.pages, 1):
        stack = measured.get(number)
        if stack is None or len(stack) < MIN_BATCH_PAGES:
            raise ValueError(f"page {number} of template {prepared.template.id}: {0 if stack is None else len(stack)} "
                             f"registered pages, at least {MIN_BATCH_PAGES} are needed to learn from a batch")
        low = np.percentile(stack, BATCH_QUANTILE, axis=0)
        excess = low - page.blank_darkness
        limit = np.empty_like(excess)
        for kind in np.unique(page.label_index):
            alike = page.label_index == kind
            centre = float(np.median(excess[alike]))
            spread = 1.4826 * float(np.median(np.abs(excess[alike] - centre)))
            limit[alike] = centre + _SPREAD_LIMIT * max(spread, 0.01)
        baselines.append(tuple(np.round(page.blank_darkness + np.minimum(excess, limit), 4).tolist()))
    return baselines


def with_baseline(base: ScannerProfile, prepared: PreparedTemplate, baseline: list[tuple[float, ...]], *,
                  source: str, name: str | None = None) -> ScannerProfile:
    """``base`` holding ``baseline`` as the learned print of ``prepared``'s template, stamped with its source."""
    template = prepared.template
    baselines = {**base.print_baselines, template.id: {"layout": layout_hash(template), "pages": baseline}}
    return replace(base, name=name or base.name, print_baselines=baselines, source=source,
                   created_at=datetime.now(timezone.utc).isoformat(timespec="seconds"))
