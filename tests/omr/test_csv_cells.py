"""The CSV rule: text that starts like a formula gets a leading quote, and reading undoes it exactly (issue 15)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from omr.csv_cells import FORMULA_STARTS, csv_cell, csv_row, from_csv_cell

FORMULA = '=HYPERLINK("http://x","y")'


def test_csv_cell_quotes_what_a_spreadsheet_would_run():
    for first in sorted(FORMULA_STARTS):
        assert csv_cell(first + "1") == "'" + first + "1"
    assert csv_cell(FORMULA) == "'" + FORMULA
    assert csv_cell("王芳") == "王芳" and csv_cell("") == "" and csv_cell("'abc") == "'abc"
    assert csv_row(["-1班", 3.5, -2, None]) == ["'-1班", 3.5, -2, None]  # numbers stay numbers


@given(st.text(alphabet=st.sampled_from(["'", "=", "+", "-", "@", "\t", "\r", "a", "班"]), max_size=6))
def test_from_csv_cell_undoes_csv_cell(text: str):
    escaped = csv_cell(text)
    assert from_csv_cell(escaped) == text
    assert escaped[:1] not in FORMULA_STARTS
