"""网上阅卷's work done outside the markers' requests, by one background thread per service and process:

* **crops ahead**: when answers are loaded, their crops are cut (in the order markers are served them) and kept,
  so a marker's first look at an answer is a file read, not a page decoded and registered again inside the
  request;
* **late regrades**: a final score that changes after the school's exam was graded marks the school's sheets
  again (as a key change does), once for all the late scores of a few seconds (:data:`REGRADE_DELAY_S`) instead of
  once inside every score request.

Nothing here is needed for correctness: a crop not cut yet is cut on first request, and grading always reads
every final score. The thread ends when it has nothing left to do and starts again with the next job.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
import weakref
from dataclasses import dataclass, field

from sqlalchemy import select

from api.service.security import Principal

__all__ = ["MarkingJobs", "jobs_of", "finish_jobs", "REGRADE_DELAY_S", "CROP_BATCH"]

log = logging.getLogger(__name__)

#: A late score's regrade waits this long for the scores that follow it (seconds).
REGRADE_DELAY_S = 5.0
#: Crops cut per database round (read their sources, cut, keep them in one short write).
CROP_BATCH = 16


@dataclass
class _Regrade:
    due: float
    principal: Principal


@dataclass
class MarkingJobs:
    """The background work of one service (see the module's docstring)."""

    service: object
    _cond: threading.Condition = field(default_factory=threading.Condition)
    _crops: dict[int, int] = field(default_factory=dict)  # set-up id -> the last answer id looked at
    _regrades: dict[tuple[str, int], _Regrade] = field(default_factory=dict)  # (school, exam) -> when, who
    _thread: threading.Thread | None = None
    _busy: bool = False

    def cut_crops(self, setup_id: int) -> None:
        """Cut the crops of the set-up's answers that have none yet."""
        with self._cond:
            self._crops.setdefault(setup_id, 0)
            self._start()

    def regrade(self, school_id: str, exam_id: int, principal: Principal) -> None:
        """Regrade the school's exam soon (after :data:`REGRADE_DELAY_S`), if it has been graded."""
        with self._cond:
            pending = self._regrades.get((school_id, exam_id))
            if pending is None:
                self._regrades[(school_id, exam_id)] = _Regrade(time.monotonic() + REGRADE_DELAY_S, principal)
            else:
                pending.principal = principal  # the last score's author asked for it
            self._start()

    def drain(self, timeout: float = 120.0) -> None:
        """Do every pending job now and wait until none is left (tests; a clean shutdown)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            for pending in self._regrades.values():
                pending.due = 0.0
            self._cond.notify_all()
            while self._crops or self._regrades or self._busy:
                if not self._cond.wait(timeout=max(0.0, deadline - time.monotonic())):
                    raise TimeoutError("marking jobs still running")

    def _start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="marking-jobs", daemon=True)
            self._thread.start()
        self._cond.notify_all()

    def _next(self):
        """The next job to do, waiting for a regrade that is not due yet; None when nothing is left."""
        with self._cond:
            while True:
                if _stopping.is_set():
                    self._thread = None
                    self._cond.notify_all()
                    return None
                now = time.monotonic()
                due = [key for key, job in self._regrades.items() if job.due <= now]
                if due:
                    self._busy = True
                    return ("regrade", due[0], self._regrades.pop(due[0]).principal)
                if self._crops:
                    setup_id = next(iter(self._crops))
                    self._busy = True
                    return ("crops", setup_id, self._crops[setup_id])
                if not self._regrades:
                    self._thread = None
                    self._cond.notify_all()
                    return None
                self._cond.wait(timeout=min(job.due for job in self._regrades.values()) - now)

    def _run(self) -> None:
        while (job := self._next()) is not None:
            kind, what, extra = job
            try:
                if kind == "regrade":
                    _regrade(self.service, what[0], what[1], extra)
                else:
                    last = _cut_some(self.service, what, extra)
                    with self._cond:
                        if last is None:
                            self._crops.pop(what, None)
                        else:
                            self._crops[what] = last
            except Exception:  # a background job never takes the service down; the next request tries again
                log.exception("marking job %s %s failed", kind, what)
                if kind == "crops":
                    with self._cond:
                        self._crops.pop(what, None)
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()


#: Each service's jobs while they are in use (an idle one with no thread is dropped, and made again when asked).
_jobs: weakref.WeakValueDictionary[int, MarkingJobs] = weakref.WeakValueDictionary()
_jobs_lock = threading.Lock()
_stopping = threading.Event()


@atexit.register
def _stop_all() -> None:
    """At exit, let each thread finish the batch in hand (a daemon thread killed inside OpenCV or Numba aborts the
    interpreter); what is left undone is done on demand next time."""
    _stopping.set()
    with _jobs_lock:
        threads = [j._thread for j in _jobs.values() if j._thread is not None]
    for thread in threads:
        thread.join(timeout=30)


def finish_jobs(service, timeout: float = 120.0) -> None:
    """Do the service's pending marking jobs now and wait for them (:meth:`MarkingJobs.drain`), if it has any;
    a job that cannot finish in ``timeout`` is logged and left (it is done on demand next time)."""
    with _jobs_lock:
        found = _jobs.get(id(service))
    if found is None or found.service is not service:
        return
    try:
        found.drain(timeout)
    except TimeoutError:
        log.warning("marking jobs still running when the service closed")


def jobs_of(service) -> MarkingJobs:
    """The service's background marking jobs (one per service object in this process)."""
    with _jobs_lock:
        found = _jobs.get(id(service))
        if found is None or found.service is not service:
            found = _jobs[id(service)] = MarkingJobs(service)
        return found


def _cut_some(service, setup_id: int, after: int) -> int | None:
    """Cut and keep the crops of up to :data:`CROP_BATCH` of the set-up's answers after answer ``after`` that
    have none (in id order: the order markers are served them). Returns the last answer id looked at (an answer
    whose page cannot be cut is passed over: its marker reports it), or None when none was left."""
    from api.service import marking
    from api.service.models import Exam, MarkingItem, MarkingSetup

    with service.db.read() as session:
        setup = session.get(MarkingSetup, setup_id)
        if setup is None:
            return False
        items = list(session.scalars(select(MarkingItem).where(
            MarkingItem.setup_id == setup_id, MarkingItem.id > after, MarkingItem.crop_sha256.is_(None),
            MarkingItem.state != "final")
            .order_by(MarkingItem.id).limit(CROP_BATCH)))
        template = session.get(Exam, setup.exam_id).template
        sources = [marking.crop_source(session, setup, item, template) for item in items]
    if not sources:
        return None
    cut = [(source.item_id, marking.cut_crop(service, source)) for source in sources]
    kept = [(item_id, png) for item_id, png in cut if png is not None]
    if kept:
        marking.keep_crops(service, kept)
    return sources[-1].item_id


def _regrade(service, school_id: str, exam_id: int, principal: Principal) -> None:
    """Mark the school's sheets of the exam again with every final score, when it was graded before (its newest
    run's policy); audited as ``marking.regrade``. Graded from a read session, stored in one short write."""
    from api.service import audit, marking
    from api.service.grading_runs import discard_run_files, grade_school, newest_run, store_run
    from api.service.models import Exam

    with service.db.read() as session:
        prior = newest_run(session, school_id, exam_id)
        if prior is None:
            return
        exam_row = session.get(Exam, exam_id)
        graded = grade_school(session, exam_row, school_id, policy=prior.summary.get("policy", "pending"))
        prior_id = prior.id
    with marking.writing(service) as session:
        row = store_run(session, service.settings, graded, exam_row=session.get(Exam, exam_id), school_id=school_id,
                        by=principal.actor)
        audit.record(session, principal, "marking.regrade", "grade_run", row.id, school_id=school_id,
                     before={"run": prior_id}, after={"run": row.id, "exam": exam_id})
        try:
            session.commit()
        except BaseException:
            discard_run_files(service.settings, [row])
            raise
