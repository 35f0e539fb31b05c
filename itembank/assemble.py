"""组卷: choose bank items for a paper that meets a :class:`~itembank.blueprint.Blueprint` exactly, as an integer
program solved by HiGHS (``scipy.optimize.milp``).

Model. One binary x_i per usable item (the right subject, grade and type, in a listed cell, with a P when the
blueprint needs one, not excluded, not seen by the blueprint's classes since its date). Constraints, all linear:

- per question type T: Σ_{i∈T} x_i = count_T, and Σ_{i∈T} pts_i x_i = points_T when the type's total is fixed
  (pts_i is the type's ``points_each``, else the item's own points);
- per cell (knowledge point k × cognitive level l): Σ_{i: k∈kp_i, level_i=l} x_i = count_kl;
- difficulty band [lo, hi] of the expected mean score rate Σ pts_i P_i x_i / Σ pts_i x_i, written linearly as
  Σ pts_i (P_i - lo) x_i >= 0 and Σ pts_i (P_i - hi) x_i <= 0;
- test information at each θ_k: Σ I_i(θ_k) x_i within [min, max], with the Rasch item information
  I_i(θ) = P_i(θ)(1 - P_i(θ)), P_i(θ) = 1 / (1 + exp(-(θ - b_i))) (items without b add 0);
- each ``include`` item fixed at 1;
- no two duplicates (:mod:`itembank.dedupe`): the chosen items are checked and, for a pair found, the cut
  x_a + x_b <= 1 is added and the program solved again (constraint generation: the 20 000 x 20 000 pairs of a
  bank are never compared).

Objective: the distance of the expected mean rate from the band's middle beyond ±0.01, in points
(max(0, |Σ pts_i (P_i - mid) x_i| - 0.01 Σ pts_i x_i), over the paper's points; 0 without a band), plus a small
preference (at most 1e-3 an item) for items used less often. Ties go by column order, which ``seed`` shuffles, so
equally good papers differ with the seed. HiGHS stops within 1 % of the best objective; the constraints are exact.

When the bank cannot meet the blueprint, counts are checked before the solver ("知识点 函数 × 应用 needs 3 items,
the bank has 1 unseen"); when the program is infeasible all the same (constraints that conflict only together),
an elastic copy of it (every blueprint constraint may be missed, at a cost per unit missed) is solved and every
constraint it had to miss is named with the closest value a paper can reach. Every paper returned is checked
against the blueprint from its items (:func:`check_paper`), not from the solver's claim.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable, Mapping

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import csr_array

from itembank.blueprint import MIN_P_STUDENTS, TYPE_NAMES, TYPE_ORDER, Blueprint
from itembank.dedupe import bigrams, find_duplicates, image_duplicates, item_text, jaccard
from itembank.model import Bank, BankError, Item

__all__ = ["AssemblyError", "Paper", "DigestOf", "assemble", "check_paper", "expected_p", "rasch_information", "paper_points"]

_TOLERANCE = 1e-6
_MAX_ROUNDS = 50  # duplicate cuts added before giving up (each round removes at least one pair)
_GAP = 0.01
#: A paper whose expected mean rate is within this of the band's middle counts as centred (objective 0): asking
#: for the exact middle would make HiGHS hunt a subset sum that no teacher can tell from 0.01 off.
_CENTRE_TOLERANCE = 0.01


class AssemblyError(BankError):
    """The bank cannot meet the blueprint; ``problems`` names each shortfall."""

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        super().__init__("the bank cannot meet the blueprint:\n  " + "\n  ".join(self.problems))


@dataclass(frozen=True)
class Paper:
    """An assembled paper: its items in paper order and what they add up to.

    Attributes
    ----------
    items : list of Item
        Single, multi, true/false, then subjective items; within a type the easier (higher P) first.
    points : list of float
        Each item's points on this paper.
    expected_p : float or None
        Σ pts·P / Σ pts (None when an item has no P).
    information : dict of float to float
        Rasch test information at each θ of the blueprint.
    duplicate_cuts : int
        Duplicate pairs the solver first chose and was then told to avoid.
    status : str
        The solver's last word on the program.
    """

    blueprint: Blueprint
    items: list[Item]
    points: list[float]
    expected_p: float | None
    information: dict[float, float] = field(default_factory=dict)
    duplicate_cuts: int = 0
    status: str = ""

    @property
    def full_marks(self) -> float:
        return float(sum(self.points))


def expected_p(item: Item) -> float | None:
    """The P 组卷 uses for ``item``: its measured P once :data:`MIN_P_STUDENTS` answered it, else the writer's
    estimate, else a measured P over fewer students; None when there is none."""
    if item.stats.p is not None and item.stats.students >= MIN_P_STUDENTS:
        return item.stats.p
    if item.difficulty is not None:
        return item.difficulty
    return item.stats.p


def rasch_information(b: float | None, theta: float) -> float:
    """Rasch item information P(1 - P) at ``theta`` (0 for an item without b)."""
    if b is None:
        return 0.0
    p = 1.0 / (1.0 + math.exp(-(theta - b)))
    return p * (1.0 - p)


def paper_points(item: Item, blueprint: Blueprint) -> float:
    """The points ``item`` is worth on a paper of ``blueprint``."""
    each = blueprint.types[item.type].points_each
    return float(each if each is not None else item.points)


def _in_cell(item: Item, knowledge_point: str, level: str) -> bool:
    return knowledge_point in item.knowledge_points and item.cognitive_level == level


def _cells_of(item: Item, cells: Mapping[tuple[str, str], int]) -> list[int]:
    """Indices of the blueprint cells ``item`` counts in (``cells``: (knowledge point, level) -> index)."""
    return [k for kp in item.knowledge_points if (k := cells.get((kp, item.cognitive_level))) is not None]


def _seen(item: Item, blueprint: Blueprint) -> bool:
    since = blueprint.unseen_since
    return since is not None and any(item.seen_by(c, since) for c in blueprint.classes)


@dataclass
class _Row:
    """One linear blueprint constraint lb <= Σ coef·x <= ub, with what to say when a paper cannot meet it."""

    coef: np.ndarray  # dense over the pool (pools are at most a bank's size)
    lb: float
    ub: float
    scale: float  # a unit of miss costs 1 / scale in the elastic program
    say: Callable[[float], str]


class _Pool:
    """The items the program chooses from, and why the others were left out."""

    def __init__(self, bank: Bank, blueprint: Blueprint):
        self.blueprint = blueprint
        self.cell_index = {(c.knowledge_point, c.level): k for k, c in enumerate(blueprint.cells)}
        self.problems: list[str] = []
        self.labelled: list[Item] = []  # right subject, grade, type and cell: what the blueprint could use at all
        usable: list[Item] = []
        by_id = bank.by_id()
        for item_id in blueprint.include + blueprint.exclude:
            if item_id not in by_id:
                self.problems.append(f"item {item_id} (include/exclude) is not in the bank")
        excluded = set(blueprint.exclude)
        needs_p = blueprint.difficulty is not None or blueprint.item_p is not None
        for item in bank.items:
            why = self._unusable(item, needs_p)
            if why is None and item.id in excluded:
                continue
            if why is not None:
                if item.id in blueprint.include:
                    self.problems.append(f"item {item.id} must be on the paper (include) but {why}")
                continue
            if item.id in blueprint.include and _seen(item, blueprint):
                self.problems.append(f"item {item.id} must be on the paper (include) but classes "
                                     f"{', '.join(blueprint.classes)} saw it since {blueprint.unseen_since}")
            self.labelled.append(item)
            if not _seen(item, blueprint):
                usable.append(item)
        if blueprint.seed is not None:  # HiGHS breaks ties by column order: another seed, another equally good paper
            usable = [usable[k] for k in np.random.default_rng(blueprint.seed).permutation(len(usable))]
        self.items = usable
        # (items x cells) 0/1: which cells each usable item counts in
        self.membership = np.zeros((len(usable), len(blueprint.cells)))
        for row, item in enumerate(usable):
            self.membership[row, _cells_of(item, self.cell_index)] = 1.0
        self.index = {item.id: k for k, item in enumerate(usable)}
        self.points = np.array([paper_points(item, blueprint) for item in usable], float)
        self.p = np.array([np.nan if (p := expected_p(item)) is None else p for item in usable], float)

    def _unusable(self, item: Item, needs_p: bool) -> str | None:
        blueprint = self.blueprint
        if item.subject != blueprint.subject:
            return f"is a {item.subject} item, not {blueprint.subject}"
        if blueprint.grade and item.grade != blueprint.grade:
            return f"is for {item.grade or 'no grade'}, not {blueprint.grade}"
        target = blueprint.types.get(item.type)
        if target is None or target.count == 0:
            return f"is a {TYPE_NAMES[item.type]} item and the blueprint has none"
        if blueprint.cells and not _cells_of(item, self.cell_index):
            return "is in no cell of the blueprint"
        p = expected_p(item)
        if needs_p and p is None:
            return "has no difficulty P (neither measured nor estimated)"
        band = blueprint.item_p
        if band is not None and p is not None and not band[0] <= p <= band[1]:
            return f"has P {p:.2f}, outside item_p [{band[0]:g}, {band[1]:g}]"
        return None

    def unseen_note(self) -> str:
        return " unseen" if self.blueprint.unseen_since is not None else ""


def _items(count: float) -> str:
    return f"{count:g} item" + ("" if count == 1 else "s")


def _count_problems(pool: _Pool) -> list[str]:
    """Shortfalls visible by counting, before any solver runs."""
    blueprint, items = pool.blueprint, pool.items
    problems = []
    seen_note = pool.unseen_note()
    if blueprint.cells:  # every chosen item is in at least one cell (exactly one when no item spans two)
        in_cells = sum(cell.count for cell in blueprint.cells)
        spans = set(pool.membership.sum(axis=1).tolist())
        if in_cells < blueprint.item_count or (spans == {1} and in_cells != blueprint.item_count):
            problems.append(f"the cells of the 双向细目表 add up to {_items(in_cells)}, the question types to "
                            f"{_items(blueprint.item_count)}")
    for kind, target in blueprint.types.items():
        of_type = [item for item in items if item.type == kind]
        name = f"题型 {TYPE_NAMES[kind]} ({kind})"
        if len(of_type) < target.count:
            problems.append(f"{name} needs {_items(target.count)}, the bank has {len(of_type)}{seen_note}")
            continue
        total = target.total
        if total is not None and target.points_each is None and target.count:
            values = sorted(paper_points(item, blueprint) for item in of_type)
            low, high = sum(values[:target.count]), sum(values[-target.count:])
            if not low - _TOLERANCE <= total <= high + _TOLERANCE:
                problems.append(f"{name} needs {_items(target.count)} worth {total:g} points together, the bank's"
                                f"{seen_note} items of that type make {low:g} to {high:g}")
    for k, cell in enumerate(blueprint.cells):
        available = int(pool.membership[:, k].sum())
        if available < cell.count:
            labelled = sum(_in_cell(item, cell.knowledge_point, cell.level) for item in pool.labelled)
            seen = f" ({labelled - available} more seen by {', '.join(blueprint.classes)} since " \
                   f"{blueprint.unseen_since})" if labelled > available else ""
            problems.append(f"知识点 {cell.knowledge_point} × {cell.level} needs {_items(cell.count)}, the bank has "
                            f"{available}{seen_note}{seen}")
    for target in blueprint.information:
        if target.min is None:
            continue
        values = sorted((rasch_information(item.stats.rasch_b, target.theta) for item in items), reverse=True)
        best = sum(values[:blueprint.item_count])
        if best < target.min - _TOLERANCE:
            problems.append(f"test information at θ={target.theta:g} needs at least {target.min:g}, the "
                            f"{blueprint.item_count} most informative{seen_note} items give {best:.2f}")
    return problems


def _rows(pool: _Pool) -> list[_Row]:
    blueprint, items = pool.blueprint, pool.items
    n = len(items)
    rows: list[_Row] = []
    types = np.array([item.type for item in items], dtype=object)
    for kind, target in blueprint.types.items():
        member = (types == kind).astype(float)
        name = f"题型 {TYPE_NAMES[kind]} ({kind})"
        rows.append(_Row(member, target.count, target.count, 1.0,
                         lambda v, name=name, c=target.count: f"{name} needs {_items(c)}; the closest paper "
                                                              f"meeting the other constraints has {v:g}"))
        total = target.total
        if total is not None and target.points_each is None:
            rows.append(_Row(member * pool.points, total, total, 1.0,
                             lambda v, name=name, t=total: f"{name} needs {t:g} points; the closest paper "
                                                           f"meeting the other constraints has {v:g}"))
    for k, cell in enumerate(blueprint.cells):
        rows.append(_Row(pool.membership[:, k], cell.count, cell.count, 1.0,
                         lambda v, c=cell: f"知识点 {c.knowledge_point} × {c.level} needs {_items(c.count)}; the "
                                           f"closest paper meeting the other constraints has {v:g}"))
    full = sum(t.total or t.count * max(pool.points.max(initial=1.0), 1.0) for t in blueprint.types.values())
    if blueprint.difficulty is not None:
        lo, hi = blueprint.difficulty
        p = np.nan_to_num(pool.p)
        def say(v: float, lo: float = lo, hi: float = hi) -> str:
            return (f"difficulty: the mean P must lie in [{lo:g}, {hi:g}]; the closest paper meeting the other "
                    f"constraints has {v:.3f}")
        rows.append(_Row(pool.points * (p - lo), 0.0, np.inf, full, say))
        rows.append(_Row(pool.points * (p - hi), -np.inf, 0.0, full, say))
    for target in blueprint.information:
        info = np.array([rasch_information(item.stats.rasch_b, target.theta) for item in items], float)
        bounds = (f">= {target.min:g}" if target.min is not None else "") + \
                 (" and " if target.min is not None and target.max is not None else "") + \
                 (f"<= {target.max:g}" if target.max is not None else "")
        rows.append(_Row(info, -np.inf if target.min is None else target.min,
                         np.inf if target.max is None else target.max, 1.0,
                         lambda v, t=target.theta, b=bounds: f"test information at θ={t:g} must be {b}; the closest "
                                                             f"paper meeting the other constraints has {v:.2f}"))
    assert all(row.coef.shape == (n,) for row in rows)
    return rows


def _objective(pool: _Pool) -> np.ndarray:
    # Exposure control: an item used before costs a little more (at most 1e-3, below any difficulty difference).
    uses = np.array([len(item.uses) for item in pool.items], float)
    return 1e-3 * uses / (uses.max(initial=0.0) + 1.0)


def _solve(pool: _Pool, rows: list[_Row], cuts: list[tuple[int, int]], *, elastic: bool):
    """Solve the program (``elastic``: every row may be missed at a cost); returns scipy's result and sizes."""
    blueprint = pool.blueprint
    n, m = len(pool.items), len(rows)
    extra = 1 if blueprint.difficulty is not None else 0  # d: distance from the band's middle, in points
    slack = 2 * m if elastic else 0
    width = n + extra + slack
    c = np.zeros(width)
    c[:n] = _objective(pool)
    matrix, lower, upper = [], [], []
    for r, row in enumerate(rows):
        line = np.zeros(width)
        line[:n] = row.coef
        if elastic:  # row + s_plus - s_minus within [lb, ub]
            line[n + extra + 2 * r] = 1.0
            line[n + extra + 2 * r + 1] = -1.0
            c[n + extra + 2 * r: n + extra + 2 * r + 2] = 1.0 / row.scale * 1000.0
        matrix.append(line)
        lower.append(row.lb)
        upper.append(row.ub)
    if extra:
        full = max(sum(t.total or 0.0 for t in blueprint.types.values()), 1.0)
        mid = sum(blueprint.difficulty) / 2
        offset = np.nan_to_num(pool.p) - mid
        for sign in (1.0, -1.0):  # d >= Σ pts (±(P - mid) - tolerance) x: within the tolerance d can be 0
            line = np.zeros(width)
            line[:n] = -pool.points * (sign * offset - _CENTRE_TOLERANCE)
            line[n] = 1.0
            matrix.append(line)
            lower.append(0.0)
            upper.append(np.inf)
        c[n] = 1.0 / full
    for a, b in cuts:
        line = np.zeros(width)
        line[[a, b]] = 1.0
        matrix.append(line)
        lower.append(-np.inf)
        upper.append(1.0)
    low_bounds = np.zeros(width)
    for item_id in blueprint.include:
        if item_id in pool.index:
            low_bounds[pool.index[item_id]] = 1.0
    high_bounds = np.full(width, np.inf)
    high_bounds[:n] = 1.0
    integrality = np.zeros(width)
    integrality[:n] = 1
    constraints = LinearConstraint(csr_array(np.vstack(matrix)), np.array(lower), np.array(upper)) \
        if matrix else None


    return milp(c, integrality=integrality, bounds=Bounds(low_bounds, high_bounds), constraints=constraints,
                options={"time_limit": blueprint.time_limit_s, "mip_rel_gap": _GAP})


def _explain(pool: _Pool, rows: list[_Row], cuts: list[tuple[int, int]]) -> list[str]:
    """Why the program is infeasible: the blueprint constraints an elastic copy of it has to miss."""
    result = _solve(pool, rows, cuts, elastic=True)
    if result.x is None:
        return [f"the solver found no paper and could not say why ({result.message})"]
    x = np.round(result.x[:len(pool.items)])
    problems = []
    for row in rows:
        value = float(row.coef @ x)
        if value < row.lb - 1e-6 or value > row.ub + 1e-6:
            if row.scale != 1.0:  # difficulty rows: say the mean P reached
                points = float(pool.points @ x)
                value = float((pool.points * np.nan_to_num(pool.p)) @ x) / points if points else 0.0
            message = row.say(value)
            if message not in problems:
                problems.append(message)
    return problems or ["the constraints conflict only through duplicates or included items: relax include"]


#: Gives an item's stem-image digest (None without an image); the caller reads the files (I/O stays at the edge).
DigestOf = Callable[[Item], "str | None"]


def _digests(items: list[Item], digest_of: DigestOf | None) -> dict[str, str]:
    if digest_of is None:
        return {}
    return {item.id: digest for item in items if (digest := digest_of(item)) is not None}


def _duplicate_pairs(chosen: list[Item], blueprint: Blueprint, digest_of: DigestOf | None) -> list[tuple[str, str]]:
    pairs = [(d.first, d.second) for d in find_duplicates(chosen, threshold=blueprint.duplicate_threshold)]
    pairs += [(d.first, d.second) for d in image_duplicates(_digests(chosen, digest_of), [i.id for i in chosen])]
    return pairs


def _paper_order(items: list[Item]) -> list[Item]:
    def key(item: Item) -> tuple[int, float, str]:
        p = expected_p(item)
        return TYPE_ORDER.index(item.type), -(p if p is not None else -1.0), item.id
    return sorted(items, key=key)


def assemble(bank: Bank, blueprint: Blueprint, *, digest_of: DigestOf | None = None) -> Paper:
    """A paper from ``bank`` that meets ``blueprint`` (see the module docstring).

    Parameters
    ----------
    digest_of : callable, optional
        An item's stem-image digest (:func:`itembank.images.image_digest` of its checked file), asked for the
        chosen items only: two items with the same image are duplicates and never go on one paper.

    Raises
    ------
    AssemblyError
        Naming every part of the blueprint the bank cannot meet.
    """
    pool = _Pool(bank, blueprint)
    problems = pool.problems + _count_problems(pool)
    if problems:
        raise AssemblyError(problems)
    rows = _rows(pool)
    cuts: list[tuple[int, int]] = []
    for _round in range(_MAX_ROUNDS):
        result = _solve(pool, rows, cuts, elastic=False)
        if result.x is None:
            if result.status == 2:  # infeasible
                raise AssemblyError(_explain(pool, rows, cuts))
            raise AssemblyError([f"the solver stopped without a paper: {result.message} (time limit "
                                 f"{blueprint.time_limit_s:g} s: raise time_limit_s)"])
        chosen = [pool.items[k] for k in np.flatnonzero(result.x[:len(pool.items)] > 0.5)]
        pairs = _duplicate_pairs(chosen, blueprint, digest_of)
        if not pairs:
            break
        cuts += [(pool.index[a], pool.index[b]) for a, b in pairs]
    else:
        raise AssemblyError([f"still choosing duplicates after {_MAX_ROUNDS} rounds: dedupe the bank first "
                             "(yuejuan bank dedupe)"])
    ordered = _paper_order(chosen)
    points = [paper_points(item, blueprint) for item in ordered]
    paper = Paper(blueprint, ordered, points, _mean_p(ordered, points),
                  {t.theta: sum(rasch_information(item.stats.rasch_b, t.theta) for item in ordered)
                   for t in blueprint.information},
                  duplicate_cuts=len(cuts), status=str(result.message))
    problems = check_paper(paper, bank, digest_of=digest_of)
    if problems:  # the solver's tolerances let something through: never hand out such a paper
        raise AssemblyError([f"the solver's paper fails the blueprint: {p}" for p in problems])
    return paper


def _mean_p(items: list[Item], points: list[float]) -> float | None:
    values = [expected_p(item) for item in items]
    if not items or any(v is None for v in values):
        return None
    return sum(p * v for p, v in zip(points, values)) / sum(points)  # type: ignore[operator]


def check_paper(paper: Paper, bank: Bank, *, digest_of: DigestOf | None = None) -> list[str]:
    """Every way ``paper`` misses its blueprint, recomputed from its items (empty when it meets it exactly)."""
    blueprint, items = paper.blueprint, paper.items
    problems = []
    ids = [item.id for item in items]
    if len(set(ids)) != len(ids):
        problems.append("an item is on the paper twice")
    known = bank.by_id()
    for item in items:
        if known.get(item.id) != item:
            problems.append(f"item {item.id} is not the bank's")
        if item.subject != blueprint.subject or (blueprint.grade and item.grade != blueprint.grade):
            problems.append(f"item {item.id} is not a {blueprint.grade}{blueprint.subject} item")
        if _seen(item, blueprint):
            problems.append(f"item {item.id} was seen by {', '.join(blueprint.classes)} since {blueprint.unseen_since}")
        if item.id in blueprint.exclude:
            problems.append(f"item {item.id} is excluded")
        if blueprint.cells and not any(_in_cell(item, c.knowledge_point, c.level) for c in blueprint.cells):
            problems.append(f"item {item.id} is in no cell")
        p = expected_p(item)
        if blueprint.item_p is not None and (p is None or not blueprint.item_p[0] <= p <= blueprint.item_p[1]):
            problems.append(f"item {item.id}: P {p} outside item_p")
    problems += [f"item {i} (include) is missing" for i in blueprint.include if i not in ids]
    counts = Counter(item.type for item in items)
    for kind, target in blueprint.types.items():
        if counts[kind] != target.count:
            problems.append(f"{kind}: {counts[kind]} items, blueprint {target.count}")
        got = sum(pts for item, pts in zip(items, paper.points) if item.type == kind)
        if target.total is not None and abs(got - target.total) > _TOLERANCE:
            problems.append(f"{kind}: {got:g} points, blueprint {target.total:g}")
    problems += [f"{kind}: {counts[kind]} items not in the blueprint" for kind in counts if kind not in blueprint.types]
    for cell in blueprint.cells:
        got = sum(_in_cell(item, cell.knowledge_point, cell.level) for item in items)
        if got != cell.count:
            problems.append(f"{cell.knowledge_point} × {cell.level}: {got} items, blueprint {cell.count}")
    if blueprint.difficulty is not None:
        mean = _mean_p(items, paper.points)
        if mean is None or not blueprint.difficulty[0] - _TOLERANCE <= mean <= blueprint.difficulty[1] + _TOLERANCE:
            problems.append(f"mean P {mean} outside {list(blueprint.difficulty)}")
    for target in blueprint.information:
        info = sum(rasch_information(item.stats.rasch_b, target.theta) for item in items)
        if (target.min is not None and info < target.min - _TOLERANCE) or \
                (target.max is not None and info > target.max + _TOLERANCE):
            problems.append(f"information {info:.3f} at θ={target.theta:g} outside [{target.min}, {target.max}]")
    texts = {item.id: bigrams(item_text(item)) for item in items}
    for a in range(len(items)):
        for b in range(a + 1, len(items)):
            if jaccard(texts[items[a].id], texts[items[b].id]) >= blueprint.duplicate_threshold:
                problems.append(f"items {items[a].id} and {items[b].id} are duplicates")
    pictures = list(_digests(items, digest_of).values())
    if len(set(pictures)) != len(pictures):
        problems.append("two items share a stem image")
    return problems
