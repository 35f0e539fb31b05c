"""The demo's 考场编排: the demo's classes seated into rooms with new 考号, the printouts and each room's
personalised sheets (``yuejuan exam arrange``), and the first room's seats printed as a plan of classes."""

from __future__ import annotations

import csv
import re
from pathlib import Path

from api.cli import main as cli

__all__ = ["arrange_demo"]


def arrange_demo(out: Path, roster: Path, *, capacity: int = 30) -> int:
    """Arrange ``roster`` into rooms of ``capacity`` under ``out/arrange``; print where the files are."""
    folder = out / "arrange"
    with open(roster, encoding="utf-8-sig", newline="") as handle:
        students = sum(1 for _ in csv.DictReader(handle))
    rooms = -(-students // capacity)
    code = cli(["exam", "arrange", str(roster), "--rooms", str(rooms), "--capacity", str(capacity), "--school",
                "0101", "--grade", "26", "--title", "期末考试", "--seed", "1", "--out", str(folder)])
    if code:
        return code
    with open(folder / "考场编排.csv", encoding="utf-8-sig", newline="") as handle:
        first = [row for row in csv.DictReader(handle) if row["考场号"] == "1"]
    plan: dict[tuple[int, int], str] = {(int(r["行"]), int(r["列"])): re.sub(r"\D", "", r["班级"]) or "?" for r in first}
    print(f"      考场编排: {folder}/ (考场编排.csv/xlsx, 新名单 with the new 考号, 考场门贴, 座位标签, 签到表, "
          f"缺考登记表 PDFs; 个性化答题卡/考场NN.pdf: each room's personalised sheets in seat order)")
    print(f"      {first[0]['考场']} seen from the front, each seat's class:")
    for row in range(1, max(r for r, _ in plan) + 1):
        print("        " + " ".join(plan.get((row, column), "·").rjust(2) for column in range(1, 1 + max(
            c for _, c in plan))))
    return 0
