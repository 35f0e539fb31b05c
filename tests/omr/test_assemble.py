"""Pages into sheets: scan order, page numbers and student ids decide; nothing is ever dropped."""

from __future__ import annotations

import numpy as np
import pytest

from omr.assemble import assemble_sheets
from omr.read import prepare_template, read_page
from omr.result import PageResult, QuestionReading, ScoreReading
from sample_sheets import resolve_template
from sample_sheets.simulate import random_truth, simulate_sheet


def _page(index: int, page: int | None, student_id: str | None = None, *, status: str = "ok",
          reasons: list[str] | None = None, template_id: str = "t2") -> PageResult:
    """A read page: page 1 carries the id grid and Q1-Q2, page 2 Q3-Q4, page 3 Q5."""
    questions = {
        1: {"Q1": "A", "Q2": "B"}, 2: {"Q3": "C", "Q4": "D"}, 3: {"Q5": "A"},
    }.get(page or 0, {})
    result = PageResult(source=f"scan-{index}.jpg", page_index=index, status=status, reasons=list(reasons or []),
                        template_id=template_id, page=page, student_id=student_id,
                        student_id_status="ok" if student_id else None,
                        absent=False if page == 1 else None,
                        questions={q: QuestionReading(m, "ok", 0.9) for q, m in questions.items()})
    if page == 2:
        result.scores["Q9"] = ScoreReading(7.0, "ok", 0.9)
    return result


def _error(index: int, reason: str = "no anchors found") -> PageResult:
    return PageResult(source=f"scan-{index}.jpg", page_index=index, status="error", reasons=[reason],
                      template_id="t2")


def _indices(sheet) -> list[int]:
    return [p["page_index"] for p in sheet.pages]


def _accounted(sheets, unreadable) -> int:
    return sum(len(sheet.pages) for sheet in sheets) + len(unreadable)


def test_two_pages_in_order_make_one_sheet():
    sheets, unreadable = assemble_sheets([_page(0, 1, "2026010001"), _page(1, 2)], page_count=2)
    assert unreadable == []
    assert len(sheets) == 1
    sheet = sheets[0]
    assert sheet.status == "ok" and sheet.reasons == []
    assert sheet.student_id == "2026010001" and sheet.absent is False
    assert [p["page"] for p in sheet.pages] == [1, 2]
    assert sorted(sheet.questions) == ["Q1", "Q2", "Q3", "Q4"]
    assert sheet.questions["Q3"].marked == "C"
    assert sheet.scores["Q9"].value == 7.0
    assert sheet.template_id == "t2"


def test_alternating_pages_make_one_sheet_per_student():
    pages = [_page(0, 1, "A1"), _page(1, 2), _page(2, 1, "B2"), _page(3, 2)]
    sheets, unreadable = assemble_sheets(pages, page_count=2)
    assert unreadable == []
    assert [s.student_id for s in sheets] == ["A1", "B2"]
    assert [_indices(s) for s in sheets] == [[0, 1], [2, 3]]
    assert [s.sheet_index for s in sheets] == [0, 1]
    assert all(s.status == "ok" for s in sheets)


def test_missing_second_page_is_flagged():
    pages = [_page(0, 1, "A1"), _page(1, 1, "B2"), _page(2, 2)]
    sheets, _ = assemble_sheets(pages, page_count=2)
    assert [_indices(s) for s in sheets] == [[0], [1, 2]]
    assert sheets[0].status == "flagged"
    assert "missing page(s) 2" in sheets[0].reasons
    assert sheets[1].status == "ok" and sheets[1].reasons == []


def test_orphan_second_page_first_gets_its_own_flagged_sheet():
    pages = [_page(0, 2), _page(1, 1, "A1"), _page(2, 2)]
    sheets, unreadable = assemble_sheets(pages, page_count=2)
    assert unreadable == []
    assert [_indices(s) for s in sheets] == [[0], [1, 2]]
    assert sheets[0].status == "flagged" and sheets[0].student_id is None
    assert "missing page(s) 1" in sheets[0].reasons
    assert sheets[0].questions["Q3"].marked == "C"  # the orphan's readings are kept, not dropped
    assert sheets[1].status == "ok"


def _pages(numbers: str) -> list[PageResult]:
    """Pages from a string like "1A 2 2 1B": page number, then the student id on the page if it has one."""
    return [_page(i, int(token[0]), token[1:] or None) for i, token in enumerate(numbers.split())]


def test_a_card_fed_back_to_front_is_one_sheet():
    sheets, unreadable = assemble_sheets(_pages("1A 2 2 1B 1C 2"), page_count=2)
    assert unreadable == []
    assert [_indices(s) for s in sheets] == [[0, 1], [3, 2], [4, 5]]  # each sheet's pages in page order
    assert [s.student_id for s in sheets] == ["A", "B", "C"]
    assert [s.status for s in sheets] == ["ok", "ok", "ok"]
    assert sorted(sheets[1].questions) == ["Q1", "Q2", "Q3", "Q4"] and sheets[1].absent is False


def test_page_two_in_an_earlier_file_joins_its_page_one():
    """Files named so that a card's back sorts first (p0-back.jpg, p1-front.jpg): the scan order is 2, 1."""
    sheets, _ = assemble_sheets(_pages("2 1A"), page_count=2)
    assert [_indices(s) for s in sheets] == [[1, 0]]
    assert sheets[0].status == "ok" and sheets[0].student_id == "A"


def test_a_whole_batch_fed_back_to_front():
    sheets, _ = assemble_sheets(_pages("2 1A 2 1B 2 1C"), page_count=2)
    assert [_indices(s) for s in sheets] == [[1, 0], [3, 2], [5, 4]]
    assert all(s.status == "ok" for s in sheets)


def test_lone_page_two_before_a_card_fed_front_first_stays_alone():
    """Page 1 of the second card was lost: its page 2 must not take the next student's page 1."""
    sheets, _ = assemble_sheets(_pages("1A 2 2 1B 2 1C 2"), page_count=2)
    assert [_indices(s) for s in sheets] == [[0, 1], [2], [3, 4], [5, 6]]
    assert [s.status for s in sheets] == ["ok", "flagged", "ok", "ok"]
    assert sheets[1].reasons == ["missing page(s) 1"]


def test_lone_page_two_in_a_batch_fed_back_to_front_stays_alone():
    """The same loss in a batch fed back first: the cards the two readings agree on say which way it was fed."""
    sheets, _ = assemble_sheets(_pages("2 1A 2 1B 2 2 1C 2 1D"), page_count=2)
    assert [_indices(s) for s in sheets] == [[1, 0], [3, 2], [4], [6, 5], [8, 7]]
    assert [s.student_id for s in sheets] == ["A", "B", None, "C", "D"]
    assert sheets[2].reasons == ["missing page(s) 1"]


def test_three_pages_back_to_front_and_a_lost_middle_page():
    sheets, _ = assemble_sheets(_pages("3 2 1A 1B 2 3 3 1C"), page_count=3)
    assert [_indices(s) for s in sheets] == [[2, 1, 0], [3, 4, 5], [6], [7]]
    assert [s.status for s in sheets] == ["ok", "ok", "flagged", "flagged"]


def test_second_page_of_another_student_starts_a_new_sheet():
    pages = [_page(0, 1, "A1"), _page(1, 2, "B2")]
    sheets, _ = assemble_sheets(pages, page_count=2)
    assert [_indices(s) for s in sheets] == [[0], [1]]
    assert [s.student_id for s in sheets] == ["A1", "B2"]
    assert "missing page(s) 2" in sheets[0].reasons
    assert "missing page(s) 1" in sheets[1].reasons


def test_second_page_with_the_same_student_id_joins():
    sheets, _ = assemble_sheets([_page(0, 1, "A1"), _page(1, 2, "A1")], page_count=2)
    assert [_indices(s) for s in sheets] == [[0, 1]]
    assert sheets[0].status == "ok"


def test_page_repeated_starts_a_new_sheet():
    # The same page number twice in a row cannot belong to one sheet (a re-fed page, or the next student).
    sheets, _ = assemble_sheets([_page(0, 1, "A1"), _page(1, 1, "A1"), _page(2, 2)], page_count=2)
    assert [_indices(s) for s in sheets] == [[0], [1, 2]]
    assert all("duplicate student id A1" in s.reasons for s in sheets)


def test_skipped_middle_page_of_three():
    sheets, _ = assemble_sheets([_page(0, 1, "A1"), _page(1, 3), _page(2, 1, "B2"), _page(3, 2), _page(4, 3)],
                                page_count=3)
    assert [_indices(s) for s in sheets] == [[0], [1], [2, 3, 4]]
    assert "missing page(s) 2, 3" in sheets[0].reasons
    assert "missing page(s) 1, 2" in sheets[1].reasons
    assert sheets[2].status == "ok"


def test_duplicate_student_id_flags_both_sheets():
    pages = [_page(0, 1, "A1"), _page(1, 2), _page(2, 1, "C3"), _page(3, 2), _page(4, 1, "A1"), _page(5, 2)]
    sheets, _ = assemble_sheets(pages, page_count=2)
    assert len(sheets) == 3
    flagged = [s.sheet_index for s in sheets if "duplicate student id A1" in s.reasons]
    assert flagged == [0, 2]
    assert sheets[1].status == "ok"


def test_error_pages_are_returned_as_unreadable_never_dropped():
    broken_page = _page(3, None, status="flagged")  # no page number: cannot be placed in a sheet
    pages = [_page(0, 1, "A1"), _error(1), _page(2, 2), broken_page, _error(4, "blank page (no anchors)"),
             _page(5, 1, "B2")]
    sheets, unreadable = assemble_sheets(pages, page_count=2)
    assert [p.page_index for p in unreadable] == [1, 3, 4]
    assert unreadable[2].reasons == ["blank page (no anchors)"]
    # The error page between the two pages of a sheet does not split it.
    assert [_indices(s) for s in sheets] == [[0, 2], [5]]
    assert _accounted(sheets, unreadable) == len(pages)


def test_all_pages_unreadable():
    pages = [_error(i) for i in range(3)]
    sheets, unreadable = assemble_sheets(pages, page_count=2)
    assert sheets == [] and len(unreadable) == 3


def test_page_reasons_are_carried_with_their_page_number():
    pages = [_page(0, 1, "A1"), _page(1, 2, reasons=["uncertain marks: Q3"], status="flagged")]
    sheets, _ = assemble_sheets(pages, page_count=2)
    assert sheets[0].status == "flagged"
    assert sheets[0].reasons == ["page 2: uncertain marks: Q3"]
    single, _ = assemble_sheets([_page(0, 1, "A1", reasons=["multiple marks: Q1"], status="flagged")], page_count=1)
    assert single[0].reasons == ["multiple marks: Q1"]


def test_single_page_template_one_sheet_per_page():
    pages = [_page(i, 1, f"S{i}") for i in range(4)]
    sheets, _ = assemble_sheets(pages, page_count=1)
    assert [_indices(s) for s in sheets] == [[0], [1], [2], [3]]
    assert all(s.status == "ok" for s in sheets)


# ----------------------------------------------------------------------------------------------------------
# End to end: simulated two-page A3 sheets, read and assembled


@pytest.fixture(scope="module")
def a3_batch():
    template = resolve_template("cn-a3-100")
    prepared = prepare_template(template)
    truths, results = [], []
    for sheet in range(2):
        truth = random_truth(template, np.random.default_rng([40, sheet]), sheet_index=sheet,
                             student_id=f"20260100{sheet + 1:02d}", absent_rate=0.0, multi_error_rate=0.0)
        truths.append(truth)
        for sim in simulate_sheet(template, truth, seed=100 + sheet, profile="clean"):
            results.append(read_page(sim.image, prepared, source=f"batch-{sheet}-p{sim.page}.png",
                                     page_index=len(results)))
    return template, truths, results


def test_simulated_two_page_sheets_assemble(a3_batch):
    template, truths, results = a3_batch
    assert [r.page for r in results] == [1, 2, 1, 2]
    sheets, unreadable = assemble_sheets(results, page_count=len(template.pages))
    assert unreadable == []
    assert len(sheets) == 2
    for sheet, truth in zip(sheets, truths):
        assert sheet.status == "ok", sheet.reasons
        assert sheet.student_id == truth.student_id
        assert sheet.absent is False
        assert len(sheet.questions) == 100
        assert sorted(sheet.questions) == sorted(f"Q{n}" for n in range(1, 101))
        assert {q: r.marked for q, r in sheet.questions.items()} == truth.answers
