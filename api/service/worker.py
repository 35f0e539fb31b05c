"""OMR workers: claim a job, read its file, store the pages; forever, surviving bad files and database hiccups.

Two ways to do the reading:

* :func:`run_worker`: claims a few jobs at a time (one transaction) and reads them one after the other in this
  process (`yuejuan serve` starts several such processes; `yuejuan worker` runs one in the foreground, e.g. on
  another machine sharing the database and data folder). Each page goes to a spool (memory, then a temporary
  file) as soon as it is read, so a file of many pages never sits in memory; finished jobs are completed
  together in one transaction, at the latest half a second after they finished and always before a file that
  may hold many pages (TIFF, PDF) is started.
* :func:`run_dask_dispatcher`: claims as many jobs as a Dask cluster has threads and sends
  :func:`api.service.processing.read_file` to it; the cluster's workers must see the data folder (the blob
  store) at the same path.

Either way the leases of the jobs a worker holds are renewed while it reads, and a worker that dies simply lets
them expire: another worker takes its jobs over (see :mod:`api.service.jobs`).
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import socket
import tempfile
import threading
import time
from typing import Any, Callable, Iterable, Iterator, Protocol, TypeVar

from api.service import jobs, processing
from api.service.context import Service, open_service
from api.service.jobs import ClaimedJob
from api.service.settings import Settings
from api.service.storage import BlobStore

__all__ = ["run_worker", "run_dask_dispatcher", "process_job", "default_worker_id", "store_overlays", "StopSignal",
           "SWEEP_SECONDS"]

log = logging.getLogger(__name__)

#: How often a worker looks for batches left unfinished (their last job completed by a worker that then died).
SWEEP_SECONDS = 30.0
#: Jobs a worker claims in one transaction (`yuejuan scan` hands its processes files in fours too): few, so a
#: worker never sits on files an idle one could be reading.
CLAIM_BATCH = 4
#: A finished job waits at most this long for the others of its group before it is stored (between pages).
FLUSH_SECONDS = 0.5
#: After work, an idle worker looks for the next job this often for a while (scanners upload in bursts), then
#: every ``poll_seconds``; it asks with a read (:func:`jobs.waiting`), so looking often locks nothing.
_BRISK_POLL_SECONDS = 0.05
_BRISK_FOR_SECONDS = 3.0
#: Media types whose file may hold many pages: finished jobs are stored before such a file is started.
_MULTI_PAGE = ("image/tiff", "application/pdf")
#: Page records a job keeps in memory before its spool moves to a temporary file.
_SPOOL_MEMORY_BYTES = 4 << 20
#: Tries of a database write whose failure would lose finished work (completing a job), and the first wait.
_DB_TRIES = 6
_DB_BACKOFF_S = 0.5

T = TypeVar("T")


class StopSignal(Protocol):
    """What stops a worker loop: a :class:`threading.Event` or anything with the same two methods."""

    def is_set(self) -> bool: ...

    def wait(self, timeout: float | None = None) -> bool: ...


def default_worker_id() -> str:
    """host:pid:random - unique per worker process, readable in the jobs table."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{secrets.token_hex(3)}"


def _stored_overlay(blobs: BlobStore, page: dict[str, Any]) -> dict[str, Any]:
    """The page with its overlay JPEG (if any) put in the blob store: ``overlay_sha256`` and ``overlay_size``
    in place of the bytes (what :func:`api.service.jobs.complete` stores)."""
    if "overlay_jpeg" not in page:
        return page
    page = dict(page)
    jpeg = page.pop("overlay_jpeg")
    if jpeg:
        page["overlay_sha256"] = blobs.put(jpeg)
        page["overlay_size"] = len(jpeg)
    return page


def store_overlays(blobs: BlobStore, pages: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every page with its overlay put in the blob store (see :func:`_stored_overlay`): a Dask task's result."""
    return [_stored_overlay(blobs, page) for page in pages]


class _Spool:
    """One job's page records as JSON lines, held in memory up to a few MiB and in a temporary file beyond,
    so a worker holds one page at a time however many the file has. Overlays go to the blob store at once."""

    def __init__(self, blobs: BlobStore):
        self.blobs = blobs
        self.file = tempfile.SpooledTemporaryFile(max_size=_SPOOL_MEMORY_BYTES, prefix="yuejuan-pages-")

    def add(self, page: dict[str, Any]) -> None:
        self.file.write(json.dumps(_stored_overlay(self.blobs, page), ensure_ascii=False).encode("utf-8") + b"\n")

    def __iter__(self) -> Iterator[dict[str, Any]]:
        self.file.seek(0)
        for line in self.file:
            yield json.loads(line)

    def close(self) -> None:
        self.file.close()


def _retry(what: str, action: Callable[[], T]) -> T:
    """Run a database action, retrying with backoff when the database is briefly away."""
    from sqlalchemy.exc import InterfaceError, OperationalError

    delay = _DB_BACKOFF_S
    for attempt in range(1, _DB_TRIES + 1):
        try:
            return action()
        except (OperationalError, InterfaceError) as error:  # connection lost, database locked: worth a retry
            if attempt == _DB_TRIES:
                raise
            log.warning("%s failed (attempt %d of %d), retrying in %.1f s: %s", what, attempt, _DB_TRIES, delay,
                        error)
            time.sleep(delay)
            delay = min(delay * 2, 10.0)
    raise AssertionError("unreachable")


class _Leases(threading.Thread):
    """Renews the leases of every job this worker holds (one statement) every third of the lease until stopped;
    notes the jobs whose lease was lost (taken over after it ran out, or given up)."""

    def __init__(self, service: Service, worker_id: str):
        super().__init__(name=f"leases-{worker_id}", daemon=True)
        self.service, self.worker_id = service, worker_id
        self.finished = threading.Event()
        self._lock = threading.Lock()
        self._held: set[int] = set()
        self._lost: set[int] = set()

    def hold(self, job_ids: Iterable[int]) -> None:
        with self._lock:
            self._held.update(job_ids)

    def let_go(self, job_ids: Iterable[int]) -> None:
        with self._lock:
            self._held.difference_update(job_ids)
            self._lost.difference_update(job_ids)

    def lost(self, job_id: int) -> bool:
        with self._lock:
            return job_id in self._lost

    def run(self) -> None:
        lease = self.service.settings.lease_seconds
        while not self.finished.wait(lease / 3):
            with self._lock:
                held = set(self._held)
            if not held:
                continue
            try:
                kept = jobs.renew_many(self.service.db, held, self.worker_id, lease)
            except Exception:  # the database is away: try again next beat; the leases may still hold
                log.exception("renewing the leases of jobs %s failed", sorted(held))
                continue
            with self._lock:
                gone = (held - kept) & self._held  # not those completed meanwhile
                self._lost.update(gone)
            if gone:
                log.warning("lost the lease of job(s) %s (taken over or given up)", sorted(gone))

    def stop(self) -> None:
        self.finished.set()
        self.join()


def _complete(service: Service, worker_id: str, finished: list[tuple[ClaimedJob, _Spool]]) -> set[int]:
    """Store finished jobs in one transaction (retried while the database is away); the ids stored."""
    def attempt() -> set[int]:
        return jobs.complete_many(service.db, worker_id, [(job.job_id, spool) for job, spool in finished])

    ids = [job.job_id for job, _ in finished]
    stored = _retry(f"completing job(s) {ids}", attempt)
    for job_id in sorted(set(ids) - stored):
        log.warning("job %d was taken over by another worker: its result stands, ours is dropped", job_id)
    return stored


def _finish(service: Service, job: ClaimedJob, worker_id: str, pages: list[dict[str, Any]]) -> bool:
    """Complete a job whose pages came back as a list (a Dask task's result)."""
    pages = store_overlays(service.blobs, pages)
    done = _retry(f"completing job {job.job_id}", lambda: jobs.complete(service.db, job.job_id, worker_id, pages))
    if not done:
        log.warning("job %d was taken over by another worker: its result stands, ours is dropped", job.job_id)
    return done


def _give_back(service: Service, job: ClaimedJob, worker_id: str, error: str) -> None:
    try:
        _retry(f"failing job {job.job_id}", lambda: jobs.fail(service.db, job.job_id, worker_id, error,
                                                              max_attempts=service.settings.max_attempts))
    except Exception:  # the lease runs out and another worker retries it
        log.exception("could not give job %d back", job.job_id)


def _read(service: Service, job: ClaimedJob, worker_id: str, profile: Any, leases: _Leases,
          between_pages: Callable[[], None] = lambda: None) -> _Spool | None:
    """Read one claimed job's file into a spool, page by page (``between_pages`` runs after each).

    None when there is nothing to store: the reading raised (the job is given back, :func:`jobs.fail`) or the
    lease was lost (another worker has the job now: its result counts).
    """
    spool = _Spool(service.blobs)
    try:
        # the batch's own profile (its station's or school's when it was uploaded), else the worker's default
        for page in processing.iter_file(job.blob_path, job.template_json,
                                         job.profile if job.profile is not None else profile,
                                         service.settings.load_limits(),
                                         source=job.filename, template_hash=job.template_hash,
                                         others=job.others_json):
            spool.add(page)
            del page  # the records wait in the spool, not here
            if leases.lost(job.job_id):
                break
            between_pages()
    except Exception as error:  # iter_file guards itself; this is the last line, e.g. MemoryError
        log.exception("job %d (%s) failed", job.job_id, job.filename)
        spool.close()
        _give_back(service, job, worker_id, f"{type(error).__name__}: {error}")
        leases.let_go([job.job_id])
        return None
    if leases.lost(job.job_id):
        log.warning("job %d was taken over while we read it: dropping our result", job.job_id)
        spool.close()
        leases.let_go([job.job_id])
        return None
    return spool


class _Group:
    """The jobs of one claim: read one after the other, completed together (see the module's description)."""

    def __init__(self, service: Service, worker_id: str, profile: Any, leases: _Leases):
        self.service, self.worker_id, self.profile, self.leases = service, worker_id, profile, leases
        self.finished: list[tuple[ClaimedJob, _Spool]] = []
        self.oldest = 0.0

    def read(self, job: ClaimedJob) -> None:
        if job.media_type in _MULTI_PAGE:
            self.store()  # a file of many pages may take a while: what is finished does not wait for it
        spool = _read(self.service, job, self.worker_id, self.profile, self.leases, self.store_if_due)
        if spool is not None:
            if not self.finished:
                self.oldest = time.monotonic()
            self.finished.append((job, spool))
        self.store_if_due()

    def store_if_due(self) -> None:
        if self.finished and time.monotonic() - self.oldest >= FLUSH_SECONDS:
            self.store()

    def store(self) -> set[int]:
        finished, self.finished = self.finished, []
        if not finished:
            return set()
        try:
            return _complete(self.service, self.worker_id, finished)
        except Exception:  # completing failed even after retries: the leases expire, another worker retries
            log.exception("job(s) %s could not be completed", [job.job_id for job, _ in finished])
            return set()
        finally:
            self.leases.let_go(job.job_id for job, _ in finished)
            for _, spool in finished:
                spool.close()


def process_job(service: Service, job: ClaimedJob, worker_id: str, profile: Any = None) -> bool:
    """Read one claimed job's file and complete it (pages and ``done`` in one transaction), keeping its lease
    meanwhile.

    Returns True when our result was stored. A reading that raises gives the job back (:func:`jobs.fail`).
    """
    leases = _Leases(service, worker_id)
    leases.hold([job.job_id])
    leases.start()
    try:
        group = _Group(service, worker_id, profile, leases)
        group.read(job)
        return job.job_id in group.store()
    finally:
        leases.stop()


def _hand_back(service: Service, unread: list[ClaimedJob], worker_id: str, leases: _Leases) -> None:
    for job in unread:
        try:
            jobs.release(service.db, job.job_id, worker_id)
        except Exception:  # its lease runs out and another worker takes it
            log.exception("could not hand job %d back", job.job_id)
    leases.let_go(job.job_id for job in unread)


def _pause(settings: Settings, last_work: float | None) -> float:
    """How long an idle worker waits before looking for a job again: briefly just after work, else the poll."""
    if last_work is not None and time.monotonic() - last_work < _BRISK_FOR_SECONDS:
        return min(_BRISK_POLL_SECONDS, settings.poll_seconds)
    return settings.poll_seconds


def _waiting(service: Service) -> bool:
    try:
        return jobs.waiting(service.db)
    except Exception:  # the database is away: let the claim say so (and retry)
        return True


def _sleep(stop: StopSignal | None, seconds: float) -> None:
    if stop is None:
        time.sleep(seconds)
    else:
        stop.wait(seconds)


def _sweep(service: Service) -> None:
    try:
        swept = jobs.sweep(service.db)
        if swept:
            log.info("finalised %d batch(es) left unfinished", swept)
    except Exception:
        log.exception("sweep failed")


def run_worker(settings: Settings, worker_id: str | None = None, stop_event: StopSignal | None = None,
               max_jobs: int | None = None, *, exit_when_idle: bool = False, service: Service | None = None,
               profile: Any = None) -> int:
    """Claim and read jobs until stopped.

    Parameters
    ----------
    settings : Settings
        Database, data folder, lease, poll interval, attempts and load limits.
    worker_id : str, optional
        The lease owner's name (default: host:pid:random).
    stop_event : threading.Event-like, optional
        Set it to stop after the job in hand.
    max_jobs : int, optional
        Stop after this many jobs.
    exit_when_idle : bool
        Stop as soon as no job can be claimed (tests, one-off catch-up runs).
    service : Service, optional
        An open service to use (default: opened from ``settings``, without migrating).
    profile : ScannerProfile, optional
        OMR decision parameters (defaults when omitted).

    Returns
    -------
    int
        Jobs handled (read and completed, or given back).
    """
    worker_id = worker_id or default_worker_id()
    own = service is None
    service = service or open_service(settings, migrate_schema=False)
    handled = 0
    last_sweep = 0.0
    last_work = idle = None
    leases = _Leases(service, worker_id)
    leases.start()
    group = _Group(service, worker_id, profile, leases)
    log.info("worker %s started", worker_id)
    try:
        while not (stop_event is not None and stop_event.is_set()):
            if max_jobs is not None and handled >= max_jobs:
                break
            if time.monotonic() - last_sweep > SWEEP_SECONDS:
                _sweep(service)
                last_sweep = time.monotonic()
            room = CLAIM_BATCH if max_jobs is None else min(CLAIM_BATCH, max_jobs - handled)
            if idle and not _waiting(service):
                _sleep(stop_event, _pause(settings, last_work))
                continue
            try:
                claimed = jobs.claim(service.db, worker_id, settings.lease_seconds, room,
                                     max_attempts=settings.max_attempts, blobs=service.blobs)
            except Exception:  # database away or locked for long: say so, wait, try again
                log.exception("claiming a job failed; retrying")
                _sleep(stop_event, min(max(settings.poll_seconds * 5, 0.5), 10.0))
                continue
            idle = not claimed
            if idle:
                if exit_when_idle:
                    break
                _sleep(stop_event, _pause(settings, last_work))
                continue
            leases.hold(job.job_id for job in claimed)
            for position, job in enumerate(claimed):
                if stop_event is not None and stop_event.is_set():  # stopping: the jobs not started go back
                    _hand_back(service, claimed[position:], worker_id, leases)
                    break
                group.read(job)
                handled += 1
            group.store()
            last_work = time.monotonic()
    finally:
        group.store()
        leases.stop()
        if own:
            service.close()
        log.info("worker %s stopped after %d job(s)", worker_id, handled)
    return handled


def _connect(client_class: Any, address: str, stop: StopSignal | None) -> Any:
    """A client of the scheduler at ``address``, waiting for it as long as it takes (None once stopped)."""
    pause = 1.0
    while not (stop is not None and stop.is_set()):
        try:
            client = client_class(address, set_as_default=False, timeout=10)
        except OSError as error:  # the scheduler is not up (yet): the jobs wait in the queue meanwhile
            log.warning("Dask scheduler %s unreachable (%s); trying again in %.0f s", address, error, pause)
            _sleep(stop, pause)
            pause = min(pause * 2, 30.0)
            continue
        _prepare_workers(client)
        return client
    return None


def _prepare_workers(client: Any) -> None:
    """One OpenCV thread per Dask worker thread, on every worker the scheduler has now or gets later (a plugin,
    registered again after each reconnection, as a restarted scheduler has forgotten it)."""
    from distributed.diagnostics.plugin import WorkerPlugin

    class SingleThreadedOpenCV(WorkerPlugin):
        name = "yuejuan-single-threaded-opencv"

        def setup(self, worker: Any) -> None:
            processing.single_threaded_opencv()

    try:
        client.register_plugin(SingleThreadedOpenCV())
    except Exception:  # an optimisation only
        log.warning("could not limit OpenCV threads on the Dask workers", exc_info=True)


def _cluster_threads(client: Any) -> int | None:
    """Threads of the cluster's workers, or None while the scheduler is away (asked with a timeout, so that a
    lost scheduler never holds the loop that renews the leases)."""
    if client.status != "running":
        return None
    try:
        return sum(client.nthreads(callback_timeout=5).values())
    except Exception:
        return None


def _requeue_lost(service: Service, job: ClaimedJob, worker_id: str) -> None:
    """Queue a held job again without counting an attempt: its task was lost with the scheduler, not failed."""
    try:
        _retry(f"handing job {job.job_id} back", lambda: jobs.release(service.db, job.job_id, worker_id))
    except Exception:  # its lease runs out instead
        log.exception("could not hand job %d back", job.job_id)


def run_dask_dispatcher(settings: Settings, worker_id: str | None = None, stop_event: StopSignal | None = None,
                        max_jobs: int | None = None, *, exit_when_idle: bool = False, service: Service | None = None,
                        client: Any = None) -> int:
    """Send jobs to the Dask cluster at ``settings.dask_scheduler`` and store what comes back.

    Claims up to as many jobs as the cluster has threads (at least 2), submits
    :func:`api.service.processing.read_file` for each, completes each job as its task finishes and renews the
    leases of those still running. A task that raises gives its job back as a failed attempt; a Dask worker
    that dies has its tasks run again by the scheduler. When the scheduler itself goes away (restarted,
    unreachable) its tasks are lost: their jobs return to the queue uncounted, nothing new is claimed, and the
    dispatcher reconnects (the client's own reconnection, then new clients with growing pauses) and carries on.
    On stop the jobs still out are handed back to the queue.

    Parameters are those of :func:`run_worker`; ``client`` is an existing ``distributed.Client`` to use (not
    replaced should its scheduler go away for good: the dispatcher then stops).

    Returns
    -------
    int
        Jobs handled (completed, or given back as failed).
    """
    from distributed import Client

    worker_id = worker_id or default_worker_id()
    own_service = service is None
    service = service or open_service(settings, migrate_schema=False)
    own_client = client is None
    if own_client:
        if not settings.dask_scheduler:
            raise ValueError("no Dask scheduler: set YUEJUAN_DASK_SCHEDULER (tcp://host:8786)")
        client = _connect(Client, settings.dask_scheduler, stop_event)
        if client is None:  # stopped before the cluster answered
            if own_service:
                service.close()
            return 0
    else:
        _prepare_workers(client)
    limits = settings.load_limits()
    lease = settings.lease_seconds
    inflight: dict[Any, ClaimedJob] = {}
    handled = 0
    last_renew = last_sweep = time.monotonic()
    scheduler_away = False
    log.info("dispatcher %s sending work to %s", worker_id, client.scheduler.address)
    try:
        while not (stop_event is not None and stop_event.is_set()):
            if max_jobs is not None and handled >= max_jobs and not inflight:
                break
            if client.status in ("closing", "closed"):  # the client gave up reconnecting: its tasks are gone
                for job in inflight.values():
                    _requeue_lost(service, job, worker_id)
                inflight.clear()
                if not own_client:
                    log.error("the Dask client closed: the dispatcher stops")
                    break
                client = _connect(Client, settings.dask_scheduler, stop_event)
                if client is None:
                    break
                continue
            busy = False
            threads = _cluster_threads(client)
            if (threads is None) != scheduler_away:
                scheduler_away = threads is None
                log.warning("%s", f"the Dask scheduler {settings.dask_scheduler} does not answer: claiming "
                                  f"nothing until it is back" if scheduler_away else "the Dask scheduler is back")
                if not scheduler_away:  # perhaps a new scheduler, which knows nothing of our plugin
                    _prepare_workers(client)
            room = 0 if threads is None else max(2, threads) - len(inflight)
            if max_jobs is not None:
                room = min(room, max_jobs - handled - len(inflight))
            claimed: list[ClaimedJob] = []
            if room > 0:
                try:
                    claimed = jobs.claim(service.db, worker_id, lease, room, max_attempts=settings.max_attempts,
                                         blobs=service.blobs)
                except Exception:
                    log.exception("claiming jobs failed; retrying")
                for job in claimed:
                    try:
                        future = client.submit(processing.read_file, job.blob_path, job.template_json, job.profile,
                                               limits,
                                               source=job.filename, template_hash=job.template_hash,
                                               others=job.others_json, pure=False,
                                               key=f"yuejuan-read-{job.job_id}-{job.attempts}-"
                                                   f"{secrets.token_hex(4)}")
                    except Exception:
                        log.exception("could not send job %d to the cluster; handing it back", job.job_id)
                        _requeue_lost(service, job, worker_id)
                        continue
                    inflight[future] = job
                busy = bool(claimed)
            for future in [f for f in inflight if f.done()]:
                job = inflight.pop(future)
                busy = True
                try:
                    if future.status not in ("finished", "error"):  # cancelled, not by us: lost with the scheduler
                        log.warning("job %d (%s): its task was lost with the Dask scheduler; queued again",
                                    job.job_id, job.filename)
                        _requeue_lost(service, job, worker_id)
                        continue
                    handled += 1
                    if future.status == "finished":
                        _finish(service, job, worker_id, future.result())
                    else:
                        error = future.exception()
                        log.warning("job %d (%s) failed on the cluster: %s", job.job_id, job.filename, error)
                        _give_back(service, job, worker_id, f"Dask task failed: {error}")
                except Exception:  # completing failed even after retries: the lease expires, someone retries
                    log.exception("job %d could not be completed", job.job_id)
                finally:
                    future.release()
            now = time.monotonic()
            if inflight and now - last_renew > lease / 3:
                last_renew = now
                for future, job in list(inflight.items()):
                    try:
                        if not jobs.renew(service.db, job.job_id, worker_id, lease):
                            log.warning("lost the lease of job %d; dropping its task", job.job_id)
                            inflight.pop(future).cancel()
                    except Exception:
                        log.exception("renewing the lease of job %d failed", job.job_id)
            if now - last_sweep > SWEEP_SECONDS:
                _sweep(service)
                last_sweep = now
            if not busy:
                if exit_when_idle and not inflight:
                    break
                _sleep(stop_event, settings.poll_seconds)
    finally:
        for future, job in inflight.items():
            future.cancel()
            try:
                jobs.release(service.db, job.job_id, worker_id)
            except Exception:
                log.exception("could not hand job %d back", job.job_id)
        if own_client and client is not None:
            client.close(timeout=5)
        if own_service:
            service.close()
        log.info("dispatcher %s stopped after %d job(s)", worker_id, handled)
    return handled
