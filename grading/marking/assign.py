"""Which answers a marker is given: the rule that no one scores the same answer twice in a round, and when a
paper they already scored is served again to check their consistency (自评)."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["self_check_due", "self_check_pick", "MIN_SELF_CHECK_GAP"]

#: A paper is served again for 自评 only once this many other papers have been scored since: a marker must not
#: recognise the answer they just saw.
MIN_SELF_CHECK_GAP = 5


def self_check_due(scored: int, checks: int, rate: float) -> bool:
    """Whether the marker's next paper should be a 自评 paper.

    With ``rate`` r (0 to 0.5: the share of what a marker is served that is re-served), a marker who has scored
    ``scored`` papers (self-checks not counted) and had ``checks`` self-checks is due one while
    ``checks < floor(scored * r)``, and only after :data:`MIN_SELF_CHECK_GAP` papers; rate 0 never.
    """
    if rate <= 0 or scored < MIN_SELF_CHECK_GAP:
        return False
    return checks < int(scored * rate + 1e-9)


def self_check_pick(candidates: Sequence[int], checks: int) -> int | None:
    """Which already-scored answer to serve again: ``candidates`` are the marker's scored answers, oldest first,
    not yet self-checked, and excluding the last :data:`MIN_SELF_CHECK_GAP`; the pick walks through them
    spread over the marker's history (a fixed stride, so it is reproducible), or None when there is none."""
    eligible = list(candidates)
    if not eligible:
        return None
    return eligible[(checks * 7) % len(eligible)]
