"""Page results as dicts: the fast converter says exactly what ``dataclasses.asdict`` says, and round-trips."""

from __future__ import annotations

from dataclasses import asdict, fields

from omr.result import PageResult, QuestionReading, ScoreReading, page_result_from_dict, page_result_to_dict


def _full_result() -> PageResult:
    return PageResult(
        source="scans/a.jpg", page_index=2, status="flagged", reasons=["uncertain marks: Q3"], template_id="cn-a4-55",
        page=1, orientation=180, residual_mm=0.12, student_id="0026010001", student_id_status="ok",
        id_grid="0026010001", barcode="2026010001", absent=False, form="B",
        questions={"Q1": QuestionReading("A", "ok", 0.97), "Q3": QuestionReading("", "uncertain", 0.4, "BC")},
        scores={"Q56": ScoreReading(7.5, "ok", 0.9), "Q57": ScoreReading(None, "blank", 1.0)},
        crops={"Q56": "crops/a_Q56.png"}, overlay="overlays/a.png",
        page_to_image=[[1.0, 0.01, 3.0], [0.0, 1.0, 4.0], [0.0, 0.0, 1.0]], mark_level=0.61,
        timings_ms={"register": 0.9, "measure": 0.6},
    )


def test_to_dict_equals_asdict_and_shares_nothing():
    result = _full_result()
    data = page_result_to_dict(result)
    assert data == asdict(result)
    data["questions"]["Q1"]["marked"] = "D"
    data["page_to_image"][0][0] = 9.0
    data["reasons"].append("x")
    assert result.questions["Q1"].marked == "A" and result.page_to_image[0][0] == 1.0 and len(result.reasons) == 1
    empty = PageResult(source="", page_index=0, status="error")
    assert page_result_to_dict(empty) == asdict(empty)


def test_round_trip():
    result = _full_result()
    assert page_result_from_dict(page_result_to_dict(result)) == result


def test_reading_fields_are_the_ones_the_converter_writes():
    # A field added to a reading must be added to page_result_to_dict too; this says so.
    assert [f.name for f in fields(QuestionReading)] == ["marked", "status", "confidence", "uncertain"]
    assert [f.name for f in fields(ScoreReading)] == ["value", "status", "confidence"]
