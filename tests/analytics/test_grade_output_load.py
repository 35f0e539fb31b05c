"""analytics.load: a `yuejuan grade` folder and a GradingRun in memory give the same arrays; bad folders fail
with a message naming the problem."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from analytics.load import from_grading_run, load_exam_scores, load_grade_output
from analytics_builders import sample_exam, write_grade_inputs
from grading.exam import parse_exam
from grading.pipeline import grade_sheets
from grading.report_io import write_outputs
from grading.roster import load_roster
from grading.sheets import read_sheets


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_folder_and_run_agree(tmp_path, lang):
    """The Chinese scores.csv and the English one of earlier versions (old grade folders) read the same."""
    exam = sample_exam()
    responses, roster = write_grade_inputs(tmp_path / "in", exam, classes=2, per_class=8, absent=1)
    run = grade_sheets(exam, read_sheets(responses, {q.id for q in exam.questions if q.type == "subjective"}),
                       load_roster(roster))
    write_outputs(run, tmp_path / "marks", xlsx=False, lang=lang)
    from_run = from_grading_run(run)
    from_folder = load_grade_output(tmp_path / "marks", exam)
    assert from_folder.item_ids == from_run.item_ids == tuple(exam.question_ids)
    for name in ("exam_ids", "names", "classes", "schools", "status"):
        assert getattr(from_folder, name).tolist() == getattr(from_run, name).tolist(), name
    np.testing.assert_array_equal(from_folder.scores, from_run.scores)
    np.testing.assert_array_equal(from_folder.totals, from_run.totals)
    np.testing.assert_array_equal(from_folder.masks, from_run.masks)
    np.testing.assert_array_equal(from_folder.section_totals, from_run.section_totals)
    assert from_folder.status.tolist().count("absent") == 1
    assert from_folder.graded.sum() == 15
    assert from_folder.schools[0] == "3432000123" and from_folder.exam_ids[0] == "2026010101"
    earlier = load_exam_scores(tmp_path / "marks")  # as `report --previous` reads a folder without its exam.json
    np.testing.assert_array_equal(earlier.totals, from_run.totals)
    assert earlier.student_nos.tolist() == from_run.student_nos.tolist()


def test_a_folder_without_scores_is_refused(tmp_path):
    with pytest.raises(ValueError, match="not a folder"):
        load_grade_output(tmp_path / "nowhere", sample_exam())
    with pytest.raises(ValueError, match="scores.csv: not found"):
        load_grade_output(tmp_path, sample_exam())


def test_scores_of_another_exam_or_key_are_refused(tmp_path, graded_folder):
    exam = sample_exam()
    other = parse_exam({**exam.model_dump(mode="json"), "id": "other-exam"})
    with pytest.raises(ValueError, match="scores are for exam demo-2026-math, not other-exam"):
        load_grade_output(graded_folder, other)
    # a regraded key (Q1 void) no longer matches the folder's full marks; the folder's exam.json is suggested
    data = exam.model_dump(mode="json")
    data["questions"][0]["status"] = "void"
    data["full_marks"] = exam.full_marks - exam.questions[0].points
    folder = tmp_path / "copy"
    shutil.copytree(graded_folder, folder)
    (folder / "exam.json").write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ValueError, match=r"full marks 120.*exam.json"):
        load_grade_output(folder, parse_exam(data))


def test_a_missing_column_is_named(tmp_path, graded_folder):
    folder = tmp_path / "cut"
    shutil.copytree(graded_folder, folder)
    text = (folder / "scores.csv").read_text(encoding="utf-8-sig").replace("Q58得分", "Q58分数")
    (folder / "scores.csv").write_text(text, encoding="utf-8-sig")
    with pytest.raises(ValueError, match="missing column.*Q58得分"):
        load_grade_output(folder, sample_exam())


def test_totals_that_do_not_add_up_are_refused(tmp_path, graded_folder):
    folder = tmp_path / "edited"
    shutil.copytree(graded_folder, folder)
    lines = (folder / "scores.csv").read_text(encoding="utf-8-sig").splitlines()
    header = lines[0].split(",")
    cells = lines[1].split(",")
    cells[header.index("总分")] = "999"
    lines[1] = ",".join(cells)
    (folder / "scores.csv").write_text("\n".join(lines) + "\n", encoding="utf-8-sig")
    with pytest.raises(ValueError, match="do not add up"):
        load_grade_output(folder, sample_exam())


def test_names_like_formulas_come_back_as_typed(tmp_path):
    """scores.csv quotes text that starts like a formula (issue 15 finding 6); the analytics read it as typed."""
    from grading.roster import Roster

    exam = sample_exam()
    responses, roster_path = write_grade_inputs(tmp_path / "in", exam, classes=2, per_class=4, absent=0)
    students = load_roster(roster_path).students
    hostile = ['=HYPERLINK("http://x","y")', "+1", "-x", "@A1", "'=quoted", "\tt"]
    students = [s.model_copy(update={"name": hostile[i]}) if i < len(hostile) else s for i, s in enumerate(students)]
    students[0] = students[0].model_copy(update={"class_name": "=1+1"})
    run = grade_sheets(exam, read_sheets(responses, {q.id for q in exam.questions if q.type == "subjective"}),
                       Roster(students=students))
    write_outputs(run, tmp_path / "marks", xlsx=False)
    assert "'=HYPERLINK" in (tmp_path / "marks" / "scores.csv").read_text(encoding="utf-8-sig")
    from_folder = load_grade_output(tmp_path / "marks", exam)
    assert from_folder.names.tolist() == from_grading_run(run).names.tolist()
    assert load_exam_scores(tmp_path / "marks").names.tolist() == from_folder.names.tolist()
    assert set(hostile) <= set(from_folder.names.tolist()) and "=1+1" in from_folder.classes.tolist()


def test_an_oversized_scores_csv_is_refused(tmp_path, graded_folder):
    """scores.csv is read within limits like every other table (grading.tabular): a row of 1 200 columns is
    refused with the limit named (it was read whole before)."""
    folder = tmp_path / "wide"
    shutil.copytree(graded_folder, folder)
    lines = (folder / "scores.csv").read_text(encoding="utf-8-sig").splitlines()
    lines[1] += ",1" * 1_200
    (folder / "scores.csv").write_text("\n".join(lines) + "\n", encoding="utf-8-sig")
    with pytest.raises(ValueError, match=r"(?s)scores table scores.csv too large.*row 2: \d+ columns \(limit 1000"):
        load_grade_output(folder, sample_exam())
    with pytest.raises(ValueError, match=r"limit 1000 columns"):
        load_exam_scores(folder)
