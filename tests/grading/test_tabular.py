"""Reading tables teachers hand in: bounded rows, columns, cells and bytes for xlsx and CSV alike, hostile files
refused with the limit named (issue 15, finding 3)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from openpyxl import Workbook

from grading.tabular import TableError, TableLimits, _Bounded, check_xlsx_archive, read_rows, read_table
from sample_sheets.hostile_tables import csv_trailing_commas, inline_cell, sheet_xml, xlsx_by_hand, xlsx_declaring_huge

REPO = Path(__file__).resolve().parents[2]


def write_xlsx_parts(path: Path, sheet: str | bytes) -> Path:
    path.write_bytes(xlsx_by_hand(sheet))
    return path


def declared_huge_xlsx(path: Path) -> Path:
    path.write_bytes(xlsx_declaring_huge())
    return path


def test_declared_dimension_exploit_is_refused_in_bounded_memory(tmp_path: Path):
    """In a child process capped at 1.5 GB of address space: the old reader padded every row to 16 384 cells
    (tens of GB) and died of MemoryError; the bounded one stops at the row limit and names it (the child's own
    peak memory is well below the cap)."""
    path = declared_huge_xlsx(tmp_path / "huge.xlsx")
    assert path.stat().st_size < 2000
    script = textwrap.dedent(f"""
        import resource, sys
        resource.setrlimit(resource.RLIMIT_AS, (1536 * 2**20, 1536 * 2**20))
        sys.path.insert(0, {str(REPO)!r})
        from grading.tabular import TableError, read_table
        try:
            read_table({str(path)!r}, what="roster")
            print("READ")
        except TableError as error:
            print("REFUSED", error)
        # VmHWM: this process's own peak (ru_maxrss would also count the pytest process it was forked from)
        peak = next(line for line in open("/proc/self/status") if line.startswith("VmHWM"))
        print("PEAK_MB", int(peak.split()[1]) // 1024)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "REFUSED" in done.stdout and "limit 200000 rows" in done.stdout, done.stdout
    peak = int(done.stdout.split("PEAK_MB")[1].split()[0])
    assert peak < 400, f"peak {peak} MB"


def test_declared_dimension_is_ignored_for_the_rows_there(tmp_path: Path):
    """Within the limits the declared dimension changes nothing: only the real rows, each as wide as its cells."""
    rows = (f'<row r="1">{inline_cell("A1", "考号")}{inline_cell("B1", "姓名")}</row>'
            f'<row r="3">{inline_cell("A3", "2026010001")}{inline_cell("B3", "王芳")}<c r="XFD3" s="0"/></row>')
    path = write_xlsx_parts(tmp_path / "wide.xlsx", sheet_xml("A1:XFD1048576", rows))
    table = read_table(path)
    assert table.header == ["考号", "姓名"]
    assert table.rows == [(3, ["2026010001", "王芳"])]


def test_a_cell_beyond_the_column_limit_is_refused(tmp_path: Path):
    rows = f'<row r="1">{inline_cell("A1", "考号")}{inline_cell("XFD1", "x")}</row>'
    path = write_xlsx_parts(tmp_path / "far.xlsx", sheet_xml("A1", rows))
    with pytest.raises(TableError, match="a cell beyond column 200 \\(limit 200 columns\\)"):
        read_table(path)


def test_rows_padded_far_to_the_right_stop_at_the_padding_budget(tmp_path: Path):
    """Rows whose last cell is an empty styled one at XFD: nothing beyond the limit, but 16 384 Nones each."""
    rows = "".join(f'<row r="{r}">{inline_cell(f"A{r}", "1")}<c r="XFD{r}" s="0"/></row>' for r in range(1, 60))
    path = write_xlsx_parts(tmp_path / "padded.xlsx", sheet_xml("A1", rows))
    with pytest.raises(TableError, match=r"padded by empty cells to column 16384, more than 400000 values in all "
                                         r"\(limit 100000 cells\)"):
        read_table(path, limits=TableLimits(cells=100_000))


def test_zip_bomb_sheet_is_refused_before_parsing(tmp_path: Path):
    sheet = sheet_xml("A1", f'<row r="1">{inline_cell("A1", "考号")}</row>').encode()
    bomb = sheet.replace(b"<sheetData>", b"<sheetData>" + b" " * (8 * 2**20))
    path = write_xlsx_parts(tmp_path / "bomb.xlsx", bomb)
    assert path.stat().st_size < 100_000
    with pytest.raises(TableError, match=r"sheet1.xml: compressed \d+ times \(limit 200"):
        check_xlsx_archive(path)
    with pytest.raises(TableError, match="limit 200"):
        read_table(path)
    with pytest.raises(TableError, match="limit 1000 bytes"):
        read_table(declared_huge_xlsx(tmp_path / "small.xlsx"), limits=TableLimits(xlsx_bytes=1000))


def test_csv_with_300k_trailing_commas_reads_its_cells(tmp_path: Path):
    """The finding's CSV: a 300 KB line of commas after two cells. The old reader stripped one cell at a time
    (a copy of the row each time: minutes); trimming from the end is one pass."""
    path = tmp_path / "commas.csv"
    path.write_bytes(csv_trailing_commas(300_000))
    table = read_table(path)
    assert table.rows == [(2, ["2026010001", "王芳"])]


class _CountingList(list):
    reads = 0

    def __getitem__(self, index):
        type(self).reads += 1
        return super().__getitem__(index)


def test_trailing_cells_are_trimmed_in_one_pass():
    """Linear, counted: n trailing empty cells cost about n reads, not n**2 / 2 copies."""
    n = 100_000
    row = _CountingList(["a", "b", *[""] * n])
    trimmed = _Bounded("t", TableLimits()).row(2, row)
    assert list(trimmed) == ["a", "b"]
    assert _CountingList.reads <= n + 3


@pytest.mark.parametrize("limits, message", [
    (TableLimits(rows=3), r"row 4: more than 3 rows \(limit 3 rows\)"),
    (TableLimits(columns=2), r"row 1: 3 columns \(limit 2 columns\)"),
    (TableLimits(cells=7), r"more than 7 cells \(limit 7 cells\)"),
    (TableLimits(line_chars=5), r"a line of \d+ characters \(limit 5 characters\)"),
    (TableLimits(file_bytes=10), r"bytes \(limit 10 bytes\)"),
])
def test_csv_limits_name_the_limit(tmp_path: Path, limits: TableLimits, message: str):
    path = tmp_path / "t.csv"
    path.write_text("考号,姓名,班级\n1,王芳,1班\n2,李雷,1班\n3,韩梅梅,2班\n", encoding="utf-8")
    with pytest.raises(TableError, match=message):
        read_table(path, what="roster", limits=limits)


def test_xlsx_row_limit_counts_row_numbers(tmp_path: Path):
    workbook = Workbook()
    sheet = workbook.active
    for r in range(1, 6):
        sheet.append([f"{r:04d}", "x"])
    workbook.save(tmp_path / "t.xlsx")
    assert len(read_table(tmp_path / "t.xlsx", limits=TableLimits(rows=5)).rows) == 4
    with pytest.raises(TableError, match="row 6: more than 5 rows"):
        sheet.append(["0006", "x"])
        workbook.save(tmp_path / "t.xlsx")
        read_table(tmp_path / "t.xlsx", limits=TableLimits(rows=5))


def test_a_field_over_the_csv_limit_is_a_clear_error(tmp_path: Path):
    path = tmp_path / "long.csv"
    path.write_text('考号,姓名\n1,"' + "x" * 200_000 + '"\n', encoding="utf-8")
    with pytest.raises(TableError, match="line 2: field larger than field limit"):
        read_table(path)


def test_named_sheet_only(tmp_path: Path):
    workbook = Workbook()
    workbook.active.append(["考号"])
    workbook.save(tmp_path / "t.xlsx")
    assert read_rows(tmp_path / "t.xlsx", sheet_names=("考试",), named_only=True) == []
    assert read_rows(tmp_path / "t.xlsx", sheet_names=("考试",)) == [(1, ["考号"])]
