"""Scan simulator: ground truth in, realistic school-scanner images out, deterministic by seed.

:func:`random_truth` makes what a student (and the proctor and teacher) meant to mark, :func:`simulate_sheet`
draws it the way people do (:mod:`sample_sheets.marks`) onto the blank sheet as the school's printer printed it
(:mod:`sample_sheets.printer`: fit to page, bolder font, thicker outlines, gray anchors) and passes every page
through a scanner (:mod:`sample_sheets.scanner`), recording per page exactly what each bubble holds, the
correct reading and whether a careful reader could hesitate. :func:`write_batch` writes a batch as a scanner
station uploads it, with a ``.truth.json`` per page and a ``manifest.json``.

Profiles (``clean``, ``typical``, ``hard``, and ``feeder``: typical sheets as document feeders skew, shift, scale
and keystone them on a dark or light background) are :class:`Profile` dataclasses of probabilities and ranges; the
``overrides`` dict switches any single effect on or off or fixes its value, e.g.
``simulate_sheet(t, truth, seed=1, profile="clean", overrides={"rotation_deg": 4.0})``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import json
from dataclasses import asdict, dataclass, field, fields, replace
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Iterator

import cv2
import numpy as np

from omr.geometry import MM_PER_INCH
from omr.template import BubbleGroup, ExpandedPage, Template, expand_page
from sample_sheets import marks as mk
from sample_sheets.personalised import PersonalSheet, draw_personalisation
from sample_sheets.printer import PrintParams, print_page_cached, print_transform, printed_layout
from sample_sheets.scanner import PageImage, ScanParams, bubble_darkness, scan, scan_points, write_pdf, write_tiff

__all__ = ["Range", "Profile", "PROFILES", "resolve_profile", "SheetTruth", "random_truth", "intended_readings",
           "make_roster", "SimulatedPage", "simulate_sheet", "write_batch", "sheet_seed", "BUBBLE_STATES"]

#: What a bubble can hold, as recorded in the truth.
BUBBLE_STATES = ("filled", "partial", "offcentre", "tick", "cross", "faint", "erased", "smudge", "empty")
_READ_STATES = frozenset(mk.MARK_KINDS)  # states that count as the student's mark
_HEAVY_RESIDUE = 0.15  # erasure residue darker than this could make a careful reader hesitate
_GUARD_INK = 0.03  # an "empty" bubble darkened more than this by anything is recorded as a smudge
# In the scan, relative to the page's typical fill: an unmarked bubble this dark, or a mark this light, makes
# a careful reader hesitate whatever the paper says (a dark tinted 1-bit scan turns residue into speckle).
_SCAN_UNMARKED_MAX, _SCAN_MARKED_MIN = 0.3, 0.45


@dataclass(frozen=True)
class Range:
    """An effect applied with probability ``p``, its value drawn uniformly from [``lo``, ``hi``]."""

    p: float = 0.0
    lo: float = 0.0
    hi: float = 0.0

    def draw(self, rng: np.random.Generator) -> float | None:
        """The value, or None when not applied. Always consumes two draws so streams stay aligned."""
        u, v = rng.random(2)
        return float(self.lo + (self.hi - self.lo) * v) if u < self.p else None


OFF = Range()
Choices = tuple[tuple[Any, float], ...]


@dataclass(frozen=True)
class Profile:
    """How the scanner station, the scanner and the people behave; see the module docstring for overrides."""

    name: str
    # Scanner station settings, per sheet.
    dpi: Choices = ((200, 1.0),)
    jpeg_quality: Range = OFF
    binarize: Choices = (("none", 1.0),)
    threshold: Range = Range(1.0, 140, 170)
    upside_down: float = 0.0
    # What the scanner does to each page.
    rotation_deg: Range = OFF
    shift_mm: Range = OFF  # per axis
    shift_y_mm: Range | None = None  # the vertical shift when it differs (None: drawn like ``shift_mm``)
    scale: Range = OFF
    perspective: Range = OFF  # per axis
    blur: Range = OFF
    noise: Range = OFF
    brightness: Range = OFF
    contrast: Range = OFF
    gamma: Range = OFF
    paper: Range = OFF  # paper gray level (tinted, recycled paper)
    lid: Range = OFF
    lid_dark: Range = OFF  # a black-backed feeder: with probability p the background is this dark instead of ``lid``
    lighting: Range = OFF
    bleed: Range = OFF
    dust: Range = OFF
    overscan_mm: float = 0.0  # scan area beyond the paper each side; 0 = the frame is the paper
    # The feed (sample_sheets.scanner.feed_rows): a uniform stretch along it, and a scanner-speed drift whose local
    # stretch wanders by +-value (fraction) through ``feed_cycles`` cycles over the page at a random phase.
    feed_stretch: Range = OFF
    feed_drift: Range = OFF
    feed_cycles: Range = Range(1.0, 0.5, 2.0)
    # The school's printer, per sheet (sample_sheets.printer.PrintParams).
    print_scale: Range = OFF  # "fit to page": content scaled about the page centre
    print_bold_mm: Range = OFF  # bolder labels and text
    print_outline_mm: Range = OFF  # thicker bubble outlines
    anchor_tone: Range = OFF  # anchors' ink, 1 = black, 0.6 = 60 % gray
    # People.
    tools: Choices = (("pencil", 1.0),)
    ink: tuple[float, float] = (0.0, 1.0)  # part of the tool's darkness range students reach
    #: With probability p a writer's darkness is drawn from lo..hi (0..1 as gray luma; a mark is drawn at most
    #: 0.95 dark) instead of the tool's range: a light hand or a hard pencil, or a soft one pressed black.
    writer_darkness: Range = OFF
    #: With probability p a writer's marks vary in darkness by up to +-value (lo..hi, drawn per writer) around
    #: their own level, mark by mark: pressure and a wearing pencil point change within one sheet.
    darkness_spread: Range = OFF
    marks: Choices = (("filled", 1.0),)
    #: How the pencil moves in a full fill (:data:`sample_sheets.marks.FILL_STROKES`).
    strokes: Choices = (("ellipse", 1.0),)
    overshoot_mm: tuple[float, float] = (0.4, 1.2)  # how far "overshoot" strokes swing past the rim
    partial_coverage: tuple[float, float] = (0.7, 0.95)
    offcentre_mm: tuple[float, float] = (0.5, 1.0)
    faint_ink: tuple[float, float] = (0.14, 0.28)
    spill: Range = OFF  # share of full fills running over the rim, by lo..hi mm
    erasure: Range = OFF  # per group: a changed answer's residue, as a fraction lo..hi of the student's ink
    stray: Range = OFF  # stray marks per page, clear of the bubbles
    smudge: Range = OFF  # smudges per page, clear of the bubbles
    smudge_on_bubble: Range = OFF  # smudges on empty bubbles per page
    handwriting: float = 0.0  # chance each answer/name region carries writing
    label_skew: Range = OFF  # degrees the sticker is stuck crooked
    # mm per narrow bar of the sticker's linear code; OFF: 0.36-0.42 mm (what a page decoded at ~100 dpi still
    # shows). Label printers print 0.25 mm (2 dots at 203 dpi) and 0.33 mm (4 dots at 300 dpi).
    label_module_mm: Range = OFF


PROFILES: dict[str, Profile] = {
    "clean": Profile("clean", ink=(0.85, 1.0)),
    "typical": Profile(
        "typical", dpi=((200, 0.8), (150, 0.1), (300, 0.1)), jpeg_quality=Range(1.0, 75, 95), upside_down=0.02,
        rotation_deg=Range(1.0, -2, 2), shift_mm=Range(1.0, -2, 2), scale=Range(1.0, 0.99, 1.01),
        perspective=Range(0.3, -0.002, 0.002), blur=Range(0.7, 0.3, 0.8), noise=Range(1.0, 1.5, 4),
        brightness=Range(0.5, -8, 8), contrast=Range(0.5, 0.92, 1.06), gamma=Range(0.5, 0.9, 1.1),
        paper=Range(0.6, 238, 252), lid=Range(1.0, 238, 252), lighting=Range(0.4, 0.01, 0.04),
        bleed=Range(0.15, 0.02, 0.05), dust=Range(0.3, 1, 6),
        tools=(("pencil", 0.85), ("pen_black", 0.1), ("pen_blue", 0.05)),
        # Real hands, as far as a simulator can say (shares are estimates, not field counts): about one writer
        # in seven presses lightly or uses a hard pencil (45-55 % dark); every writer's pressure wanders from
        # mark to mark by 5-25 %; lazy fills cover 60-100 %; and about three fills in ten are not drawn along
        # the printed ellipse (slanted scribbles, strokes swinging past the rim, loose strokes with gaps, and
        # rarely a ring round the letter partly filled). Each habit alone has its test in test_distortions.py.
        writer_darkness=Range(0.15, 0.45, 0.55), darkness_spread=Range(1.0, 0.05, 0.25),
        marks=(("filled", 0.86), ("partial", 0.08), ("offcentre", 0.06)), partial_coverage=(0.6, 1.0),
        strokes=(("ellipse", 0.72), ("scribble", 0.12), ("overshoot", 0.08), ("gaps", 0.06), ("ring", 0.02)),
        offcentre_mm=(0.3, 0.8), spill=Range(0.1, 0.3, 0.9), erasure=Range(0.03, 0.04, 0.12), overscan_mm=3.0,
        stray=Range(0.6, 1, 3), smudge=Range(0.2, 1, 1), handwriting=0.9, label_skew=Range(1.0, -2, 2),
        print_scale=Range(0.2, 0.96, 1.0), print_bold_mm=Range(0.2, 0.0, 0.1), print_outline_mm=Range(0.2, 0.0, 0.15),
        anchor_tone=Range(0.05, 0.75, 0.95),
    ),
    "hard": Profile(
        "hard", dpi=((150, 0.5), (200, 0.3), (300, 0.2)), jpeg_quality=Range(0.8, 50, 75),
        binarize=(("none", 0.6), ("threshold", 0.2), ("dither", 0.2)), upside_down=0.15,
        rotation_deg=Range(1.0, -5, 5), shift_mm=Range(1.0, -4, 4), scale=Range(1.0, 0.97, 1.03),
        perspective=Range(0.6, -0.01, 0.01), blur=Range(0.8, 0.5, 1.5), noise=Range(1.0, 4, 12),
        brightness=Range(0.8, -20, 15), contrast=Range(0.8, 0.75, 1.15), gamma=Range(0.8, 0.75, 1.35),
        paper=Range(0.8, 215, 245), lid=Range(1.0, 225, 255), lighting=Range(0.6, 0.03, 0.1),
        bleed=Range(0.5, 0.06, 0.15), dust=Range(0.8, 10, 60),
        tools=(("pencil", 0.7), ("pen_black", 0.15), ("pen_blue", 0.15)),
        marks=(("filled", 0.45), ("partial", 0.17), ("offcentre", 0.12), ("tick", 0.07), ("cross", 0.05),
               ("faint", 0.14)),
        partial_coverage=(0.5, 0.9), offcentre_mm=(0.8, 1.6), spill=Range(0.3, 0.5, 1.5),
        erasure=Range(0.12, 0.1, 0.45), overscan_mm=5.0, stray=Range(1.0, 3, 10), smudge=Range(0.8, 1, 4),
        smudge_on_bubble=Range(0.6, 1, 3), handwriting=0.9, label_skew=Range(1.0, -4, 4),
        print_scale=Range(0.4, 0.96, 1.0), print_bold_mm=Range(0.4, 0.0, 0.3), print_outline_mm=Range(0.4, 0.0, 0.4),
        anchor_tone=Range(0.2, 0.6, 0.9),
    ),
}
# What document feeders do to the geometry, on otherwise typical sheets: skew to ±5°, shift to ±8 mm (corner anchors
# partly off the image), scale ±2 %, keystone, a black-backed (gray 10-40) or light background, pages upside down.
PROFILES["feeder"] = replace(
    PROFILES["typical"], name="feeder", upside_down=0.1, rotation_deg=Range(1.0, -5, 5), shift_mm=Range(1.0, -8, 8),
    scale=Range(1.0, 0.98, 1.02), perspective=Range(0.6, -0.01, 0.01), lid=Range(1.0, 225, 255),
    lid_dark=Range(0.5, 10, 40), overscan_mm=2.0,
)

_CHOICE_FIELDS = {"dpi", "binarize", "tools", "marks", "strokes"}
_ALIASES = {"mark": "marks", "tool": "tools"}


def resolve_profile(profile: str | Profile = "typical", overrides: dict | None = None) -> Profile:
    """A profile by name (or as given) with ``overrides`` applied.

    Override values: for a :class:`Range` field ``False``/``None`` switches the effect off, ``True`` switches
    it on with the ``hard`` range, a number fixes the value (``{"rotation_deg": 4.0}``), a pair sets the range
    and a :class:`Range` replaces it. For ``dpi``, ``binarize``, ``tools``/``tool`` and ``marks``/``mark`` a
    single value is always used and a dict gives weights; ``mark_<kind>`` / ``tool_<name>`` set one weight of
    the profile's mix (``{"mark_tick": False}``: hard without ticks; ``True`` adds it at weight 0.1). Probabilities (``upside_down``, ``handwriting``)
    and ``overscan_mm`` take a bool or a number; pairs (``ink``, ``partial_coverage``, ``offcentre_mm``,
    ``faint_ink``, ``overshoot_mm``) a number or a pair; ``strokes`` a single style or a dict of weights.
    """
    if isinstance(profile, str) and profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; choose from {', '.join(PROFILES)}")
    base = PROFILES[profile] if isinstance(profile, str) else profile
    if not overrides:
        return base
    names = {f.name for f in fields(Profile)} - {"name"}
    changes: dict[str, Any] = {}
    for key, value in overrides.items():
        if key.startswith(("mark_", "tool_")):  # one weight of the marks/tools mix
            mix_key, item = ("marks", key[5:]) if key.startswith("mark_") else ("tools", key[5:])
            allowed = mk.MARK_KINDS if mix_key == "marks" else tuple(mk.TOOLS)
            if item not in allowed:
                raise ValueError(f"unknown override {key!r}; {mix_key} are {', '.join(allowed)}")
            mix = dict(changes.get(mix_key, getattr(base, mix_key)))
            weight = (mix.get(item) or 0.1) if value is True else float(value or 0.0)
            mix[item] = weight
            changes[mix_key] = tuple((k, w) for k, w in mix.items() if w > 0)
            if not changes[mix_key]:
                raise ValueError(f"override {key!r} leaves no {mix_key[:-1]} to use")
            continue
        key = _ALIASES.get(key, key)
        if key not in names:
            raise ValueError(f"unknown override {key!r}; valid keys: {', '.join(sorted(names | set(_ALIASES)))}")
        current = getattr(base, key)
        if isinstance(current, Range) or key == "shift_y_mm":
            if isinstance(value, Range):
                changes[key] = value
            elif value is None or value is False:
                changes[key] = OFF
            elif value is True:  # the hard range (a dark background: the feeder's, which only it has)
                changes[key] = {"lid_dark": PROFILES["feeder"].lid_dark,
                                "shift_y_mm": PROFILES["hard"].shift_mm}.get(key) or getattr(PROFILES["hard"], key)
            elif isinstance(value, (tuple, list)):
                changes[key] = Range(1.0, float(value[0]), float(value[1]))
            else:
                changes[key] = Range(1.0, float(value), float(value))
        elif key in _CHOICE_FIELDS:
            if value is False and key == "binarize":
                value = "none"
            items = value.items() if isinstance(value, dict) else [(value, 1.0)]
            changes[key] = tuple((k, float(w)) for k, w in items)
        elif isinstance(current, tuple):
            changes[key] = tuple(map(float, value)) if isinstance(value, (tuple, list)) else (float(value),) * 2
        else:
            changes[key] = float(value)
    for key in ("tools", "marks", "strokes"):
        allowed = {"tools": set(mk.TOOLS), "marks": set(mk.MARK_KINDS), "strokes": set(mk.FILL_STROKES)}[key]
        bad = [k for k, _ in changes.get(key, ()) if k not in allowed]
        if bad:
            raise ValueError(f"unknown {key[:-1]} {bad[0]!r}; choose from {', '.join(sorted(allowed))}")
    return replace(base, name=f"{base.name}+overrides", **changes)


def _choose(choices: Choices, rng: np.random.Generator) -> Any:
    weights = np.array([w for _, w in choices], np.float64)
    u = rng.random() * weights.sum()
    return choices[min(int(np.searchsorted(np.cumsum(weights), u, side="right")), len(choices) - 1)][0]


# ----------------------------------------------------------------------------------------------------------
# Ground truth: what the people meant


@dataclass
class SheetTruth:
    """What was meant on one sheet (all pages).

    ``answers`` maps question group ids (``"Q7"``) to the intended labels in option order (``""`` blank);
    ``scores`` maps questions with score boxes to the teacher's score; ``readings`` maps every bubble group
    id (questions, id-grid columns, the absent mark, score digits) to its intended labels; leave it empty to
    derive it with :func:`intended_readings`.
    """

    template_id: str
    sheet_index: int
    student_id: str
    absent: bool
    answers: dict[str, str]
    scores: dict[str, float]
    barcode: str
    pages: int
    readings: dict[str, str] = field(default_factory=dict)
    #: A personalised sheet: its barcode (``barcode``), name and 考号 are printed on it, not stuck on a label.
    personal: PersonalSheet | None = None
    violation: bool = False  # the proctor marked 违纪
    form: str = ""  # the paper version (卷型) the student marks on a card with a form grid
    #: 选考题 chooser id -> the question(s) the student marked as answered ("Q22"; "" none; "Q22,Q23" both)
    choices: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict:
        """Plain JSON data."""
        data = {"template": self.template_id, "sheet_index": self.sheet_index, "student_id": self.student_id,
                "absent": self.absent, "answers": dict(self.answers), "scores": dict(self.scores),
                "barcode": self.barcode, "pages": self.pages, "violation": self.violation,
                "choices": dict(self.choices), "form": self.form}
        if self.personal is not None:
            data["personal"] = asdict(self.personal)
        return data


_EXPANDED: dict[tuple[int, int], tuple[Template, ExpandedPage]] = {}


def _expanded(template: Template, page: int) -> ExpandedPage:
    """:func:`expand_page`, remembered per template object (templates are immutable)."""
    key = (id(template), page)
    hit = _EXPANDED.get(key)
    if hit is not None and hit[0] is template:
        return hit[1]
    if len(_EXPANDED) > 64:
        _EXPANDED.clear()
    expanded = expand_page(template, page)
    _EXPANDED[key] = (template, expanded)  # keeping the template alive keeps its id unique
    return expanded


def _all_groups(template: Template) -> list[BubbleGroup]:
    return [g for n in range(1, len(template.pages) + 1) for g in _expanded(template, n).groups]


def _score_fill(group: BubbleGroup, score: float, blank_leading_zero: bool) -> str:
    labels = {b.label for b in group.bubbles}
    if group.kind == "score_half":
        return group.bubbles[0].label if score % 1 >= 0.5 else ""
    place = group.place or 1.0
    digit = int(score // place) % 10
    if digit == 0 and place > 1 and score < place and blank_leading_zero:
        return ""
    return str(digit) if str(digit) in labels else ""


def intended_readings(template: Template, truth: SheetTruth, *, blank_leading_zero: bool = True) -> dict[str, str]:
    """Intended labels of every bubble group, from ``truth``'s student id, absent flag, answers and scores."""
    readings: dict[str, str] = {}
    for group in _all_groups(template):
        if group.kind == "id_column":
            n = group.number or 0
            text = {"student_id": truth.student_id, "form": truth.form}.get(group.role or "", "")
            readings[group.id] = text[n] if n < len(text) and text[n] in {b.label for b in group.bubbles} else ""
        elif group.kind == "mark":
            meant = truth.absent if group.role == "absent" else truth.violation if group.role == "violation" else False
            readings[group.id] = group.bubbles[0].label if meant else ""
        elif group.kind == "chooser":  # labels joined by commas: a chooser's labels are numbers like 22
            chosen = set(filter(None, truth.choices.get(group.id, "").split(",")))
            readings[group.id] = ",".join(b.label for b, q in zip(group.bubbles, group.questions) if q in chosen)
        elif group.kind in ("score_digit", "score_half"):
            score = truth.scores.get(group.role or "")
            readings[group.id] = "" if score is None else _score_fill(group, score, blank_leading_zero)
        else:
            readings[group.id] = truth.answers.get(group.id, "")
    return readings


def random_truth(template: Template, rng: np.random.Generator, *, student_id: str | None = None,
                 sheet_index: int = 0, absent_rate: float = 0.02, blank_rate: float = 0.02,
                 multi_error_rate: float = 0.005, half_rate: float = 0.3,
                 answer_key: Mapping[str, str] | None = None, ability: float = 0.0,
                 difficulty: Mapping[str, float] | None = None, violation_rate: float = 0.01) -> SheetTruth:
    """Realistic intentions for one sheet.

    Parameters
    ----------
    template : Template
        The answer sheet.
    rng : numpy.random.Generator
        Source of randomness (the result depends on nothing else).
    student_id : str, optional
        The student's id; random digits (as many as the id grid has columns) by default.
    sheet_index : int, optional
        Position of the sheet in its batch.
    absent_rate : float, optional
        Chance the student was absent: the proctor fills the absent mark, answers are usually blank.
    blank_rate : float, optional
        Chance a question is left blank.
    multi_error_rate : float, optional
        Chance a single-choice question gets two options (a student error the OMR must report, not fix).
    half_rate : float, optional
        Chance a score with a half-point box ends in .5.
    answer_key : mapping, optional
        Question id -> correct labels ("B", "ACD"). With a key the student answers like a student: correctly
        with the Rasch probability ``1 / (1 + exp(-(ability - difficulty)))``, else a plausible wrong answer;
        subjective scores follow the same probability. Without one, answers are uniformly random.
    ability, difficulty : float, mapping, optional
        The student's ability and each question's difficulty (logits; a missing question has difficulty 0).

    Returns
    -------
    SheetTruth
    """
    groups = _all_groups(template)
    id_columns = [g for g in groups if g.kind == "id_column" and g.role == "student_id"]
    if student_id is None:
        student_id = "".join(str(d) for d in rng.integers(0, 10, max(len(id_columns), 1) if id_columns else 10))
    absent = bool(rng.random() < absent_rate)
    answer_nothing = absent and rng.random() < 0.9
    answers: dict[str, str] = {}
    for group in (g for g in groups if g.kind == "question"):
        labels = [b.label for b in group.bubbles]
        if answer_nothing or rng.random() < blank_rate:
            answers[group.id] = ""
            continue
        if answer_key is not None and answer_key.get(group.id):
            answers[group.id] = _informed_answer(labels, answer_key[group.id], group.select, rng,
                                                 _p_correct(ability, difficulty, group.id), multi_error_rate)
            continue
        if group.select == "multi":
            k = min(len(labels), int(rng.choice([1, 2, 3, 4], p=[0.2, 0.4, 0.3, 0.1])))
        else:
            k = 2 if rng.random() < multi_error_rate else 1
        chosen = set(rng.choice(labels, size=k, replace=False).tolist())
        answers[group.id] = "".join(label for label in labels if label in chosen)
    scores: dict[str, float] = {}
    score_groups: dict[str, list[BubbleGroup]] = {}
    for group in groups:
        if group.kind in ("score_digit", "score_half"):
            score_groups.setdefault(group.role or group.field_id, []).append(group)
    blank_zero = bool(rng.random() < 0.6)  # many teachers leave the tens row empty below 10
    if not answer_nothing:
        for question, members in score_groups.items():
            spec = next(f for p in template.pages for f in p.fields if getattr(f, "id", None) == members[0].field_id)
            top = min(spec.max_score, sum(max(int(c) for c in d.labels) * d.place for d in spec.digits))
            if answer_key is not None:  # a share of the points that grows with ability
                share = float(np.clip(rng.normal(_p_correct(ability, difficulty, question), 0.12), 0.0, 1.0))
                score = float(np.floor(share * top))
            else:
                score = float(rng.integers(0, int(top) + 1))
            if spec.half and score < spec.max_score and rng.random() < half_rate:
                score += 0.5
            scores[question] = score
    truth = SheetTruth(template.id, sheet_index, student_id, absent, answers, scores, student_id,
                       len(template.pages))
    forms = [g for g in groups if g.kind == "id_column" and g.role == "form"]
    if forms:
        truth.form = "".join(str(rng.choice([b.label for b in g.bubbles])) for g in forms)
    if any(g.kind == "mark" and g.role == "violation" for g in groups):
        truth.violation = bool(rng.random() < violation_rate)
    for chooser in (g for g in groups if g.kind == "chooser"):
        chosen = "" if answer_nothing else chooser.questions[int(rng.integers(len(chooser.questions)))]
        truth.choices[chooser.id] = chosen
        for question in chooser.questions:
            if question != chosen:
                scores.pop(question, None)
                if question in answers:
                    answers[question] = ""
    truth.readings = intended_readings(template, truth, blank_leading_zero=blank_zero)
    return truth


def _p_correct(ability: float, difficulty: Mapping[str, float] | None, question: str) -> float:
    """Rasch probability of a correct answer."""
    b = (difficulty or {}).get(question, 0.0)
    return float(1.0 / (1.0 + np.exp(-(ability - b))))


def _informed_answer(labels: list[str], key: str, select: str, rng: np.random.Generator, p_correct: float,
                     multi_error_rate: float) -> str:
    """What a student who knows the answer with probability ``p_correct`` marks."""
    correct = set(key)
    if rng.random() < p_correct:
        chosen = set(correct)
    elif select == "multi":
        # Typical mistakes: leave one correct option out, or add a wrong one, or both.
        chosen = set(correct)
        wrong = [label for label in labels if label not in correct]
        if len(chosen) > 1 and (not wrong or rng.random() < 0.5):
            chosen.discard(str(rng.choice(sorted(chosen))))
        if wrong and (rng.random() < 0.6 or chosen == correct):
            chosen.add(str(rng.choice(wrong)))
    else:
        chosen = {str(rng.choice([label for label in labels if label not in correct] or labels))}
    if select == "single" and rng.random() < multi_error_rate:
        chosen.add(str(rng.choice(labels)))
    return "".join(label for label in labels if label in chosen)


def make_roster(classes: int, rng: np.random.Generator, *, year: int = 2026, seats: tuple[int, int] = (38, 50),
                minimum: int = 0) -> list[str]:
    """Student ids of ``classes`` classes: year (4 digits) + class (2) + seat (4), in class and seat order."""
    per_class = [int(rng.integers(seats[0], seats[1] + 1)) for _ in range(classes)]
    while sum(per_class) < minimum:
        per_class = [n + 1 for n in per_class]
    return [f"{year:04d}{c + 1:02d}{s + 1:04d}" for c, n in enumerate(per_class) for s in range(n)]


# ----------------------------------------------------------------------------------------------------------
# Simulation


@dataclass
class SimulatedPage:
    """One scanned page: the image, its ground truth (JSON-able), page number and scanner parameters."""

    image: np.ndarray
    truth: dict
    page: int
    params: ScanParams
    homography: np.ndarray
    jpeg: bytes | None = None  # the station's JPEG file, when the page went through JPEG


@lru_cache(maxsize=8)
def _ghost(other: ExpandedPage, dpi: int, printing: PrintParams) -> np.ndarray:
    """Darkness of the other side seen through the paper: mirrored, diffused by the paper."""
    back = print_page_cached(other, dpi, printing)[:, ::-1]
    blurred = cv2.GaussianBlur(back, (0, 0), 0.6 * dpi / MM_PER_INCH)
    ghost = np.ascontiguousarray(255 - blurred)
    ghost.setflags(write=False)
    return ghost


def _writer(profile: Profile, rng: np.random.Generator, teacher: bool = False) -> tuple[mk.Tool, float, float]:
    name = _choose(profile.tools, rng)
    if teacher and len(profile.tools) > 1 and rng.random() < 0.3:
        name = "pen_red"
    tool = mk.TOOLS[name]
    q = rng.uniform(*profile.ink)
    return tool, tool.ink[0] + (tool.ink[1] - tool.ink[0]) * q, 0.0


def _hand(writer: tuple[mk.Tool, float, float], profile: Profile, rng: np.random.Generator
          ) -> tuple[mk.Tool, float, float]:
    """A writer's own darkness and how much it varies mark by mark (drawn after every writer's tool, so that
    profiles without these effects keep their pictures)."""
    tool, ink, _ = writer
    own = profile.writer_darkness.draw(rng)
    spread = profile.darkness_spread.draw(rng)
    return tool, ink if own is None else own, spread or 0.0


def simulate_sheet(template: Template, truth: SheetTruth, *, seed: int, profile: str | Profile = "typical",
                   dpi: int | None = None, overrides: dict | None = None) -> list[SimulatedPage]:
    """Mark and scan every page of one sheet.

    Parameters
    ----------
    template : Template
        The answer sheet.
    truth : SheetTruth
        What was meant (from :func:`random_truth` or built by hand).
    seed : int
        Everything random derives from it: same seed, same pixels.
    profile : str or Profile, optional
        ``clean``, ``typical`` or ``hard`` (or a :class:`Profile`).
    dpi : int, optional
        Scan resolution; by default drawn from the profile.
    overrides : dict, optional
        Switch single effects on/off or fix them (see :func:`resolve_profile`).

    Returns
    -------
    list of SimulatedPage
        One per template page, in page order.
    """
    prof = resolve_profile(profile, overrides)
    readings = truth.readings or intended_readings(template, truth)
    station = np.random.default_rng([seed, 0])
    station_dpi = int(dpi or _choose(prof.dpi, station))
    binarize = _choose(prof.binarize, station)
    threshold = prof.threshold.draw(station) or 150.0
    jpeg_quality = prof.jpeg_quality.draw(station)
    upside_down = bool(station.random() < prof.upside_down)
    people = np.random.default_rng([seed, 1])
    student = _writer(prof, people)
    teacher = _writer(prof, people, teacher=True)
    proctor = _writer(prof, people)
    printing = _print_params(prof, np.random.default_rng([seed, 3]))  # its own stream: other draws stay put
    student, teacher, proctor = (_hand(w, prof, people) for w in (student, teacher, proctor))
    pages = []
    for page_no in range(1, len(template.pages) + 1):
        page = _expanded(template, page_no)
        printed = printed_layout(page, printing.scale)  # where the ink landed: marks and truth follow it
        mark_rng = np.random.default_rng([seed, page_no, 1])
        hand_rng = np.random.default_rng([seed, page_no, 3])  # the hand's own variation: its own stream
        blank = print_page_cached(page, station_dpi, printing)
        if truth.personal is not None:
            blank = draw_personalisation(blank, printed, station_dpi, truth.personal)
        marked, states, info, ink = _mark_page(printed, blank, station_dpi,
                                               truth, readings, prof, mark_rng, hand_rng, student, teacher, proctor)
        scan_rng = np.random.default_rng([seed, page_no, 2])
        params = _scan_params(prof, scan_rng, station_dpi, binarize, threshold, jpeg_quality, upside_down)
        other = _expanded(template, page_no % len(template.pages) + 1)
        ghost = _ghost(other, station_dpi, printing) if params.bleed > 0 else None
        image, matrix, jpeg = scan(marked, params, ghost)
        geometry = mk.bubble_geometry(printed, station_dpi)
        seen = bubble_darkness(image, matrix, geometry.cx, geometry.cy, geometry.rx, geometry.ry, params.scale,
                               params=params)
        relative, reference = _relative(seen, states, geometry)
        groups = _group_truth(page, states, info, ink, relative)
        page_truth = {
            "template": template.id, "page": page_no, "pages": len(template.pages),
            "sheet_index": truth.sheet_index, "seed": int(seed), "profile": prof.name,
            "student_id": truth.student_id, "absent": truth.absent, "barcode": truth.barcode,
            "violation": truth.violation, "choices": dict(truth.choices), "form": truth.form,
            "scores": dict(truth.scores),
            "answers": {g.id: readings.get(g.id, "") for g in page.groups if g.kind == "question"},
            "dpi": station_dpi, "image_size": [int(image.shape[1]), int(image.shape[0])],
            "printer": {key: round(value, 4) for key, value in asdict(printing).items()},
            "scanner": params.to_json(),
            # template pixels -> scan pixels, through the print
            "homography": [[float(f"{v:.10g}") for v in row]
                           for row in matrix @ print_transform(page, station_dpi, printing.scale)],
            "anchors": _anchor_truth(printed, station_dpi, matrix, image.shape, params),
            "scan_reference": reference,
            "groups": groups,
        }
        pages.append(SimulatedPage(image, page_truth, page_no, params, matrix, jpeg))
    return pages


def _anchor_truth(page: ExpandedPage, dpi: int, matrix: np.ndarray, shape: tuple[int, ...],
                  params: ScanParams) -> dict:
    """Where each anchor's centre landed, and whether the whole anchor is inside the scanned frame."""
    out = {}
    for anchor in page.anchors:
        half_w, half_h = anchor.box[0] / 2, anchor.box[1] / 2
        corners = [(anchor.x + dx, anchor.y + dy) for dx in (-half_w, half_w) for dy in (-half_h, half_h)]
        points = [(anchor.x, anchor.y)] + corners
        px = np.array([[[x * dpi / MM_PER_INCH - 0.5, y * dpi / MM_PER_INCH - 0.5]] for x, y in points])
        mapped = scan_points(params, matrix, px[:, 0], shape)
        inside = bool(((mapped >= 0) & (mapped <= np.array([shape[1] - 1, shape[0] - 1]))).all())
        out[anchor.id] = {"x": round(float(mapped[0, 0]), 3), "y": round(float(mapped[0, 1]), 3), "inside": inside}
    return out


def _scan_params(prof: Profile, rng: np.random.Generator, dpi: int, binarize: str, threshold: float,
                 jpeg_quality: float | None, upside_down: bool) -> ScanParams:
    def value(r: Range, default: float) -> float:
        return _drawn(r, rng, default)

    params = ScanParams(
        dpi=dpi, rotation_deg=value(prof.rotation_deg, 0.0),
        shift_mm=(value(prof.shift_mm, 0.0), value(prof.shift_y_mm or prof.shift_mm, 0.0)),
        scale=value(prof.scale, 1.0),
        perspective=(value(prof.perspective, 0.0), value(prof.perspective, 0.0)), upside_down=upside_down,
        blur=value(prof.blur, 0.0), noise=value(prof.noise, 0.0), brightness=value(prof.brightness, 0.0),
        contrast=value(prof.contrast, 1.0), gamma=value(prof.gamma, 1.0), paper=value(prof.paper, 255.0),
        lid=value(prof.lid, 250.0), lighting=value(prof.lighting, 0.0),
        jpeg_quality=None if jpeg_quality is None or binarize != "none" else int(round(jpeg_quality)),
        binarize=binarize, threshold=threshold, bleed=value(prof.bleed, 0.0), dust=int(value(prof.dust, 0)),
        overscan_mm=prof.overscan_mm, texture_seed=int(rng.integers(0, 2**53)),
    )
    if prof.lid_dark.p > 0:  # drawn apart, so that profiles without it keep their random streams
        dark = prof.lid_dark.draw(np.random.default_rng([params.texture_seed, 4]))
        params = params if dark is None else replace(params, lid=dark)
    if prof.feed_stretch.p > 0 or prof.feed_drift.p > 0:  # its own stream too
        feed = np.random.default_rng([params.texture_seed, 5])
        stretch, drift = prof.feed_stretch.draw(feed), prof.feed_drift.draw(feed)
        cycles, phase = _drawn(prof.feed_cycles, feed, 1.0), feed.uniform(0, 2 * np.pi)
        params = replace(params, feed_stretch=stretch or 0.0, feed_drift=drift or 0.0, feed_cycles=float(cycles),
                         feed_phase=float(phase))
    return params


def _print_params(prof: Profile, rng: np.random.Generator) -> PrintParams:
    return PrintParams(scale=_drawn(prof.print_scale, rng, 1.0), bold_mm=_drawn(prof.print_bold_mm, rng, 0.0),
                       outline_mm=_drawn(prof.print_outline_mm, rng, 0.0),
                       anchor_tone=_drawn(prof.anchor_tone, rng, 1.0))


def _drawn(r: Range, rng: np.random.Generator, default: float) -> float:
    """``r`` drawn, or ``default`` when the effect is not applied."""
    v = r.draw(rng)
    return default if v is None else v


def _count(r: Range, rng: np.random.Generator) -> int:
    v = r.draw(rng)
    return 0 if v is None else int(round(v))


def _mark_page(page: ExpandedPage, blank: np.ndarray, dpi: int, truth: SheetTruth, readings: dict[str, str],
               prof: Profile, rng: np.random.Generator, hand_rng: np.random.Generator, student, teacher, proctor
               ) -> tuple[np.ndarray, list[str], list[dict], np.ndarray]:
    """Draw everything people put on ``page`` (as printed) over its ``blank`` print; return it with each bubble's
    state, details and added ink.

    ``hand_rng`` draws how each mark departs from its writer's habit (darkness, strokes), apart from ``rng``.
    """
    image = blank.copy()
    for rect in page.barcodes:
        if truth.barcode and truth.personal is None:  # a personalised sheet has its code printed
            skew = prof.label_skew.draw(rng) or 0.0
            # Drawn only when set, so that every earlier seed still makes the same pictures.
            module = prof.label_module_mm.draw(rng) if prof.label_module_mm != OFF else None
            mk.draw_label(image, rect, dpi, truth.barcode, rng, skew, module)
    for rect in page.regions:
        if rng.random() < prof.handwriting and not (truth.absent and rect.question):
            tool = mk.TOOLS["pen_blue" if rng.random() < 0.3 else "pen_black"]
            mk.draw_handwriting(image, rect, dpi, tool, rng.uniform(*tool.ink), rng,
                                char_mm=rng.uniform(3.6, 4.8) if rect.question else 6.0,
                                fill=rng.uniform(0.3, 1.0) if rect.question else rng.uniform(0.45, 0.7))
    geometry = mk.bubble_geometry(page, dpi)
    states: list[str] = []
    info: list[dict] = []
    index = 0
    for group in page.groups:
        tool, ink, spread = teacher if group.kind.startswith("score") else proctor if group.kind == "mark" else student
        reading = readings.get(group.id, "")
        intended = ({group.bubbles[0].label} if group.kind == "mark" and reading else
                    set(reading.split(",")) if group.kind == "chooser" else set(reading))
        spare = [b.label for b in group.bubbles if b.label not in intended]
        # What an eraser leaves is a fraction of what the student drew with the same pencil.
        left = prof.erasure.draw(rng)
        residue = None if left is None else left * ink
        erased = spare[int(rng.integers(len(spare)))] if residue is not None and spare else None
        for bubble in group.bubbles:
            clearance = float(geometry.clearance_mm[index])
            index += 1
            if bubble.label in intended:
                kind = _choose(prof.marks, rng)
                spill = prof.spill.draw(rng) if kind == "filled" else None
                angle = rng.uniform(-0.4, 0.4) + (0 if rng.random() < 0.7 else np.pi / 2) + np.pi * (rng.random() < 0.5)
                shift = min(rng.uniform(*prof.offcentre_mm), max(0.3, 0.7 * clearance))
                pressed = ink * (1.0 + hand_rng.uniform(-spread, spread)) if spread else ink
                jitter = min(0.95, max(0.1, pressed + rng.normal(0, 0.03)))  # pressure varies a little per mark
                mark_ink = rng.uniform(*prof.faint_ink) if kind == "faint" else jitter
                mark_tool = mk.TOOLS["pencil"] if kind == "faint" else tool  # faint = light pencil pressure
                strokes = "ellipse" if kind != "filled" else (
                    _choose(prof.strokes, hand_rng) if len(prof.strokes) > 1 else prof.strokes[0][0])
                if strokes == "overshoot":
                    spill = hand_rng.uniform(*prof.overshoot_mm)
                coverage = mk.draw_mark(
                    image, bubble, dpi, kind, mark_tool, mark_ink, rng, coverage=rng.uniform(*prof.partial_coverage),
                    offset_mm=(shift * np.cos(angle), shift * np.sin(angle)) if kind == "offcentre" else (0.0, 0.0),
                    spill_mm=min(spill, 0.7 * clearance) if spill else 0.0, strokes=strokes)
                states.append(kind)
                info.append({"tool": mark_tool.name, "coverage": round(coverage, 3), "darkness": round(mark_ink, 3),
                             **({"strokes": strokes} if strokes != "ellipse" else {})})
            elif bubble.label == erased:  # a changed answer: pencil rubbed out, grey residue left
                mk.draw_erasure(image, bubble, dpi, mk.TOOLS["pencil"], residue, rng)
                states.append("erased")
                info.append({"tool": "pencil", "residue": round(residue, 3)})
            else:
                states.append("empty")
                info.append({})
    _smudge_bubbles(image, page, dpi, states, info, _count(prof.smudge_on_bubble, rng), rng)
    stray_tool = mk.TOOLS[_choose(prof.tools, rng)]
    mk.draw_stray_marks(image, page, dpi, _count(prof.stray, rng), stray_tool,
                        rng.uniform(*stray_tool.ink), rng, smudges=_count(prof.smudge, rng))
    ink = mk.bubble_ink(blank, image, geometry)
    for i, darkening in enumerate(ink):
        if states[i] == "empty" and darkening > _GUARD_INK:
            states[i], info[i] = "smudge", {"placed": False}  # something else landed on it
    return image, states, info, ink


def _smudge_bubbles(image, page, dpi, states, info, count, rng) -> None:
    empty = [i for i, s in enumerate(states) if s == "empty"]
    bubbles = [b for _, b in page.bubbles]
    for i in rng.permutation(empty)[:count] if empty else []:
        b = bubbles[int(i)]
        radius = b.width * rng.uniform(0.25, 0.45)
        mk.draw_smudge(image, b.x + rng.normal(0, 0.2) * b.width, b.y + rng.normal(0, 0.15) * b.height,
                       radius, rng.uniform(0.12, 0.35), dpi, rng)
        states[int(i)] = "smudge"
        info[int(i)] = {"placed": True}


def _relative(seen: np.ndarray, states: list[str], geometry: mk.BubbleGeometry
              ) -> tuple[np.ndarray | None, float | None]:
    """Scan darkness of each bubble on the scale 0 = the page's empty bubbles of that size, 1 = a typical fill,
    and the darkness of that typical fill over the empty bubbles.

    (None, None) when the page has too few full fills to calibrate against (a blank or absent sheet).
    """
    state = np.array(states)
    size = np.round(geometry.rx, 1) * 1000 + np.round(geometry.ry, 1)
    empty = (state == "empty") & np.isfinite(seen)
    if empty.sum() < 3:
        return None, None
    base = np.full(len(seen), np.median(seen[empty]))
    for key in np.unique(size):
        same = empty & (size == key)
        if same.sum() >= 2:
            base[size == key] = np.median(seen[same])
    lift = seen - base
    filled = (state == "filled") & np.isfinite(seen)
    if filled.sum() < 3 or np.median(lift[filled]) < 0.1:
        return None, None
    reference = float(np.median(lift[filled]))
    return lift / reference, round(reference, 3)


def _group_truth(page: ExpandedPage, states: list[str], info: list[dict], ink: np.ndarray,
                 seen: np.ndarray | None) -> dict:
    out: dict[str, dict] = {}
    index = 0
    for group in page.groups:
        bubbles, inks, looks, details = {}, {}, {}, {}
        ambiguous = False
        for bubble in group.bubbles:
            state, detail, darkening = states[index], info[index], float(ink[index])
            look = None if seen is None else float(seen[index])
            index += 1
            if look is not None and not np.isfinite(look):
                ambiguous = True  # outside the scanned frame: nobody can read it
                look = None
            elif look is not None and (look >= _SCAN_UNMARKED_MAX if state not in _READ_STATES
                                       else look <= _SCAN_MARKED_MIN):
                ambiguous = True
            if state in ("faint", "tick", "cross", "smudge"):
                ambiguous = True
            elif state == "erased" and detail["residue"] >= _HEAVY_RESIDUE:
                ambiguous = True
            elif state in ("filled", "partial", "offcentre") and detail["coverage"] < 0.6:
                ambiguous = True
            bubbles[bubble.label] = state
            inks[bubble.label] = round(darkening, 3)
            looks[bubble.label] = None if look is None else round(look, 2)
            if detail:
                details[bubble.label] = {"state": state, **detail}
        expected = "".join(label for label, state in bubbles.items() if state in _READ_STATES)
        out[group.id] = {"kind": group.kind, "expected": expected, "ambiguous": ambiguous, "bubbles": bubbles,
                         "ink": inks, "scan": looks, "marks": details}
    return out


# ----------------------------------------------------------------------------------------------------------
# Batches


def sheet_seed(batch_seed: int, index: int) -> int:
    """The seed of sheet ``index`` in a batch (stable, independent of batch size)."""
    # 53 bits: exact in JSON readers that hold numbers as doubles
    return int(np.random.SeedSequence([int(batch_seed), int(index)]).generate_state(1, np.uint64)[0] >> 11)


def write_batch(template: Template | str, out_dir: str | Path, *, count: int, seed: int,
                profile: str | Profile = "typical", fmt: str = "jpg",
                per_sheet_seed: Callable[[int, int], int] | None = None, classes: int | None = None,
                overrides: dict | None = None, dpi: int | None = None, name: str = "batch",
                truth_options: dict | None = None, personal: Sequence[PersonalSheet] | None = None,
                miswritten: Mapping[int, str] | None = None) -> dict:
    """Simulate ``count`` sheets and write them as a scanner station would, with ground truth and a manifest.

    Parameters
    ----------
    template : Template or str
        The answer sheet (or a bundled template name / JSON path).
    out_dir : str or Path
        Created if missing.
    count : int
        Sheets to simulate.
    seed : int
        Batch seed; sheet ``i`` uses ``per_sheet_seed(seed, i)`` (:func:`sheet_seed` by default).
    profile : str or Profile, optional
        Simulation profile.
    fmt : str, optional
        ``jpg`` or ``png`` (one file per page; 1-bit pages always PNG), ``tif`` (one multi-page TIFF) or
        ``pdf`` (one multi-page PDF).
    per_sheet_seed : callable, optional
        ``(batch_seed, index) -> seed``.
    classes : int, optional
        Draw student ids from a roster of this many classes (2026 + class + seat), in roster order.
    overrides : dict, optional
        Profile overrides (see :func:`resolve_profile`).
    dpi : int, optional
        Fixed scan resolution.
    name : str, optional
        File name stem of the batch.
    truth_options : dict, optional
        Extra keyword arguments for :func:`random_truth` (``absent_rate``, ``blank_rate``, ``answer_key``,
        ``difficulty`` ...). With an ``answer_key`` and no ``ability``, every student gets one: a class mean
        (drawn per class) plus a standard normal spread.
    personal : sequence of PersonalSheet, optional
        Personalised sheets (:mod:`sample_sheets.personalised`), one per sheet in order (``count`` must match):
        each is printed with its student's code, name and 考号, and the student fills that 考号 in the grid.
    miswritten : mapping, optional
        Sheet index -> the 考号 its student filled in the grid instead of their own (a personalised sheet whose
        grid and barcode disagree).

    Returns
    -------
    dict
        The manifest, also written to ``out_dir/manifest.json``.
    """
    from sample_sheets import resolve_template

    if fmt not in ("jpg", "png", "tif", "pdf"):
        raise ValueError(f"unknown format {fmt!r}; choose jpg, png, tif or pdf")
    if count < 1:
        raise ValueError("count must be at least 1")
    if personal is not None and (len(personal) != count or classes):
        raise ValueError("personal sheets: give one per sheet (count) and no classes")
    template = resolve_template(template) if isinstance(template, str) else template
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    seeds = [(per_sheet_seed or sheet_seed)(seed, i) for i in range(count)]
    roster = make_roster(classes, np.random.default_rng([seed, 7]), minimum=count) if classes else None
    prof = resolve_profile(profile, overrides)
    entries: list[dict] = []

    options = dict(truth_options or {})
    informed = "answer_key" in options and "ability" not in options
    # With a key, each student gets an ability: their class's mean (classes differ) plus their own spread.
    class_means = np.random.default_rng([seed, 8]).normal(0.0, 0.4, (classes or 1) + 1)

    def sheets() -> Iterator[tuple[int, SimulatedPage]]:
        for i, s in enumerate(seeds):
            if informed:
                group = int(roster[i][4:6]) if roster else 0
                options["ability"] = float(class_means[group] + np.random.default_rng([seed, 9, i]).normal())
            student_id = roster[i] if roster else None
            if personal is not None:
                student_id = (miswritten or {}).get(i, personal[i].exam_id)
            truth = random_truth(template, np.random.default_rng([s, 1]), sheet_index=i, student_id=student_id,
                                 **options)
            if personal is not None:
                truth = replace(truth, barcode=personal[i].exam_id, personal=personal[i])
            for sim in simulate_sheet(template, truth, seed=s, profile=prof, dpi=dpi):
                yield i, sim

    def record(i: int, sim: SimulatedPage, file: str, frame: int | None, truth_name: str) -> None:
        (out / truth_name).write_text(json.dumps(sim.truth, ensure_ascii=False, indent=1), encoding="utf-8")
        entries.append({"index": len(entries), "file": file, "frame": frame, "sheet": i, "page": sim.page,
                        "truth": truth_name, "student_id": sim.truth["student_id"], "seed": seeds[i]})

    if fmt in ("jpg", "png"):
        for i, sim in sheets():
            stem = f"{name}-{i + 1:04d}-p{sim.page}"
            bilevel = sim.params.binarize != "none"
            if fmt == "jpg" and not bilevel:
                data = sim.jpeg or _encode_jpeg(sim.image, sim.params.dpi)
                file = f"{stem}.jpg"
                (out / file).write_bytes(data)
            else:
                file = f"{stem}.png"
                _write_png(out / file, sim.image, sim.params.dpi, bilevel)
            record(i, sim, file, None, f"{stem}.truth.json")
        files = [{"file": e["file"], "pages": 1} for e in entries]
    else:
        file = f"{name}.{fmt}"

        def pages() -> Iterator[PageImage]:
            for i, sim in sheets():
                record(i, sim, file, len(entries), f"{name}.p{len(entries) + 1:04d}.truth.json")
                yield PageImage(sim.image, sim.params.dpi, sim.jpeg, sim.params.binarize != "none")

        total = (write_tiff if fmt == "tif" else write_pdf)(out / file, pages())
        files = [{"file": file, "pages": total}]
    manifest = {"template": template.id, "profile": prof.name, "seed": int(seed), "count": count, "format": fmt,
                "files": files, "pages": entries}
    (out / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8")
    return manifest


def _encode_jpeg(image: np.ndarray, dpi: int) -> bytes:
    from sample_sheets.scanner import jpeg_round_trip

    return jpeg_round_trip(image, 95, dpi)[1]  # a lossless-profile page asked for as JPEG: quality 95


def _write_png(path: Path, image: np.ndarray, dpi: int, bilevel: bool) -> None:
    from PIL import Image

    pil = Image.fromarray(image > 127) if bilevel else Image.fromarray(image)
    pil.save(path, format="PNG", dpi=(dpi, dpi))
