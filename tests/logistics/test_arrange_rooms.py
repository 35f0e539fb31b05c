"""考场编排 of a 600-student grade: capacities, everyone seated once, classmates apart (measured), 考号, seeds."""

from __future__ import annotations

import itertools
import re
from collections import Counter

import pytest

from logistics.arrange import (ArrangeError, Room, adjacent_classmates, adjacent_pairs, arrange, make_rooms,
                               random_expectation, seat_position)
from logistics.exam_ids import DEFAULT_FORMAT, ExamIdFormat
from logistics_builders import grade_students

SIZES = [48, 52, 50, 47, 53, 50, 49, 51, 50, 50, 46, 54]  # 600 students in 12 classes


def _format(rooms: int, seats: int) -> ExamIdFormat:
    return ExamIdFormat.checked(DEFAULT_FORMAT, school="0101", grade=26, rooms=rooms, seats=seats, id_length=10)


@pytest.fixture(scope="module")
def grade() -> list:
    return grade_students(SIZES)


def test_a_grade_of_600_is_seated_once_each_within_capacity(grade) -> None:
    rooms = make_rooms(21, 29)  # 609 seats: the last room part full
    arrangement = arrange(grade, rooms, _format(21, 29), seed=5)
    assert [len(r.seats) for r in arrangement.rooms] == [29] * 20 + [20]
    seated = [seat.student.student_no for _, seat in arrangement.seats]
    assert sorted(seated) == sorted(s.student_no for s in grade)
    for seating in arrangement.rooms:
        assert [s.seat for s in seating.seats] == list(range(1, len(seating.seats) + 1))
        assert len({(s.row, s.column) for s in seating.seats}) == len(seating.seats)
    ids = [seat.exam_id for _, seat in arrangement.seats]
    assert len(set(ids)) == len(ids)
    for room, seat in arrangement.seats:
        assert re.fullmatch(r"010126(\d\d)(\d\d)", seat.exam_id).groups() == (f"{room.number:02d}", f"{seat.seat:02d}")
    renumbered = arrangement.renumbered()
    assert [s.exam_id for s in renumbered] == ids and renumbered[0].name == arrangement.rooms[0].seats[0].student.name


def test_classmates_are_never_side_by_side_or_front_and_back_when_the_mix_allows(grade) -> None:
    arrangement = arrange(grade, make_rooms(20, 30), _format(20, 30), seed=1)
    assert arrangement.adjacent_classmates() == 0
    # a random seating of the same rooms would put dozens of classmates next to each other
    assert arrangement.random_expectation() > 40
    for seating in arrangement.rooms:  # every room mixes the classes in proportion
        assert len(set(seating.classes)) >= 10 and max(Counter(seating.classes).values()) <= 4


def test_same_seed_same_arrangement_other_seed_another(grade) -> None:
    rooms, fmt = make_rooms(20, 30), _format(20, 30)
    first = [(s.exam_id, s.student.student_no) for _, s in arrange(grade, rooms, fmt, seed=7).seats]
    again = [(s.exam_id, s.student.student_no) for _, s in arrange(list(grade), rooms, fmt, seed=7).seats]
    other = [(s.exam_id, s.student.student_no) for _, s in arrange(grade, rooms, fmt, seed=8).seats]
    assert first == again
    assert first != other


def _brute_force_minimum(room: Room, classes: list[str]) -> int:
    """Fewest adjacent classmates over every distinct seating of ``classes`` (small rooms only)."""
    return min(adjacent_classmates(room, list(order)) for order in set(itertools.permutations(classes)))


@pytest.mark.parametrize("sizes", [[6, 2, 1], [5, 3, 1], [4, 4, 1], [7, 1, 1], [3, 3, 3]])
def test_an_unbalanced_room_has_the_fewest_adjacent_classmates_possible(sizes: list[int]) -> None:
    """Where the mix forces classmates together, no seating of the room does better (checked exhaustively)."""
    room = Room(1, "小考场", 9, columns=3)
    students = grade_students(sizes)
    arrangement = arrange(students, [room], _format(1, 9), seed=2)
    classes = arrangement.rooms[0].classes
    assert adjacent_classmates(room, classes) == _brute_force_minimum(room, classes)


def test_seats_run_in_an_s_down_and_up_the_columns() -> None:
    room = Room(1, "A", 12, columns=3)  # 4 rows
    assert [seat_position(room, s) for s in (1, 4, 5, 8, 9, 12)] == [(0, 0), (3, 0), (3, 1), (0, 1), (0, 2),
                                                                     (3, 2)]
    assert (4, 5) in adjacent_pairs(room, 12) and (1, 8) in adjacent_pairs(room, 12) and (4, 6) not in \
        adjacent_pairs(room, 12)
    assert random_expectation(room, ["a"] * 12) == len(adjacent_pairs(room, 12))


def test_too_few_seats_and_bad_rooms_are_clear_errors(grade) -> None:
    with pytest.raises(ArrangeError, match="600 students but only 580 seats"):
        arrange(grade, make_rooms(20, 29), _format(20, 29))
    with pytest.raises(ArrangeError, match="listed twice"):
        make_rooms(["101", "102", "101"], 30)
    with pytest.raises(ArrangeError, match="capacity 0"):
        make_rooms(2, 0)
    named = make_rooms(["一楼101", "一楼102"], 30)
    assert [(r.number, r.name) for r in named] == [(1, "一楼101"), (2, "一楼102")]
