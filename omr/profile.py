"""Scanner profile: the decision parameters of OMR, as plain data.

Scanners differ (pencil reads grey on one, black on another; some dither to 1 bit), so every threshold the
decision uses lives here, not in code. ``calibration/`` learns a profile from labelled scans and writes it as
JSON; OMR only reads it. The defaults work for typical office scanners.

Mark *strength* is the unit of every threshold: the bubble's mean darkness above its blank printed baseline,
normalised so 0 is blank paper with the printed outline/label and 1 is solid ink as dark as the anchors.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from omr.template import Template

__all__ = ["ScannerProfile", "layout_hash", "load_profile", "profile_from_dict", "profile_to_dict", "save_profile"]


@dataclass(frozen=True)
class ScannerProfile:
    """Decision parameters for one scanner (or the defaults)."""

    name: str = "default"
    #: A bubble at or below this strength is empty (paper noise, dust, bleed-through, light erasure stay below)...
    empty_max: float = 0.10
    #: ... except in a group with nothing clearly filled, where any bubble above this trace level makes the group
    #: uncertain: a question that would read blank may hold a faint answer.
    blank_trace: float = 0.09
    #: Single-choice questions: beside one clearly filled bubble, a light one at most ``residue_ratio`` times as
    #: dark and at most ``residue_max`` is the residue of a changed answer, read as empty. (A light mark with no
    #: dominant mark beside it stays uncertain: it may be a faint answer.)
    residue_ratio: float = 0.3
    residue_max: float = 0.2
    #: A lone mark (the only non-empty bubble of a group with nothing clearly filled, a one-bubble group's mark,
    #: or any option of a multi-select question) lighter than the fill threshold is read as filled when it is
    #: darker than ``residue_max`` and at least ``lone_sigmas`` robust standard deviations above the strength of
    #: this page's empty bubbles; nearer the empty level it stays uncertain. ``lone_min_empties`` empty bubbles
    #: are needed to measure that level (else it stays uncertain).
    lone_sigmas: float = 8.0
    lone_min_empties: int = 20
    #: ... and at least ``lone_ratio`` times its writer's mark level: lighter than that, a careful reader hesitates
    #: (an answer rubbed out and left blank can keep well over a third of its darkness).
    lone_ratio: float = 0.45
    #: A bubble at or above this strength is filled, whatever the page's mark level.
    filled_min: float = 0.5
    #: Relative to the page's typical mark strength: at or above ``relative_filled * level`` counts as filled
    #: (light pencil pages), but never below ``filled_floor``.
    relative_filled: float = 0.55
    filled_floor: float = 0.35
    #: Single-choice questions: two filled bubbles are a sure double mark only when the lighter is at least
    #: ``multiple_ratio`` times as dark as the darker; otherwise one may be a poorly erased mark: uncertain.
    multiple_ratio: float = 0.7
    #: Typical mark strength assumed when a page has too few confident marks to measure its own.
    default_mark_level: float = 0.8
    #: Confident marks needed to trust a page's own mark level.
    min_marks_for_level: int = 5
    #: Part of each bubble measured (fraction of its semi-axes): the printed outline stays outside.
    inner_fraction: float = 0.72
    #: Ring where the local paper is sampled (fraction of semi-axes).
    ring_fraction: float = 1.45
    #: Identity cells: a cell darker than the midpoint of ``identity_off`` and ``identity_on`` is a 1. One or two
    #: misread cells make the strip's CRC-4 (or start/stop bits) fail, and the page is then not identified.
    identity_on: float = 0.55
    identity_off: float = 0.3
    #: Largest anchor misfit (mm) after an affine fit before the page is refused as not registered.
    max_anchor_residual_mm: float = 1.5
    #: Resolution (pixels per mm) below which OMR refuses to read (about 100 dpi).
    min_px_per_mm: float = 2.3
    #: Margin past the uncertain band (as a share of the room on that side) at which a reading has confidence 1.
    confidence_span: float = 0.5
    #: Provenance (written by ``calibration/``): the profile's version in its store, when and from what it was made.
    version: int = 0
    created_at: str = ""
    source: str = ""
    #: Learned print baselines, by template id: ``{"layout": layout_hash(template), "pages": [[darkness per bubble,
    #: in reading order] per page]}``. A bubble's baseline is how dark its printed outline and label read when it
    #: is empty, on this station's paper, print and scanner; without one OMR uses the blank render's.
    print_baselines: dict = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        if not 0 <= self.blank_trace <= self.empty_max < self.filled_floor <= self.filled_min <= 1:
            raise ValueError(
                "profile thresholds must satisfy 0 <= blank_trace <= empty_max < filled_floor <= filled_min <= 1, "
                f"got blank_trace={self.blank_trace}, empty_max={self.empty_max}, filled_floor={self.filled_floor}, filled_min={self.filled_min}"
            )
        if not 0 < self.inner_fraction < 1 < self.ring_fraction:
            raise ValueError("profile needs 0 < inner_fraction < 1 < ring_fraction")
        if not (0 < self.residue_ratio < self.multiple_ratio <= 1 and self.residue_max < self.filled_floor):
            raise ValueError("profile needs 0 < residue_ratio < multiple_ratio <= 1 and residue_max < filled_floor")
        if not (self.lone_sigmas > 0 and self.lone_min_empties >= 2 and 0 <= self.lone_ratio <= 1):
            raise ValueError("profile needs lone_sigmas > 0, lone_min_empties >= 2 and 0 <= lone_ratio <= 1")
        if not self.identity_off < self.identity_on:
            raise ValueError("profile needs identity_off < identity_on")
        object.__setattr__(self, "print_baselines", _checked_baselines(self.print_baselines))

    def baseline_for(self, template: "Template") -> list[tuple[float, ...]] | None:
        """The learned print baseline of every page of ``template`` (None when this profile has none for it).

        Raises ValueError when the profile's baseline was learned on a template of that id with another bubble
        layout: the baselines would be read against the wrong bubbles.
        """
        entry = self.print_baselines.get(template.id)
        if entry is None:
            return None
        if entry["layout"] != layout_hash(template):
            raise ValueError(
                f"scanner profile {self.name!r} holds a print baseline for template {template.id!r} with another "
                f"bubble layout ({entry['layout']}, this template is {layout_hash(template)}): calibrate it again "
                "on this template's blank print")
        return list(entry["pages"])


def _checked_baselines(data: object) -> dict:
    """``print_baselines`` checked and frozen into tuples (so equal profiles compare equal after a JSON trip)."""
    if not isinstance(data, dict):
        raise ValueError("profile print_baselines must be an object of template id -> baseline")
    checked = {}
    for template_id, entry in data.items():
        if not (isinstance(entry, dict) and set(entry) == {"layout", "pages"} and isinstance(entry["layout"], str)
                and isinstance(entry["pages"], (list, tuple))):
            raise ValueError(f"profile print_baselines[{template_id!r}] must be {{'layout': str, 'pages': [[...]]}}")
        pages = []
        for number, page in enumerate(entry["pages"], 1):
            if not isinstance(page, (list, tuple)) or not all(
                    isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and -1 < v < 1
                    for v in page):
                raise ValueError(f"profile print_baselines[{template_id!r}] page {number}: "
                                 "a list of darkness values between -1 and 1 is needed")
            pages.append(tuple(float(v) for v in page))
        checked[str(template_id)] = {"layout": entry["layout"], "pages": tuple(pages)}
    return checked


def layout_hash(template: "Template") -> str:
    """A short hash of the template's bubble layout (groups, labels, positions and sizes to 0.01 mm), so a print
    baseline learned on one layout is never applied to another."""
    from omr.template import expand_page

    layout = []
    for number in range(1, len(template.pages) + 1):
        for group in expand_page(template, number).groups:
            layout.append([number, group.id, group.kind, [
                [b.label, b.shape, round(b.x, 2), round(b.y, 2), round(b.width, 2), round(b.height, 2)]
                for b in group.bubbles]])
    text = json.dumps(layout, ensure_ascii=False, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def load_profile(path: str | Path) -> ScannerProfile:
    """Read a profile JSON file; unknown keys are refused so a typo cannot silently keep a default."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(f"scanner profile {path} is not valid JSON: line {error.lineno}: {error.msg}") from None
    return profile_from_dict(data, source=f"scanner profile {path}")


def profile_from_dict(data: object, *, source: str = "scanner profile") -> ScannerProfile:
    """A profile from plain JSON data (a file's or a database row's); unknown keys and wrong types are refused."""
    if not isinstance(data, dict):
        raise ValueError(f"{source} must be a JSON object, not {type(data).__name__}")
    types = {f.name: f.type for f in fields(ScannerProfile)}
    unknown = sorted(set(data) - set(types))
    if unknown:
        raise ValueError(f"{source}: unknown key(s) {', '.join(unknown)}")
    for key, value in data.items():
        expected = {"str": str, "int": int, "float": (int, float), "dict": dict}[types[key]]
        # bool is an int in Python; a threshold of `true` is a mistake, not 1.
        if isinstance(value, bool) or not isinstance(value, expected):
            raise ValueError(f"{source}: {key} must be a {types[key]}, got {value!r}")
    return ScannerProfile(**data)


def profile_to_dict(profile: ScannerProfile) -> dict:
    """The profile as plain JSON data (inverse of :func:`profile_from_dict`)."""
    data = asdict(profile)
    data["print_baselines"] = {key: {"layout": entry["layout"], "pages": [list(page) for page in entry["pages"]]}
                               for key, entry in profile.print_baselines.items()}
    return data


def save_profile(profile: ScannerProfile, path: str | Path) -> None:
    """Write ``profile`` as JSON (what calibration produces)."""
    Path(path).write_text(json.dumps(profile_to_dict(profile), indent=2) + "\n", encoding="utf-8")
