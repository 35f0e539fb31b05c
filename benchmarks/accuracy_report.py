"""Accuracy report: OMR against the simulator's truth, by distortion and by the darkness of the student's marks.

Two Markdown tables, through the production path (a JPEG page decoded at reduced size, as ``yuejuan scan`` does):

- **by distortion**: clean sheets with exactly one effect switched on at the extreme issue 10 names (scanner
  geometry and background, optics, the school's printer, marks), one row per effect, plus the typical profile with
  everything together;
- **by mark darkness**: the typical profile's questions binned by how dark the student's pen or pencil is
  (the mean ``darkness`` of the question's marks in the truth: 45-60, 60-75, 75-90, 90-100 %).

Columns: pages read, questions read sure and right, wrong but sure (on clear truth; ``+n`` on groups the truth
calls ambiguous), and the share of *clean* questions (not ambiguous in the truth) that were flagged. An effect
whose override the simulator does not know is listed as skipped.

Run: ``.venv/bin/python benchmarks/accuracy_report.py`` (about 2-3 minutes on one core; ``--sheets`` per effect
row, ``--typical`` sheets for the darkness table).
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from omr.batch import decode_min_side_px  # noqa: E402
from omr.load import load_array  # noqa: E402
from omr.read import prepare_template, read_page  # noqa: E402
from sample_sheets import resolve_template  # noqa: E402
from sample_sheets.evaluate import Accuracy, compare_page  # noqa: E402
from sample_sheets.marks import MARK_KINDS  # noqa: E402
from sample_sheets.simulate import random_truth, resolve_profile, simulate_sheet  # noqa: E402

TEMPLATE_NAME = "cn-a4-55"

#: One effect alone on clean sheets, at the extreme issue 10 asks the simulator to reach.
EFFECTS: dict[str, dict] = {
    "none (clean sheets)": {},
    "skew +5° (3 mm frame beyond the paper, as typical)": {"rotation_deg": 5.0, "overscan_mm": 3.0},
    "skew -5° (3 mm frame)": {"rotation_deg": -5.0, "overscan_mm": 3.0},
    "skew +5°, no frame beyond the paper (two anchors cut off)": {"rotation_deg": 5.0},
    "shift 8 mm (both axes)": {"shift_mm": 8.0},
    "scale 0.98": {"scale": 0.98},
    "scale 1.02": {"scale": 1.02},
    "keystone 1 %": {"perspective": 0.01},
    "dark scanner background (gray 30, 5 mm frame)": {"lid": 30.0, "overscan_mm": 5.0},
    "light scanner background (white, 5 mm frame)": {"lid": 255.0, "overscan_mm": 5.0},
    "blur σ 2 px at 200 dpi": {"blur": 2.0, "dpi": 200},
    "noise σ 12": {"noise": 12.0},
    "JPEG quality 50": {"jpeg_quality": 50.0},
    "print fit to page 96 %": {"print_scale": 0.96},
    "print: bolder font +0.3 mm": {"print_bold_mm": 0.3},
    "print: thicker outlines +0.4 mm": {"print_outline_mm": 0.4},
    "print: gray anchors 60 %": {"anchor_tone": 0.6},
    "marks 60 % covered": {"mark": "partial", "partial_coverage": 0.6},
    "lightest pencil of the profile": {"tool": "pencil", "ink": 0.0},
}

#: Bins of the student's ink (0 = paper, 1 = solid black), lower bound inclusive.
DARKNESS_BINS = ((0.45, 0.60), (0.60, 0.75), (0.75, 0.90), (0.90, 1.0001))


@dataclass
class Row:
    """One table row: every group scored, and the clean questions (not ambiguous in the truth) alone."""

    every: Accuracy = field(default_factory=Accuracy)
    clean: Accuracy = field(default_factory=Accuracy)

    def add(self, result, truth: dict, template, groups: dict) -> None:
        self.every += compare_page(result, {**truth, "groups": groups}, template)
        clean = {gid: g for gid, g in groups.items() if g["kind"] == "question" and not g.get("ambiguous")}
        self.clean += compare_page(result, {**truth, "groups": clean}, template)

    def cells(self) -> list[str]:
        every, clean = self.every, self.clean
        share = f"{every.correct_sure / every.groups:.2%}" if every.groups else "—"
        flagged = f"{clean.flagged_groups / clean.groups:.2%}" if clean.groups else "—"
        wrong = f"**{every.wrong_sure}**" + (f" (+{every.ambiguous_wrong_sure})" if every.ambiguous_wrong_sure else "")
        return [f"{every.pages_read}/{every.pages}", f"{share} of {every.groups}", wrong,
                f"{flagged} of {clean.groups}"]


def _mark_darkness(truth_group: dict) -> float | None:
    """Mean darkness of the marks the student meant in this group, or None when it holds none."""
    values = [m["darkness"] for m in truth_group.get("marks", {}).values()
              if m.get("state") in MARK_KINDS and "darkness" in m]
    return float(np.mean(values)) if values else None


def _run(template, prepared, profile: str, overrides: dict, sheets: int, seed: int,
         bins: dict[tuple[float, float], Row] | None = None) -> Row:
    """Simulate and read ``sheets`` sheets; score every group into the returned row, questions by darkness into
    ``bins``."""
    row = Row()
    min_side = decode_min_side_px(template)
    for index in range(sheets):
        truth = random_truth(template, np.random.default_rng(seed + index))
        for sim in simulate_sheet(template, truth, seed=seed + index, profile=profile, overrides=overrides):
            image = load_array(sim.jpeg, reduce_jpeg_to_min_px=min_side)[0].image if sim.jpeg else sim.image
            result = read_page(image, prepared, source=f"{seed + index}", page_index=sim.page - 1)
            row.add(result, sim.truth, template, sim.truth["groups"])
            for (lo, hi), binned in (bins or {}).items():
                groups = {gid: g for gid, g in sim.truth["groups"].items() if g["kind"] == "question"
                          and lo <= (_mark_darkness(g) or -1.0) < hi}
                binned.add(result, sim.truth, template, groups)
    return row


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sheets", type=int, default=8, help="clean sheets per distortion row (default 8)")
    parser.add_argument("--typical", type=int, default=150, help="typical sheets for the darkness table (150)")
    parser.add_argument("--seed", type=int, default=7000)
    args = parser.parse_args(argv)
    started, cpu = time.perf_counter(), time.process_time()
    template = resolve_template(TEMPLATE_NAME)
    prepared = prepare_template(template)
    columns = ["pages read", "questions + 考号 columns read sure and right", "wrong but sure (+ambiguous)",
               "clean questions flagged"]

    rows, skipped = [], []
    for name, overrides in EFFECTS.items():
        try:
            resolve_profile("clean", overrides)
        except ValueError:
            skipped.append(name)
            continue
        rows.append([name] + _run(template, prepared, "clean", overrides, args.sheets, args.seed).cells())
        print(f"  {name}: done", file=sys.stderr, flush=True)

    bins = {b: Row() for b in DARKNESS_BINS}
    typical = _run(template, prepared, "typical", {}, args.typical, args.seed + 100_000, bins)
    rows.append([f"typical profile, everything together ({args.typical} sheets)"] + typical.cells())

    print(f"### By distortion ({TEMPLATE_NAME}, {args.sheets} clean sheets per effect)\n")
    print(_table(["effect alone"] + columns, rows))
    if skipped:
        print(f"\nSkipped (the simulator has no such effect yet): {', '.join(skipped)}")
    print(f"\n### By the darkness of the student's marks ({args.typical} typical sheets, questions)\n")
    bin_rows = [[f"{lo:.0%}–{min(hi, 1.0):.0%}"] + bins[(lo, hi)].cells()[1:] for lo, hi in DARKNESS_BINS]
    print(_table(["mark darkness", "questions read sure and right", "wrong but sure (+ambiguous)",
                  "clean questions flagged"], bin_rows))
    print(f"\n({time.perf_counter() - started:.0f} s wall, {time.process_time() - cpu:.0f} s CPU)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
