"""Bubbles grouped by alignment into the template's layout helpers.

1. Rows: bubbles at one height, split into *runs* of equal pitch (a question's options, a grid row, a score row).
2. Runs of one length and pitch stacked at equal pitch make a ``grid`` when most of them repeat one label
   (every bubble of a 考号 row says ``3``).
3. A lone run whose labels are numbers of two digits (22 23) is a 选考题 ``chooser`` (:func:`.labels.read_numbers`;
   which questions it chooses between is for :mod:`.numbering`, by where it stands).
4. A run labelled 0, 1, 2 ... is a score-box row; rows stacked at one x make a ``score_box``, with a lone
   bubble just below as its half mark.
5. Other runs (A B C D, T F ...) are questions: stacked at equal pitch into columns, and columns of one top,
   pitch and option set side by side at equal pitch into a ``choice_block``.
6. Single bubbles stacked at one x whose labels read A B C D ... are a question laid out down (竖排选项): its
   options under its number. Such columns are joined into a ``choice_block`` with ``direction: down`` exactly as
   runs are in 5, on the transposed page (the template's ``down`` is the transpose of ``across``). Stacked singles
   labelled otherwise (0 1 2 ...) are a one-column grid.
7. What is left is a single ``mark``.

Positions and pitches are least-squares fits over every bubble of a field, so a field's bubbles are placed
to a small fraction of a millimetre even when single outlines are found a little off. What a field means in the
card's header (考号, 卷型, 缺考, 违纪) is for :mod:`.roles`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Callable, TypeVar

import numpy as np

from omr.template_learn.bubbles import FoundBubble
from omr.template_learn.labels import ALPHABET, DIGITS, read_numbers, read_sequence, repeats_across, same_labels

T = TypeVar("T")

__all__ = ["bands", "Style", "FoundChoiceBlock", "FoundGrid", "FoundScoreBox", "FoundMark", "FoundChooser",
           "FoundField", "group_bubbles"]

_ROW_MM = 0.6  # centres this close in y are one row
_ALIGN_MM = 0.6  # starts this close in x are one column
_PITCH_MM = 0.6  # gaps this close are one pitch
_SIZE_MM = 0.6  # neighbours in one run differ in size by less than this
_MAX_GAP = 2.2  # in bubble widths: a larger gap ends a run
_MAX_ROW_GAP = 3.0  # in bubble heights: a larger gap ends a column of questions or grid rows
_SMALLER = 0.8  # a lone bubble under this share of the smallest bubble in a row, both ways, is no mark
_MAX_OPTIONS, _MAX_GRID_ROWS, _MAX_GRID_COLUMNS = 10, 36, 30  # what the template schema allows


@dataclass(frozen=True)
class Style:
    """Bubble style of a field: median size of its bubbles, shape, whether labels are printed inside."""

    shape: str
    width: float
    height: float
    show_label: bool

    @staticmethod
    def of(bubbles: list[FoundBubble]) -> "Style":
        shapes = [b.shape for b in bubbles]
        return Style(max(set(shapes), key=shapes.count), float(np.median([b.width for b in bubbles])),
                     float(np.median([b.height for b in bubbles])), any(b.glyph is not None for b in bubbles))


@dataclass
class FoundChoiceBlock:
    x: float
    y: float
    count: int
    rows: int
    options: str
    row_pitch: float
    column_pitch: float
    option_pitch: float
    style: Style
    direction: str = "across"  # or down (竖排: options under the question number)
    first: int = 0  # set by numbering


@dataclass
class FoundGrid:
    x: float
    y: float
    columns: int
    labels: str
    column_pitch: float
    row_pitch: float
    style: Style
    direction: str = "down"  # or across (labels to the right: an AB 卷型 row)
    role: str = "other"  # set by roles


@dataclass
class FoundScoreBox:
    x: float
    y: float
    digit_labels: list[str]
    half: bool
    option_pitch: float
    row_pitch: float
    style: Style
    question: int = 0  # set by numbering


@dataclass
class FoundMark:
    x: float
    y: float
    style: Style
    role: str = "other"  # set by roles


@dataclass
class FoundChooser:
    x: float
    y: float
    count: int
    option_pitch: float
    style: Style
    printed: list[int]  # the question numbers its labels read as
    questions: list[int] = field(default_factory=list)  # set by numbering


FoundField = FoundChoiceBlock | FoundGrid | FoundScoreBox | FoundMark | FoundChooser


@dataclass
class _Run:
    bubbles: list[FoundBubble] = field(default_factory=list)

    @property
    def x(self) -> float:
        return self.bubbles[0].x

    @property
    def y(self) -> float:
        return float(np.mean([b.y for b in self.bubbles]))

    @property
    def pitch(self) -> float:
        return (self.bubbles[-1].x - self.bubbles[0].x) / (len(self.bubbles) - 1) if len(self.bubbles) > 1 else 0.0

    @property
    def height(self) -> float:
        return float(np.median([b.height for b in self.bubbles]))

    @property
    def glyphs(self) -> list:
        return [b.glyph for b in self.bubbles]


def _similar(a: FoundBubble, b: FoundBubble) -> bool:
    return abs(a.width - b.width) < _SIZE_MM and abs(a.height - b.height) < _SIZE_MM and a.shape == b.shape


def bands(items: list[T], position: Callable[[T], float], tolerance: float) -> list[list[T]]:
    """``items`` in order of ``position``, cut into bands: an item more than ``tolerance`` past the first of
    the current band starts the next."""
    out: list[list[T]] = []
    for item in sorted(items, key=position):
        if out and position(item) - position(out[-1][0]) <= tolerance:
            out[-1].append(item)
        else:
            out.append([item])
    return out


def _runs(bubbles: list[FoundBubble]) -> list[_Run]:
    rows = bands(bubbles, lambda b: b.y, _ROW_MM)
    runs: list[_Run] = []
    for row in rows:
        current = _Run()
        for bubble in sorted(row, key=lambda b: b.x):
            if current.bubbles:
                last = current.bubbles[-1]
                gap = bubble.x - last.x
                breaks = (gap > _MAX_GAP * max(bubble.width, last.width) or not _similar(bubble, last)
                          or (len(current.bubbles) > 1 and abs(gap - current.pitch) > _PITCH_MM))
                if breaks:
                    runs.append(current)
                    current = _Run()
            current.bubbles.append(bubble)
        runs.append(current)
    return runs


def _stacks(runs: list[_Run], same_shape) -> list[list[_Run]]:
    """Runs stacked at one x with an equal vertical pitch, top to bottom (``same_shape(a, b)`` may join)."""
    stacks: list[list[_Run]] = []
    for run in sorted(runs, key=lambda r: (r.y, r.x)):
        for stack in stacks:
            last = stack[-1]
            if abs(last.x - run.x) > _ALIGN_MM or not same_shape(last, run):
                continue
            gap = run.y - last.y
            if not 0 < gap <= _MAX_ROW_GAP * max(run.height, last.height) + 1.0:
                continue
            if len(stack) > 1 and abs(gap - (stack[-1].y - stack[-2].y)) > _PITCH_MM:
                continue
            stack.append(run)
            break
        else:
            stacks.append([run])
    return stacks


def _fit(values: list[float], indices: list[tuple[int, ...]]) -> np.ndarray:
    """Least-squares (origin, pitch per index) for values = origin + sum(index * pitch)."""
    design = np.column_stack([np.ones(len(values)), np.asarray(indices, np.float64)])
    solution, *_ = np.linalg.lstsq(design, np.asarray(values, np.float64), rcond=None)
    return solution


def _pitch(solution: np.ndarray, position: int, fallback: float) -> float:
    value = float(solution[position]) if len(solution) > position else 0.0
    return value if value > 0.5 else fallback


def _grid(stack: list[_Run]) -> FoundGrid:
    bubbles = [b for run in stack for b in run.bubbles]
    xs = _fit([b.x for b in bubbles], [(c,) for run in stack for c in range(len(run.bubbles))])
    ys = _fit([b.y for b in bubbles], [(r,) for r, run in enumerate(stack) for _ in run.bubbles])
    columns = [[run.bubbles[c].glyph for run in stack] for c in range(len(stack[0].bubbles))]
    labels = read_sequence(columns)
    style = Style.of(bubbles)
    return FoundGrid(float(xs[0]), float(ys[0]), len(stack[0].bubbles), labels, _pitch(xs, 1, style.width + 1.0),
                     _pitch(ys, 1, style.height + 1.5), style)


def _single_column_grid(stack: list[_Run]) -> FoundGrid:
    grid = _grid(stack)
    grid.columns = 1
    return grid


def _score_box(stack: list[_Run], labels: list[str], half: FoundBubble | None) -> FoundScoreBox:
    bubbles = [b for run in stack for b in run.bubbles] + ([half] if half else [])
    options = [(k,) for run in stack for k in range(len(run.bubbles))] + ([(0,)] if half else [])
    xs = _fit([b.x for b in bubbles], options)
    rows = [r for r, run in enumerate(stack) for _ in run.bubbles] + ([len(stack)] if half else [])
    ys = _fit([b.y for b in bubbles], [(r,) for r in rows])
    style = Style.of(bubbles)
    return FoundScoreBox(float(xs[0]), float(ys[0]), labels, half is not None, _pitch(xs, 1, style.width + 1.0),
                         _pitch(ys, 1, style.height + 1.5), style)


def _chooser(run: _Run, printed: list[int]) -> FoundChooser:
    xs = _fit([b.x for b in run.bubbles], [(k,) for k in range(len(run.bubbles))])
    style = Style.of(run.bubbles)
    return FoundChooser(float(xs[0]), run.y, len(run.bubbles), _pitch(xs, 1, style.width + 2.0), style, printed)


def _transposed(bubble: FoundBubble) -> FoundBubble:
    return replace(bubble, x=bubble.y, y=bubble.x, width=bubble.height, height=bubble.width)


def _down_blocks(columns: list[tuple[list[FoundBubble], str]]) -> list[FoundChoiceBlock]:
    """Questions laid out down (竖排), each a column of bubbles with its options, joined into blocks as
    :func:`_choice_blocks` joins runs, on the transposed page, and transposed back with ``direction: down``."""
    blocks = _choice_blocks([(_Run([_transposed(b) for b in column]), options) for column, options in columns])
    return [replace(block, x=block.y, y=block.x, direction="down",
                    style=replace(block.style, width=block.style.height, height=block.style.width))
            for block in blocks]


def _choice_blocks(questions: list[tuple[_Run, str]]) -> list[FoundChoiceBlock]:
    options_of = {id(run): options for run, options in questions}
    columns = _stacks([run for run, _ in questions],
                      lambda a, b: options_of[id(a)] == options_of[id(b)] and abs(a.pitch - b.pitch) < _PITCH_MM)
    blocks: list[list[list[_Run]]] = []
    for column in sorted(columns, key=lambda c: c[0].x):  # left to right; a block's columns share their top
        for block in blocks:
            first, last = block[0], block[-1]
            if (options_of[id(first[0])] != options_of[id(column[0])] or abs(first[0].y - column[0].y) > _ROW_MM
                    or len(last) != len(first) or len(column) > len(first)):
                continue
            if (len(first) > 1 and len(column) > 1
                    and abs((first[1].y - first[0].y) - (column[1].y - column[0].y)) > _PITCH_MM):
                continue
            gap = column[0].x - last[0].x
            if gap <= 0 or (len(block) > 1 and abs(gap - (last[0].x - block[-2][0].x)) > _PITCH_MM):
                continue
            block.append(column)
            break
        else:
            blocks.append([column])
    found = []
    for block in blocks:
        bubbles, x_index, y_index = [], [], []
        for c, column in enumerate(block):
            for r, run in enumerate(column):
                for k, bubble in enumerate(run.bubbles):
                    bubbles.append(bubble)
                    x_index.append((c, k))
                    y_index.append((r,))
        xs = _fit([b.x for b in bubbles], x_index)
        ys = _fit([b.y for b in bubbles], y_index)
        style = Style.of(bubbles)
        found.append(FoundChoiceBlock(
            x=float(xs[0]), y=float(ys[0]), count=sum(len(c) for c in block), rows=len(block[0]),
            options=options_of[id(block[0][0])], row_pitch=_pitch(ys, 1, style.height + 2.0),
            column_pitch=_pitch(xs, 1, 40.0), option_pitch=_pitch(xs, 2, style.width + 2.0), style=style,
        ))
    return found


def group_bubbles(bubbles: list[FoundBubble]) -> list[FoundField]:
    """Group one page's bubbles into choice blocks, grids, score boxes, choosers and marks (unnumbered).

    Parameters
    ----------
    bubbles : list of FoundBubble
        Every bubble of the page, in page millimetres.

    Returns
    -------
    list of FoundField
        Choice blocks (options across or down), grids, score boxes, choosers and single marks; every bubble
        belongs to exactly one, except a lone one smaller than every bubble in a row (a glyph's part, not a mark).
    """
    runs = _runs(bubbles)
    singles = [r for r in runs if len(r.bubbles) == 1]
    fields: list[FoundField] = []
    labels_of: dict[int, str] = {}
    sequence_runs: list[_Run] = []
    equal_rows = lambda a, b: len(a.bubbles) == len(b.bubbles) and abs(a.pitch - b.pitch) < _PITCH_MM  # noqa: E731
    printed: dict[int, list[int]] = {}  # lone runs labelled with numbers: choosers, unless a score box's row
    for stack in _stacks([r for r in runs if len(r.bubbles) > 1], equal_rows):
        numbers = read_numbers(stack[0].glyphs) if len(stack) == 1 else None
        if numbers is not None:
            printed[id(stack[0])] = numbers
        if (len(stack) > 1 and len(stack) <= _MAX_GRID_ROWS and len(stack[0].bubbles) <= _MAX_GRID_COLUMNS
                and repeats_across([run.glyphs for run in stack])):
            fields.append(_grid(stack))
            continue
        labels = read_sequence([run.glyphs for run in stack])  # a column of questions shares its options
        if len(labels) > _MAX_OPTIONS:
            singles.extend(_Run([bubble]) for run in stack for bubble in run.bubbles)  # no question this long
            continue
        for run in stack:
            labels_of[id(run)] = labels
        sequence_runs.extend(stack)

    def is_digits(run: _Run) -> bool:
        return labels_of[id(run)] == DIGITS[:len(run.bubbles)]

    def stacked(upper: _Run, lower: _Run) -> bool:
        return (abs(upper.x - lower.x) <= _ALIGN_MM and abs(upper.pitch - lower.pitch) < _PITCH_MM
                and 0 < lower.y - upper.y <= _MAX_ROW_GAP * lower.height + 1.0)

    # A short row whose labels read poorly, just above a digit row on the same pitch, is that score box's
    # higher place (0 1 2 above 0 ... 9); a run labelled with numbers, neither above nor below a digit row, is a
    # chooser.
    choosers: set[int] = set()
    for run in sequence_runs:
        if any(is_digits(other) and stacked(run, other) for other in sequence_runs if other is not run):
            labels_of[id(run)] = DIGITS[:len(run.bubbles)]
        elif id(run) in printed and not any(is_digits(other) and stacked(other, run) for other in sequence_runs
                                            if other is not run):
            choosers.add(id(run))
            fields.append(_chooser(run, printed[id(run)]))
    sequence_runs = [run for run in sequence_runs if id(run) not in choosers]
    digit_runs = [run for run in sequence_runs if is_digits(run)]
    used_singles: set[int] = set()
    for stack in _stacks(digit_runs, lambda a, b: abs(a.pitch - b.pitch) < _PITCH_MM):
        last = stack[-1]
        half = None
        for single in singles:
            bubble = single.bubbles[0]
            if (id(single) not in used_singles and abs(bubble.x - last.x) <= _ALIGN_MM
                    and 0 < bubble.y - last.y <= _MAX_ROW_GAP * last.height + 1.0):
                half = bubble
                used_singles.add(id(single))
                break
        fields.append(_score_box(stack, [labels_of[id(run)] for run in stack], half))
    fields.extend(_choice_blocks([(run, labels_of[id(run)]) for run in sequence_runs if not is_digits(run)]))
    remaining = [s for s in singles if id(s) not in used_singles]
    down_questions: list[tuple[list[FoundBubble], str]] = []
    for stack in _stacks(remaining, lambda a, b: _similar(a.bubbles[0], b.bubbles[0])):
        glyphs = [run.bubbles[0].glyph for run in stack]
        if 3 <= len(stack) <= _MAX_GRID_ROWS and not same_labels(glyphs):
            if len(stack) <= _MAX_OPTIONS and read_sequence([glyphs]) == ALPHABET[:len(stack)]:
                down_questions.append(([run.bubbles[0] for run in stack], ALPHABET[:len(stack)]))
            else:
                fields.append(_single_column_grid(stack))
        else:
            fields.extend(FoundMark(run.x, run.y, Style.of(run.bubbles)) for run in stack
                          if not _smaller_than_rows(run.bubbles[0], runs))
    fields.extend(_down_blocks(down_questions))
    return fields


def _smaller_than_rows(bubble: FoundBubble, runs: list[_Run]) -> bool:
    """Whether a lone bubble is smaller, both ways, than every bubble printed in a row of the page: no mark (a
    proctor's 缺考 box is printed as large as the answers' bubbles or larger, to be read by the same pencil), but
    a part of the print that looks like one: the 口 of 答 in a title, the box of 四 in 四、选考题."""
    in_rows = [b for run in runs if len(run.bubbles) > 1 for b in run.bubbles]
    if not in_rows:
        return False
    smallest_width, smallest_height = min(b.width for b in in_rows), min(b.height for b in in_rows)
    return bubble.width < _SMALLER * smallest_width and bubble.height < _SMALLER * smallest_height
