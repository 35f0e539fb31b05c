"""考场编排 from a roster to a folder of files: what ``yuejuan exam arrange`` and the service's arrangement
endpoint both run (the rules are :mod:`logistics`; personalised sheets :mod:`sample_sheets.personalised`).

The folder gets 考场编排.csv/.xlsx (a row per seat, 考号 as text), 新名单.csv/.xlsx (the roster with the new
考号, ready for ``yuejuan grade --roster``), the four printouts (考场门贴, 座位标签, 签到表, 缺考登记表) and, unless
turned off, 个性化答题卡/考场NN.pdf: each room's personalised sheets in seat order.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from grading.roster import Student
from grading.text import clean_text
from logistics.arrange import DEFAULT_COLUMNS, Arrangement, arrange, make_rooms
from logistics.exam_ids import DEFAULT_FORMAT, ExamIdFormat, id_grid_columns
from logistics.printouts import write_printouts
from logistics.tables import write_tables
from omr.template import Template

__all__ = ["ArrangeOptions", "parse_rooms", "arrange_students", "write_arrangement", "summary_line",
           "SHEETS_DIR", "MOST_ROOMS"]

#: Sub-folder of the personalised sheets.
SHEETS_DIR = "个性化答题卡"
#: Most rooms one arrangement may have (a city's largest school seats a grade in far fewer).
MOST_ROOMS = 500
_ROOM_NAME_MAX = 40


def parse_rooms(text: str) -> int | list[str]:
    """``--rooms``: a count (``20``) or room names separated by commas (``101,102,实验楼201``)."""
    value = text.strip()
    if value.isdigit():
        count = int(value)
        if not 1 <= count <= MOST_ROOMS:
            raise ValueError(f"rooms: {count} outside 1..{MOST_ROOMS}")
        return count
    names = [clean_text(n, field="考场", max_length=_ROOM_NAME_MAX).strip() for n in re.split(r"[,，、]", value)]
    names = [n for n in names if n]
    if not names:
        raise ValueError("rooms: give a number of rooms or their names separated by commas")
    if len(names) > MOST_ROOMS:
        raise ValueError(f"rooms: {len(names)} names, at most {MOST_ROOMS}")
    return names


@dataclass(frozen=True)
class ArrangeOptions:
    """How to arrange: rooms (a count or names), seats per room, the 考号 format and its parts, the sheet."""

    rooms: int | list[str]
    capacity: int
    columns: int = DEFAULT_COLUMNS
    school: str = ""
    grade: int = 0
    exam_id_format: str = DEFAULT_FORMAT
    template: str | Template = "cn-a4-55"  # a bundled name, a JSON path or the template itself
    seed: int = 1
    title: str = ""
    sheets: bool = True


def _template(options: ArrangeOptions) -> Template:
    from sample_sheets import resolve_template

    return options.template if isinstance(options.template, Template) else resolve_template(options.template)


def arrange_students(students: Sequence[Student], options: ArrangeOptions) -> Arrangement:
    """Rooms, checked 考号 format (its length that of the template's 考号 grid) and the arrangement."""
    template = _template(options)
    rooms = make_rooms(options.rooms, options.capacity, columns=options.columns)
    fmt = ExamIdFormat.checked(options.exam_id_format, school=options.school, grade=options.grade,
                               rooms=len(rooms), seats=options.capacity, id_length=id_grid_columns(template))
    return arrange(students, rooms, fmt, seed=options.seed)


def write_arrangement(arrangement: Arrangement, out_dir: Path, options: ArrangeOptions) -> list[Path]:
    """Every file of the module docstring into ``out_dir`` (created); the paths written."""
    from sample_sheets.personalised import PersonalSheet, render_personalised_pdf

    written = write_tables(arrangement, out_dir) + write_printouts(arrangement, out_dir, options.title)
    if options.sheets:
        template = _template(options)
        folder = out_dir / SHEETS_DIR
        folder.mkdir(parents=True, exist_ok=True)
        for seating in arrangement.rooms:
            if not seating.seats:
                continue
            sheets = [PersonalSheet(s.exam_id, s.student.name, s.student.class_name, seating.room.name, s.seat)
                      for s in seating.seats]
            path = folder / f"考场{seating.room.number:02d}.pdf"  # the room's name may hold anything: not in paths
            render_personalised_pdf(template, sheets, path, title=f"{options.title} {seating.room.name} 个性化答题卡")
            written.append(path)
    return written


def summary_line(arrangement: Arrangement) -> str:
    """One line for people: students, rooms, and how far apart classmates are (against a random seating)."""
    used = [r for r in arrangement.rooms if r.seats]
    students = sum(len(r.seats) for r in used)
    return (f"{students} students in {len(used)} of {len(arrangement.rooms)} rooms; adjacent classmates "
            f"{arrangement.adjacent_classmates()} (a random seating: {arrangement.random_expectation():.1f} on "
            f"average); 考号 {used[0].seats[0].exam_id}–{used[-1].seats[-1].exam_id}" if used else
            "no students")
