"""网上阅卷 in the database: answers to mark, tasks handed to markers, scores, 问题卷, supervision figures, the
crops, and the final scores grading reads. No HTTP here (``routes/marking.py`` calls these); the rules
themselves are :mod:`grading.marking`.

Handing out is safe under concurrency on both databases: a claim picks open tasks (``FOR UPDATE SKIP LOCKED``
on PostgreSQL, so two markers never wait on or take the same rows; on SQLite the write transaction holds the
database's one write lock) and takes each with ``UPDATE … WHERE marker_id IS NULL``; the unique constraint
(answer, marker, kind) makes "one marker, one answer, one round" the database's rule, not only the query's.

A task in a marker's hands is leased (:data:`TASK_LEASE`, renewed by each of the marker's requests): a marker who
leaves does not keep answers from the others, their tasks go back to the pool when the lease runs out.

A pooled city marking (``MarkingSetup.pooled``) marks one question of a city exam across every school that sat
it: its answers keep their own school (``MarkingItem.school_id``, ``MarkingTask.school_id``), so the final scores
flow into each school's grading, while its markers come from several schools and see only the crop.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
import threading
import time
from collections import defaultdict, deque
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, func, insert, or_, select, text, update
from sqlalchemy.orm import Session, aliased

from api.service import audit
from api.service.models import (BatchFile, Correction, Exam, MarkingItem, MarkingMarker, MarkingSetup, MarkingTask,
                                Page, Sheet, User, utcnow)
from api.service.security import Principal

__all__ = ["SCORING_KINDS", "rules_of", "markers_of", "new_token", "load_items", "hand_out", "record_score",
           "report_problem", "resolve_problem", "reassign", "progress", "final_scores", "item_of",
           "TaskView", "task_view", "item_states", "earlier_scores", "question_regions", "answer_regions",
           "AnswerRegion", "block_pages", "MarkingConflict",
           "TASK_LEASE", "release_expired", "writing", "crop_source", "cut_crop", "CropSource", "ScanPage",
           "keep_crops"]

log = logging.getLogger(__name__)

#: Tasks whose score counts towards an answer's final score (a ``ruling`` is the final score; ``self`` counts
#: for nothing but the marker's consistency).
SCORING_KINDS = ("first", "third")
#: Resolution of a crop: about 200 dpi, enough for handwriting, and no more than the scan holds.
CROP_PX_PER_MM = 8.0
#: How long a task stays in a marker's hands with no request of theirs: then it goes back to the pool (the
#: leader's 仲裁 tasks are theirs alone and never expire). Long enough for a 作文 and a short break; each of the
#: marker's requests (a score, asking for tasks) renews the leases of what they hold.
TASK_LEASE = dt.timedelta(minutes=20)
#: Expired leases of a question are looked for at most this often (seconds, per process): a claim does not pay
#: for the sweep each time.
_SWEEP_EVERY_S = 10.0
_swept: dict[int, float] = {}


class MarkingConflict(Exception):
    """A change the answer's state does not allow (the message says why): the route answers 409."""


def rules_of(setup: MarkingSetup):
    """The set-up's :class:`grading.marking.MarkingRules`."""
    from grading.marking import MarkingRules

    return MarkingRules(full_marks=setup.full_marks, step=setup.step, double=setup.double,
                        tolerance=setup.tolerance, final_rule=setup.final_rule)


def markers_of(session: Session, setup_id: int) -> list[int]:
    return list(session.scalars(select(MarkingMarker.user_id).where(MarkingMarker.setup_id == setup_id)
                                .order_by(MarkingMarker.user_id)))


def new_token() -> str:
    """An opaque task id: 128 random bits (a marker cannot guess another's task or learn whose paper it is)."""
    return secrets.token_hex(16)


# --- answers to mark --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class AnswerRegion:
    """An answer region of a template as a 题块 names it (with or without a question: an essay box may have
    none; never the name box): its page and the pages its parts are on."""

    id: str
    page: int  # the template page it is named on
    question: str | None
    pages: tuple[int, ...]  # template pages holding its parts, in reading order (its own page first)


def answer_regions(template: dict[str, Any]) -> dict[str, AnswerRegion]:
    """{region id: :class:`AnswerRegion`} of every answer region of a template (as stored: a dict), page by page;
    the name box (``role`` name) is none."""
    found: dict[str, AnswerRegion] = {}
    for number, page in enumerate(template.get("pages", []), start=1):
        for spec in page.get("fields", []):
            if spec.get("kind") == "region" and spec.get("role", "answer") == "answer":
                parts = [number] + [part.get("page") or number for part in spec.get("continues", [])]
                found[spec["id"]] = AnswerRegion(spec["id"], number, spec.get("question"), tuple(dict.fromkeys(parts)))
    return found


def question_regions(template: dict[str, Any], question: str, wanted: Sequence[str] | None) -> list[str]:
    """Region ids of a 题块, in the order its crop shows them: ``wanted``, or the regions naming ``question``.
    They may lie on several pages of the card.

    ValueError when a region is not in the template or is named twice, or the question has no region.
    """
    regions = answer_regions(template)
    names = list(wanted) if wanted else [r.id for r in regions.values() if r.question == question]
    if not names:
        raise ValueError(f"the template has no answer region for {question}: name the regions")
    if len(set(names)) != len(names):
        raise ValueError("a region is named twice")
    unknown = [n for n in names if n not in regions]
    if unknown:
        if unknown[0] in _name_boxes(template):
            raise ValueError(f"region {unknown[0]!r} is the student's name box: markers never see it")
        raise ValueError(f"the template has no region {unknown[0]!r}")
    return names


def _name_boxes(template: dict[str, Any]) -> set[str]:
    return {spec["id"] for page in template.get("pages", []) for spec in page.get("fields", [])
            if spec.get("kind") == "region" and spec.get("role") == "name"}


def block_pages(template: dict[str, Any], regions: Sequence[str]) -> list[int]:
    """Template pages holding a part of the 题块 ``regions`` (each region's own page and the pages it continues
    on), in the order its crop shows the parts."""
    known = answer_regions(template)
    return list(dict.fromkeys(number for name in regions for number in known[name].pages))


def _pages_by_number(page_ids: Sequence[int] | None, result: dict[str, Any] | None) -> dict[int, int]:
    """{template page number: stored page id} of a sheet (its readable pages: an unreadable page is in none)."""
    held: dict[int, int] = {}
    for page_id, page in zip(page_ids or [], (result or {}).get("pages", [])):
        if page.get("page"):
            held.setdefault(page["page"], page_id)
    return held


def load_items(session: Session, setup: MarkingSetup, exam_row: Exam) -> int:
    """Add an answer (and its first-round tasks) for every sheet of the set-up's school (of every school, for a
    pooled city marking) and exam that has none yet and has at least one page holding a part of its 题块;
    sheets marked absent are left out. Returns how many were added.

    A sheet lacking some of the block's pages (missing, or unreadable) still gets its answer: the marker sees the
    parts that exist under a note (:func:`cut_crop`) and can send it to the leader as a 问题卷, rather than the
    student's answer silently getting no score. The answer's ``page_id`` is the first of the sheet's pages
    holding a part; the crop takes every part's page from the sheet."""
    pages = block_pages(exam_row.template, question_regions(exam_row.template, setup.question, setup.regions))
    known = select(MarkingItem.sheet_id).where(MarkingItem.setup_id == setup.id)
    query = select(Sheet.id, Sheet.school_id, Sheet.page_ids, Sheet.result).where(
        Sheet.exam_id == setup.exam_id, Sheet.id.not_in(known))
    if not setup.pooled:
        query = query.where(Sheet.school_id == setup.school_id)
    items = []
    for sheet_id, school_id, page_ids, result in session.execute(query.order_by(Sheet.id)).all():
        if (result or {}).get("absent"):
            continue
        held = _pages_by_number(page_ids, result)
        page_id = next((held[number] for number in pages if number in held), None)
        if page_id is not None:
            items.append({"setup_id": setup.id, "school_id": school_id, "sheet_id": sheet_id,
                          "page_id": page_id, "state": "marking"})
    if not items:
        return 0
    session.execute(insert(MarkingItem), items)
    new_items = session.execute(select(MarkingItem.id, MarkingItem.school_id).where(
        MarkingItem.setup_id == setup.id, MarkingItem.sheet_id.in_([i["sheet_id"] for i in items]))
        .order_by(MarkingItem.id)).all()
    now = utcnow()
    tasks = [{"token": new_token(), "setup_id": setup.id, "item_id": item_id, "school_id": school_id,
              "kind": "first", "status": "open", "created_at": now}
             for item_id, school_id in new_items for _ in range(rules_of(setup).markers_per_answer)]
    session.execute(insert(MarkingTask), tasks)
    if session.get_bind().dialect.name == "postgresql":
        # Fresh statistics for the claim's plan: with the thousands of rows just added unknown to the planner,
        # PostgreSQL took the tables for empty and a claim scanned every open task per open task (3 s at 2 000
        # answers) instead of one index probe (0.1 ms). Autovacuum would get there, after marking has begun.
        session.execute(text("ANALYZE marking_items"))
        session.execute(text("ANALYZE marking_tasks"))
    return len(new_items)


# --- what a marker sees ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class TaskView:
    """A task as a marker sees it (see :class:`api.service.schemas.marking.TaskPublic`)."""

    task: MarkingTask
    item_state: str
    earlier: list[float]


def earlier_scores(session: Session, item_id: int) -> list[float]:
    """The scores given so far for an answer (first and third), shown to the leader who rules (仲裁)."""
    return [s for s in session.scalars(select(MarkingTask.score).where(
        MarkingTask.item_id == item_id, MarkingTask.kind.in_(SCORING_KINDS), MarkingTask.status == "done")
        .order_by(MarkingTask.scored_at, MarkingTask.id)) if s is not None]


def item_states(session: Session, tasks: Sequence[MarkingTask]) -> dict[int, str]:
    """{answer id: state} of the tasks' answers, in one query."""
    ids = {t.item_id for t in tasks}
    return dict(session.execute(select(MarkingItem.id, MarkingItem.state).where(MarkingItem.id.in_(ids))).all()) \
        if ids else {}


def task_view(session: Session, task: MarkingTask, item_state: str | None = None) -> TaskView:
    state = item_state if item_state is not None else session.scalar(
        select(MarkingItem.state).where(MarkingItem.id == task.item_id))
    earlier = earlier_scores(session, task.item_id) if task.kind == "ruling" else []
    return TaskView(task, state or "", earlier)


def item_of(session: Session, task: MarkingTask) -> MarkingItem:
    return session.get(MarkingItem, task.item_id)


# --- handing out ---------------------------------------------------------------------------------------------------

def _held(session: Session, setup_id: int, marker_id: int) -> list[MarkingTask]:
    return list(session.scalars(select(MarkingTask).where(
        MarkingTask.setup_id == setup_id, MarkingTask.marker_id == marker_id, MarkingTask.status == "assigned")
        .order_by(MarkingTask.assigned_at, MarkingTask.id)))


def _self_check(session: Session, setup: MarkingSetup, marker_id: int) -> MarkingTask | None:
    """A 自评 task for the marker when one is due (:func:`grading.marking.self_check_due`), else None."""
    from grading.marking import self_check_due, self_check_pick
    from grading.marking.assign import MIN_SELF_CHECK_GAP

    if setup.self_check_rate <= 0:
        return None
    counts = dict(session.execute(select(MarkingTask.kind, func.count()).where(
        MarkingTask.setup_id == setup.id, MarkingTask.marker_id == marker_id,
        MarkingTask.status.in_(("done", "assigned")), MarkingTask.kind.in_(SCORING_KINDS + ("self",)))
        .group_by(MarkingTask.kind)).all())
    scored = counts.get("first", 0) + counts.get("third", 0)
    checks = counts.get("self", 0)
    if not self_check_due(scored, checks, setup.self_check_rate):
        return None
    checked = select(MarkingTask.item_id).where(MarkingTask.marker_id == marker_id, MarkingTask.kind == "self",
                                                MarkingTask.setup_id == setup.id)
    history = list(session.scalars(select(MarkingTask.item_id).where(
        MarkingTask.setup_id == setup.id, MarkingTask.marker_id == marker_id, MarkingTask.status == "done",
        MarkingTask.kind.in_(SCORING_KINDS), MarkingTask.item_id.not_in(checked))
        .order_by(MarkingTask.scored_at, MarkingTask.id)))
    item_id = self_check_pick(history[:-MIN_SELF_CHECK_GAP] if len(history) > MIN_SELF_CHECK_GAP else [], checks)
    if item_id is None:
        return None
    now = utcnow()
    task = MarkingTask(token=new_token(), setup_id=setup.id, item_id=item_id,
                       school_id=session.scalar(select(MarkingItem.school_id).where(MarkingItem.id == item_id)),
                       kind="self", marker_id=marker_id, status="assigned", assigned_at=now,
                       lease_until=now + TASK_LEASE)
    session.add(task)
    session.flush()
    return task


def _claim(session: Session, setup: MarkingSetup, marker_id: int, count: int) -> list[MarkingTask]:
    """Take up to ``count`` open tasks of answers the marker has not scored, one per answer, 三评 first."""
    mine = select(MarkingTask.item_id).where(MarkingTask.setup_id == setup.id, MarkingTask.marker_id == marker_id,
                                             MarkingTask.kind.in_(SCORING_KINDS))
    sibling = aliased(MarkingTask)
    # One task per answer, the lowest open one: a claim then locks exactly the rows it takes (a row locked and
    # skipped would hide its answer from everyone else until the claim commits).
    lower = (select(sibling.id).where(sibling.item_id == MarkingTask.item_id, sibling.kind == MarkingTask.kind,
                                      sibling.status == "open", sibling.marker_id.is_(None),
                                      sibling.id < MarkingTask.id).exists())
    picked: list[int] = []
    for kind in ("third", "first"):  # each in id order along the claim index: no sort, stops at the limit
        query = (select(MarkingTask.id)
                 .where(MarkingTask.setup_id == setup.id, MarkingTask.kind == kind, MarkingTask.status == "open",
                        MarkingTask.marker_id.is_(None), MarkingTask.item_id.not_in(mine), ~lower)
                 .order_by(MarkingTask.id).limit(count - len(picked)))
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True, of=MarkingTask)
        picked.extend(session.scalars(query))
        if len(picked) >= count:
            break
    if not picked:
        return []
    now = utcnow()
    session.execute(update(MarkingTask).where(MarkingTask.id.in_(picked), MarkingTask.marker_id.is_(None),
                                              MarkingTask.status == "open")
                    .values(marker_id=marker_id, status="assigned", assigned_at=now, lease_until=now + TASK_LEASE)
                    .execution_options(synchronize_session=False))
    return list(session.scalars(select(MarkingTask).where(MarkingTask.id.in_(picked),
                                                          MarkingTask.marker_id == marker_id)
                                .order_by(MarkingTask.id)))


def _renew(session: Session, setup_id: int, marker_id: int) -> None:
    """Renew the leases of the tasks the marker holds (only those past half their lease: most requests write
    nothing)."""
    now = utcnow()
    due = select(MarkingTask.id).where(MarkingTask.marker_id == marker_id, MarkingTask.status == "assigned",
                                       MarkingTask.setup_id == setup_id, MarkingTask.lease_until < now + TASK_LEASE / 2)
    if session.get_bind().dialect.name == "postgresql":  # a row the marker's other request holds: renewed next time
        due = due.with_for_update(skip_locked=True)
    ids = list(session.scalars(due))
    if ids:
        session.execute(update(MarkingTask).where(MarkingTask.id.in_(ids)).values(lease_until=now + TASK_LEASE)
                        .execution_options(synchronize_session=False))


def release_expired(session: Session, setup_id: int) -> int:
    """Tasks whose lease ran out go back to the pool (a 自评 task is dropped instead); rows another transaction
    holds are skipped (PostgreSQL), never waited on. Returns how many were released. The caller commits."""
    now = utcnow()
    # A task handed out before leases existed (no lease_until) counts from when it was handed out.
    expired = select(MarkingTask.id).where(
        MarkingTask.setup_id == setup_id, MarkingTask.status == "assigned",
        or_(MarkingTask.lease_until < now, and_(MarkingTask.lease_until.is_(None), MarkingTask.kind != "ruling",
                                                MarkingTask.assigned_at < now - TASK_LEASE)))
    if session.get_bind().dialect.name == "postgresql":
        expired = expired.with_for_update(skip_locked=True)
    ids = list(session.scalars(expired))
    if not ids:
        return 0
    session.execute(update(MarkingTask).where(MarkingTask.id.in_(ids), MarkingTask.kind == "self")
                    .values(status="cancelled", lease_until=None).execution_options(synchronize_session=False))
    session.execute(update(MarkingTask).where(MarkingTask.id.in_(ids), MarkingTask.kind != "self")
                    .values(status="open", marker_id=None, assigned_at=None, lease_until=None)
                    .execution_options(synchronize_session=False))
    log.info("marking set-up %d: %d tasks back in the pool (lease expired)", setup_id, len(ids))
    return len(ids)


def hand_out(session: Session, setup: MarkingSetup, marker_id: int, count: int, *, may_mark: bool = True
             ) -> list[MarkingTask]:
    """The marker's next ``count`` tasks, oldest first: those already in hand (a 仲裁 task of the leader among
    them), topped up with a 自评 task when one is due and with new tasks. ``may_mark`` False (a leader who is
    not a marker) hands out nothing new. The caller commits (an IntegrityError means a concurrent request of
    the same marker took a sibling task: roll back to a savepoint taken before, and ask again)."""
    _renew(session, setup.id, marker_id)
    held = _held(session, setup.id, marker_id)
    if not may_mark or len(held) >= count:
        return held[:count]
    if time.monotonic() - _swept.get(setup.id, -_SWEEP_EVERY_S) >= _SWEEP_EVERY_S:
        _swept[setup.id] = time.monotonic()
        release_expired(session, setup.id)
    check = _self_check(session, setup, marker_id)
    if check is not None:
        held.append(check)
    if len(held) < count:
        held.extend(_claim(session, setup, marker_id, count - len(held)))
    return held[:count]


# --- scores -------------------------------------------------------------------------------------------------------

def _locked_item(session: Session, task: MarkingTask) -> MarkingItem:
    """The task's answer, locked for this transaction (PostgreSQL; SQLite's writer holds the whole database),
    and the task read again under that lock: two markers scoring one answer at once must each see the other's
    score when it decides what comes next. Every change locks the answer before any of its tasks, so two changes
    never wait on each other's locks in opposite order."""
    item = session.get(MarkingItem, task.item_id, with_for_update=True, populate_existing=True)
    session.refresh(task)
    return item


def _item_tasks(session: Session, item_id: int) -> list[MarkingTask]:
    return list(session.scalars(select(MarkingTask).where(MarkingTask.item_id == item_id)
                                .order_by(MarkingTask.scored_at, MarkingTask.id)))


def _cancel(tasks: Sequence[MarkingTask], kinds: Sequence[str]) -> None:
    for task in tasks:
        if task.kind in kinds and task.status in ("open", "assigned"):
            task.status = "cancelled"


def _advance(session: Session, setup: MarkingSetup, item: MarkingItem) -> bool:
    """Bring the answer's state up to date with its scores (:func:`grading.marking.decide`): make the 三评 or
    仲裁 task it needs, cancel those it no longer needs, set the final score. True when the final score changed."""
    from grading.marking import decide

    tasks = _item_tasks(session, item.id)
    if any(t.status == "problem" for t in tasks):
        item.state = "problem"
        return False
    done = [t for t in tasks if t.status == "done" and t.score is not None]
    first = [t.score for t in done if t.kind == "first"]
    third = next((t.score for t in done if t.kind == "third"), None)
    ruling = next((t.score for t in reversed(done) if t.kind == "ruling"), None)
    decision = decide(first, rules_of(setup), third=third, ruling=ruling)
    before = item.final_score if item.state == "final" else None
    item.state = decision.state
    if decision.state == "final":
        _cancel(tasks, ("first", "third", "ruling"))
        item.final_score, item.final_how = decision.final, decision.how
        item.finalised_at = utcnow()
        return before != decision.final
    item.final_score = item.final_how = item.finalised_at = None
    if decision.state == "marking":
        _cancel(tasks, ("third", "ruling"))
    elif decision.state == "third":
        _cancel(tasks, ("ruling",))
        if not any(t.kind == "third" and t.status != "cancelled" for t in tasks):
            session.add(MarkingTask(token=new_token(), setup_id=setup.id, item_id=item.id,
                                    school_id=item.school_id, kind="third", status="open"))
    elif not any(t.kind == "ruling" and t.status != "cancelled" for t in tasks):
        session.add(MarkingTask(token=new_token(), setup_id=setup.id, item_id=item.id, school_id=item.school_id,
                                kind="ruling", marker_id=setup.leader_id, status="assigned", assigned_at=utcnow()))
    session.flush()
    return before is not None


def record_score(session: Session, principal: Principal, setup: MarkingSetup, task: MarkingTask, score: float
                 ) -> bool:
    """Record the marker's score for ``task`` (a first score, a 回评 change, 三评, 仲裁 or 自评) and advance
    its answer; audited. :class:`MarkingConflict` when the answer's final score is already decided (回评 is over)
    or the task was taken away. Returns whether the answer's final score changed."""
    item = _locked_item(session, task)
    if task.marker_id != principal.user_id:
        raise MarkingConflict("this task was given to another marker")
    if task.status not in ("assigned", "done"):
        raise MarkingConflict(f"this task is {task.status}")
    if task.status == "done" and item.state == "final":
        raise MarkingConflict("the final score of this answer is decided: it can no longer be changed")
    before = {"score": task.score, "kind": task.kind} if task.status == "done" else None
    task.score, task.status, task.scored_at, task.lease_until = float(score), "done", utcnow(), None
    session.flush()
    changed = _advance(session, setup, item) if task.kind != "self" else False
    audit.record(session, principal, "marking.rescore" if before else "marking.score", "marking_task", task.id,
                 school_id=item.school_id, before=before,
                 after={"score": task.score, "kind": task.kind, "question": setup.question, "sheet": item.sheet_id,
                        "answer": item.id, "answer_state": item.state, "final": item.final_score})
    return changed


def report_problem(session: Session, principal: Principal, setup: MarkingSetup, task: MarkingTask, kind: str,
                   note: str) -> None:
    """问题卷: the marker cannot score the answer (blank, illegible, wrong region, suspected cheating); it waits
    for the leader (:func:`resolve_problem`). On a 自评 paper (whose answer is scored already) the report is that
    check's outcome and the answer is left alone. Audited."""
    item = _locked_item(session, task)
    if task.status != "assigned" or task.kind == "ruling" or task.marker_id != principal.user_id:
        raise MarkingConflict("only a task in hand can be reported as a problem paper")
    task.problem, task.note, task.scored_at, task.lease_until = kind, note, utcnow(), None
    task.status = "done" if task.kind == "self" else "problem"
    if task.kind != "self":
        item.state = "problem"
    audit.record(session, principal, "marking.problem", "marking_task", task.id, school_id=item.school_id,
                 after={"problem": kind, "note": note, "question": setup.question, "sheet": item.sheet_id,
                        "answer": item.id})


def resolve_problem(session: Session, principal: Principal, setup: MarkingSetup, task: MarkingTask, action: str,
                    score: float | None) -> bool:
    """The leader deals with a 问题卷: ``score`` gives the final score (a ruling), ``return`` sends the task back
    to the markers. Audited; returns whether the final score changed."""
    item = _locked_item(session, task)
    if task.status != "problem":
        raise MarkingConflict("this task is not a problem paper")
    if action == "return":
        task.status, task.marker_id, task.assigned_at, task.scored_at = "open", None, None, None
        session.flush()
        changed = _advance(session, setup, item)
    else:
        task.status = "cancelled"
        existing = session.scalar(select(MarkingTask).where(MarkingTask.item_id == item.id,
                                                            MarkingTask.kind == "ruling",
                                                            MarkingTask.marker_id == principal.user_id))
        ruling = existing or MarkingTask(token=new_token(), setup_id=setup.id, item_id=item.id,
                                         school_id=item.school_id, kind="ruling", marker_id=principal.user_id)
        ruling.status, ruling.score, ruling.assigned_at, ruling.scored_at = "done", float(score), utcnow(), utcnow()
        session.add(ruling)
        session.flush()
        changed = _advance(session, setup, item)
    audit.record(session, principal, "marking.problem_resolved", "marking_task", task.id,
                 school_id=item.school_id, before={"problem": task.problem},
                 after={"action": action, "score": score, "answer": item.id, "sheet": item.sheet_id,
                        "answer_state": item.state, "final": item.final_score})
    return changed


def reassign(session: Session, principal: Principal, setup: MarkingSetup, from_user: int, to_user: int | None
             ) -> int:
    """Move a marker's tasks in hand to another marker, or back to the pool (a task the other marker already
    holds an answer of goes to the pool); their 自评 tasks are dropped. Audited; returns how many moved."""
    tasks = list(session.scalars(select(MarkingTask).where(
        MarkingTask.setup_id == setup.id, MarkingTask.marker_id == from_user, MarkingTask.status == "assigned",
        MarkingTask.kind.in_(SCORING_KINDS + ("self",)))))
    taken = set(session.scalars(select(MarkingTask.item_id).where(
        MarkingTask.setup_id == setup.id, MarkingTask.marker_id == to_user,
        MarkingTask.kind.in_(SCORING_KINDS)))) if to_user is not None else set()
    for task in tasks:
        if task.kind == "self":
            task.status = "cancelled"
        elif to_user is not None and task.item_id not in taken:
            task.marker_id, task.assigned_at, task.lease_until = to_user, utcnow(), utcnow() + TASK_LEASE
            taken.add(task.item_id)
        else:
            task.marker_id, task.status, task.assigned_at, task.lease_until = None, "open", None, None
    session.flush()
    moved = sum(t.kind != "self" for t in tasks)
    audit.record(session, principal, "marking.reassign", "marking_setup", setup.id,
                 school_id=None if setup.pooled else setup.school_id,
                 after={"from_user": from_user, "to_user": to_user, "tasks": moved})
    return moved


# --- supervision ------------------------------------------------------------------------------------------------

def progress(session: Session, setup: MarkingSetup) -> dict[str, Any]:
    """Progress of one question and each marker's figures (:mod:`grading.marking.quality`)."""
    from grading.marking import agreement_rate, marker_figures, self_consistency

    states = dict(session.execute(select(MarkingItem.state, func.count()).where(MarkingItem.setup_id == setup.id)
                                  .group_by(MarkingItem.state)).all())
    rows = session.execute(select(MarkingTask.item_id, MarkingTask.kind, MarkingTask.marker_id, MarkingTask.status,
                                  MarkingTask.score).where(MarkingTask.setup_id == setup.id,
                                                           MarkingTask.status != "cancelled")).all()
    markers = markers_of(session, setup.id)
    names = dict(session.execute(select(User.id, User.username).where(User.id.in_(markers))).all())
    scores: dict[int, list[float]] = {m: [] for m in markers}
    firsts: dict[int, list[tuple[int, float]]] = defaultdict(list)  # item -> [(marker, score)]
    own: dict[tuple[int, int], float] = {}
    selfs: dict[int, list[tuple[int, float]]] = defaultdict(list)
    counts: dict[int, dict[str, int]] = {m: {"open": 0, "problems": 0} for m in markers}
    for item_id, kind, marker, status, score in rows:
        if marker in counts:
            counts[marker]["open"] += status == "assigned"
            counts[marker]["problems"] += status == "problem"
        if status != "done" or score is None or marker is None:
            continue
        if kind in SCORING_KINDS:
            scores.setdefault(marker, []).append(score)
            own[(item_id, marker)] = score
            if kind == "first":
                firsts[item_id].append((marker, score))
        elif kind == "self":
            selfs[marker].append((item_id, score))
    figures = marker_figures({m: v for m, v in scores.items()})
    per_marker = []
    for marker in markers:
        pairs = [(s, other) for pair in firsts.values() if len(pair) == 2
                 for (m, s), (_, other) in (pair, pair[::-1]) if m == marker]
        again = [(own[(item, marker)], s) for item, s in selfs.get(marker, []) if (item, marker) in own]
        self_rate, self_diff = self_consistency(again, setup.tolerance)
        f = figures[marker]
        per_marker.append(dict(user_id=marker, username=names.get(marker, ""), scored=f.count,
                               open=counts[marker]["open"], problems=counts[marker]["problems"], mean=f.mean,
                               spread=f.spread, mean_vs_group=f.mean_vs_group, spread_vs_group=f.spread_vs_group,
                               agreement=agreement_rate(pairs, setup.tolerance), self_checks=len(again),
                               self_agreement=self_rate, self_mean_difference=self_diff))
    cropped = session.scalar(select(func.count()).select_from(MarkingItem).where(
        MarkingItem.setup_id == setup.id, MarkingItem.crop_sha256.is_not(None)))
    return dict(setup_id=setup.id, question=setup.question, answers=sum(states.values()), crops=cropped or 0,
                final=states.get("final", 0), waiting_third=states.get("third", 0),
                waiting_ruling=states.get("ruling", 0), problems=states.get("problem", 0),
                tasks_done=sum(1 for r in rows if r.status == "done" and r.kind != "self"),
                tasks_total=sum(1 for r in rows if r.kind != "self"), markers=per_marker)


# --- into grading ---------------------------------------------------------------------------------------------------

def final_scores(session: Session, school_id: str, exam_id: int) -> dict[str, dict[str, float]]:
    """{考号: {question: final score}} of every decided answer of a school's exam (its own marking's and a pooled
    city marking's), for
    :func:`grading.pipeline.grade_sheets` (``subjective``): the 考号 is the one a reviewer's ``exam_id``
    correction gave the sheet, else the one OMR read; a sheet with neither is left out."""
    rows = session.execute(select(MarkingItem.sheet_id, MarkingSetup.question, MarkingItem.final_score,
                                  Sheet.student_id)
                           .join(MarkingSetup, MarkingSetup.id == MarkingItem.setup_id)
                           .join(Sheet, Sheet.id == MarkingItem.sheet_id)
                           .where(MarkingItem.school_id == school_id, MarkingSetup.exam_id == exam_id,
                                  MarkingItem.state == "final")).all()
    if not rows:
        return {}
    corrected = dict(session.execute(select(Correction.sheet_id, Correction.value).where(
        Correction.school_id == school_id, Correction.exam_id == exam_id, Correction.question == "exam_id")
        .order_by(Correction.id)).all())  # the newest correction of a sheet wins
    scores: dict[str, dict[str, float]] = {}
    for sheet_id, question, score, student_id in rows:
        exam_number = corrected.get(sheet_id) or student_id
        if exam_number and score is not None:
            scores.setdefault(exam_number, {})[question] = float(score)
    return scores


# --- the crop ---------------------------------------------------------------------------------------------------

#: Bounds of a marker's crop however large its regions (an answer continued over pages, a region drawn over a whole
#: A3 page): no side longer, no more pixels; the resolution is lowered to fit before cutting.
CROP_MAX_SIDE_PX = 4096
CROP_MAX_PIXELS = 8_000_000
#: Identity areas (考号 grid, name, label) are blanked this far around wherever a part of an answer reaches them
#: (mm); an 考号 grid also this far above its bubbles, where its write-in boxes are printed.
_IDENTITY_MARGIN_MM = 2.0
_GRID_WRITE_IN_MM = 10.0
#: The note on a crop with a part missing: its height per line (px) and the most characters on a line.
_NOTE_LINE_PX = 34
_NOTE_LINE_CHARS = 30


@dataclass(frozen=True)
class ScanPage:
    """One scanned page of a sheet, as cutting a crop from it needs it."""

    page_id: int
    blob_sha256: str
    filename: str
    page_index: int
    # How the workers registered the page (omr.result.PageResult: its template page and page-to-image homography,
    # in the pixels of the image they decoded): the crop reuses it instead of reading the page again.
    page_number: int | None = None
    page_to_image: tuple[tuple[float, ...], ...] | None = None


@dataclass(frozen=True)
class CropSource:
    """What cutting an answer's crop needs, read from the database beforehand (the cut holds no connection):
    the block's regions in order, and every template page holding a part of them (:func:`block_pages`) with the
    sheet's scan of it, None where the sheet lacks that page (missing, or unreadable)."""

    item_id: int
    template: dict[str, Any]
    regions: tuple[str, ...]
    pages: tuple[tuple[int, ScanPage | None], ...]


def _scan_page(session: Session, page: Page) -> ScanPage:
    file = session.get(BatchFile, page.file_id)
    stored = page.result or {}
    matrix = stored.get("page_to_image")
    return ScanPage(page.id, file.sha256, file.filename, page.page_index, stored.get("page"),
                    tuple(tuple(float(v) for v in row) for row in matrix) if matrix else None)


def crop_source(session: Session, setup: MarkingSetup, item: MarkingItem, template: dict[str, Any] | None = None
                ) -> CropSource:
    """The answer's :class:`CropSource`: each page of its 题块 where the sheet keeps it."""
    if template is None:
        template = session.get(Exam, setup.exam_id).template
    regions = question_regions(template, setup.question, setup.regions)
    sheet = session.get(Sheet, item.sheet_id)
    held = _pages_by_number(sheet.page_ids, sheet.result)
    pages = []
    for number in block_pages(template, regions):
        page = session.get(Page, held[number]) if number in held else None
        pages.append((number, _scan_page(session, page) if page is not None else None))
    return CropSource(item.id, template, tuple(regions), tuple(pages))


def _stored_registration(scan: ScanPage, path, image, prepared):
    """(template page, homography in ``image``'s pixels) from the workers' reading of the page, which decoded a
    JPEG at reduced size (``omr.batch.decode_min_side_px``): its homography scaled up to the full-size image.
    None when the page was not registered then."""
    import numpy as np

    from omr.batch import decode_min_side_px
    from omr.load.raster import reduction_for

    if scan.page_to_image is None or not scan.page_number:
        return None
    with open(path, "rb") as handle:
        jpeg = handle.read(2) == b"\xff\xd8"
    rows, columns = image.shape[:2]
    # libjpeg's reduced decode keeps ceil(side / k) pixels of each side; orientation swaps sides, not their minimum
    k = reduction_for(columns, rows, decode_min_side_px(prepared.template)) if jpeg else 1
    scale = np.diag([columns / -(-columns // k), rows / -(-rows // k), 1.0])
    return scan.page_number, scale @ np.asarray(scan.page_to_image, dtype=float)


def _registered_page(service, scan: ScanPage, prepared):
    """(image, template page, homography) of a scanned page decoded at full resolution, placed with the workers'
    registration of it (read again when there is none); None when it cannot be decoded or registered."""
    import numpy as np

    from omr.load import iter_pages
    from omr.read import read_page

    path = service.blobs.path(scan.blob_sha256)
    if not path.is_file():
        return None
    image = None
    pages = iter_pages(path, limits=service.settings.load_limits())
    try:
        for loaded in pages:
            if loaded.page_index == scan.page_index:
                image = loaded.image
                break
    except Exception:  # a file that cannot be decoded again has no crop; the marker reports it
        log.exception("page %d could not be decoded for its crop", scan.page_id)
    finally:
        pages.close()
    if image is None:
        return None
    registered = _stored_registration(scan, path, image, prepared)
    if registered is None:  # not registered by the workers: read it again
        try:
            result = read_page(image, prepared, source=scan.filename, page_index=scan.page_index)
        except Exception:
            log.exception("page %d could not be read again for its crop", scan.page_id)
            return None
        if result.page_to_image is None or result.page is None:
            return None
        registered = result.page, np.asarray(result.page_to_image, dtype=float)
    return image, registered[0], registered[1]


def _identity_boxes(page, marked: Sequence[str]) -> list[tuple[float, float, float, float]]:
    """(x0, y0, x1, y1) mm of what names the student on an expanded template page: labels, 考号/seat grids, the
    name box, and regions of no question unless one of them is ``marked`` (a question-less essay region)."""
    boxes = [(r.x, r.y, r.x + r.w, r.y + r.h) for r in page.barcodes]
    boxes += [(r.x, r.y, r.x + r.w, r.y + r.h) for r in page.regions
              if r.role == "name" or (r.question is None and (r.region or r.id) not in marked)]
    grids: dict[str, list[float]] = {}
    for group in page.groups:
        if group.kind == "id_column" and group.role != "form":
            for b in group.bubbles:
                box = grids.setdefault(group.field_id, [b.x, b.y, b.x, b.y])
                box[:] = [min(box[0], b.x - b.width / 2), min(box[1], b.y - b.height / 2),
                          max(box[2], b.x + b.width / 2), max(box[3], b.y + b.height / 2)]
    boxes += [(x0, y0 - _GRID_WRITE_IN_MM, x1, y1) for x0, y0, x1, y1 in grids.values()]
    m = _IDENTITY_MARGIN_MM
    return [(x0 - m, y0 - m, x1 + m, y1 + m) for x0, y0, x1, y1 in boxes]


def _blank_identity(crop, rect, px_per_mm: float, boxes) -> None:
    """Paint paper over the parts of ``boxes`` (mm) that ``crop`` (``rect`` cut at ``px_per_mm``) shows."""
    rows, columns = crop.shape[:2]
    for x0, y0, x1, y1 in boxes:
        left, right = max(0, int((x0 - rect.x) * px_per_mm)), min(columns, int((x1 - rect.x) * px_per_mm) + 1)
        top, bottom = max(0, int((y0 - rect.y) * px_per_mm)), min(rows, int((y1 - rect.y) * px_per_mm) + 1)
        if left < right and top < bottom:
            crop[top:bottom, left:right] = 255


def _note_banner(lines: Sequence[str], width: int):
    """The note as dark text on paper, ``width`` pixels wide (Chinese in the CJK font the Makefile installs; a
    short English line when the machine has none)."""
    import cv2
    import numpy as np
    from PIL import Image, ImageDraw

    from omr.render import cjk_font, cjk_font_path

    font = cjk_font(24) if cjk_font_path() is not None else None
    if font is None:
        lines = ["NOTE: part of this answer is missing (its page is missing or unreadable)."]
    wrapped = [line[k:k + _NOTE_LINE_CHARS] for line in lines for k in range(0, len(line), _NOTE_LINE_CHARS)]
    height = _NOTE_LINE_PX * len(wrapped) + 12
    canvas = Image.new("L", (max(width, 16 * _NOTE_LINE_CHARS + 24), height), 255)
    draw = ImageDraw.Draw(canvas)
    for row, line in enumerate(wrapped):
        if font is not None:
            draw.text((12, 6 + row * _NOTE_LINE_PX), line, fill=0, font=font)
    banner = np.asarray(canvas, np.uint8).copy()
    if font is None:
        cv2.putText(banner, wrapped[0], (12, 28), cv2.FONT_HERSHEY_SIMPLEX, 0.6, 0, 1, cv2.LINE_AA)
    cv2.rectangle(banner, (1, 1), (banner.shape[1] - 2, banner.shape[0] - 2), 0, 2)
    return banner


def cut_crop(service, source: CropSource) -> bytes | None:
    """The answer's crop as a gray PNG: every part of its 题块's regions in the order named (each region's parts
    in reading order: an answer continued across columns or onto another page), each cut upright from the page
    of the sheet that holds it, at full resolution and one scale for all, and stitched
    (:func:`omr.crops.stitch_crops`), identity areas blanked on every page, scaled to fit
    :data:`CROP_MAX_SIDE_PX` and :data:`CROP_MAX_PIXELS`. A part whose page is missing or unreadable is left out
    and a note in Chinese above the crop says so (the marker reports it as a 问题卷); None when no part can be
    cut."""
    import cv2
    import numpy as np

    from omr.crops import fit_within, stitch_crops
    from omr.read import warp_rect
    from omr.template import region_parts

    from api.service.processing import prepared_template

    prepared = prepared_template(source.template)
    by_region = region_parts(prepared.template)
    parts = [(number, rect) for name in source.regions for number, rect in by_region.get(name, ())]
    if not parts:
        return None
    scans = dict(source.pages)
    pages: dict[int, Any] = {}
    notes = []
    for number in dict.fromkeys(number for number, _ in parts):
        scan = scans.get(number)
        found = _registered_page(service, scan, prepared) if scan is not None else None
        pages[number] = found if found is not None and found[1] == number else None
        if pages[number] is None:
            notes.append(f"第{number}页{'缺失' if scan is None else '无法识别'}")
    scan_px_per_mm = [float(np.sqrt(abs(np.linalg.det(found[2][:2, :2] / found[2][2, 2]))))
                      for found in pages.values() if found is not None]
    if not scan_px_per_mm:
        return None
    # One resolution for every part (pages may be scanned at different ones): the coarsest scan's, at most
    # CROP_PX_PER_MM, and low enough for the stitched crop to fit its bounds.
    width_mm, height_mm = max(r.w for _, r in parts), sum(r.h for _, r in parts)
    budget = min(CROP_MAX_SIDE_PX / max(width_mm, height_mm), (CROP_MAX_PIXELS / (width_mm * height_mm)) ** 0.5)
    px_per_mm = min(CROP_PX_PER_MM, budget, *scan_px_per_mm)
    cut = []
    for number, rect in parts:
        if pages[number] is None:
            continue
        image, _, matrix = pages[number]
        crop = warp_rect(image, matrix, rect.x, rect.y, rect.w, rect.h, px_per_mm)
        _blank_identity(crop, rect, px_per_mm, _identity_boxes(prepared.pages[number - 1].expanded, source.regions))
        cut.append(crop)
    stitched = stitch_crops(cut)
    if notes:
        note = [f"注意：本题答案不完整（{'、'.join(notes)}），此处只显示已有部分。", "请作为问题卷提交给阅卷组长。"]
        stitched = stitch_crops([_note_banner(note, stitched.shape[1]), stitched])
    ok, encoded = cv2.imencode(".png", fit_within(stitched, CROP_MAX_SIDE_PX, CROP_MAX_PIXELS))
    return encoded.tobytes() if ok else None


def keep_crops(service, crops: Sequence[tuple[int, bytes]]) -> None:
    """Store cut crops and note them on their answers (one short write, in turn with the marking writes)."""
    from api.service.jobs import ensure_blob

    stored = [(item_id, service.blobs.put(png), len(png)) for item_id, png in crops]
    with writing(service) as session:
        for item_id, sha, size in stored:
            ensure_blob(session, sha, size, "image/png")
            session.execute(update(MarkingItem).where(MarkingItem.id == item_id).values(crop_sha256=sha)
                            .execution_options(synchronize_session=False))
        session.commit()


# --- one writer at a time on SQLite ----------------------------------------------------------------------------

class _TurnLock:
    """A lock handed to its waiters in the order they came (``threading.Lock`` is not: under load one request
    can lose the race again and again)."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._waiting: deque[threading.Event] = deque()
        self._held = False

    def __enter__(self) -> None:
        with self._guard:
            if not self._held:
                self._held = True
                return
            turn = threading.Event()
            self._waiting.append(turn)
        turn.wait()  # set by the holder's release: the lock is ours

    def __exit__(self, *_exc) -> None:
        with self._guard:
            if self._waiting:
                self._waiting.popleft().set()
            else:
                self._held = False


#: SQLite has one writer at a time, and a writer that finds the lock taken sleeps in SQLite's busy handler
#: (1, 2, 5 … 100 ms steps), which makes the slowest of many markers' requests wait far longer than their share.
#: This process's marking writes queue here instead, in turn; other processes still meet the busy handler.
_SQLITE_WRITER = _TurnLock()


@contextmanager
def writing(service) -> Iterator[Session]:
    """A write session; on SQLite taken in turn with this process's other marking writes."""
    if service.db.dialect != "sqlite":
        with service.db.write() as session:
            yield session
        return
    with _SQLITE_WRITER, service.db.write() as session:
        yield session
