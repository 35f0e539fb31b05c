"""Read one scanned page: register, identify, measure every bubble, decide, and say how sure.

:func:`prepare_template` does the per-template work once (bubble arrays, the blank-print baseline of every
bubble); :func:`read_page` is then called per page and never raises for a bad page: it returns a
:class:`~omr.result.PageResult` with status ``error`` and the reason.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from itertools import compress
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

import cv2
import numpy as np

from omr.barcode import read_label
from omr.decide import classify_bubbles, empty_level, group_outcomes, mark_strength, page_thresholds
from omr.measure import disk_samples, measure_bubbles, ring_samples
from omr.orient import LAYOUT_NOT_FOUND, Candidate, Choice, anchor_shapes, anchor_votes, choose
from omr.profile import ScannerProfile
from omr.refine import (PrintPatches, print_agrees, print_found, print_in_place, print_patches, refine_transform,
                        warp_rect)
from omr.register import Registration, apply_homography, homography_jacobians, iter_registrations
from omr.render import render_page
from omr.result import ChoiceReading, PageResult, QuestionReading, ScoreReading, page_file_stem
from omr.template import ExpandedPage, ScoreBox, Template, decode_identity, expand_page
from omr.tracks import tracked_page

__all__ = ["REGISTRATION_UNSURE", "KnownPage", "PreparedPage", "PreparedTemplate", "fit_verified", "known_pages",
           "outline_share", "outline_shares", "other_template_reason", "prepare_template", "read_page",
           "solid_ink_level", "warp_rect", "with_others"]

_BASELINE_PX_PER_MM = 8.0  # resolution the blank page is rendered at to learn each bubble's printed darkness
_RING_SAMPLES = ring_samples(24)
# group kind -> who marks it (default: the student, who also fills a 选考题 chooser)
_WRITERS = {"score_digit": 1, "score_half": 1, "mark": 2}
_CHECK_BUBBLES = 48  # bubbles, spread over the page, whose printed outlines verify a fit
_OUTLINE_RADII = (0.88, 0.96, 1.04, 1.12)  # where (fraction of the semi-axes) each outline is looked for
_CENTRE = disk_samples(1)  # one inner sample: only the rings matter when outlines are checked
_PAPER_RADIUS = 1.45  # the ring where the paper beside a checked outline is sampled
#: A fit is verified when, on the median checked bubble, the outline shows at least this share of the contrast it
#: has on the blank render. Measured on cn-a4-55: right fits 0.3 (150 dpi, blurred) .. 1.0; fits 0.7 mm or 0.4°
#: off 0 .. 0.23 (a few hard pages' up to 0.3 only 2 mm off, on neighbouring print).
_MIN_OUTLINE_SHARE = 0.25
_PRINT_INK_MM = 6.0  # side of the bold-print squares whose darkest pixels give the page's ink (solid_ink_level)
_PRINT_INK_PATCHES = 6  # how many of them
_GRAY_ANCHOR_GAP = 40.0  # gray levels the anchors must be lighter than the bold print to be taken as gray print
_SAME_FIT_MM = 0.1  # a refit that moves no bubble further than this agrees with the anchors' fit
_LABEL_PX_PER_MM = 12.0  # a label cut again from the full-size page: 0.25 mm bars at 3 px
_SAME_GUESS_MM = 1.0  # two first guesses this close everywhere refit to one fit (the outlines are searched 1.6 mm)
_TRUSTED_RESIDUAL_MM = 0.1  # four whole anchors this close to an affine fit are not refitted (when verified)


@dataclass
class PreparedPage:
    """A template page as arrays, in measuring order."""

    expanded: ExpandedPage
    centres_mm: np.ndarray  # (n, 2)
    semi_axes_mm: np.ndarray  # (n, 2)
    group_starts: np.ndarray  # (groups + 1,)
    single_select: np.ndarray  # (groups,) bool
    label_index: np.ndarray  # (n,) which printed label each bubble carries (bubbles sharing one print alike)
    writer_index: np.ndarray  # (n,) who fills the bubble: 0 student, 1 teacher (score boxes), 2 proctor (marks)
    residue_unit: np.ndarray  # (n,) where a dominant mark makes light residue empty (-1: nowhere), see decide
    group_labels: list[tuple[str, ...]]  # each group's bubble labels, in order
    blank_darkness: np.ndarray  # (n,) darkness of the empty printed bubble (outline inside + label)
    identity_centres_mm: np.ndarray  # (bits, 2)
    identity_semi_mm: np.ndarray  # (bits, 2)
    score_max: dict[str, float]  # score-box field id -> the question's full marks
    check_index: np.ndarray  # (k,) bubbles whose printed outlines verify a fit, spread over the page
    check_outline: np.ndarray  # (k,) their outlines' contrast on the blank render (0 paper .. 1 solid ink)
    refine_index: np.ndarray  # (m,) other bubbles, between the check ones, whose outlines refine a fit
    check_quarter: np.ndarray  # (k,) which quarter of the page (about the check bubbles' middle) each lies in
    bold_print: PrintPatches  # what verifies a fit when a 1-bit scan has erased the outlines
    #: Every bubble's outline contrast on the blank render, for a page without identity strip only: the fuller
    #: evidence omr.orient weighs when the check bubbles cannot tell two pages or orientations apart.
    all_outline: np.ndarray | None = None


@dataclass(frozen=True, eq=False)
class KnownPage:
    """A page of another template, kept only to recognise it: its anchors and its identity strip, or, for a page
    without one, its prepared layout (whose printed bubbles then tell it)."""

    template_id: str
    code: int
    expanded: ExpandedPage
    identity_centres_mm: np.ndarray  # (bits, 2)
    identity_semi_mm: np.ndarray  # (bits, 2)
    layout: PreparedPage | None = None  # set when the page has no identity strip


@dataclass
class PreparedTemplate:
    template: Template
    profile: ScannerProfile
    pages: list[PreparedPage]
    _disk_cache: dict[int, np.ndarray] = field(default_factory=dict)
    others: list[KnownPage] = field(default_factory=list)  # pages of other templates a batch may hold by mistake

    def disk(self, per_axis: int) -> np.ndarray:
        if per_axis not in self._disk_cache:
            self._disk_cache[per_axis] = disk_samples(per_axis)
        return self._disk_cache[per_axis]

    @property
    def by_content(self) -> bool:
        """Whether pages are told by their anchors and print (some page has no identity strip, see omr.orient)."""
        return any(page.expanded.identity is None for page in self.pages)


def _page_arrays(expanded: ExpandedPage) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    centres, semi, starts, selects = [], [], [0], []
    for group in expanded.groups:
        for bubble in group.bubbles:
            centres.append((bubble.x, bubble.y))
            semi.append((bubble.width / 2, bubble.height / 2))
        starts.append(starts[-1] + len(group.bubbles))
        selects.append(group.select)
    return (np.array(centres, np.float64).reshape(-1, 2), np.array(semi, np.float64).reshape(-1, 2),
            np.array(starts), np.array([select == "single" for select in selects]))


def _residue_units(expanded: ExpandedPage) -> np.ndarray:
    """A single-choice question or 考号 column is its own residue unit; a score box's rows share one (a teacher
    who changes 16 to 6 erases the tens); multi-select questions and lone marks have none."""
    units: list[int] = []
    keys: dict[str, int] = {}
    for group in expanded.groups:
        if group.kind in ("score_digit", "score_half"):
            key = "field:" + group.field_id
        elif group.select == "single" and len(group.bubbles) > 1:
            key = "group:" + group.id
        else:
            units.extend([-1] * len(group.bubbles))
            continue
        units.extend([keys.setdefault(key, len(keys))] * len(group.bubbles))
    return np.array(units, np.int64)


def _scale_homography(px_per_mm: float) -> np.ndarray:
    # mm -> pixel centres of a page rendered at px_per_mm (see omr.geometry)
    return np.array([[px_per_mm, 0, -0.5], [0, px_per_mm, -0.5], [0, 0, 1.0]])


def _identity_cells(expanded: ExpandedPage) -> tuple[np.ndarray, np.ndarray]:
    """Centres and half-sizes (mm) of the page's identity-strip cells (none without a strip)."""
    strip = expanded.identity
    if strip is None:
        return np.empty((0, 2)), np.empty((0, 2))
    bits = len(expanded.identity_bits)
    centres = np.stack([strip.x + strip.pitch * np.arange(bits), np.full(bits, strip.y)], axis=1)
    return centres, np.full((bits, 2), strip.cell / 2)


def prepare_template(template: Template, profile: ScannerProfile | None = None, *,
                     others: Sequence[Template] = ()) -> PreparedTemplate:
    """Precompute what reading needs for every page of ``template`` (done once per process).

    ``others`` are templates whose pages may turn up in a batch by mistake (another exam's cards): a page that
    is none of ``template``'s is then named as a page of that template (see :func:`other_template_reason`)
    even when its anchors sit elsewhere on the paper, as an A3 card's do against an A4 template.
    """
    profile = profile or ScannerProfile()
    prepared = PreparedTemplate(template, profile, [])
    learned = profile.baseline_for(template)  # the station's own print, when calibration measured it
    for number in range(1, len(template.pages) + 1):
        expanded = expand_page(template, number)
        centres, semi, starts, selects = _page_arrays(expanded)
        # Bubbles print alike when label and height (hence glyph size) agree; width only moves the outline.
        printed = [(b.label if b.show_label else "", b.height, b.shape) for _, b in expanded.bubbles]
        kinds = {key: i for i, key in enumerate(dict.fromkeys(printed))}
        label_index = np.array([kinds[key] for key in printed], np.int64)
        writer_index = np.array([_WRITERS.get(group.kind, 0) for group, _ in expanded.bubbles], np.int64)
        residue_unit = _residue_units(expanded)
        identity_centres, identity_semi = _identity_cells(expanded)
        blank = render_page(expanded, _BASELINE_PX_PER_MM * 25.4)
        matrix = _scale_homography(_BASELINE_PX_PER_MM)
        measured = measure_bubbles(
            blank, apply_homography(matrix, centres), homography_jacobians(matrix, centres), semi,
            inner=prepared.disk(16), ring=_RING_SAMPLES, inner_fraction=profile.inner_fraction,
            ring_fraction=profile.ring_fraction, dark_level=128.0,
        )
        check = np.unique(np.linspace(0, len(centres) - 1, min(_CHECK_BUBBLES, len(centres))).round().astype(np.int64))
        if len(centres) < 2 * _CHECK_BUBBLES:  # a page of few bubbles (score boxes only): every other one checks
            check = np.arange(0, len(centres), 2)
        outline = _outline_contrast(blank, matrix, centres[check], semi[check], 0.0)
        baseline = (255.0 - measured.inner_mean) / 255.0
        if learned is not None and number <= len(learned) and len(learned[number - 1]) == len(baseline):
            baseline = np.array(learned[number - 1], np.float64)
        # Refinement uses the bubbles half way between the check ones: a refined fit is verified on others.
        refine = np.setdiff1d(np.unique(((check[:-1] + check[1:]) // 2)), check)
        if len(check) * 2 > len(centres):
            refine = np.setdiff1d(np.arange(len(centres)), check)
        middle = np.median(centres[check], axis=0)
        quarter = (centres[check, 0] > middle[0]).astype(np.int64) + 2 * (centres[check, 1] > middle[1])
        prepared.pages.append(PreparedPage(
            expanded, centres, semi, starts, selects, label_index, writer_index, residue_unit,
            [tuple(b.label for b in group.bubbles) for group in expanded.groups], baseline,
            identity_centres, identity_semi,
            {f.id: f.max_score for f in template.pages[number - 1].fields if isinstance(f, ScoreBox)},
            check, outline, refine, quarter, print_patches(blank, _BASELINE_PX_PER_MM, expanded),
            None if expanded.identity is not None else _outline_contrast(blank, matrix, centres, semi, 0.0),
        ))
    return with_others(prepared, [page for other in others for page in known_pages(other)])


def _outline_contrast(image: np.ndarray, matrix: np.ndarray, centres_mm: np.ndarray, semi_mm: np.ndarray,
                      ink: float) -> np.ndarray:
    """Per bubble: how dark its printed outline is where ``matrix`` puts it, 0 (local paper) .. 1 (as ``ink``).

    The outline is looked for on a few rings about the bubble's semi-axes (the median gray of each ring, the
    darkest ring counts), so a fit within a pixel or two finds it and one half a millimetre off finds paper; the
    paper is the median of a ring well outside.
    """
    centres_px = apply_homography(matrix, centres_mm)
    jacobians = homography_jacobians(matrix, centres_mm)
    rings = [measure_bubbles(image, centres_px, jacobians, semi_mm, inner=_CENTRE, ring=_RING_SAMPLES,
                             inner_fraction=0.1, ring_fraction=radius, dark_level=0.0).ring_median
             for radius in (*_OUTLINE_RADII, _PAPER_RADIUS)]
    paper = rings.pop()
    return (paper - np.min(rings, axis=0)) / max(float(np.median(paper)) - ink, 1.0)


def outline_shares(image: np.ndarray, page: PreparedPage, page_to_image: np.ndarray, ink_level: float
                   ) -> np.ndarray:
    """Per check bubble, how much of its printed contrast its outline shows where ``page_to_image`` puts it."""
    contrast = _outline_contrast(image, page_to_image, page.centres_mm[page.check_index],
                                 page.semi_axes_mm[page.check_index], ink_level)
    return contrast / np.maximum(page.check_outline, 0.05)


def outline_share(image: np.ndarray, page: PreparedPage, page_to_image: np.ndarray, ink_level: float) -> float:
    """How much of its printed contrast the median check bubble's outline shows where ``page_to_image`` puts it,
    in the quarter of the page where it shows least (about 1 on a sharp scan of a right fit, 0 when the fit puts
    the outlines on paper). Taken per quarter, a fit turned half a degree about the middle of the page, right there
    and a millimetre off in the corners, is not passed by the bubbles in the middle."""
    return _weakest_quarter(outline_shares(image, page, page_to_image, ink_level), page)


def _weakest_quarter(share: np.ndarray, page: PreparedPage) -> float:
    """The median of ``share`` (per check bubble) in the quarter of the page where it is least."""
    quarters = [share[page.check_quarter == quarter] for quarter in range(4)]
    return float(min((np.median(part) for part in quarters if len(part) >= 3), default=np.median(share)))


def fit_verified(image: np.ndarray, page: PreparedPage, page_to_image: np.ndarray, ink_level: float) -> bool:
    """Whether the printed bubble outlines sit where ``page_to_image`` puts them, or, on a scan that has lost them
    (a 1-bit threshold scan keeps bold print only), whether the page's bold print does.

    A wrong fit (an anchor wrongly found, a clipped one) puts the rings on paper: then no reading on the page is
    sure (see :func:`read_page`).
    """
    if outline_share(image, page, page_to_image, ink_level) >= _MIN_OUTLINE_SHARE:
        return True
    return print_agrees(image, page_to_image, page.bold_print, (page.expanded.width_mm, page.expanded.height_mm))


def _refined(image: np.ndarray, page: PreparedPage, fit: Registration) -> tuple[Registration, bool]:
    """``fit`` refitted to the printed outlines of the page's refinement bubbles, or ``fit`` itself, and whether the
    fit returned is verified (on the check bubbles, which the refit did not use).

    Four whole anchors fit a sharp page more precisely than the outlines do (about 0.02 against 0.04 mm): when they
    agree with an affine fit within ``_TRUSTED_RESIDUAL_MM`` and their fit is verified, the page is not refitted (a
    wrongly found anchor, a keystone or stretched paper makes them disagree by more); when the refit puts every
    refinement bubble within ``_SAME_FIT_MM`` of where the anchors' fit does, the latter is kept too.
    """
    anchors_agree = (fit.anchors_found == len(page.expanded.anchors) and not fit.clipped_anchors
                     and fit.residual_mm <= _TRUSTED_RESIDUAL_MM)
    verified = fit_verified(image, page, fit.page_to_image, fit.ink_level) if anchors_agree else None
    if verified:
        return fit, True
    refit = refine_transform(image, fit.page_to_image, page.centres_mm[page.refine_index],
                             page.semi_axes_mm[page.refine_index])
    if refit is not None:
        points = page.centres_mm[page.refine_index]
        moved = np.linalg.norm(apply_homography(refit, points) - apply_homography(fit.page_to_image, points), axis=1)
        if moved.max() > _SAME_FIT_MM * fit.px_per_mm and fit_verified(image, page, refit, fit.ink_level):
            return replace(fit, page_to_image=refit), True
    if verified is None:  # the anchors' own fit, checked once
        verified = fit_verified(image, page, fit.page_to_image, fit.ink_level)
    return fit, verified


def known_pages(other: Template) -> list[KnownPage]:
    """What recognising a page of ``other`` needs (its anchors and identity strip, or its prepared layout when it
    has no strip), page by page."""
    layouts = prepare_template(other).pages if any(page.identity is None for page in other.pages) else None
    return [KnownPage(other.id, other.identity_code, expanded, *_identity_cells(expanded),
                      layout=None if layouts is None or expanded.identity is not None else layouts[number - 1])
            for number, expanded in ((n, expand_page(other, n)) for n in range(1, len(other.pages) + 1))]


def with_others(prepared: PreparedTemplate, known: Iterable[KnownPage]) -> PreparedTemplate:
    """``prepared`` (sharing its prepared pages) recognising the ``known`` pages of other templates: a cheap way
    to read one template against different sets of others (see :func:`prepare_template`)."""
    # A page with the template's own code is the template itself, or one its pages cannot be told apart from.
    return replace(prepared, others=[page for page in known if page.code != prepared.template.identity_code])


def _is_binary(image: np.ndarray) -> bool:
    sample = image[::7, ::7]
    return bool(np.count_nonzero((sample > 0) & (sample < 255)) < 0.001 * sample.size)


def _read_identity(image: np.ndarray, fit: Registration, page: PreparedPage | KnownPage,
                   prepared: PreparedTemplate) -> tuple[int, int] | None:
    """(template code, page) from the identity strip under ``fit``, or None when its bits do not decode."""
    matrix = fit.page_to_image
    profile = prepared.profile
    measured = measure_bubbles(
        image, apply_homography(matrix, page.identity_centres_mm),
        homography_jacobians(matrix, page.identity_centres_mm), page.identity_semi_mm,
        inner=prepared.disk(10), ring=_RING_SAMPLES, inner_fraction=profile.inner_fraction,
        ring_fraction=profile.ring_fraction, dark_level=128.0,
    )
    paper = float(np.median(measured.ring_median))
    darkness = (paper - measured.inner_mean) / max(paper - fit.ink_level, 1.0)
    bits = (darkness > 0.5 * (profile.identity_on + profile.identity_off)).astype(int)
    return decode_identity(bits.tolist())


def _recorded(source: Iterator[Registration], into: list[Registration]) -> Iterator[Registration]:
    for item in source:
        into.append(item)
        yield item


def other_template_reason(code: int, page: int, template_id: str | None = None) -> str:
    """The review reason of a page whose identity strip names another template (English, then Chinese)."""
    name = f" {template_id}" if template_id else ""
    return (f"page of another template{name} (code {code}, page {page}): "
            f"其他答题卡模板的页面 ({template_id or f'模板代码 {code}'} 第 {page} 页), 不属于本次扫描的模板")


def _fits(image: np.ndarray, expanded: ExpandedPage, prepared: PreparedTemplate,
          tried: dict[tuple, list[Registration]]) -> Iterator[Registration]:
    """The page's registrations, best first; pages with the same anchors (a card's pages) are fitted once."""
    key = tuple((a.shape, a.x, a.y, a.box, a.arm_mm, a.corner) for a in expanded.anchors)
    if key in tried:
        return iter(tried[key])
    tried[key] = []
    return _recorded(iter_registrations(image, expanded, max_residual_mm=prepared.profile.max_anchor_residual_mm),
                     tried[key])


def _known_other(image: np.ndarray, prepared: PreparedTemplate, tried: dict[tuple, list[Registration]],
                 ) -> tuple[int, int, str] | None:
    """(code, page, template id) of the other known template whose page this is, or None."""
    for known in prepared.others:
        if known.layout is not None:
            continue  # a page without identity strip: told by its print (_other_by_content)
        for fit in _fits(image, known.expanded, prepared, tried):
            decoded = _read_identity(image, fit, known, prepared)
            if decoded is not None and decoded[0] == known.code:
                return decoded[0], decoded[1], known.template_id
    return None


def _locate(image: np.ndarray, prepared: PreparedTemplate, *, binary: bool = False
            ) -> tuple[Registration, PreparedPage] | str:
    """The registration and template page of a scan, or the reason there is none.

    Fits come lazily, most plausible orientation first; the first whose identity strip names this template and
    page wins. A fit with more anchors is preferred: a 3-anchor fit is only taken when no 4-anchor one is.
    A page that is none of the template's is tried against the other known templates' layouts
    (``prepared.others``) to say whose page it is.
    """
    if prepared.by_content:
        return _locate_by_content(image, prepared, binary)
    other = None
    registered_any = False
    fallback: tuple[float, Registration, PreparedPage] | None = None
    tried: dict[tuple, list[Registration]] = {}  # pages of one card usually share their anchors: fit them once
    for page in prepared.pages:
        for fit in _fits(image, page.expanded, prepared, tried):
            registered_any = True
            if fallback is not None and fit.anchors_found < 3:
                continue  # two-anchor guesses come last: not needed once a three-anchor fit reads the strip
            decoded = _read_identity(image, fit, page, prepared)
            if decoded is None:
                # A three-anchor affine fit cannot follow a keystone, nor a fit a wrongly found anchor: the strip
                # may lie a millimetre or two from where it puts it. Refit to the printed outlines and look again.
                refit = refine_transform(image, fit.page_to_image, page.centres_mm[page.refine_index],
                                         page.semi_axes_mm[page.refine_index])
                if refit is None:
                    continue
                fit = replace(fit, page_to_image=refit)
                decoded = _read_identity(image, fit, page, prepared)
                if decoded is None:
                    continue
            code, number = decoded
            if code == prepared.template.identity_code and number == page.expanded.page:
                if fit.anchors_found == len(page.expanded.anchors):
                    return fit, page
                # Fewer anchors: when one of four disagreed, each fit on the other three comes; the printed
                # bubble outlines pick the one that puts them where they are.
                share = outline_share(image, page, fit.page_to_image, fit.ink_level)
                if fallback is None or share > fallback[0]:
                    fallback = (share, fit, page)
                continue
            other = decoded
    if fallback is not None:
        return fallback[1], fallback[2]
    if other is not None and other[0] != prepared.template.identity_code:
        names = {known.code: known.template_id for known in prepared.others}
        return other_template_reason(other[0], other[1], names.get(other[0]))
    known = _known_other(image, prepared, tried) or _other_by_content(image, prepared, tried, [], binary)
    if known is not None:
        return other_template_reason(*known)
    if registered_any:
        return "page identity unreadable"
    if float(image.std()) < 6.0:
        return "blank page (no anchors)"
    return "no anchors found"


def _locate_by_content(image: np.ndarray, prepared: PreparedTemplate, binary: bool
                       ) -> tuple[Registration, PreparedPage] | str:
    """:func:`_locate` for a card whose pages carry no identity strip: every fit of every page (at most four
    orientations each) is a candidate, unless an anchor's place shows another of the page's anchor shapes; the
    printed content picks the one it clearly backs (:func:`omr.orient.choose`). When none of the template's does,
    the other known templates' pages are tried the same way (and by their identity strips). ``binary``: the scan
    was 1-bit (a threshold may have erased the thin outlines)."""
    tried: dict[tuple, list[Registration]] = {}
    candidates: list[Candidate] = []
    registered_any = False
    guesses: list[tuple[PreparedPage, list[Registration]]] = []
    for page in prepared.pages:
        fits = list(_fits(image, page.expanded, prepared, tried))
        registered_any = registered_any or bool(fits)
        candidates += _candidates(image, page, [fit for fit in fits if fit.anchors_found >= 3])
        guesses.append((page, [fit for fit in fits if fit.anchors_found < 3]))
    choice = _settled(image, candidates, binary)
    if choice.candidate is None and choice.reason == LAYOUT_NOT_FOUND and any(fits for _, fits in guesses):
        # Two-anchor fits (first guesses on a page that lost two anchors, or three with a stray blob) are weighed
        # only when no fit on three or more anchors verifies, and near copies of one reading are weighed once:
        # beside each other they would be rivals no test can tell apart.
        choice = _settled(image, _distinct([c for page, fits in guesses for c in _candidates(image, page, fits)]),
                          binary)
    if choice.candidate is not None:
        return choice.candidate.fit, choice.candidate.page
    known = _other_by_content(image, prepared, tried, candidates, binary) or _known_other(image, prepared, tried)
    if known is not None:
        return other_template_reason(*known)
    if not registered_any:
        return "blank page (no anchors)" if float(image.std()) < 6.0 else "no anchors found"
    return choice.reason


def _distinct(candidates: list[Candidate]) -> list[Candidate]:
    """``candidates`` less the near copies of a better one: the same page the same way up, its fit putting no
    bubble further than ``_SAME_GUESS_MM`` from where the better one puts it (pairings of the same anchors, which
    the refit to the outlines brings to one fit)."""
    kept: list[Candidate] = []
    for candidate in sorted(candidates, key=lambda c: (c.verified, c.score), reverse=True):
        centres = candidate.page.centres_mm
        placed = apply_homography(candidate.fit.page_to_image, centres)
        if not any(other.page is candidate.page and other.fit.orientation == candidate.fit.orientation
                   and np.linalg.norm(apply_homography(other.fit.page_to_image, centres) - placed, axis=1).max()
                   <= _SAME_GUESS_MM * candidate.fit.px_per_mm for other in kept):
            kept.append(candidate)
    return kept


def _candidates(image: np.ndarray, page: PreparedPage, fits: list[Registration], template_id: str | None = None
                ) -> list[Candidate]:
    """``page`` under each of ``fits`` whose anchors do not contradict it, with the outline evidence of each."""
    shapes = anchor_shapes(page.expanded.anchors)
    out = []
    for fit in fits:
        if shapes.asymmetric and anchor_votes(image, fit.page_to_image, page.expanded.anchors, shapes)[1]:
            continue  # some anchor's place shows another anchor's shape: this orientation is not the page's
        out.append(_outline_candidate(image, page, fit, template_id))
    return out


def _outline_candidate(image: np.ndarray, page: PreparedPage, fit: Registration, template_id: str | None
                       ) -> Candidate:
    shares = outline_shares(image, page, fit.page_to_image, fit.ink_level)
    score = _weakest_quarter(shares, page)

    def every_bubble() -> np.ndarray:
        contrast = _outline_contrast(image, fit.page_to_image, page.centres_mm, page.semi_axes_mm, fit.ink_level)
        return contrast / np.maximum(page.all_outline, 0.05)

    return Candidate(page, fit, shares, score >= _MIN_OUTLINE_SHARE, score, template_id,
                     every_bubble if page.all_outline is not None else None)


def _settled(image: np.ndarray, candidates: list[Candidate], binary: bool) -> Choice:
    """The candidate the print backs (see :func:`omr.orient.choose`), after the two second looks verification
    takes for a single fit (:func:`_refined`): when no candidate's outlines verify, each fit refitted to the
    outlines (a three-anchor fit under a keystone); when still none does and the scan was 1-bit (a threshold that
    erased the outlines), the bold print, weighed patch by patch. Never on a gray scan: there the outlines are
    printed, and bold print in place says only that the page comes from the same system (another form of it
    shares its headings), not that its bubbles are where this template has them."""
    if candidates and not any(c.verified for c in candidates):
        refitted = []
        for c in candidates:
            refit = refine_transform(image, c.fit.page_to_image, c.page.centres_mm[c.page.refine_index],
                                     c.page.semi_axes_mm[c.page.refine_index])
            refitted.append(c if refit is None else
                            _outline_candidate(image, c.page, replace(c.fit, page_to_image=refit), c.template_id))
        candidates = refitted
    if binary and candidates and not any(c.verified for c in candidates):
        candidates = [_print_candidate(image, c) for c in candidates]
    return choose(candidates)


def _print_candidate(image: np.ndarray, candidate: Candidate) -> Candidate:
    """``candidate`` weighed on its page's bold print instead of its outlines."""
    page = candidate.page
    found = print_found(image, candidate.fit.page_to_image, page.bold_print)
    evidence = print_in_place(*found)
    verified = print_agrees(image, candidate.fit.page_to_image, page.bold_print,
                            (page.expanded.width_mm, page.expanded.height_mm), found)
    return replace(candidate, evidence=evidence, verified=verified, score=float(evidence.mean()) if len(evidence)
                   else 0.0)


def _other_by_content(image: np.ndarray, prepared: PreparedTemplate, tried: dict[tuple, list[Registration]],
                      own: list[Candidate], binary: bool) -> tuple[int, int, str] | None:
    """(code, page, template id) of the other known template without identity strip whose page the print clearly
    backs over every reading of this template's (``own``), or None."""
    others = [known for known in prepared.others if known.layout is not None]
    if not others:
        return None
    candidates = list(own)
    for known in others:
        candidates += _candidates(image, known.layout, list(_fits(image, known.expanded, prepared, tried)),
                                  known.template_id)
    winner = _settled(image, candidates, binary).candidate
    if winner is None or winner.template_id is None:
        return None
    code = next(known.code for known in others if known.template_id == winner.template_id)
    return code, winner.page.expanded.page, winner.template_id


def read_page(image: np.ndarray, prepared: PreparedTemplate, *, source: str = "", page_index: int = 0,
              crop_dir=None, full_size: Callable[[], np.ndarray | None] | None = None) -> PageResult:
    """Read one scanned page.

    Parameters
    ----------
    image : (rows, cols) uint8 array
        Grayscale scan (255 = white). 1-bit scans (only 0 and 255) are smoothed back to gray first.
    prepared : PreparedTemplate
        From :func:`prepare_template`.
    source, page_index : str, int
        Where the page came from, copied into the result.
    crop_dir : path-like, optional
        When given, every region of the page is cut out upright and written there as PNG.
    full_size : callable, optional
        For an ``image`` decoded reduced (a JPEG at ~100 dpi): the same page at full size, asked for only when a
        barcode cannot be read on ``image`` (:attr:`omr.load.LoadedPage.full_size`).
    """
    started = time.perf_counter()
    result = PageResult(source=source, page_index=page_index, status="ok", template_id=prepared.template.id)
    if image.ndim != 2 or image.dtype != np.uint8:
        result.status = "error"
        result.reasons.append(f"not a grayscale page image ({image.dtype}, shape {image.shape})")
        return result
    if min(image.shape) < 32:
        result.status = "error"
        result.reasons.append(f"image of {image.shape[1]}x{image.shape[0]} px is too small to be a scanned page: "
                              "no anchors can be found")
        return result
    profile = prepared.profile
    binary = _is_binary(image)
    if binary:
        # Dithered or thresholded 1-bit scan: average the dots back into gray levels before measuring.
        width_mm = min(prepared.template.page_mm)
        kernel = max(3, int(round(min(image.shape) / width_mm * 0.45)) | 1)
        image = cv2.blur(image, (kernel, kernel))
    located = _locate(image, prepared, binary=binary)
    if isinstance(located, str):
        result.status = "error"
        result.reasons.append(located)
        result.timings_ms = {"register_ms": (time.perf_counter() - started) * 1000}
        return result
    fit, page = located
    # Refit to the printed outlines, then verify on other outlines: a fit that cannot be verified either way
    # makes every reading on the page uncertain (four anchors can agree within the residual limit with one of
    # them wrongly found; a three-anchor affine fit cannot follow a keystone).
    fit, verified = _refined(image, page, fit)
    timings = {"register_ms": (time.perf_counter() - started) * 1000}
    if fit.px_per_mm < profile.min_px_per_mm:
        result.status = "error"
        result.reasons.append(f"resolution too low ({fit.px_per_mm * 25.4:.0f} dpi)")
        return result
    result.page, result.orientation = page.expanded.page, fit.orientation
    # A lost anchor matters only through the fit: one that the printed outlines verify reads as a four-anchor one
    # (measured: 0 wrong-but-sure, worst bubble 0.22 mm off, on pages with an anchor painted out), and one they do
    # not makes every reading uncertain (registration unsure) with this reason beside it.
    if fit.anchors_found < len(page.expanded.anchors) and not verified:
        result.flag(f"anchor missing: registered on {fit.anchors_found} of {len(page.expanded.anchors)} anchors")
    result.residual_mm = round(fit.residual_mm, 3)
    result.page_to_image = fit.page_to_image.tolist()

    if page.expanded.timing:  # 同步头: bubble rows/columns moved to where their bars are, if the print agrees
        t0 = time.perf_counter()
        page, verified, track_notes = tracked_page(
            image, page, fit.page_to_image, verified,
            lambda moved: fit_verified(image, moved, fit.page_to_image, fit.ink_level))
        for note in track_notes:
            result.flag(note)
        timings["tracks_ms"] = (time.perf_counter() - t0) * 1000

    t0 = time.perf_counter()
    matrix = fit.page_to_image
    ink_level = solid_ink_level(image, page, matrix, fit.ink_level, fit.px_per_mm)
    bubble_px = float(np.median(page.semi_axes_mm.min(axis=1))) * profile.inner_fraction * fit.px_per_mm
    per_axis = int(np.clip(round(2 * bubble_px), 8, 20))
    centres_px = apply_homography(matrix, page.centres_mm)
    measured = measure_bubbles(
        image, centres_px, homography_jacobians(matrix, page.centres_mm), page.semi_axes_mm,
        inner=prepared.disk(per_axis), ring=_RING_SAMPLES, inner_fraction=profile.inner_fraction,
        ring_fraction=profile.ring_fraction, dark_level=(255.0 + ink_level) / 2,
    )
    timings["measure_ms"] = (time.perf_counter() - t0) * 1000

    t0 = time.perf_counter()
    paper = float(np.median(measured.ring_median))
    strength = mark_strength(measured.inner_mean, page.blank_darkness, paper, ink_level)
    strength = strength - empty_level(strength, page.label_index, page.group_starts, page.single_select)
    thresholds = page_thresholds(strength, profile, page.writer_index)
    state, margin = classify_bubbles(strength, thresholds, page.group_starts, page.single_select, profile,
                                     page.residue_unit)
    outcomes = group_outcomes(state, margin, page.group_starts, page.single_select, profile.confidence_span)
    result.mark_level = round(thresholds.mark_level, 3)
    _interpret(result, page, *outcomes)
    if not verified:
        _registration_unsure(result, page)
    timings["decide_ms"] = (time.perf_counter() - t0) * 1000

    t0 = time.perf_counter()
    full: tuple[np.ndarray, np.ndarray] | None = None
    for rect in page.expanded.barcodes:
        crop = warp_rect(image, matrix, rect.x, rect.y, rect.w, rect.h, min(fit.px_per_mm, 10.0))
        result.barcode = read_label(crop, rect.symbology or "code128", result.student_id)
        if result.barcode is None and full_size is not None and not binary:
            # ~100 dpi shows a sticker's 0.25 mm bars or a small QR's modules as mush: cut the label again from
            # the page decoded at full size (decoded once, and only for a page whose label did not read).
            full = full or _at_full_size(full_size(), image.shape, matrix)
            if full[0] is not None:
                scale = float(np.sqrt(abs(np.linalg.det(full[1][:2, :2]))))
                crop = warp_rect(full[0], full[1], rect.x, rect.y, rect.w, rect.h, min(scale, _LABEL_PX_PER_MM))
                result.barcode = read_label(crop, rect.symbology or "code128", result.student_id)
    _settle_student_id(result)
    if crop_dir is not None:
        folder = Path(crop_dir)
        folder.mkdir(parents=True, exist_ok=True)
        stem = page_file_stem(source, page_index)
        for rect in page.expanded.regions:
            crop = warp_rect(image, matrix, rect.x, rect.y, rect.w, rect.h, fit.px_per_mm)
            path = folder / f"{stem}_{rect.id}.png"
            cv2.imwrite(str(path), crop)
            result.crops[rect.id] = str(path)
    timings["extras_ms"] = (time.perf_counter() - t0) * 1000
    result.timings_ms = {k: round(v, 3) for k, v in timings.items()}
    return result


def solid_ink_level(image: np.ndarray, page: PreparedPage, page_to_image: np.ndarray, anchor_ink: float,
                    px_per_mm: float) -> float:
    """The gray of solid ink on this page: the anchors' (``anchor_ink``), unless they are plainly lighter than the
    page's bold print (black text, always) — anchors printed at a 60 % tone would otherwise make every mark read
    1/0.6 times as strong. The print's figure is the median over a few bold-print squares of their 5th percentile;
    it replaces the anchors' only beyond ``_GRAY_ANCHOR_GAP`` gray levels, since on a noisy scan a low percentile
    of thin strokes reads darker than the ink really is (every mark would then read lighter)."""
    patches = page.bold_print.centres_mm
    if not len(patches):
        return float(anchor_ink)
    side = _PRINT_INK_MM
    darkest = [float(np.percentile(warp_rect(image, page_to_image, x - side / 2, y - side / 2, side, side,
                                             px_per_mm), 5.0)) for x, y in patches[:_PRINT_INK_PATCHES]]
    print_ink = float(np.median(darkest))
    return print_ink if anchor_ink - print_ink > _GRAY_ANCHOR_GAP else float(anchor_ink)


def _interpret(result: PageResult, page: PreparedPage, filled: np.ndarray, unsure: np.ndarray, statuses: list[str],
               confidences: list[float]) -> None:
    """Questions, id grid, absent mark and score boxes from the group outcomes (see ``group_outcomes``)."""
    uncertain_q, multiple_q = [], []
    id_columns: list[tuple[str, str]] = []
    score_parts: dict[str, list] = {}
    filled_list, unsure_list = filled.tolist(), unsure.tolist()
    bounds = page.group_starts.tolist()
    for index, (group, labels) in enumerate(zip(page.expanded.groups, page.group_labels)):
        a, b = bounds[index], bounds[index + 1]
        status = statuses[index]
        marked = "".join(compress(labels, filled_list[a:b]))
        if group.kind == "question":
            result.questions[group.id] = QuestionReading(marked, status, confidences[index],
                                                         "".join(compress(labels, unsure_list[a:b])))
            if status == "uncertain":
                uncertain_q.append(group.id)
            elif status == "multiple":
                multiple_q.append(group.id)
        elif group.kind == "id_column" and group.role == "student_id":
            id_columns.append((marked, status))
        elif group.kind == "id_column" and group.role == "form":
            if status == "ok":
                result.form = (result.form or "") + marked
            elif status != "blank":
                result.flag(f"paper version {status}")
        elif group.kind == "mark" and group.role == "absent":
            if status == "uncertain":
                result.absent = None
                result.flag("absent mark uncertain")
            else:
                result.absent = status == "ok"
        elif group.kind == "mark" and group.role == "violation":
            if status == "uncertain":
                result.violation = None
                result.flag("violation mark uncertain")
            else:
                result.violation = status == "ok"  # a sure reading; grading lists it (grading.pipeline)
        elif group.kind == "chooser":
            _choice(result, group, labels, marked, status, confidences[index])
        elif group.kind in ("score_digit", "score_half"):
            score_parts.setdefault(group.role, []).append((group, status, confidences[index], marked))
    if uncertain_q:
        result.flag("uncertain marks: " + ", ".join(uncertain_q))
    if multiple_q:
        result.flag("multiple marks: " + ", ".join(multiple_q))
    if id_columns:
        grid = "".join(m if s == "ok" else ("?" if s in ("uncertain", "multiple") else " ") for m, s in id_columns)
        result.id_grid = grid
        statuses_seen = {s for _, s in id_columns}
        if statuses_seen == {"ok"}:
            result.student_id, result.student_id_status = grid, "ok"
        elif statuses_seen == {"blank"}:
            result.student_id_status = "blank"
        elif "uncertain" in statuses_seen:
            result.student_id_status = "uncertain"
        elif "multiple" in statuses_seen:
            result.student_id_status = "multiple"
        else:
            result.student_id_status = "incomplete"
    for question, parts in score_parts.items():
        result.scores[question] = _score(parts, page)
        if result.scores[question].status not in ("ok", "blank"):
            result.flag(f"score {result.scores[question].status}: {question}")


def _at_full_size(full: np.ndarray | None, shape: tuple[int, ...], page_to_image: np.ndarray
                  ) -> tuple[np.ndarray | None, np.ndarray]:
    """(the full-size page, the fit mapped onto it): a reduced pixel's centre ``i`` is the full image's
    ``i * s + (s - 1) / 2`` for the reduction ``s`` each axis shows."""
    if full is None or full.ndim != 2:
        return None, page_to_image
    sx, sy = full.shape[1] / shape[1], full.shape[0] / shape[0]
    to_full = np.array([[sx, 0.0, (sx - 1) / 2], [0.0, sy, (sy - 1) / 2], [0.0, 0.0, 1.0]])
    return full, to_full @ page_to_image


REGISTRATION_UNSURE = ("registration unsure: the printed bubble outlines are not where the anchors put them, "
                       "every reading needs a look: "
                       "定位存疑: 气泡印刷轮廓与定位点推算的位置不符, 本页所有识别结果均需人工核对")


def _registration_unsure(result: PageResult, page: PreparedPage) -> None:
    """Make every reading of a page whose fit failed verification uncertain: a reviewer who fixes the flagged
    questions must see them all (a wrong fit reads marked bubbles as blank, and would report that sure)."""
    result.flag(REGISTRATION_UNSURE)
    for group, labels in zip(page.expanded.groups, page.group_labels):
        if group.kind == "question":  # nothing read under a wrong fit is known: every bubble is in doubt
            result.questions[group.id] = QuestionReading("", "uncertain", 0.0, "".join(labels))
    for question in result.scores:
        result.scores[question] = ScoreReading(None, "uncertain", 0.0)
    if result.questions:
        result.reasons[:] = [r for r in result.reasons if not r.startswith(("uncertain marks: ", "multiple marks: "))]
        result.flag("uncertain marks: " + ", ".join(result.questions))
    if result.student_id_status is not None:
        result.student_id, result.student_id_status = None, "uncertain"
        result.id_grid = "?" * len(result.id_grid or "")
    result.absent = result.form = None


def _choice(result: PageResult, group, labels: tuple[str, ...], marked: str, status: str, confidence: float) -> None:
    """A 选考题 chooser's reading; none or two chosen, or a doubtful bubble, is flagged for review."""
    by_label = dict(zip(labels, group.questions))
    chosen = by_label[marked] if status == "ok" else ""
    result.choices[group.id] = ChoiceReading(chosen, status, confidence, list(group.questions))
    if status != "ok":
        result.flag(f"optional question choice {status}: {group.id} ({'/'.join(group.questions)})")


def _score(parts: list, page: PreparedPage) -> ScoreReading:
    """A score box from its rows' (group, status, confidence, marked)."""
    statuses = [status for _, status, _, _ in parts]
    confidence = min(confidence for _, _, confidence, _ in parts)
    if "uncertain" in statuses:
        return ScoreReading(None, "uncertain", confidence)
    if "multiple" in statuses:
        return ScoreReading(None, "multiple", confidence)
    if all(status == "blank" for status in statuses):
        return ScoreReading(None, "blank", confidence)
    # A blank digit row counts as 0 (teachers leave the tens empty for a one-digit score).
    value = 0.0
    for group, status, _, marked in parts:
        if status == "ok":
            value += float(group.place) * (1.0 if group.kind == "score_half" else float(marked))
    if value > page.score_max[parts[0][0].field_id]:
        return ScoreReading(value, "over_max", confidence)
    return ScoreReading(value, "ok", confidence)


def _settle_student_id(result: PageResult) -> None:
    """Combine the 考号 grid and the barcode; flag what a person must look at."""
    has_grid = result.student_id_status is not None
    if result.barcode and result.student_id and result.barcode != result.student_id:
        result.flag(f"student id grid {result.student_id} and barcode {result.barcode} disagree")
        return
    if result.student_id is None and result.barcode:
        result.student_id = result.barcode
        if has_grid and result.student_id_status not in ("blank",):
            result.flag(f"student id grid {result.student_id_status}; barcode used")
        return
    if has_grid and result.student_id is None and result.absent is not True:
        result.flag(f"student id {result.student_id_status}")
