"""Write a level's reports to a folder: the workbooks, the students' PDFs and ``analytics.json``.

Levels (``--level`` of ``yuejuan report``):

``class``
    ``class_<班级>.xlsx`` for every class (``class_<school>_<班级>.xlsx`` when several schools) and the grade
    workbook(s) they belong to;
``grade``
    ``grade.xlsx`` comparing the classes (``grade_<school>.xlsx`` per school when several schools);
``school``
    ``school_<school>.xlsx`` per school, comparing its classes;
``city``
    ``city.xlsx`` comparing schools.

With ``students_pdf``, ``students_<班级>.pdf`` holds one diagnosis page per student of each class.
"""

from __future__ import annotations

import json
from pathlib import Path
from analytics.analysis import Analysis
from analytics.model import LEVELS
from analytics.report_json import analysis_json
from analytics.student_report import write_student_reports
from analytics.workbook import safe_name, write_city_workbook, write_class_workbook, write_grade_workbook

__all__ = ["write_reports", "write_json", "summary_line"]


def write_json(analysis: Analysis, path: str | Path, *, students: bool = True) -> Path:
    """``analytics.json``: every figure (:func:`analytics.report_json.analysis_json`), UTF-8, NaN as null."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    document = analysis_json(analysis, students=students)
    path.write_text(json.dumps(document, ensure_ascii=False, allow_nan=False, separators=(",", ":")) + "\n",
                    encoding="utf-8")
    return path


def _class_file(analysis: Analysis, prefix: str, index: int, suffix: str) -> str:
    classes = analysis.classes
    name = safe_name(classes.classes[index])
    if analysis.multi_school:
        name = f"{safe_name(classes.schools[index])}_{name}"
    return f"{prefix}_{name}{suffix}"


def write_reports(analysis: Analysis, out: str | Path, *, level: str = "class", students_pdf: bool = False,
                  json_file: bool = True, lang: str | None = None) -> list[Path]:
    """Write the reports of ``level`` for one analysed exam into ``out``; returns the paths written."""
    if level not in LEVELS:
        raise ValueError(f"level {level!r}: use one of {', '.join(LEVELS)}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    schools = [str(s) for s in analysis.schools.schools.tolist()]
    if level == "class":
        for c in range(len(analysis.classes)):
            if analysis.classes.stats.n[c]:
                written.append(write_class_workbook(analysis, out / _class_file(analysis, "class", c, ".xlsx"), c,
                                                    lang=lang))
    if level in ("class", "grade"):
        for school in schools:
            name = f"grade_{safe_name(school)}.xlsx" if analysis.multi_school else "grade.xlsx"
            written.append(write_grade_workbook(analysis, out / name, school=school, lang=lang))
    if level == "school":
        for school in schools:
            written.append(write_grade_workbook(analysis, out / f"school_{safe_name(school or 'school')}.xlsx",
                                                school=school, lang=lang))
    if level == "city":
        written.append(write_city_workbook(analysis, out / "city.xlsx", lang=lang))
    if students_pdf:
        for c in range(len(analysis.classes)):
            if analysis.classes.stats.n[c]:
                path, _ = write_student_reports(analysis, out / _class_file(analysis, "students", c, ".pdf"), c,
                                                lang=lang)
                written.append(path)
    if json_file:
        written.append(write_json(analysis, out / "analytics.json"))
    return written


def summary_line(analysis: Analysis) -> str:
    """One line for people: who was analysed and the headline figures."""
    data, test = analysis.data, analysis.test
    status = data.status
    return (f"{data.exam.id} ({data.exam.subject}, full marks {data.full_marks:g}): graded {test.n}, absent "
            f"{int((status == 'absent').sum())}, pending {int((status == 'pending').sum())}; mean {test.mean:.2f}, "
            f"SD {test.sd:.2f}, alpha {test.alpha:.3f}, SEM {test.sem:.2f}; {len(analysis.schools)} school(s), "
            f"{len(analysis.classes)} class(es), {len(analysis.blueprint.point_ids)} knowledge point(s)")

