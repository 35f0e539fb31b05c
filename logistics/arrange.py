"""考场编排: seat a roster into exam rooms, classmates apart, each seat with its 考号.

Rooms are grids of ``columns`` columns; seats are numbered in the usual S shape (蛇形) down the first column,
up the second, and so on. Two seats are *adjacent* when side by side (same row, neighbouring columns) or front
and back (same column, neighbouring rows): those are the pairs a proctor worries about.

The rule, deterministic for a seed:

1. every class is shuffled, then the classes are interleaved in proportion to their size (student ``i`` of a class
   of ``n`` sorts at ``(i + u) / n`` with a random offset ``u`` per class), so each room takes about its share of
   every class;
2. rooms are filled in order to capacity (a last room may stay part empty);
3. in each room seats are taken in S order, each by the class with the most students still to seat that has no
   student on an adjacent seat already taken (ties by the seed); then seat swaps that lower the number of
   adjacent classmates are made until none does.

:func:`adjacent_classmates` counts the adjacent pairs of one class in a room; :func:`random_expectation` is the
count a random seating of the same students would give on average (the yardstick the report prints).
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from grading.roster import Student
from logistics.exam_ids import ExamIdFormat

__all__ = ["Room", "Seat", "RoomSeating", "Arrangement", "ArrangeError", "make_rooms", "seat_position",
           "adjacent_pairs", "adjacent_classmates", "random_expectation", "arrange", "DEFAULT_COLUMNS"]

#: Columns of a room when not given: a 30-seat room is 5 columns of 6.
DEFAULT_COLUMNS = 5
_MOST_SWAP_PASSES = 50


class ArrangeError(ValueError):
    """An arrangement that cannot be made (too few seats, bad rooms)."""


@dataclass(frozen=True)
class Room:
    """One exam room: ``number`` goes into the 考号, ``name`` onto the door."""

    number: int
    name: str
    capacity: int
    columns: int = DEFAULT_COLUMNS

    def __post_init__(self) -> None:
        if self.number < 1:
            raise ArrangeError(f"room number {self.number} must be 1 or more")
        if self.capacity < 1:
            raise ArrangeError(f"room {self.name}: capacity {self.capacity} must be 1 or more")
        if self.columns < 1:
            raise ArrangeError(f"room {self.name}: columns {self.columns} must be 1 or more")

    @property
    def rows(self) -> int:
        return math.ceil(self.capacity / self.columns)


def make_rooms(rooms: int | Sequence[str], capacity: int, *, columns: int = DEFAULT_COLUMNS) -> list[Room]:
    """Rooms from a count (named 第01考场 …) or a list of names (numbered in list order), all of ``capacity``."""
    names = [f"第{n:02d}考场" for n in range(1, rooms + 1)] if isinstance(rooms, int) else [str(r) for r in rooms]
    if not names:
        raise ArrangeError("no rooms given")
    if len(set(names)) != len(names):
        raise ArrangeError("a room is listed twice")
    return [Room(number, name, capacity, min(columns, capacity)) for number, name in enumerate(names, start=1)]


def seat_position(room: Room, seat: int) -> tuple[int, int]:
    """(row, column) of a 1-based ``seat``, both 0-based, row 0 at the front; S order down then up the columns."""
    if not 1 <= seat <= room.capacity:
        raise ArrangeError(f"seat {seat} outside 1..{room.capacity} of room {room.name}")
    column, k = divmod(seat - 1, room.rows)
    return (k if column % 2 == 0 else room.rows - 1 - k), column


def adjacent_pairs(room: Room, seats: int) -> list[tuple[int, int]]:
    """Pairs of seat numbers (1..``seats``) that are side by side or front and back in ``room``."""
    where = {seat_position(room, s): s for s in range(1, seats + 1)}
    pairs = []
    for (row, column), seat in where.items():
        for neighbour in ((row, column + 1), (row + 1, column)):
            if neighbour in where:
                pairs.append((min(seat, where[neighbour]), max(seat, where[neighbour])))
    return sorted(pairs)


@dataclass(frozen=True)
class Seat:
    """One taken seat: its number and place, the student and their new 考号."""

    seat: int
    row: int
    column: int
    exam_id: str
    student: Student


@dataclass
class RoomSeating:
    """A room and its taken seats in seat order."""

    room: Room
    seats: list[Seat] = field(default_factory=list)

    @property
    def classes(self) -> list[str]:
        return [s.student.class_name for s in self.seats]


@dataclass
class Arrangement:
    """The whole 考场编排: rooms in order (rooms left empty included), with the rule's inputs."""

    rooms: list[RoomSeating]
    seed: int
    exam_id_format: ExamIdFormat

    @property
    def seats(self) -> list[tuple[Room, Seat]]:
        return [(r.room, s) for r in self.rooms for s in r.seats]

    def renumbered(self) -> list[Student]:
        """The roster in room and seat order, each student with their new 考号."""
        return [seat.student.model_copy(update={"exam_id": seat.exam_id}) for _, seat in self.seats]

    def adjacent_classmates(self) -> int:
        """Adjacent pairs of one class over all rooms (see :func:`adjacent_classmates`)."""
        return sum(adjacent_classmates(r.room, r.classes) for r in self.rooms)

    def random_expectation(self) -> float:
        """What a random seating of each room's students would give on average."""
        return sum(random_expectation(r.room, r.classes) for r in self.rooms)


def adjacent_classmates(room: Room, classes: Sequence[str]) -> int:
    """Number of adjacent seat pairs (side by side or front and back) whose two students are of one class.

    ``classes[i]`` is the class of seat ``i + 1``; seats are taken from 1 without gaps.
    """
    return sum(classes[a - 1] == classes[b - 1] for a, b in adjacent_pairs(room, len(classes)))


def random_expectation(room: Room, classes: Sequence[str]) -> float:
    """Expected :func:`adjacent_classmates` when the same students take the same seats at random.

    Each adjacent pair holds two students drawn without replacement, of one class with probability
    ``sum_k n_k (n_k - 1) / (n (n - 1))`` for class sizes ``n_k`` summing to ``n``.
    """
    n = len(classes)
    if n < 2:
        return 0.0
    same = sum(k * (k - 1) for k in Counter(classes).values()) / (n * (n - 1))
    return len(adjacent_pairs(room, n)) * same


def _interleave(students: Sequence[Student], rng: np.random.Generator) -> list[Student]:
    """Every class shuffled, then spread through the list in proportion to its size (see the module)."""
    by_class: dict[str, list[Student]] = {}
    for student in students:
        by_class.setdefault(student.class_name, []).append(student)
    keyed: list[tuple[float, float, Student]] = []
    for name in sorted(by_class):
        members = by_class[name]
        order = rng.permutation(len(members))
        offset = rng.random()
        ties = rng.random(len(members))
        keyed.extend(((i + offset) / len(members), float(ties[i]), members[j]) for i, j in enumerate(order))
    keyed.sort(key=lambda item: (item[0], item[1]))
    return [student for _, _, student in keyed]


def _neighbours(room: Room, count: int) -> list[list[int]]:
    """0-based seat indices adjacent to each of the first ``count`` seats."""
    result: list[list[int]] = [[] for _ in range(count)]
    for a, b in adjacent_pairs(room, count):
        result[a - 1].append(b - 1)
        result[b - 1].append(a - 1)
    return result


def _seat_room(room: Room, students: Sequence[Student], rng: np.random.Generator) -> list[Student]:
    """The room's students in seat order, adjacent classmates as few as the rule finds (see the module)."""
    count = len(students)
    neighbours = _neighbours(room, count)
    waiting: dict[str, list[Student]] = {}
    for student in students:
        waiting.setdefault(student.class_name, []).append(student)
    seated: list[Student] = []
    for index in range(count):
        taken = {seated[j].class_name for j in neighbours[index] if j < index}
        names = [n for n in waiting if waiting[n]]
        tie = dict(zip(names, rng.random(len(names))))
        free = [n for n in names if n not in taken] or names
        best = max(free, key=lambda n: (len(waiting[n]), tie[n]))
        seated.append(waiting[best].pop())
    classes = [s.class_name for s in seated]

    def clashes(index: int, name: str) -> int:
        return sum(classes[j] == name for j in neighbours[index])

    for _ in range(_MOST_SWAP_PASSES):
        improved = False
        for a in map(int, rng.permutation(count)):
            if not clashes(a, classes[a]):
                continue
            for b in map(int, rng.permutation(count)):
                if classes[a] == classes[b]:
                    continue
                before = clashes(a, classes[a]) + clashes(b, classes[b])
                classes[a], classes[b] = classes[b], classes[a]
                after = clashes(a, classes[a]) + clashes(b, classes[b])
                if after < before:
                    seated[a], seated[b] = seated[b], seated[a]
                    improved = True
                    break
                classes[a], classes[b] = classes[b], classes[a]
        if not improved:
            break
    return seated


def arrange(students: Sequence[Student], rooms: Sequence[Room], exam_id_format: ExamIdFormat, *,
            seed: int = 0) -> Arrangement:
    """Seat ``students`` into ``rooms`` and give each seat its 考号 (the rule is in the module docstring).

    Parameters
    ----------
    students : sequence of Student
        The roster (each student once); ``class_name`` is what keeps classmates apart.
    rooms : sequence of Room
        Filled in order; room numbers must be distinct.
    exam_id_format : ExamIdFormat
        Checked for these rooms (:meth:`ExamIdFormat.checked`).
    seed : int
        Same seed, same roster, same rooms: the same arrangement.

    Raises
    ------
    ArrangeError
        More students than seats, a student listed twice, or two rooms with one number.
    """
    total = sum(r.capacity for r in rooms)
    if len(students) > total:
        raise ArrangeError(f"{len(students)} students but only {total} seats in {len(rooms)} rooms")
    if len({r.number for r in rooms}) != len(rooms):
        raise ArrangeError("two rooms share a number")
    keys = [(s.exam_id, s.student_no) for s in students]
    if len(set(keys)) != len(keys):
        raise ArrangeError("a student is listed twice")
    rng = np.random.default_rng([seed, 14])
    queue = _interleave(students, rng)
    seatings: list[RoomSeating] = []
    start = 0
    for room in rooms:
        chunk = queue[start:start + room.capacity]
        start += len(chunk)
        seating = RoomSeating(room)
        for number, student in enumerate(_seat_room(room, chunk, rng), start=1):
            row, column = seat_position(room, number)
            seating.seats.append(Seat(number, row, column, exam_id_format.render(room.number, number), student))
        seatings.append(seating)
    ids = [seat.exam_id for seating in seatings for seat in seating.seats]
    if len(set(ids)) != len(ids):  # the format's checks make this impossible; never hand out a shared 考号
        raise ArrangeError("the 考号 format gave two seats one 考号")
    return Arrangement(seatings, seed, exam_id_format)
