"""考号 formats: ``"{school}{grade:02d}{room:02d}{seat:02d}"`` and the rules that keep every 考号 unique and readable.

A format is a Python format string over four fields: ``school`` (digits, text), ``grade``, ``room`` and ``seat``
(integers). It is refused unless it can never give two students one 考号 and every 考号 fits the answer sheet:

- only those four fields, no conversions (``!r``), and literal text that is digits only (a 考号 is digits);
- ``room`` and ``seat`` both appear, each zero-padded to a fixed width (``{room:02d}``) wide enough for the
  largest room number and seat number: ``{room}{seat}`` would make room 1 seat 12 and room 11 seat 2 both "112";
- ``grade`` is a number that fits its width (``{grade:02d}`` takes 0-99) and ``school`` is digits;
- the 考号 has exactly as many digits as the template's 考号 grid has columns (a longer one cannot be filled in,
  a shorter one reads as incomplete).
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass

from grading.roster import EXAM_ID_MAX
from omr.template import Template

__all__ = ["ExamIdFormat", "ExamIdFormatError", "DEFAULT_FORMAT", "id_grid_columns"]

#: The usual layout: school number, grade, room, seat.
DEFAULT_FORMAT = "{school}{grade:02d}{room:02d}{seat:02d}"

_FIELDS = ("school", "grade", "room", "seat")
_FIXED = re.compile(r"^0(\d+)d$")


class ExamIdFormatError(ValueError):
    """A 考号 format that could give two students one 考号, or a 考号 the answer sheet cannot hold."""


@dataclass(frozen=True)
class ExamIdFormat:
    """A checked 考号 format with the constant parts (school, grade) bound.

    Build it with :meth:`checked`; :meth:`render` then gives the 考号 of a room and seat.
    """

    pattern: str
    school: str
    grade: int
    length: int

    @classmethod
    def checked(cls, pattern: str, *, school: str, grade: int, rooms: int, seats: int,
                id_length: int | None = None) -> "ExamIdFormat":
        """Check ``pattern`` for ``rooms`` rooms of at most ``seats`` seats; raise :class:`ExamIdFormatError`.

        Parameters
        ----------
        pattern : str
            The format, e.g. :data:`DEFAULT_FORMAT`.
        school, grade : str, int
            The school's number (digits) and the grade, the same in every 考号.
        rooms, seats : int
            The largest room number and seat number the format must hold.
        id_length : int, optional
            Columns of the template's 考号 grid; every 考号 must have exactly this many digits.
        """
        widths: dict[str, int | None] = {}
        try:
            parsed = list(string.Formatter().parse(pattern))
        except ValueError as error:
            raise ExamIdFormatError(f"考号 format {pattern!r}: {error}") from None
        for literal, name, spec, conversion in parsed:
            if literal and not (literal.isdigit() and literal.isascii()):
                raise ExamIdFormatError(f"考号 format {pattern!r}: fixed text {literal!r} is not digits "
                                        "(a 考号 is digits only)")
            if name is None:
                continue
            if name not in _FIELDS:
                raise ExamIdFormatError(f"考号 format {pattern!r}: unknown field {{{name}}}; use "
                                        + ", ".join(f"{{{f}}}" for f in _FIELDS))
            if conversion:
                raise ExamIdFormatError(f"考号 format {pattern!r}: no conversion (!{conversion}) allowed")
            fixed = _FIXED.match(spec or "")
            if name == "school":
                if spec:
                    raise ExamIdFormatError(f"考号 format {pattern!r}: {{school}} takes no format spec")
                if not (school.isdigit() and school.isascii()):
                    raise ExamIdFormatError(f"school number {school!r} must be digits (it is part of the 考号)")
                continue
            if name == "grade" and grade < 0:
                raise ExamIdFormatError(f"grade {grade} must not be negative")
            if spec and not fixed and spec != "d":
                raise ExamIdFormatError(f"考号 format {pattern!r}: {{{name}:{spec}}} must be zero-padded "
                                        f"to a fixed width like {{{name}:02d}}")
            widths[name] = int(fixed.group(1)) if fixed else None
        for name, largest in (("room", rooms), ("seat", seats)):
            if name not in widths:
                raise ExamIdFormatError(f"考号 format {pattern!r} has no {{{name}}}: two students would share "
                                        "a 考号")
            width = widths[name]
            if width is None:
                raise ExamIdFormatError(f"考号 format {pattern!r}: {{{name}}} needs a fixed width such as "
                                        f"{{{name}:02d}}, else room 1 seat 12 and room 11 seat 2 read alike")
            if len(str(largest)) > width:
                raise ExamIdFormatError(f"考号 format {pattern!r}: {name} {largest} does not fit "
                                        f"{{{name}:0{width}d}}")
        if "grade" in widths and widths["grade"] is not None and len(str(grade)) > widths["grade"]:
            raise ExamIdFormatError(f"考号 format {pattern!r}: grade {grade} does not fit "
                                    f"{{grade:0{widths['grade']}d}}")
        sample = pattern.format(school=school, grade=grade, room=1, seat=1)
        largest = pattern.format(school=school, grade=grade, room=rooms, seat=seats)
        if len(sample) != len(largest):  # only an unpadded grade could vary, and it does not: kept as a guard
            raise ExamIdFormatError(f"考号 format {pattern!r} gives 考号 of different lengths")
        if id_length is not None and len(sample) != id_length:
            raise ExamIdFormatError(f"考号 format {pattern!r} gives {len(sample)}-digit 考号 such as {sample}, "
                                    f"but the answer sheet's 考号 grid has {id_length} columns")
        if len(sample) > EXAM_ID_MAX:
            raise ExamIdFormatError(f"考号 format {pattern!r} gives {len(sample)} digits, at most {EXAM_ID_MAX}")
        return cls(pattern, school, grade, len(sample))

    def render(self, room: int, seat: int) -> str:
        """The 考号 of ``seat`` in ``room`` (both 1-based)."""
        return self.pattern.format(school=self.school, grade=self.grade, room=room, seat=seat)


def id_grid_columns(template: Template) -> int | None:
    """Columns of the template's 考号 grid (its ``student_id`` grids together), or None when it has none."""
    columns = [f.columns for page in template.pages for f in page.fields
               if getattr(f, "kind", None) == "grid" and getattr(f, "role", None) == "student_id"]
    return sum(columns) if columns else None
