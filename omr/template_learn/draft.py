"""The draft template JSON: anchors, identity strip and layout helpers in the template schema.

Millimetre values are tidied: one within 0.04 mm of a tenth is written as that tenth (cards are designed on
round numbers), others to a hundredth; pitches to a thousandth, as an error in a pitch adds up over a column.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from omr.template_learn.anchors import FoundAnchor, PageFrame
from omr.template_learn.grouping import FoundChoiceBlock, FoundChooser, FoundGrid, FoundMark, FoundScoreBox, Style
from omr.template_learn.guide import FoundGuide
from omr.template_learn.identity import FoundIdentity
from omr.template_learn.numbering import NamedField
from omr.template_learn.timing import FoundTrack

__all__ = ["LearnedPage", "draft_json", "NO_IDENTITY_NOTE"]

NO_IDENTITY_NOTE = ("no yuejuan identity strip on page {page}: the draft has no 'identity' for it; such a page is "
                    "oriented and told from the card's other pages by its anchors and printed bubbles "
                    "(give its anchors distinct shapes, e.g. one L-corner, to make the orientation certain)")


@dataclass(frozen=True)
class LearnedPage:
    frame: PageFrame
    identity: FoundIdentity | None
    fields: list[NamedField]
    bubble_count: int
    tracks: list[FoundTrack] = field(default_factory=list)


def _mm(value: float) -> float:
    tenth = round(value, 1)
    return tenth if abs(value - tenth) < 0.04 else round(value, 2)


def _pitch(value: float) -> float:
    tenth = round(value, 1)
    return tenth if abs(value - tenth) < 0.01 else round(value, 3)


def _style(style: Style) -> dict:
    return {"shape": style.shape, "width": _mm(min(max(style.width, 2.0), 12.0)),
            "height": _mm(min(max(style.height, 1.5), 12.0)), "show_label": style.show_label}


def _guide(named: NamedField) -> dict | None:
    """A guide whose box is printed, in the schema's box sizes (a guide without one is not drafted)."""
    guide = named.found
    assert isinstance(guide, FoundGuide)
    if guide.box is None:
        return None
    x, y, w, h = guide.box
    return {"kind": "guide", "id": named.id, "x": _mm(x), "y": _mm(y), "w": _mm(min(max(w, 60.0), 200.0)),
            "h": _mm(min(max(h, 12.0), 60.0)),
            "bubble": {"width": _mm(min(max(guide.width, 2.0), 12.0)),
                       "height": _mm(min(max(guide.height, 1.5), 12.0)), "show_label": False}}


def _field(named: NamedField) -> dict | None:
    item = named.found
    if isinstance(item, FoundGuide):
        return _guide(named)
    if isinstance(item, FoundChoiceBlock):
        block = {"kind": "choice_block", "id": named.id, "first": item.first, "count": item.count,
                 "options": item.options, "select": "single", "x": _mm(item.x), "y": _mm(item.y), "rows": item.rows,
                 "row_pitch": _pitch(item.row_pitch), "column_pitch": _pitch(item.column_pitch),
                 "option_pitch": _pitch(item.option_pitch), "bubble": _style(item.style)}
        return {**block, "direction": "down"} if item.direction == "down" else block
    if isinstance(item, FoundGrid):
        grid = {"kind": "grid", "id": named.id, "role": named.role, "labels": item.labels, "columns": item.columns,
                "x": _mm(item.x), "y": _mm(item.y), "column_pitch": _pitch(item.column_pitch),
                "row_pitch": _pitch(item.row_pitch), "bubble": _style(item.style)}
        return {**grid, "direction": "across"} if item.direction == "across" else grid
    if isinstance(item, FoundChooser):
        return {"kind": "chooser", "id": named.id, "questions": [f"Q{q}" for q in item.questions], "x": _mm(item.x),
                "y": _mm(item.y), "option_pitch": _pitch(item.option_pitch), "bubble": _style(item.style)}
    if isinstance(item, FoundScoreBox):
        places = len(item.digit_labels)
        digits = [{"place": 10 ** (places - 1 - row), "labels": labels} for row, labels in enumerate(item.digit_labels)]
        # The most the boxes can express; the real maximum is not printed.
        max_score = sum(int(d["labels"][-1]) * d["place"] for d in digits) + (0.5 if item.half else 0.0)
        return {"kind": "score_box", "id": named.id, "question": f"Q{item.question}", "max_score": max(max_score, 0.5),
                "digits": digits, "half": item.half, "x": _mm(item.x), "y": _mm(item.y),
                "option_pitch": _pitch(item.option_pitch), "row_pitch": _pitch(item.row_pitch),
                "bubble": _style(item.style)}
    assert isinstance(item, FoundMark)
    return {"kind": "mark", "id": named.id, "role": named.role, "x": _mm(item.x), "y": _mm(item.y),
            "bubble": _style(item.style)}


def _anchor(found: FoundAnchor, x: float, y: float) -> dict:
    anchor: dict = {"id": found.corner, "shape": found.shape, "x": _mm(x), "y": _mm(y)}
    # An L as wide as it is tall is written with a size (up to what one pixel of the scan tells apart).
    if found.shape == "rect" or (found.shape == "l_corner" and abs(found.width_mm - found.height_mm) > 0.2):
        anchor.update(width=found.width_mm, height=found.height_mm)
    else:
        anchor["size"] = round(found.size_mm, 1)
    if found.shape == "l_corner":
        anchor.update(arm=found.arm_mm, corner=found.elbow)
    return anchor


def _timing(tracks: list[FoundTrack]) -> list[dict]:
    out = []
    for track in tracks:
        same_side = [t for t in tracks if t.side == track.side]
        name = track.side if len(same_side) == 1 else f"{track.side}{same_side.index(track) + 1}"
        out.append({"id": name, "side": track.side, "x": _mm(track.x), "y": _mm(track.y), "count": track.count,
                    "pitch": _pitch(track.pitch), "bar_width": _mm(track.bar_width),
                    "bar_height": _mm(track.bar_height)})
    return out


def _page(learned: LearnedPage) -> dict:
    frame = learned.frame
    anchors = [_anchor(found, x, y) for found, (x, y) in zip(frame.anchors, frame.anchors_mm)]
    page: dict = {"anchors": anchors}
    if learned.identity is not None:
        strip = learned.identity
        page["identity"] = {"x": _mm(strip.x), "y": _mm(strip.y), "cell": _mm(strip.cell), "pitch": _pitch(strip.pitch)}
    page["fields"] = [drafted for drafted in map(_field, learned.fields) if drafted is not None]
    if learned.tracks:
        page["timing"] = _timing(learned.tracks)
    return page


def draft_json(pages: list[LearnedPage], template_id: str, name: str) -> dict:
    """The draft template as JSON data (see the module notes)."""
    first = pages[0].frame
    page_size: str | dict = first.page_size or {"width_mm": first.width_mm, "height_mm": first.height_mm}
    draft: dict = {"id": template_id, "name": name}
    codes = {p.identity.code for p in pages if p.identity is not None}
    if len(codes) == 1:
        draft["code"] = codes.pop()
    draft["page_size"] = page_size
    draft["pages"] = [_page(p) for p in pages]
    return draft
