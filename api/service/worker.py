"""OMR workers: claim a job, read its file, store the pages; forever, surviving bad files and database hiccups.

Two ways to do the reading:

* :func:`run_worker`: one job at a time in this process (`yuejuan serve` starts several such processes;
  `yuejuan worker` runs one in the foreground, e.g. on another machine sharing the database and data folder).
* :func:`run_dask_dispatcher`: claims as many jobs as a Dask cluster has threads and sends
  :func:`api.service.processing.read_file` to it; the cluster's workers must see the data folder (the blob
  store) at the same path.

Either way a job's lease is renewed while its file is read, and a worker that dies simply lets its lease expire:
another worker takes the job over (see :mod:`api.service.jobs`).
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
from typing import Any, Callable, Protocol, TypeVar

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


def store_overlays(blobs: BlobStore, pages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Put each page's overlay JPEG in the blob store; the pages come back with ``overlay_sha256`` and
    ``overlay_size`` in place of the bytes (what :func:`api.service.jobs.complete` stores)."""
    stored = []
    for page in pages:
        page = dict(page)
        jpeg = page.pop("overlay_jpeg", None)
        if jpeg:
            page["overlay_sha256"] = blobs.put(jpeg)
            page["overlay_size"] = len(jpeg)
        stored.append(page)
    return stored


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


class _Heartbeat(threading.Thread):
    """Renews one job's lease every third of the lease until stopped; notes when the lease is lost."""

    def __init__(self, service: Service, job: ClaimedJob, worker_id: str):
        super().__init__(name=f"lease-{job.job_id}", daemon=True)
        self.service, self.job, self.worker_id = service, job, worker_id
        self.finished = threading.Event()
        self.lost = False

    def run(self) -> None:
        lease = self.service.settings.lease_seconds
        while not self.finished.wait(lease / 3):
            try:
                if not jobs.renew(self.service.db, self.job.job_id, self.worker_id, lease):
                    log.warning("lost the lease of job %d (taken over or given up)", self.job.job_id)
                    self.lost = True
                    return
            except Exception:  # the database is away: try again next beat; the lease may still hold
                log.exception("renewing the lease of job %d failed", self.job.job_id)

    def stop(self) -> None:
        self.finished.set()
        self.join()


def _finish(service: Service, job: ClaimedJob, worker_id: str, pages: list[dict[str, Any]]) -> bool:
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


def process_job(service: Service, job: ClaimedJob, worker_id: str, profile: Any = None) -> bool:
    """Read one claimed job's file and complete it (pages and ``done`` in one transaction).

    Returns True when our result was stored. A reading that raises gives the job back (:func:`jobs.fail`).
    """
    heartbeat = _Heartbeat(service, job, worker_id)
    heartbeat.start()
    try:
        pages = processing.read_file(job.blob_path, job.template_json, profile, service.settings.load_limits(),
                                     source=job.filename, template_hash=job.template_hash)
    except Exception as error:  # read_file guards itself; this is the last line, e.g. MemoryError
        log.exception("job %d (%s) failed", job.job_id, job.filename)
        heartbeat.stop()
        _give_back(service, job, worker_id, f"{type(error).__name__}: {error}")
        return False
    heartbeat.stop()
    if heartbeat.lost:  # another worker has the job now: its result counts, ours would be refused anyway
        log.warning("job %d was taken over while we read it: dropping our result", job.job_id)
        return False
    return _finish(service, job, worker_id, pages)


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
    log.info("worker %s started", worker_id)
    try:
        while not (stop_event is not None and stop_event.is_set()):
            if max_jobs is not None and handled >= max_jobs:
                break
            if time.monotonic() - last_sweep > SWEEP_SECONDS:
                _sweep(service)
                last_sweep = time.monotonic()
            try:
                claimed = jobs.claim(service.db, worker_id, settings.lease_seconds, 1,
                                     max_attempts=settings.max_attempts, blobs=service.blobs)
            except Exception:  # database away or locked for long: say so, wait, try again
                log.exception("claiming a job failed; retrying")
                _sleep(stop_event, min(max(settings.poll_seconds * 5, 0.5), 10.0))
                continue
            if not claimed:
                if exit_when_idle:
                    break
                _sleep(stop_event, settings.poll_seconds)
                continue
            for job in claimed:
                try:
                    process_job(service, job, worker_id, profile)
                except Exception:  # completing failed even after retries: the lease expires, another worker retries
                    log.exception("job %d could not be completed", job.job_id)
                handled += 1
    finally:
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
                        future = client.submit(processing.read_file, job.blob_path, job.template_json, None, limits,
                                               source=job.filename, template_hash=job.template_hash, pure=False,
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
