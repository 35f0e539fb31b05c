"""What a reader limited to some classes may see of the others: their aggregates, unless a group is so small that
its figures would give away one student's score.

A teacher sees the students of their own classes (任课班级) and compares them with the grade (年级). Another
class's mean, maximum or item rates are aggregates, but the figures of a class of one *are* that student's
scores, and of a class of two nearly so. The rule is the small-cell suppression of statistical agencies
(primary and complementary suppression, e.g. Hundepool et al., *Statistical Disclosure Control*, 2012, ch. 7):

* primary: another class with fewer than ``minimum`` graded students shows its head count only;
* complementary: the grade's figures less the shown classes' give the withheld classes' figures together, so
  while those hold fewer than ``minimum`` students together, the next smallest other class is withheld too.

What stays possible: when the other classes hold fewer than ``minimum`` graded students *in all*, the grade's
figures less the reader's own classes' still give those few students' sum. Such a reader teaches almost the whole
grade, and the grade's figures are what every report compares with, so they are not withheld.
"""

from __future__ import annotations

from typing import Collection

import numpy as np

__all__ = ["MIN_GROUP", "withheld_groups", "visible_groups"]

#: the fewest graded students whose group figures another class's teacher may see
MIN_GROUP = 5


def visible_groups(names: np.ndarray, classes: Collection[str] | None) -> np.ndarray:
    """Boolean mask over ``names`` (class names): the reader's own (every one when ``classes`` is None)."""
    names = np.asarray(names, dtype=object)
    if classes is None:
        return np.ones(names.shape, dtype=bool)
    allowed = set(classes)
    return np.array([str(name) in allowed for name in names.tolist()], dtype=bool)


def withheld_groups(n: np.ndarray, own: np.ndarray, minimum: int = MIN_GROUP) -> np.ndarray:
    """Boolean mask of the groups whose figures (beyond their head count) are withheld from a reader who sees
    the students of the ``own`` groups; ``n`` is each group's graded students.

    Primary suppression of the other groups with ``0 < n < minimum``, then complementary suppression of the
    smallest remaining other groups until the withheld ones hold at least ``minimum`` students together (or no
    other group is left). A reader who sees every group has nothing withheld.
    """
    n = np.asarray(n, dtype=np.int64)
    own = np.asarray(own, dtype=bool)
    others = ~own & (n > 0)
    withheld = others & (n < minimum)
    if withheld.any():
        rest = np.flatnonzero(others & ~withheld)
        for g in rest[np.argsort(n[rest], kind="stable")].tolist():
            if n[withheld].sum() >= minimum:
                break
            withheld[g] = True
    return withheld
