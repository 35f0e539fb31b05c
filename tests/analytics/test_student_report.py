"""Per-student diagnosis PDFs: one page per student, Chinese text embedded, the student's own figures."""

from __future__ import annotations

import re
import shutil
import subprocess

import numpy as np
import pytest

from analytics.student_report import rank_band, write_student_reports


def _run(*args: str) -> str:
    tool = shutil.which(args[0])
    assert tool, f"{args[0]} not found: run `make system-deps` (installs poppler-utils)"
    return subprocess.run([tool, *args[1:]], capture_output=True, text=True, timeout=60, check=True).stdout


def test_one_page_per_student_with_their_figures(tmp_path, sample_analysis):
    a = sample_analysis
    path, pages = write_student_reports(a, tmp_path / "students.pdf", 1)
    members = int((a.students.class_index == 1).sum())
    assert pages == members
    info = _run("pdfinfo", str(path))
    assert int(re.search(r"^Pages:\s+(\d+)", info, re.M).group(1)) == members
    first = _run("pdftotext", "-f", "1", "-l", "1", "-layout", str(path), "-")
    data, s = a.data, a.students
    member = np.flatnonzero(s.class_index == 1)
    i = member[np.argsort(data.exam_ids[s.rows[member]].astype(str), kind="stable")][0]
    assert data.names[s.rows[i]] in first and data.exam_ids[s.rows[i]] in first
    assert "学生学业诊断报告" in first and "薄弱知识点" in first and "解析几何" in first
    assert f"{s.class_rank[i]}/{s.class_size[i]}" in first


def test_english_report(tmp_path, sample_analysis):
    path, _ = write_student_reports(sample_analysis, tmp_path / "en.pdf", 0, lang="en")
    text = _run("pdftotext", "-f", "1", "-l", "1", str(path), "-")
    assert "Student diagnosis report" in text and "Weakest points" in text


@pytest.mark.parametrize("pr,band", [(95, 10), (90, 10), (80, 25), (50, 50), (30, 75), (10, 100)])
def test_rank_band(pr, band):
    assert rank_band(pr) == band


def test_mastery_beside_each_rate_is_explained_and_weak_points_name_their_questions(tmp_path, sample_analysis):
    a = sample_analysis
    s, data, bp = a.students, a.data, a.blueprint
    path, _ = write_student_reports(a, tmp_path / "students.pdf", 0)
    text = _run("pdftotext", "-layout", str(path), "-")
    pages = text.split("\f")
    member = np.flatnonzero(s.class_index == 0)
    order = member[np.argsort(data.exam_ids[s.rows[member]].astype(str), kind="stable")]
    for page, i in zip(pages, order.tolist()):
        assert "掌握程度" in page and "可信区间" in page and "技术说明" in page
        for t, gap in zip(s.weakest[i].tolist(), s.weakest_gaps[i].tolist()):
            if np.isfinite(gap) and gap < 0:
                first = data.item_ids[int(np.flatnonzero(bp.weights[:, t] > 0)[0])]
                line = next(line for line in page.splitlines() if (bp.point_names[t] or bp.point_ids[t]) in line
                            and "%)" in line and "得" in line)
                assert f"{first} 得" in line, line


@pytest.mark.parametrize("pr, words", [(95, "前 10%"), (60, "前 50%"), (49, "后 50%"), (20, "后 25%"), (5, "后 10%")])
def test_grade_position_says_top_or_bottom(pr, words):
    from analytics.student_report import _T, _position

    assert _position(pr, _T["zh"]) == words
