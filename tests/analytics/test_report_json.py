"""analytics.json: the documented shape, strict JSON (no NaN), the same figures as the analysis."""

from __future__ import annotations

import json

import numpy as np
import pytest

from analytics.model import clean_float, jsonable
from analytics.report_json import SCHEMA, analysis_json


def test_shape_and_figures(sample_analysis):
    doc = json.loads(json.dumps(analysis_json(sample_analysis), ensure_ascii=False, allow_nan=False))
    assert doc["schema"] == SCHEMA
    assert set(doc) >= {"exam", "config", "definitions", "counts", "knowledge_points", "city", "schools", "classes",
                        "items", "test", "dina", "rasch", "students", "not_graded", "multi_subject", "trend"}
    a = sample_analysis
    assert doc["counts"] == {"roster": 36, "graded": 34, "absent": 2, "pending": 0, "duplicate": 0}
    assert doc["config"]["cut_lines"] == {"excellent": 102, "good": 84, "pass": 72, "low": 48}
    assert len(doc["classes"]) == 3 and len(doc["schools"]) == 1
    first = doc["classes"][0]
    assert first["class"] == "高一(1)班" and first["school_code"] == "3432000123"
    assert first["mean"] == pytest.approx(a.classes.stats.mean[0], abs=1e-6)
    assert set(first["rates"]) == {"excellent", "good", "pass", "low"}
    assert len(first["item_rates"]) == 58 and len(first["knowledge_rates"]) == 9
    assert sum(first["segments"]["counts"]) == first["n"]
    assert doc["city"]["n"] == 34 and doc["city"]["mean_diff"] == 0
    item = doc["items"][40]  # Q41, multi-select
    assert item["id"] == "Q41" and item["type"] == "multi" and item["options"]["keyed"] == "BCD"
    assert item["ebel"] in {"very_good", "good", "acceptable", "poor"}
    assert doc["items"][57]["options"] is None  # subjective
    assert doc["test"]["alpha"] == pytest.approx(a.test.alpha, abs=1e-6)
    student = doc["students"][0]
    assert student["exam_id"] == "2026010101" and isinstance(student["exam_id"], str)
    assert set(student["knowledge"]) == {kp["id"] for kp in doc["knowledge_points"]}
    assert student["class_rank"] >= 1 and 0 < student["grade_pr"] < 100
    assert {s["status"] for s in doc["not_graded"]} == {"absent"}
    assert "信度α" in doc["definitions"]
    assert doc["schools"][0]["item_analysis"] is None  # one school: the top-level items are its own


def test_without_students_and_english_definitions(sample_analysis):
    from dataclasses import replace

    doc = analysis_json(replace(sample_analysis, config=replace(sample_analysis.config, lang="en")), students=False)
    assert doc["students"] is None and "Cronbach's alpha" in doc["definitions"]


def test_jsonable_turns_nan_into_null_and_keeps_integers():
    assert jsonable(np.array([1.0, np.nan, 2.5])) == [1, None, 2.5]
    assert jsonable({"a": np.int64(3), "b": (np.float64(np.inf),)}) == {"a": 3, "b": [None]}
    assert clean_float(1 / 3, 3) == 0.333 and clean_float(float("nan")) is None


def test_each_school_gets_its_own_item_analysis_when_several_report():
    from analytics.analysis import analyse, item_view
    from analytics.simulate import simulate_exam_data
    from analytics_builders import sample_exam

    a = analyse(simulate_exam_data(sample_exam(), 240, n_schools=2, classes_per_school=2, seed=6),
                replace_config(dina=False))
    doc = analysis_json(a, students=False)
    second = doc["schools"][1]["item_analysis"]
    view = item_view(a, a.students.school_index == 1)
    assert second["test"]["n"] == int((a.students.school_index == 1).sum())
    assert second["test"]["alpha"] == pytest.approx(view.test.alpha, abs=1e-6)
    assert second["items"][3]["discrimination"] == pytest.approx(view.items.discrimination[3], abs=1e-6)
    assert second["items"][0]["options"]["keyed"] == "A"


def replace_config(**changes):
    from analytics.model import ReportConfig

    return ReportConfig(**changes)
