"""Shared builders for analytics tests (a unique module name, unlike ``conftest``)."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from analytics.simulate import simulate_answers
from grading.exam import Exam, load_exam
from grading.mark import mask_to_letters
from grading.roster import student_no_check_char

REPO = Path(__file__).resolve().parents[2]
SAMPLE_EXAM_PATH = REPO / "grading" / "samples" / "cn-a4-55-exam.json"


def sample_exam() -> Exam:
    return load_exam(SAMPLE_EXAM_PATH)


def student_no(school: int, class_: int, seat: int) -> str:
    """A valid G-type 学籍号 (ID-card form with its check character), the same for a student in every exam."""
    body = f"330102{2010 + school:04d}{1 + class_ % 12:02d}{1 + seat % 28:02d}{school:01d}{class_:01d}{seat % 10:01d}"
    return "G" + body + student_no_check_char(body)


def write_grade_inputs(folder: Path, exam: Exam, *, classes: int = 3, per_class: int = 12, seed: int = 5,
                       absent: int = 2, schools: tuple[str, ...] = ("3432000123",), id_prefix: str = "2026",
                       ) -> tuple[Path, Path]:
    """A responses table (letters, scores) and a roster for ``yuejuan grade``: ``classes`` classes of
    ``per_class`` students in each school, each with a 学籍号 that stays across exams and a 考号 starting with
    ``id_prefix``; the last ``absent`` students of the roster have no sheet."""
    rng = np.random.default_rng(seed)
    rows = []
    for s, school in enumerate(schools):
        for c in range(classes):
            for k in range(per_class):
                rows.append((f"{id_prefix}{s + 1:02d}{c + 1:02d}{k + 1:02d}", student_no(s, c, k), f"学生{s}{c}{k}",
                             f"高一({c + 1})班", school))
    theta = rng.normal(0, 1, len(rows)) + np.repeat(np.linspace(-0.4, 0.4, classes), per_class).tolist() * len(schools)
    masks, values = simulate_answers(exam, theta, rng)
    folder.mkdir(parents=True, exist_ok=True)
    roster = folder / "roster.csv"
    with open(roster, "w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["考号", "学籍号", "姓名", "班级", "学校标识码"])
        writer.writerows(rows)
    responses = folder / "responses.csv"
    with open(responses, "w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["考号", *exam.question_ids])
        for i, row in enumerate(rows[:len(rows) - absent]):
            cells = []
            for j, q in enumerate(exam.questions):
                if q.type == "subjective":
                    cells.append(f"{values[i, j]:g}")
                else:
                    cells.append(mask_to_letters(int(masks[i, j]), q.options))
            writer.writerow([row[0], *cells])
    return responses, roster


def grade_folder(folder: Path, exam_path: Path = SAMPLE_EXAM_PATH, **options) -> Path:
    """Run ``yuejuan grade`` on generated inputs; returns its --out folder."""
    from api.cli import main

    responses, roster = write_grade_inputs(folder / "inputs", load_exam(exam_path), **options)
    out = folder / "marks"
    assert main(["grade", "--exam", str(exam_path), "--results", str(responses), "--roster", str(roster),
                 "--out", str(out), "--no-xlsx"]) == 0
    return out


def assert_prints_legibly(ws) -> None:
    """Every wrapped cell of ``ws`` (an openpyxl worksheet) has the row height its lines need at its column's
    width, and the sheet prints one page wide unless it is too wide for that (then across pages at full size)."""
    from openpyxl.utils import get_column_letter

    from analytics.workbook import wrapped_lines

    widths = {get_column_letter(col): dim.width for dim in ws.column_dimensions.values() if dim.width
              for col in range(dim.min, dim.max + 1)}
    for row in ws.iter_rows():
        for cell in row:
            if isinstance(cell.value, str) and cell.alignment.wrap_text:
                height = ws.row_dimensions[cell.row].height or 15
                need = wrapped_lines(cell.value, widths.get(cell.column_letter, 8.43))
                assert height >= 15 * need, (ws.title, cell.coordinate, cell.value, height, need)
    wide = sum(widths.values()) > 150 * 1.3
    fits = ws.sheet_properties.pageSetUpPr is not None and ws.sheet_properties.pageSetUpPr.fitToPage
    assert bool(fits) is not wide or ws.title == "概况", (ws.title, sum(widths.values()))
