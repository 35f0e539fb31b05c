"""Labelled pages: every bubble of a registered page, measured as the reader measures it, with its truth.

A :class:`LabelledPage` holds what the decision needs to be re-run under another profile (the bubbles' raw gray,
the page's paper and ink, the print baseline the reader used) and the truth a teacher confirmed or corrected,
so that :mod:`calibration.fit` can try thresholds and print baselines without touching the image again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping

import cv2
import numpy as np

from omr.layout import anchor_polygon
from omr.measure import measure_bubbles, ring_samples
from omr.profile import layout_hash
from omr.read import PreparedPage, PreparedTemplate, solid_ink_level
from omr.register import apply_homography, homography_jacobians, iter_registrations

__all__ = ["LabelledPage", "is_bilevel", "label_page", "measure_page", "page_ink_level"]

_RING_SAMPLES = ring_samples(24)  # as omr.read samples the local paper


@dataclass(eq=False)
class LabelledPage:
    """One registered page's bubbles as measured, and what a person says was marked.

    Arrays are per bubble in the reader's order (``PreparedPage`` order) unless said otherwise.
    """

    template_id: str
    layout: str  # omr.profile.layout_hash of the template the page was measured against
    page: int  # 1-based template page
    inner_mean: np.ndarray  # (n,) mean gray inside each bubble
    paper: float  # the page's paper gray (median of the rings around the bubbles)
    ink: float  # gray of solid print on this scan (the anchors)
    baseline: np.ndarray  # (n,) print baseline the reader used (blank render or a learned one)
    strengths: np.ndarray  # (n,) mark strength as the reader measured it (after the per-label empty level)
    truth: np.ndarray  # (n,) 1 marked, 0 not (meaningless in unlabelled groups)
    group_starts: np.ndarray  # (groups + 1,)
    group_ids: list[str]
    labelled: np.ndarray  # (groups,) bool: whether a person said what this group holds
    single_select: np.ndarray  # (groups,) bool
    label_index: np.ndarray  # (n,)
    writer_index: np.ndarray  # (n,)
    residue_unit: np.ndarray  # (n,)
    source: str = ""
    #: (groups,) bool: labelled groups a careful person could hesitate over (a faint mark, a tick); reading one of
    #: them wrong but sure is counted apart, and a fit may not do it more often than the base profile did.
    ambiguous: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.ambiguous is None:
            self.ambiguous = np.zeros(len(self.group_ids), bool)

    @property
    def darkness(self) -> np.ndarray:
        """Each bubble's darkness, 0 paper .. 1 ink, before the print baseline is taken off."""
        return (self.paper - self.inner_mean) / max(self.paper - self.ink, 1.0)

    @property
    def empty_bubbles(self) -> np.ndarray:
        """(n,) bool: bubbles of labelled groups that hold no mark."""
        in_labelled = np.repeat(self.labelled, np.diff(self.group_starts))
        return in_labelled & (self.truth == 0)


def is_bilevel(image: np.ndarray) -> bool:
    """Whether a scan is 1-bit (thresholded or dithered): almost no pixel between black and white."""
    return bool(np.count_nonzero((image > 0) & (image < 255)) < 0.001 * image.size)


def page_ink_level(image: np.ndarray, page: PreparedPage, page_to_image: np.ndarray,
                   max_residual_mm: float = 1.5) -> float:
    """Gray of solid print on this scan as the reader takes it (:func:`omr.read.solid_ink_level`): the anchors'
    (as the registration that put the page at ``page_to_image`` measured them), or the bold print's when darker."""
    px_per_mm = float(np.sqrt(abs(np.linalg.det(np.asarray(page_to_image, np.float64)[:2, :2]))))
    return solid_ink_level(image, page, page_to_image, _anchor_ink(image, page, page_to_image, max_residual_mm),
                           px_per_mm)


def _anchor_ink(image: np.ndarray, page: PreparedPage, page_to_image: np.ndarray, max_residual_mm: float) -> float:
    """The registration's figure on the anchors; when no registration lands there, the median gray inside the
    anchors (their edges left out)."""
    anchors = np.array([(a.x, a.y) for a in page.expanded.anchors], np.float64)
    given = apply_homography(page_to_image, anchors)
    for fit in iter_registrations(image, page.expanded, max_residual_mm=max_residual_mm):
        if np.abs(apply_homography(fit.page_to_image, anchors) - given).max() < 0.5:
            return float(fit.ink_level)
    levels = []
    for anchor in page.expanded.anchors:
        polygon = apply_homography(page_to_image, np.asarray(anchor_polygon(anchor), np.float64))
        x0, y0 = np.floor(polygon.min(axis=0)).astype(int) - 2
        x1, y1 = np.ceil(polygon.max(axis=0)).astype(int) + 3
        x0, y0 = max(x0, 0), max(y0, 0)
        x1, y1 = min(x1, image.shape[1]), min(y1, image.shape[0])
        if x1 - x0 < 3 or y1 - y0 < 3:
            continue  # off the scan
        mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
        cv2.fillPoly(mask, [np.round(polygon - (x0, y0)).astype(np.int32)], 1)
        mask = cv2.erode(mask, np.ones((3, 3), np.uint8), iterations=2)  # blur makes the edges paper-ish
        if mask.any():
            levels.append(float(np.median(image[y0:y1, x0:x1][mask > 0])))
    if not levels:
        return float(np.percentile(image, 0.5))
    return float(np.median(levels))


def measure_page(image: np.ndarray, page: PreparedPage, prepared: PreparedTemplate, page_to_image: np.ndarray,
                 ink: float) -> tuple[np.ndarray, float]:
    """Each bubble's mean inner gray and the page's paper gray, sampled exactly as :func:`omr.read.read_page`
    samples them (same disk size for this resolution, same rings)."""
    profile = prepared.profile
    jacobians = homography_jacobians(page_to_image, page.centres_mm)
    px_per_mm = float(np.sqrt(np.abs(np.linalg.det(np.median(jacobians, axis=0)))))
    bubble_px = float(np.median(page.semi_axes_mm.min(axis=1))) * profile.inner_fraction * px_per_mm
    per_axis = int(np.clip(round(2 * bubble_px), 8, 20))
    measured = measure_bubbles(
        image, apply_homography(page_to_image, page.centres_mm), jacobians, page.semi_axes_mm,
        inner=prepared.disk(per_axis), ring=_RING_SAMPLES, inner_fraction=profile.inner_fraction,
        ring_fraction=profile.ring_fraction, dark_level=(255.0 + ink) / 2,
    )
    return measured.inner_mean, float(np.median(measured.ring_median))


def label_page(image: np.ndarray, page_to_image: np.ndarray, prepared: PreparedTemplate, page: int,
               answers: Mapping[str, str], *, ink_level: float | None = None, source: str = "",
               ambiguous: Iterable[str] = ()) -> LabelledPage:
    """Measure the bubbles of a registered page and attach the marks a person confirmed.

    Parameters
    ----------
    image : (rows, cols) uint8 array
        The scanned page, gray. A 1-bit scan (only black and white) is refused: the reader smooths those
        before measuring, and thresholds learned from one would not fit the station's gray scans.
    page_to_image : (3, 3) array
        Template mm -> image pixels (``PageResult.page_to_image``).
    prepared : PreparedTemplate
        The template as the reader prepared it (its profile's print baseline is the one recorded).
    page : int
        1-based template page.
    answers : mapping of str to str
        Group id (question, 考号 column ...) -> the labels marked (``"AC"``; ``""`` for none). Groups not named
        are left unlabelled. Labels a group does not have are refused.
    ink_level : float, optional
        Gray of solid print, when the registration measured it; else measured inside the anchors.
    source : str, optional
        Where the page came from (file#page), kept for reports.
    ambiguous : iterable of str, optional
        Ids of labelled groups a careful person could hesitate over (see :attr:`LabelledPage.ambiguous`).
    """
    from omr.decide import empty_level, mark_strength

    if not 1 <= page <= len(prepared.pages):
        raise ValueError(f"template {prepared.template.id} has no page {page}")
    if image.ndim != 2 or image.dtype != np.uint8:
        raise ValueError(f"not a grayscale page image ({image.dtype}, shape {image.shape})")
    if is_bilevel(image):
        raise ValueError("a 1-bit scan has no gray levels to learn from")
    prepared_page = prepared.pages[page - 1]
    matrix = np.asarray(page_to_image, np.float64)
    ink = (page_ink_level(image, prepared_page, matrix, prepared.profile.max_anchor_residual_mm)
           if ink_level is None else float(ink_level))
    inner_mean, paper = measure_page(image, prepared_page, prepared, matrix, ink)
    group_ids = [group.id for group in prepared_page.expanded.groups]
    known = set(group_ids)
    unknown = sorted(set(answers) - known)
    if unknown:
        raise ValueError(f"template {prepared.template.id} page {page} has no group {', '.join(unknown[:5])}")
    truth = np.zeros(len(inner_mean), np.int8)
    labelled = np.zeros(len(group_ids), bool)
    starts = prepared_page.group_starts
    for index, (group_id, labels) in enumerate(zip(group_ids, prepared_page.group_labels)):
        if group_id not in answers:
            continue
        marked = str(answers[group_id])
        stray = marked
        for label in sorted(labels, key=len, reverse=True):  # labels may be words ("absent"), not only letters
            stray = stray.replace(label, "")
        if stray:
            raise ValueError(f"answer {marked!r} for {group_id} names labels it does not have: {stray!r}")
        labelled[index] = True
        truth[starts[index]:starts[index + 1]] = [label in marked for label in labels]
    strength = mark_strength(inner_mean, prepared_page.blank_darkness, paper, ink)
    strength = strength - empty_level(strength, prepared_page.label_index, prepared_page.group_starts,
                                      prepared_page.single_select)
    return LabelledPage(
        prepared.template.id, layout_hash(prepared.template), page, inner_mean, paper, ink,
        prepared_page.blank_darkness.copy(), strength, truth, starts.copy(), group_ids, labelled,
        prepared_page.single_select.copy(), prepared_page.label_index.copy(), prepared_page.writer_index.copy(),
        prepared_page.residue_unit.copy(), source, np.isin(group_ids, list(ambiguous)) & labelled,
    )
