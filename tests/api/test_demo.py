"""``make demo`` end to end on a few sheets: render, simulate, scan, grade, report, then the same through `yuejuan serve`
(keeps the demo true at every commit)."""

from __future__ import annotations

import csv
import json

from api.demo import main


def test_demo_runs_end_to_end(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["--out", str(out), "--count", "8", "--classes", "2", "--workers", "1"]) == 0
    printed = capsys.readouterr().out
    assert "WRONG BUT SURE 0" in printed and "[4/6] graded" in printed and "[5/6] reports" in printed
    # Step 6 went through a real `yuejuan serve`: every page read over HTTP, the class report downloaded.
    assert "uploaded 8 files in 1 batches over HTTP: 8 pages read" in printed
    # the demo ends with its written question ready to mark on screen and the log-in that shows it
    assert "网上阅卷 set up: Q56" in printed and "open http://127.0.0.1:8000/ and log in as demo-marker1" in printed
    from openpyxl import load_workbook

    downloaded = list((out / "service").glob("class_*.xlsx"))
    assert len(downloaded) == 1 and load_workbook(downloaded[0], read_only=True).sheetnames
    assert list((out / "reports").glob("*.xlsx")) and (out / "reports" / "analytics.json").exists()
    # the earlier exam of the same students under other 考号, linked by 学籍号: every graded student has a trend
    document = json.loads((out / "reports" / "analytics.json").read_text(encoding="utf-8"))
    assert document["trend"]["exams"] == ["demo-2026-math-midterm", "demo-2026-math"]
    assert len(document["trend"]["students"]) == document["counts"]["graded"]
    # the two exams share 12 bank items; 8 students are too few to calibrate them (200 in `make demo` link)
    linking = document["trend"]["linking"]
    assert linking["method"] == "stocking_lord" and "参加人数" in linking["exams"][0]["reason"]
    assert json.loads((out / "earlier" / "exam.json").read_text(encoding="utf-8"))["questions"][0]["item_id"]
    assert "增值评价" in load_workbook(out / "reports" / "grade.xlsx", read_only=True).sheetnames
    assert (out / "sheets" / "cn-a4-55.pdf").stat().st_size > 0
    # 错题本 with practice from the demo 题库 for one class
    assert (out / "reports" / "wrongbook_高一(1)班.pdf").stat().st_size > 0 and "错题本:" in printed
    with open(out / "grade" / "scores.csv", encoding="utf-8-sig") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 8
    assert all(len(row["考号"]) == 10 and row["考号"].isdigit() for row in rows)
