"""Compare OMR readings with the simulator's ground truth.

The figure that matters most is ``wrong_sure``: a group (question, id column, score digit, mark) whose reading
was reported as sure (status ok or blank) but differs from the truth. It must be zero. A reading that is wrong
but flagged (uncertain, multiple) costs a person a look, not a wrong score.
"""

from __future__ import annotations

import json
from pathlib import Path

from dataclasses import dataclass, field

from omr.result import PageResult
from omr.template import ExpandedPage, Template, expand_page

__all__ = ["Accuracy", "compare_page", "evaluate_batch"]

# "multiple" is sure too: every bubble was clearly filled or clearly empty, the student marked two.
_SURE = ("ok", "blank", "multiple")


@dataclass
class Accuracy:
    """Counts over pages and groups, summed with ``+=``."""

    pages: int = 0
    pages_read: int = 0
    pages_flagged: int = 0
    pages_unsure: int = 0  # flagged for something other than the student's own (correctly read) double marks
    groups: int = 0
    correct_sure: int = 0
    wrong_sure: int = 0  # on groups whose truth is clear (not ambiguous): must be zero
    ambiguous_groups: int = 0
    ambiguous_wrong_sure: int = 0  # on groups a careful person could hesitate over (faint, tick, heavy residue)
    flagged_groups: int = 0
    ids_sure: int = 0
    ids_wrong_sure: int = 0
    wrong_examples: list[str] = field(default_factory=list)

    def __iadd__(self, other: "Accuracy") -> "Accuracy":
        for name in ("pages", "pages_read", "pages_flagged", "pages_unsure", "groups", "correct_sure", "wrong_sure", "ambiguous_groups", "ambiguous_wrong_sure",
                     "flagged_groups", "ids_sure", "ids_wrong_sure"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.wrong_examples.extend(other.wrong_examples[: max(0, 20 - len(self.wrong_examples))])
        return self

    def line(self) -> str:
        rate = self.correct_sure / self.groups if self.groups else 0.0
        return (f"groups {self.groups}: read sure and right {self.correct_sure} ({rate:.2%}), "
                f"flagged {self.flagged_groups}, WRONG BUT SURE {self.wrong_sure} (+{self.ambiguous_wrong_sure} of "
                f"{self.ambiguous_groups} ambiguous); pages {self.pages}, "
                f"read {self.pages_read}, flagged {self.pages_flagged} (unsure {self.pages_unsure}); student ids wrong but sure "
                f"{self.ids_wrong_sure}")


def compare_page(result: PageResult, truth: dict, template: Template) -> Accuracy:
    """Score one page's reading against its ground truth (a simulator ``.truth.json`` dict)."""
    accuracy = Accuracy(pages=1)
    if result.status == "error":
        return accuracy
    accuracy.pages_read = 1
    accuracy.pages_flagged = int(result.status == "flagged")
    accuracy.pages_unsure = int(any(not reason.startswith("multiple marks") for reason in result.reasons))
    if result.page != truth["page"]:
        accuracy.wrong_sure += 1
        accuracy.wrong_examples.append(f"{result.source}: read as page {result.page}, truth {truth['page']}")
        return accuracy
    readings = _group_readings(result, expand_page(template, result.page))
    for group_id, expected in truth["groups"].items():
        reading = readings.get(group_id)
        if reading is None:
            continue
        marked, status = reading
        ambiguous = bool(expected.get("ambiguous"))
        accuracy.groups += 1
        accuracy.ambiguous_groups += ambiguous
        if status not in _SURE:
            accuracy.flagged_groups += 1
        elif marked == expected["expected"]:
            accuracy.correct_sure += 1
        else:
            if ambiguous:
                accuracy.ambiguous_wrong_sure += 1
            else:
                accuracy.wrong_sure += 1
            accuracy.wrong_examples.append(("(ambiguous) " if ambiguous else "") +
                f"{result.source}#{result.page_index + 1} {group_id}: read {marked!r} ({status}), "
                f"truth {expected['expected']!r} {expected.get('bubbles')}"
            )
    if result.student_id is not None and truth.get("student_id") and result.student_id_status == "ok":
        accuracy.ids_sure += 1
        if result.student_id != truth["student_id"]:
            accuracy.ids_wrong_sure += 1
            accuracy.wrong_examples.append(f"{result.source}: id {result.student_id} truth {truth['student_id']}")
    return accuracy


def _group_readings(result: PageResult, page: ExpandedPage) -> dict[str, tuple[str, str]]:
    """Every question, 考号 column and 选考题 chooser OMR read, by the template's group id: (marked labels, status)."""
    readings = {gid: (q.marked, q.status) for gid, q in result.questions.items()}
    for group in page.groups:  # a 选考题 chooser, by its printed labels as the truth records them
        choice = result.choices.get(group.id) if group.kind == "chooser" else None
        if choice is not None:
            label = dict(zip(group.questions, (b.label for b in group.bubbles))).get(choice.chosen, "")
            readings[group.id] = (label, choice.status)
    columns = [g for g in page.groups if g.kind == "id_column" and g.role == "student_id"]
    for group, char in zip(columns, result.id_grid or ""):
        status = "uncertain" if char == "?" else ("blank" if char == " " else "ok")
        readings[group.id] = (char if status == "ok" else "", status)
    return readings


def evaluate_batch(pages: list[PageResult], batch_dir: str | Path, template: Template) -> Accuracy:
    """Compare every page result with the truth the simulator wrote beside the batch (``manifest.json``)."""
    folder = Path(batch_dir)
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    truth_files = {(entry["file"], entry["frame"] or 0): entry["truth"] for entry in manifest["pages"]}
    accuracy = Accuracy()
    for result in pages:
        name = truth_files.get((Path(result.source).name, result.page_index))
        if name is None:
            continue
        truth = json.loads((folder / name).read_text(encoding="utf-8"))
        accuracy += compare_page(result, truth, template)
    return accuracy
