"""A draft template from a blank scan of an answer sheet (``yuejuan template learn``).

Each page of the scan goes through one module per step:

* :mod:`.anchors` - the four corner anchors, the page size, and the page warped upright into millimetres;
* :mod:`.identity` - yuejuan's page-identity strip, when the page carries one (it must decode);
* :mod:`.timing` - timing tracks (同步头): rows or columns of solid bars along the margins;
* :mod:`.bubbles` - the printed bubble outlines and the label patch inside each;
* :mod:`.guide` - the filling guide (填涂说明): its printed examples are not bubbles;
* :mod:`.labels` - same label repeated (a grid row), a sequence (A B C D, 0 1 2 ...) or question numbers;
* :mod:`.grouping` - bubbles into choice blocks (options across or down), grids, score boxes, choosers and marks
  by alignment;
* :mod:`.reading` - the reading order of a page: its columns left to right, top to bottom in each;
* :mod:`.roles` - what the header's fields mean: 考号, 卷型, 缺考, 违纪;
* :mod:`.numbering` - question numbers and field names in reading order;
* :mod:`.draft` - the template JSON; :mod:`.overlay` - the draft drawn on the scan.

What print cannot tell is left as a proposal for the user: single or multi select (drafted ``single``), the
maximum score of a score box (drafted as the most its boxes express), what a lone mark means (the first on
page 1 is proposed as 缺考, one beside it as 违纪), texts, answer regions and the barcode area (not drafted).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from omr.geometry import MM_PER_INCH
from omr.load import LoadLimits, iter_pages
from omr.template_learn.anchors import LearnError, find_page_frame, ink_levels, warp_to_mm
from omr.template_learn.bubbles import find_bubbles
from omr.template_learn.draft import NO_IDENTITY_NOTE, LearnedPage, draft_json
from omr.template_learn.grouping import group_bubbles
from omr.template_learn.guide import find_guides
from omr.template_learn.identity import find_identity
from omr.template_learn.numbering import number_fields
from omr.template_learn.roles import assign_roles
from omr.template_learn.timing import find_tracks
from omr.template_learn.overlay import draw_overlay

__all__ = ["LearnError", "LearnedTemplate", "learn_template", "load_scan", "draw_overlay"]

_MAX_PAGES = 8  # a template has at most 8 pages
# 1-bit scans: refused below this resolution, noted below the second (measured on the bundled templates' renders:
# every one drafted wrong at 150 dpi, US Letter's 2.8 mm bubbles wrong at 200, all right at 300).
_MIN_BILEVEL_DPI, _SAFE_BILEVEL_DPI = 200, 300


@dataclass(frozen=True)
class LearnedTemplate:
    """The draft JSON, what was found on each page, and notes for the user."""

    draft: dict
    pages: list[LearnedPage]
    notes: list[str]


def load_scan(path: str | Path, limits: LoadLimits = LoadLimits()) -> list[tuple[np.ndarray, float | None]]:
    """Every page of a blank scan (JPEG, PNG, TIFF, PDF ...) as (gray image, dpi or None), via :mod:`omr.load`."""
    pages = []
    for loaded in iter_pages(path, limits=limits):
        if loaded.image is None:
            raise LearnError(f"{path}: page {loaded.page_index + 1}: {loaded.error}")
        pages.append((loaded.image, loaded.dpi))
        if len(pages) > _MAX_PAGES:
            raise LearnError(f"{path}: more than {_MAX_PAGES} pages; a template has at most {_MAX_PAGES}")
    if not pages:
        raise LearnError(f"{path}: no pages")
    return pages


def _is_bilevel(image: np.ndarray) -> bool:
    return np.count_nonzero(np.bincount(image[::7, ::7].ravel(), minlength=256)) <= 2


def _gray_from_bilevel(image: np.ndarray) -> np.ndarray:
    """A 1-bit scan (thresholded or dithered) smoothed back to gray, so that thin outlines and dither dots
    join up as print does; a gray scan as it is."""
    return cv2.GaussianBlur(image, (0, 0), 1.0) if _is_bilevel(image) else image


def _check_bilevel(number: int, dpi: float, notes: list[str]) -> None:
    """Refuse a 1-bit scan below ``_MIN_BILEVEL_DPI`` (its 1-pixel outlines break and its labels fall apart:
    every bundled template drafted wrong at 150 dpi); note one below ``_SAFE_BILEVEL_DPI``."""
    if dpi < _MIN_BILEVEL_DPI:
        raise LearnError(f"page {number}: a 1-bit (black and white) scan at {dpi:.0f} dpi keeps too little of the "
                         "bubbles' thin outlines and labels to draft a template from: scan the blank sheet in gray, "
                         f"or in black and white at {_SAFE_BILEVEL_DPI} dpi")
    if dpi < _SAFE_BILEVEL_DPI:
        notes.append(f"page {number} is a 1-bit scan at {dpi:.0f} dpi: the labels of small bubbles (under about "
                     f"3 mm) may be lost; check the overlay, or scan in gray or at {_SAFE_BILEVEL_DPI} dpi")


def learn_template(pages: list[tuple[np.ndarray, float | None]], *, template_id: str = "draft",
                   name: str = "") -> LearnedTemplate:
    """Draft a template from the blank scan of each of its pages, in page order.

    Parameters
    ----------
    pages : list of (image, dpi)
        Gray images (uint8, 255 = paper), roughly upright, with their dpi when known.
    template_id, name : str
        The draft's ``id`` and ``name``.

    Returns
    -------
    LearnedTemplate

    Raises
    ------
    LearnError
        A page without four corner anchors, pages of different sizes, a page without any bubble, or a 1-bit
        scan below 200 dpi.
    """
    frames, found_fields, identities, tracks, counts = [], [], [], [], []
    bilevel_notes: list[str] = []
    for number, (image, dpi) in enumerate(pages, start=1):
        bilevel = _is_bilevel(image)
        image = _gray_from_bilevel(image)
        try:
            frame = find_page_frame(image, dpi)
            paper, ink = ink_levels(image)
        except LearnError as error:
            raise LearnError(f"page {number}: {error}") from None
        if bilevel:  # after the anchors: a page without them is refused for that first
            _check_bilevel(number, dpi or frame.px_per_mm * MM_PER_INCH, bilevel_notes)
        upright = warp_to_mm(image, frame)
        bubbles = find_bubbles(upright, paper, ink)
        if not bubbles:
            raise LearnError(f"page {number}: no printed bubbles (closed outlines of 2-12 mm) found")
        frames.append(frame)
        identity = find_identity(upright, paper, ink, frame.anchors_mm)
        identities.append(identity)
        tracks.append(find_tracks(upright, paper, ink, frame.anchors, frame.anchors_mm, identity, bubbles))
        guides, bubbles = find_guides(upright, paper, ink, bubbles, frame.anchors_mm)
        found_fields.append([*group_bubbles(bubbles), *guides])
        counts.append(len(bubbles))
    sizes = {(round(f.width_mm, 1), round(f.height_mm, 1)) for f in frames}
    if len(sizes) > 1:
        raise LearnError(f"pages differ in size: {sorted(sizes)}; one template has one page size")
    named = number_fields(assign_roles(found_fields))
    learned = [LearnedPage(*found) for found in zip(frames, identities, named, counts, tracks)]
    notes = [NO_IDENTITY_NOTE.format(page=n) for n, page in enumerate(learned, start=1) if page.identity is None]
    notes.extend(bilevel_notes)
    for number, ((_, dpi), frame) in enumerate(zip(pages, frames), start=1):
        if not dpi:
            notes.append(f"page {number}: the file records no dpi; read as {frame.px_per_mm * 25.4:.0f} dpi, "
                         f"a {frame.width_mm:g} x {frame.height_mm:g} mm page (A4, A3 and 8K look alike without "
                         "it): give the dpi if that is wrong")
    for number, page in enumerate(learned, start=1):
        if page.identity is not None and page.identity.page != number:
            notes.append(f"page {number} of the scan carries the identity strip of page {page.identity.page}: "
                         "give the scan every page of the card, in order")
    codes = {page.identity.code for page in learned if page.identity is not None}
    if len(codes) > 1:
        notes.append(f"the pages' identity strips carry different template codes {sorted(codes)}: "
                     "are they pages of one template?")
    draft = draft_json(learned, template_id, name or f"草稿 {template_id}")
    return LearnedTemplate(draft, learned, notes)
