"""Answer-sheet templates: the data that describes one printed answer sheet (答题卡).

A template is JSON, validated on load. All positions are millimetres on the printed page, origin at the
top-left corner, x to the right and y down. Layout helpers (``choice_block``, ``grid``, ``score_box``) keep a
60-question block to a few lines of JSON; :func:`expand_page` turns them into concrete bubbles.

Coordinates of a field are those of its first bubble's *centre*; regions and barcodes give their top-left
corner and size.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

__all__ = [
    "Template",
    "TemplateError",
    "load_template",
    "parse_template",
    "expand_page",
    "ExpandedPage",
    "Bubble",
    "BubbleGroup",
    "PAGE_SIZES_MM",
    "IDENTITY_BITS",
    "region_parts",
    "region_continuations",
    "Anchor",
    "TimingTrack",
]

#: Named page sizes in millimetres (width, height), portrait.
PAGE_SIZES_MM: dict[str, tuple[float, float]] = {
    "A4": (210.0, 297.0),
    "A3": (297.0, 420.0),
    "8K": (260.0, 368.0),
    "16K": (184.0, 260.0),
    "Letter": (215.9, 279.4),  # US Letter, 8.5 x 11 in
}

#: Cells in the page-identity strip: start bit, 10 template-code bits, 3 page bits, 4 check bits, stop bit.
IDENTITY_BITS = 19


class TemplateError(ValueError):
    """A template that cannot be used, with the offending field named in the message."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PageSize(_Strict):
    width_mm: float = Field(gt=50, le=1000)
    height_mm: float = Field(gt=50, le=1000)


class Anchor(_Strict):
    """A registration mark (定位点). ``x``, ``y`` is the centre of its bounding box.

    ``size`` is a square's side or a circle's diameter. A ``rect`` is ``width`` x ``height`` (a solid bar such as
    provincial cards print); an ``l_corner`` is ``size`` square unless ``width``/``height`` say otherwise, with
    arms ``arm`` wide (default a third of its shorter side) and its elbow in ``corner``.
    """

    id: str
    shape: Literal["square", "circle", "l_corner", "rect"] = "square"
    x: float
    y: float
    size: float = Field(default=5.0, ge=2.0, le=20.0)
    width: float | None = Field(default=None, ge=1.5, le=40.0)
    height: float | None = Field(default=None, ge=1.5, le=40.0)
    arm: float | None = Field(default=None, ge=1.0, le=20.0)
    # For an L-corner: which corner of the bounding box the L's elbow occupies.
    corner: Literal["tl", "tr", "bl", "br"] = "tl"
    #: How much ink the anchor is printed with: 1 solid black, 0.6 a 60 % gray (other systems' sheets, colour
    #: prints). The blank render (each bubble's empty level, the simulator's print) draws it so.
    tone: float = Field(default=1.0, ge=0.3, le=1.0)

    @model_validator(mode="after")
    def _shape_fields(self) -> "Anchor":
        sized = (self.width is not None, self.height is not None)
        if self.shape == "rect" and not all(sized):
            raise ValueError("a rect anchor needs width and height")
        if self.shape in ("square", "circle") and any(sized):
            raise ValueError(f"a {self.shape} anchor has only a size (use shape 'rect' for width x height)")
        if self.shape == "l_corner" and any(sized) and not all(sized):
            raise ValueError("an l_corner anchor takes width and height together")
        if self.arm is not None and self.shape != "l_corner":
            raise ValueError("only an l_corner anchor has an arm width")
        width, height = self.box
        if self.shape == "rect" and max(width, height) < 2.0:
            raise ValueError(f"rect anchor {width:g}x{height:g} mm is too small to be found (2 mm at least)")
        if self.shape == "l_corner" and not 0.1 * min(width, height) <= self.arm_mm <= 0.6 * min(width, height):
            raise ValueError(f"l_corner arm {self.arm_mm:g} mm must lie between 0.1 and 0.6 of its shorter side")
        return self

    @property
    def box(self) -> tuple[float, float]:
        """(width, height) of the anchor's bounding box in mm."""
        return (self.width or self.size, self.height or self.size)

    @property
    def arm_mm(self) -> float:
        """An L-corner's arm width in mm (a third of its shorter side unless given)."""
        return self.arm if self.arm is not None else min(self.box) / 3


class TimingTrack(_Strict):
    """A timing track (同步头): ``count`` short black bars in a row or column along a margin.

    Bars of a ``left`` or ``right`` track run down the page, one per bubble row; bars of a ``top`` or ``bottom``
    track run across it, one per bubble column. (``x``, ``y``) is the first bar's centre, ``pitch`` the distance
    between bar centres along the track, each bar ``bar_width`` x ``bar_height`` mm.
    """

    id: str = ""
    side: Literal["left", "right", "top", "bottom"]
    x: float
    y: float
    count: int = Field(ge=3, le=300)
    pitch: float = Field(gt=0, le=100.0)
    bar_width: float = Field(default=5.0, ge=0.8, le=20.0)
    bar_height: float = Field(default=1.5, ge=0.8, le=20.0)

    @model_validator(mode="after")
    def _bars_apart(self) -> "TimingTrack":
        along = self.bar_height if self.runs_down else self.bar_width
        if self.pitch < along + 0.8:
            raise ValueError(f"timing bars {along:g} mm long at a pitch of {self.pitch:g} mm touch: leave 0.8 mm "
                             "between bars")
        return self

    @property
    def runs_down(self) -> bool:
        """True for a left/right track (bars one above the other), False for a top/bottom one."""
        return self.side in ("left", "right")

    def bar_centres(self) -> list[tuple[float, float]]:
        """Centres (mm) of the bars, first to last."""
        step = (0.0, self.pitch) if self.runs_down else (self.pitch, 0.0)
        return [(self.x + i * step[0], self.y + i * step[1]) for i in range(self.count)]


class BubbleStyle(_Strict):
    """The printed bubble: an ellipse (or rounded rectangle) ``width`` x ``height`` mm with its label inside."""

    shape: Literal["ellipse", "rect"] = "ellipse"
    width: float = Field(default=5.0, ge=2.0, le=12.0)
    height: float = Field(default=3.2, ge=1.5, le=12.0)
    show_label: bool = True


class ChoiceBlock(_Strict):
    """Numbered choice questions laid out in columns.

    Question ``first`` sits at (x, y) on its first option; the next question is ``row_pitch`` below, for
    ``rows`` questions, then the next column starts ``column_pitch`` to the right.
    """

    kind: Literal["choice_block"]
    id: str
    first: int = Field(ge=1)
    count: int = Field(ge=1, le=500)
    options: str = Field(min_length=2, max_length=10)
    select: Literal["single", "multi"] = "single"
    x: float
    y: float
    rows: int = Field(default=5, ge=1)
    row_pitch: float = Field(default=5.5, gt=0)
    column_pitch: float = Field(default=40.0, gt=0)
    option_pitch: float = Field(default=7.0, gt=0)
    prefix: str = "Q"
    bubble: BubbleStyle = BubbleStyle()
    #: ``across``: options run to the right. ``down`` (竖排选项): the transpose, options run down at
    #: ``option_pitch`` under the question number, the next question stands ``row_pitch`` to the right for
    #: ``rows`` questions, then the next band starts ``column_pitch`` below.
    direction: Literal["across", "down"] = "across"

    @model_validator(mode="after")
    def _options_unique(self) -> "ChoiceBlock":
        if len(set(self.options)) != len(self.options):
            raise ValueError(f"options {self.options!r} repeat a label")
        return self


class Grid(_Strict):
    """A bubble grid: ``columns`` characters, each chosen from ``labels`` stacked vertically (考号, seat, form)."""

    kind: Literal["grid"]
    id: str
    role: Literal["student_id", "seat", "form", "other"] = "other"
    labels: str = Field(default="0123456789", min_length=2, max_length=36)
    columns: int = Field(ge=1, le=30)
    x: float
    y: float
    column_pitch: float = Field(default=6.0, gt=0)
    row_pitch: float = Field(default=4.6, gt=0)
    bubble: BubbleStyle = BubbleStyle(width=4.6, height=3.0)
    #: ``down``: each character's labels stacked at ``row_pitch``, characters side by side at ``column_pitch``.
    #: ``across`` (an AB 卷型 row, form codes): the transpose, labels run to the right at ``row_pitch`` and
    #: characters stack downward at ``column_pitch``.
    direction: Literal["down", "across"] = "down"


class Mark(_Strict):
    """A single bubble with a meaning of its own: the proctor's absent mark (缺考) or violation mark (违纪)."""

    kind: Literal["mark"]
    id: str
    role: Literal["absent", "violation", "other"] = "absent"
    x: float
    y: float
    label: str = ""
    bubble: BubbleStyle = BubbleStyle(width=6.0, height=3.6, show_label=False)


class ScoreDigit(_Strict):
    place: float = Field(gt=0)
    labels: str = Field(min_length=2, max_length=10)
    label: str = Field(default="", max_length=8)  # printed left of the row: 十位, 个位 …

    @model_validator(mode="after")
    def _digits(self) -> "ScoreDigit":
        if not self.labels.isdigit():
            raise ValueError(f"score digit labels must be digits, got {self.labels!r}")
        return self


class ScoreBox(_Strict):
    """Score boxes (分数框) a teacher fills for a subjective question: one row per digit place, plus a half mark."""

    kind: Literal["score_box"]
    id: str
    question: str
    max_score: float = Field(gt=0)
    digits: list[ScoreDigit] = Field(min_length=1)
    half: bool = False
    x: float
    y: float
    option_pitch: float = Field(default=5.5, gt=0)
    row_pitch: float = Field(default=4.6, gt=0)
    bubble: BubbleStyle = BubbleStyle(width=4.4, height=3.0)


class RegionPart(_Strict):
    """Where an answer region continues: a rectangle on ``page`` (1-based; None: the region's own page)."""

    page: int | None = Field(default=None, ge=1, le=8)
    x: float
    y: float
    w: float = Field(gt=0)
    h: float = Field(gt=0)


class Region(_Strict):
    """A rectangle cropped to a file: a subjective answer area (``role`` answer) or the handwritten name (``role``
    name: it names the student, so it is never shown to a marker and is blanked wherever a marker's crop reaches).

    An answer that runs across columns or onto the next page lists the rectangles it ``continues`` in, in
    reading order; each part is cropped on its page and the crops are stitched into one, in order
    (:func:`omr.crops.stitch_crops`).
    """

    kind: Literal["region"]
    id: str
    role: Literal["answer", "name"] = "answer"
    question: str | None = None
    x: float
    y: float
    w: float = Field(gt=0)
    h: float = Field(gt=0)
    caption: str = ""
    continues: list[RegionPart] = Field(default=[], max_length=8)

    @model_validator(mode="after")
    def _check_role(self) -> "Region":
        if self.role == "name" and (self.question is not None or self.continues):
            raise ValueError(f"region {self.id}: the name box (role name) is no answer: no question, no continues")
        return self


class Chooser(_Strict):
    """The 选考题 bubbles: which one of several optional questions the student answered (e.g. 22 or 23).

    One bubble per question, labelled by ``labels`` (default: the question numbers), ``option_pitch`` apart
    across (or down); only the chosen question's answer region and score box count.
    """

    kind: Literal["chooser"]
    id: str
    questions: list[Annotated[str, Field(pattern=r"^Q[1-9][0-9]{0,3}$")]] = Field(min_length=2, max_length=10)
    labels: list[Annotated[str, Field(min_length=1, max_length=4)]] | None = None
    x: float
    y: float
    option_pitch: float = Field(default=8.0, gt=0)
    direction: Literal["across", "down"] = "across"
    bubble: BubbleStyle = BubbleStyle(width=6.0, height=3.6)

    @model_validator(mode="after")
    def _check_questions(self) -> "Chooser":
        if len(set(self.questions)) != len(self.questions):
            raise ValueError("questions repeat")
        if self.labels is not None and len(self.labels) != len(self.questions):
            raise ValueError(f"{len(self.labels)} labels for {len(self.questions)} questions")
        if len(set(self.printed_labels)) != len(self.printed_labels):
            raise ValueError("labels repeat")
        return self

    @property
    def printed_labels(self) -> list[str]:
        """The bubbles' labels: as given, else the question numbers (Q22 -> 22)."""
        return list(self.labels) if self.labels else [q[1:] for q in self.questions]


class Guide(_Strict):
    """The filling guide (填涂说明): 正确填涂 with a filled bubble, 错误填涂 with a tick, a cross and a dot. Printed,
    never read; its box is ``w`` x ``h`` mm from its top-left corner (x, y)."""

    kind: Literal["guide"]
    id: str
    x: float
    y: float
    w: float = Field(default=62.0, ge=60.0, le=200.0)
    h: float = Field(default=16.0, ge=12.0, le=60.0)
    bubble: BubbleStyle = BubbleStyle(width=5.0, height=3.2, show_label=False)


class Barcode(_Strict):
    """The sticker area for the student's label: Code 128 (the usual one), Code 39, PDF417, DataMatrix or QR."""

    kind: Literal["barcode"]
    id: str
    symbology: Literal["code128", "code39", "pdf417", "datamatrix", "qr"] = "code128"
    x: float
    y: float
    w: float = Field(gt=0)
    h: float = Field(gt=0)


class Text(_Strict):
    """Printed text (title, instructions). ``ascii`` is what a raster rendering without CJK fonts shows."""

    x: float
    y: float
    text: str
    size: float = Field(default=3.5, gt=0, le=30)
    ascii: str | None = None


FieldSpec = Annotated[
    Union[ChoiceBlock, Grid, Mark, ScoreBox, Region, Barcode, Chooser, Guide], Field(discriminator="kind")
]


class IdentityStrip(_Strict):
    """Where the page-identity cells are printed: ``IDENTITY_BITS`` squares in a row starting at (x, y)."""

    x: float
    y: float
    cell: float = Field(default=3.0, ge=1.5, le=8.0)
    pitch: float = Field(default=4.5, gt=0)


class Page(_Strict):
    """One printed page. ``identity`` is yuejuan's own page-identity strip; a sheet printed by another system has
    none, and is then oriented and told from the card's other pages by its anchors and printed content
    (:mod:`omr.orient`)."""

    anchors: list[Anchor] = Field(min_length=4)
    identity: IdentityStrip | None = None
    fields: list[FieldSpec] = []
    texts: list[Text] = []
    timing: list[TimingTrack] = []


class Template(_Strict):
    """One answer-sheet design, possibly several pages."""

    id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    name: str = ""
    code: int | None = Field(default=None, ge=0, le=1023)
    page_size: Literal["A4", "A3", "8K", "16K", "Letter"] | PageSize = "A4"
    pages: list[Page] = Field(min_length=1, max_length=8)

    @property
    def page_mm(self) -> tuple[float, float]:
        """(width, height) of a page in millimetres."""
        if isinstance(self.page_size, str):
            return PAGE_SIZES_MM[self.page_size]
        return (self.page_size.width_mm, self.page_size.height_mm)

    @property
    def identity_code(self) -> int:
        """10-bit template code printed in the identity strip (explicit, or derived from ``id``)."""
        if self.code is not None:
            return self.code
        return zlib.crc32(self.id.encode()) & 0x3FF

    @model_validator(mode="after")
    def _check_layout(self) -> "Template":
        width, height = self.page_mm
        for page_no, page in enumerate(self.pages, start=1):
            where = f"pages[{page_no - 1}]"
            ids: set[str] = set()
            for anchor in page.anchors:
                _inside_box(f"{where}.anchors[{anchor.id}]", anchor.x, anchor.y, *anchor.box, width, height)
            for number, track in enumerate(page.timing):
                for bar_x, bar_y in (track.bar_centres()[0], track.bar_centres()[-1]):
                    _inside_box(f"{where}.timing[{number}]", bar_x, bar_y, track.bar_width, track.bar_height,
                                width, height)
            strip = page.identity
            if strip is not None:
                _inside(f"{where}.identity", strip.x, strip.y, width, height, strip.cell / 2)
                _inside(
                    f"{where}.identity (last cell)",
                    strip.x + strip.pitch * (IDENTITY_BITS - 1), strip.y, width, height, strip.cell / 2,
                )
            for spec in page.fields:
                if spec.id in ids:
                    raise ValueError(f"{where}.fields: id {spec.id!r} used twice")
                ids.add(spec.id)
                for part in spec.continues if isinstance(spec, Region) else ():
                    if part.page is not None and part.page > len(self.pages):
                        raise ValueError(f"{where}.fields[{spec.id}].continues: page {part.page} of a "
                                         f"{len(self.pages)}-page template")
                if isinstance(spec, Guide):
                    _inside(f"{where}.fields[{spec.id}]", spec.x, spec.y, width, height, 0)
                    _inside(f"{where}.fields[{spec.id}] (far corner)", spec.x + spec.w, spec.y + spec.h,
                            width, height, 0)
            expanded = expand_page(self, page_no, _validated=False)
            for group in expanded.groups:
                for bubble in group.bubbles:
                    _inside(
                        f"{where}.fields[{group.field_id}] bubble {group.id}/{bubble.label}",
                        bubble.x, bubble.y, width, height, bubble.width / 2,
                    )
            for rect in expanded.regions + expanded.barcodes:
                _inside(f"{where}.fields[{rect.id}]", rect.x, rect.y, width, height, 0)
                _inside(f"{where}.fields[{rect.id}] (far corner)", rect.x + rect.w, rect.y + rect.h,
                        width, height, 0)
        return self


def _inside_box(where: str, x: float, y: float, box_w: float, box_h: float, width: float, height: float) -> None:
    """Both corners of the box centred on (x, y) lie on the page."""
    _inside(where, x - box_w / 2, y - box_h / 2, width, height, 0)
    _inside(where, x + box_w / 2, y + box_h / 2, width, height, 0)


def _inside(where: str, x: float, y: float, width: float, height: float, margin: float) -> None:
    if not (margin <= x <= width - margin and margin <= y <= height - margin):
        raise ValueError(f"{where} at ({x:.1f}, {y:.1f}) mm lies outside the {width:g}x{height:g} mm page")


# ----------------------------------------------------------------------------------------------------------
# Expanded layout: what the layout helpers stand for, bubble by bubble.


@dataclass(frozen=True)
class Bubble:
    """One printed bubble: centre (mm), size (mm), label and shape."""

    label: str
    x: float
    y: float
    width: float
    height: float
    shape: str
    show_label: bool


@dataclass(frozen=True)
class BubbleGroup:
    """Bubbles read together: one question, one id-grid column, one score-box digit row or one mark.

    ``kind`` is one of ``question``, ``id_column``, ``score_digit``, ``score_half``, ``mark``; ``select`` says
    how many bubbles may be filled (``single`` or ``multi``).
    """

    id: str
    field_id: str
    kind: str
    select: str
    bubbles: tuple[Bubble, ...]
    number: int | None = None  # question number, id-grid column or digit place index
    place: float | None = None  # score digit place value
    role: str | None = None
    questions: tuple[str, ...] = ()  # a 选考题 chooser: the question each bubble stands for
    caption: str = ""  # printed left of the group (a score-box row's 十位, 个位 …)


@dataclass(frozen=True)
class Rect:
    id: str
    x: float
    y: float
    w: float
    h: float
    kind: str  # "region" or "barcode"
    symbology: str | None = None
    question: str | None = None
    caption: str = ""
    region: str | None = None  # the answer region this rectangle is a part of (its own id for part 1)
    part: int = 1  # 1-based, in reading order: the crops of a region's parts are stitched in this order
    role: str = "answer"  # a region's: "answer", or "name" (the handwritten name, never shown to markers)


@dataclass(frozen=True)
class ExpandedPage:
    """A page with every layout helper expanded into bubble groups and rectangles."""

    template_id: str
    page: int  # 1-based
    width_mm: float
    height_mm: float
    anchors: tuple[Anchor, ...]
    identity: IdentityStrip | None  # None: the page carries no identity strip
    groups: tuple[BubbleGroup, ...]
    regions: tuple[Rect, ...]
    barcodes: tuple[Rect, ...]
    texts: tuple[Text, ...]
    identity_bits: tuple[int, ...] = field(default=())  # () when the page has no identity strip
    guides: tuple[Guide, ...] = ()  # filling guides: printed, never read
    timing: tuple[TimingTrack, ...] = field(default=())

    @property
    def bubbles(self) -> list[tuple[BubbleGroup, Bubble]]:
        """Every bubble with its group, in a fixed order (the order OMR measures them in)."""
        return [(group, bubble) for group in self.groups for bubble in group.bubbles]


def _bubble(label: str, x: float, y: float, style: BubbleStyle, show_label: bool | None = None) -> Bubble:
    return Bubble(
        label=label, x=x, y=y, width=style.width, height=style.height, shape=style.shape,
        show_label=style.show_label if show_label is None else show_label,
    )


def _expand_field(spec) -> tuple[list[BubbleGroup], list[Rect]]:
    groups: list[BubbleGroup] = []
    rects: list[Rect] = []
    if isinstance(spec, ChoiceBlock):
        for i in range(spec.count):
            number = spec.first + i
            col, row = divmod(i, spec.rows)
            if spec.direction == "across":
                x0, y0, dx, dy = spec.x + col * spec.column_pitch, spec.y + row * spec.row_pitch, 1, 0
            else:  # 竖排: the transpose
                x0, y0, dx, dy = spec.x + row * spec.row_pitch, spec.y + col * spec.column_pitch, 0, 1
            bubbles = tuple(
                _bubble(label, x0 + dx * k * spec.option_pitch, y0 + dy * k * spec.option_pitch, spec.bubble)
                for k, label in enumerate(spec.options)
            )
            groups.append(BubbleGroup(
                id=f"{spec.prefix}{number}", field_id=spec.id, kind="question", select=spec.select,
                bubbles=bubbles, number=number,
            ))
    elif isinstance(spec, Grid):
        for col in range(spec.columns):
            if spec.direction == "down":
                bubbles = tuple(_bubble(label, spec.x + col * spec.column_pitch, spec.y + r * spec.row_pitch,
                                        spec.bubble) for r, label in enumerate(spec.labels))
            else:  # labels across, characters stacked downward
                bubbles = tuple(_bubble(label, spec.x + r * spec.row_pitch, spec.y + col * spec.column_pitch,
                                        spec.bubble) for r, label in enumerate(spec.labels))
            groups.append(BubbleGroup(
                id=f"{spec.id}[{col}]", field_id=spec.id, kind="id_column", select="single",
                bubbles=bubbles, number=col, role=spec.role,
            ))
    elif isinstance(spec, Mark):
        groups.append(BubbleGroup(
            id=spec.id, field_id=spec.id, kind="mark", select="single",
            bubbles=(_bubble(spec.label or spec.id, spec.x, spec.y, spec.bubble),), role=spec.role,
        ))
    elif isinstance(spec, ScoreBox):
        for row, digit in enumerate(spec.digits):
            y = spec.y + row * spec.row_pitch
            bubbles = tuple(
                _bubble(label, spec.x + k * spec.option_pitch, y, spec.bubble) for k, label in enumerate(digit.labels)
            )
            groups.append(BubbleGroup(
                id=f"{spec.id}[{digit.place:g}]", field_id=spec.id, kind="score_digit", select="single",
                bubbles=bubbles, number=row, place=digit.place, role=spec.question, caption=digit.label,
            ))
        if spec.half:
            y = spec.y + len(spec.digits) * spec.row_pitch
            groups.append(BubbleGroup(
                id=f"{spec.id}[0.5]", field_id=spec.id, kind="score_half", select="single",
                bubbles=(_bubble("½", spec.x, y, spec.bubble, show_label=True),), number=len(spec.digits),
                place=0.5, role=spec.question,
            ))
    elif isinstance(spec, Chooser):
        dx, dy = (spec.option_pitch, 0.0) if spec.direction == "across" else (0.0, spec.option_pitch)
        groups.append(BubbleGroup(
            id=spec.id, field_id=spec.id, kind="chooser", select="single",
            bubbles=tuple(_bubble(label, spec.x + k * dx, spec.y + k * dy, spec.bubble)
                          for k, label in enumerate(spec.printed_labels)),
            questions=tuple(spec.questions),
        ))
    elif isinstance(spec, Region):
        rects.append(Rect(spec.id, spec.x, spec.y, spec.w, spec.h, "region", question=spec.question,
                          caption=spec.caption, region=spec.id, role=spec.role))
    elif isinstance(spec, Barcode):
        rects.append(Rect(spec.id, spec.x, spec.y, spec.w, spec.h, "barcode", symbology=spec.symbology))
    return groups, rects


def identity_bits(template_code: int, page: int) -> tuple[int, ...]:
    """The identity strip's bits for a template code and 1-based page number.

    Layout: start 1, 10 code bits (MSB first), 3 bits of ``page - 1``, 4 check bits (CRC-4 over the 13 data
    bits), stop 0. Read backwards (a page upside down) the start/stop bits disagree, so orientation is caught.
    """
    if not 0 <= template_code <= 1023:
        raise TemplateError(f"template code {template_code} outside 0..1023")
    if not 1 <= page <= 8:
        raise TemplateError(f"page {page} outside 1..8")
    data = [(template_code >> (9 - i)) & 1 for i in range(10)] + [((page - 1) >> (2 - i)) & 1 for i in range(3)]
    return (1, *data, *_crc4(data), 0)


def decode_identity(bits: list[int] | tuple[int, ...]) -> tuple[int, int] | None:
    """(template code, page) encoded in a strip's bits, or None when start/stop or check bits disagree."""
    if len(bits) != IDENTITY_BITS or bits[0] != 1 or bits[-1] != 0:
        return None
    data = list(bits[1:14])
    if list(bits[14:18]) != _crc4(data):
        return None
    code = int("".join(map(str, data[:10])), 2)
    page = int("".join(map(str, data[10:13])), 2) + 1
    return code, page


def _crc4(data: list[int]) -> list[int]:
    # CRC-4-ITU (x^4 + x + 1): catches every single and double bit error in 13 data bits.
    register = 0
    for bit in data:
        top = ((register >> 3) & 1) ^ bit
        register = ((register << 1) & 0xF) ^ (0b0011 if top else 0)
    return [(register >> (3 - i)) & 1 for i in range(4)]


def expand_page(template: Template, page: int, *, _validated: bool = True) -> ExpandedPage:
    """Expand page ``page`` (1-based) of ``template`` into concrete bubbles and rectangles."""
    if not 1 <= page <= len(template.pages):
        raise TemplateError(f"template {template.id!r} has {len(template.pages)} page(s), not page {page}")
    spec = template.pages[page - 1]
    groups: list[BubbleGroup] = []
    regions: list[Rect] = []
    barcodes: list[Rect] = []
    for item in spec.fields:
        new_groups, rects = _expand_field(item)
        groups.extend(new_groups)
        for rect in rects:
            (barcodes if rect.kind == "barcode" else regions).append(rect)
    regions.extend(rect for number, rect in region_continuations(template) if number == page)
    width, height = template.page_mm
    return ExpandedPage(
        template_id=template.id, page=page, width_mm=width, height_mm=height, anchors=tuple(spec.anchors),
        identity=spec.identity, groups=tuple(groups), regions=tuple(regions), barcodes=tuple(barcodes),
        texts=tuple(spec.texts), timing=tuple(spec.timing),
        identity_bits=identity_bits(template.identity_code, page) if spec.identity is not None else (),
        guides=tuple(item for item in spec.fields if isinstance(item, Guide)),
    )


def region_continuations(template: Template) -> list[tuple[int, Rect]]:
    """(page, rectangle) of every part after the first of every answer region that ``continues``, in order."""
    out: list[tuple[int, Rect]] = []
    for number, page in enumerate(template.pages, start=1):
        for item in page.fields:
            if isinstance(item, Region):
                for part_no, part in enumerate(item.continues, start=2):
                    out.append((part.page or number, Rect(
                        f"{item.id}-part{part_no}", part.x, part.y, part.w, part.h, "region",
                        question=item.question, region=item.id, part=part_no)))
    return out


def region_parts(template: Template) -> dict[str, list[tuple[int, Rect]]]:
    """Every answer region's parts in reading order, (page, rectangle) each: one part for most regions."""
    parts: dict[str, list[tuple[int, Rect]]] = {}
    for number, page in enumerate(template.pages, start=1):
        for item in page.fields:
            if isinstance(item, Region):
                parts[item.id] = [(number, Rect(item.id, item.x, item.y, item.w, item.h, "region",
                                                question=item.question, caption=item.caption, region=item.id,
                                                role=item.role))]
    for number, rect in region_continuations(template):
        parts[rect.region].append((number, rect))
    return parts


def _format_validation_error(error: ValidationError) -> str:
    lines = []
    for item in error.errors():
        location = ".".join(str(part) for part in item["loc"]) or "(template)"
        lines.append(f"{location}: {item['msg']}")
    return "; ".join(lines)


def parse_template(data: dict | str | bytes) -> Template:
    """Validate a template given as a dict or JSON text; raise :class:`TemplateError` naming the bad field."""
    try:
        if isinstance(data, (str, bytes)):
            return Template.model_validate_json(data)
        return Template.model_validate(data)
    except ValidationError as error:
        raise TemplateError(f"invalid template: {_format_validation_error(error)}") from None


def load_template(path: str | Path) -> Template:
    """Load and validate a template JSON file."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise TemplateError(f"cannot read template {path}: {error.strerror or error}") from None
    try:
        json.loads(text)
    except json.JSONDecodeError as error:
        raise TemplateError(f"template {path} is not valid JSON: line {error.lineno}: {error.msg}") from None
    return parse_template(text)
