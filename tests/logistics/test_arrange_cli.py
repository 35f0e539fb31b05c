"""``yuejuan exam arrange``: a roster in, the arrangement's files out; bad options a clear error (exit 2)."""

from __future__ import annotations

import csv
import re
import subprocess
from pathlib import Path

import pytest

from api.cli import main
from grading.roster import load_roster, write_roster_xlsx
from logistics_builders import grade_students


@pytest.fixture
def roster(tmp_path: Path) -> Path:
    path = tmp_path / "名单.xlsx"
    write_roster_xlsx(grade_students([30, 29, 31]), path)
    return path


def test_arrange_writes_tables_printouts_and_a_sheet_pdf_per_room(roster: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "arranged"
    code = main(["exam", "arrange", str(roster), "--rooms", "一楼101,一楼102,一楼103,一楼104", "--capacity", "24",
                 "--columns", "4", "--school", "0101", "--grade", "26", "--seed", "4", "--title", "期中考试",
                 "--out", str(out)])
    assert code == 0
    printed = capsys.readouterr().out
    assert "90 students in 4 of 4 rooms; adjacent classmates 0" in printed
    with open(out / "考场编排.csv", encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 90 and [r["考场"] for r in rows[::24]] == ["一楼101", "一楼102", "一楼103", "一楼104"]
    new = load_roster(out / "新名单.xlsx", id_length=10)
    assert [s.exam_id for s in new.students] == [r["考号"] for r in rows]
    for name in ("考场门贴.pdf", "座位标签.pdf", "签到表.pdf", "缺考登记表.pdf"):
        assert (out / name).stat().st_size > 1000
    sheets = sorted((out / "个性化答题卡").iterdir())
    assert [p.name for p in sheets] == ["考场01.pdf", "考场02.pdf", "考场03.pdf", "考场04.pdf"]
    text = subprocess.run(["pdftotext", str(sheets[3]), "-"], check=True, capture_output=True, text=True).stdout
    last = [r for r in rows if r["考场号"] == "4"]
    assert len(last) == 18
    # the room's sheets in seat order, each with its student's name and 考号
    positions = [text.index(f"考号 {r['考号']}") for r in last]
    assert positions == sorted(positions) and all(r["姓名"] in text for r in last)
    again = tmp_path / "again"
    main(["exam", "arrange", str(roster), "--rooms", "一楼101,一楼102,一楼103,一楼104", "--capacity", "24",
          "--columns", "4", "--school", "0101", "--grade", "26", "--seed", "4", "--title", "期中考试",
          "--out", str(again), "--no-sheets"])
    assert (again / "考场编排.csv").read_bytes() == (out / "考场编排.csv").read_bytes()  # same seed, same rooms
    assert not (again / "个性化答题卡").exists()


@pytest.mark.parametrize("options, words", [
    (["--rooms", "3", "--capacity", "29"], "90 students but only 87 seats"),
    (["--rooms", "4", "--capacity", "30", "--format", "{school}{grade:02d}{seat:04d}"], "no {room}"),
    (["--rooms", "4", "--capacity", "30", "--school", "01"], "8-digit 考号 .* 10 columns"),
    (["--rooms", "4", "--capacity", "30", "--school", ""], "school number '' must be digits"),
    (["--rooms", ",,", "--capacity", "30"], "give a number of rooms"),
])
def test_unusable_options_are_refused_before_anything_is_written(roster: Path, tmp_path: Path, capsys,
                                                                 options: list[str], words: str) -> None:
    out = tmp_path / "out"
    args = ["exam", "arrange", str(roster), "--school", "0101", "--grade", "26", "--out", str(out)]
    assert main(args + options) == 2
    assert re.search(words.replace("{", r"\{").replace("}", r"\}"), capsys.readouterr().err)
    assert not out.exists()
