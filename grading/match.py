"""Match answer sheets to roster students by exam id (bubble grid, else barcode).

Every sheet ends up with exactly one student or in the exceptions, and every roster student with exactly one
outcome. Exception kinds (异常卷), each with a reason a person can act on:

``unknown_id``         the id read is not on the roster
``id_unreadable``      no id could be read (grid blank or uncertain, no barcode)
``id_conflict``        grid and barcode give two different students
``duplicate_sheets``   two or more sheets carry one id (the student is not graded until one is corrected)
``absent_marked``      the proctor's 缺考 mark is filled (the student is listed as absent)
``absent_uncertain``   the 缺考 mark could not be read with certainty
``no_sheet``           a roster student without a sheet (counted as absent, 缺考)
``id_from_barcode``    (note) the grid id was not on the roster, the barcode's was and is used
``unreadable_page``    a scanned page that could not be read at all (may explain a missing sheet)

Personalised sheets (个性化答题卡, ``identity="barcode"``) carry the student's 考号 printed as a barcode: the
barcode is the student and the grid only confirms it. Two more kinds then, both matched (the sheet is graded as
the barcode's student) and both for a person to look at, never a silent pick:

``id_grid_mismatch``   the grid reads another 考号 than the printed barcode (a wrong sheet handed out, or the
                       grid filled wrongly)
``barcode_unreadable`` the printed barcode could not be read; the grid's 考号 is used
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

from grading.roster import Roster, Student
from grading.sheets import SheetRecord, UnreadablePage

__all__ = ["MatchException", "StudentMatch", "MatchResult", "match_sheets", "IDENTITIES"]

#: Where a sheet's student comes from: the 考号 grid (a barcode only helps), or a personalised sheet's barcode.
IDENTITIES = ("grid", "barcode")


@dataclass(frozen=True)
class MatchException:
    """One exception: what kind, why, and which student and/or sheet."""

    kind: str
    reason: str
    exam_id: str | None = None
    sheet: int | None = None
    source: str = ""


@dataclass
class StudentMatch:
    """One student row: ``outcome`` is ``sheet`` (matched), ``absent`` or ``duplicate``."""

    exam_id: str
    student: Student | None
    outcome: str
    sheet: SheetRecord | None = None
    duplicates: list[SheetRecord] = field(default_factory=list)
    reason: str = ""
    absent_uncertain: bool = False


@dataclass
class MatchResult:
    students: list[StudentMatch]  # roster order (without a roster: order first seen)
    unmatched: list[SheetRecord]  # sheets no student could be given
    exceptions: list[MatchException]


def _has_answers(sheet: SheetRecord) -> bool:
    return any(r.marked or r.status == "uncertain" for r in sheet.questions.values()) or any(
        s.value is not None for s in sheet.scores.values())


def _barcode_identity(sheet: SheetRecord, roster: Roster | None) -> tuple[list[str], MatchException | None]:
    """(candidate ids, note) of a personalised sheet: the barcode when read, else the grid with a note."""
    where = dict(sheet=sheet.sheet, source=sheet.source)
    if not sheet.barcode:
        if not sheet.exam_id:
            return [], None
        return [sheet.exam_id], MatchException(
            "barcode_unreadable", f"printed barcode unreadable; id grid {sheet.exam_id} used", exam_id=sheet.exam_id,
            **where)
    if sheet.exam_id and sheet.exam_id != sheet.barcode and (roster is None or sheet.barcode in roster):
        return [sheet.barcode], MatchException(
            "id_grid_mismatch", f"printed barcode {sheet.barcode} is the student; id grid read {sheet.exam_id}",
            exam_id=sheet.barcode, **where)
    return [sheet.barcode], None


def match_sheets(sheets: Sequence[SheetRecord], roster: Roster | None = None,
                 unreadable: Sequence[UnreadablePage] = (), *, identity: str = "grid") -> MatchResult:
    """Match sheets to students; see the module docstring for the exceptions.

    Parameters
    ----------
    sheets : sequence of SheetRecord
    roster : Roster, optional
        Without one, every id read is taken as a student (no ``unknown_id`` or ``no_sheet``).
    unreadable : sequence of UnreadablePage
        Listed as ``unreadable_page`` exceptions.
    identity : {'grid', 'barcode'}
        ``barcode`` for personalised sheets: the printed barcode is the student (see the module docstring).
    """
    if identity not in IDENTITIES:
        raise ValueError(f"identity {identity!r}: expected one of {', '.join(IDENTITIES)}")
    exceptions: list[MatchException] = []
    unmatched: list[SheetRecord] = []
    by_id: dict[str, list[SheetRecord]] = {}
    for sheet in sheets:
        if sheet.excluded:
            continue
        where = dict(sheet=sheet.sheet, source=sheet.source)
        note = None
        if identity == "barcode":
            candidates, note = _barcode_identity(sheet, roster)
        else:
            candidates = [i for i in dict.fromkeys([sheet.exam_id, sheet.barcode]) if i]
        known = [i for i in candidates if roster is None or i in roster]
        if roster is None:
            known = known[:1]  # the grid id (omr already prefers it); a barcode only when there is no grid id
        if not candidates:
            status = sheet.id_status or "blank"
            reason = f"exam id unreadable (grid {status}, no barcode)"
            if sheet.absent:
                reason += "; sheet marked absent"
            exceptions.append(MatchException("id_unreadable", reason, **where))
            unmatched.append(sheet)
            continue
        if not known:
            exceptions.append(MatchException(
                "unknown_id", f"exam id {' / '.join(candidates)} not on the roster", exam_id=candidates[0], **where))
            unmatched.append(sheet)
            continue
        if note is not None:
            exceptions.append(note)
        if len(known) > 1:
            exceptions.append(MatchException(
                "id_conflict", f"id grid {sheet.exam_id} and barcode {sheet.barcode} name two different students",
                exam_id=sheet.exam_id, **where))
            unmatched.append(sheet)
            continue
        exam_id = known[0]
        if identity == "grid" and sheet.exam_id and exam_id != sheet.exam_id:
            exceptions.append(MatchException(
                "id_from_barcode", f"id grid read {sheet.exam_id} (not on the roster); barcode {exam_id} used",
                exam_id=exam_id, **where))
        by_id.setdefault(exam_id, []).append(sheet)

    ids = [s.exam_id for s in roster.students] if roster is not None else list(by_id)
    students: list[StudentMatch] = []
    for exam_id in ids:
        student = roster.get(exam_id) if roster is not None else None
        found = by_id.get(exam_id, [])
        if not found:
            reason = "no sheet (counted as absent, 缺考)"
            exceptions.append(MatchException("no_sheet", reason, exam_id=exam_id))
            students.append(StudentMatch(exam_id, student, "absent", reason=reason))
            continue
        if len(found) > 1:
            numbers = ", ".join(str(s.sheet) for s in found)
            reason = f"{len(found)} sheets with this exam id: sheets {numbers}"
            for sheet in found:
                exceptions.append(MatchException("duplicate_sheets", reason, exam_id=exam_id, sheet=sheet.sheet,
                                                 source=sheet.source))
            students.append(StudentMatch(exam_id, student, "duplicate", duplicates=found, reason=reason))
            continue
        sheet = found[0]
        if sheet.absent:
            reason = "sheet marked absent (缺考)"
            if _has_answers(sheet):
                reason += " but it has answers: check the mark"
            exceptions.append(MatchException("absent_marked", reason, exam_id=exam_id, sheet=sheet.sheet,
                                             source=sheet.source))
            students.append(StudentMatch(exam_id, student, "absent", sheet=sheet, reason=reason))
            continue
        uncertain = any("absent mark uncertain" in r for r in sheet.reasons)
        if uncertain:
            exceptions.append(MatchException("absent_uncertain", "absent mark (缺考) uncertain", exam_id=exam_id,
                                             sheet=sheet.sheet, source=sheet.source))
        students.append(StudentMatch(exam_id, student, "sheet", sheet=sheet, absent_uncertain=uncertain))
    for page in unreadable:
        exceptions.append(MatchException("unreadable_page", "; ".join(page.reasons),
                                         source=f"{page.source}#{page.page_index + 1}"))
    return MatchResult(students, unmatched, exceptions)
