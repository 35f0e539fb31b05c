"""The durable job table (api/service/jobs.py): claims, leases, take-overs, give-ups and finishing a batch exactly
once, on SQLite and on PostgreSQL."""

from __future__ import annotations

import datetime as dt
import threading

from sqlalchemy import func, select, update

from api.service import jobs
from api.service.models import Batch, Job, Page, Sheet, utcnow

from jobs_helpers import batch_status, fake_pages, job_states, seed_batch

LEASE = 60.0


def _expire(service, job_id: int) -> None:
    """Make a job's lease run out now (as if its worker had died a lease ago)."""
    with service.db.write() as session:
        session.execute(update(Job).where(Job.id == job_id).values(lease_until=utcnow() - dt.timedelta(seconds=1)))
        session.commit()


def _page_rows(service, batch_id: str) -> list[tuple[int, int, str | None]]:
    with service.db.read() as session:
        return session.execute(select(Page.file_id, Page.page_index, Page.worker).where(Page.batch_id == batch_id)
                               .order_by(Page.file_id, Page.page_index)).all()


def test_claim_is_oldest_first_and_exclusive_while_leased(service):
    assert not jobs.waiting(service.db)
    batch = seed_batch(service, files=3)
    assert jobs.waiting(service.db)  # what an idle worker asks (a read) before it claims (a write)
    first = jobs.claim(service.db, "w1", LEASE, limit=2, blobs=service.blobs)
    assert [j.filename for j in first] == ["scan0.jpg", "scan1.jpg"]
    assert all(j.attempts == 1 and j.batch_id == batch and j.blob_path.endswith(j.sha256) for j in first)
    assert first[0].template_hash == first[1].template_hash and '"id":"cn-a4-55"' in first[0].template_json
    second = jobs.claim(service.db, "w2", LEASE, limit=5)
    assert [j.filename for j in second] == ["scan2.jpg"]  # the leased ones are not offered again
    assert jobs.claim(service.db, "w3", LEASE) == [] and not jobs.waiting(service.db)
    assert jobs.renew(service.db, first[0].job_id, "w1", LEASE)
    assert not jobs.renew(service.db, first[0].job_id, "w2", LEASE)  # only the holder renews
    assert job_states(service, batch) == {"running": 3}


def test_a_job_tried_before_is_claimed_alone(service):
    """A worker killed by a file (its leases run out) must not use up the attempts of the files it claimed
    with it: when the jobs come back, the one tried before is claimed on its own, the others go on together."""
    batch = seed_batch(service, files=4)
    doomed = jobs.claim(service.db, "doomed", LEASE, limit=4)
    assert [j.attempts for j in doomed] == [1, 1, 1, 1]
    assert jobs.complete_many(service.db, "doomed", [(j.job_id, fake_pages(j.filename, ["2026010001"]))
                                                     for j in doomed[2:]]) == {j.job_id for j in doomed[2:]}
    for job in doomed[:2]:
        _expire(service, job.job_id)
    assert [(j.filename, j.attempts) for j in jobs.claim(service.db, "w", LEASE, limit=4)] == [("scan0.jpg", 2)]
    assert [(j.filename, j.attempts) for j in jobs.claim(service.db, "w", LEASE, limit=4)] == [("scan1.jpg", 2)]
    assert job_states(service, batch) == {"running": 2, "done": 2}
    # stored, renewed and completed together, each on its own lease
    assert jobs.renew_many(service.db, [j.job_id for j in doomed], "w", LEASE) == {doomed[0].job_id,
                                                                                   doomed[1].job_id}
    assert jobs.complete_many(service.db, "doomed", [(doomed[0].job_id, [])]) == set()  # no longer its lease


def test_expired_lease_taken_over_and_late_complete_refused(any_service):
    service = any_service
    batch = seed_batch(service, files=2)
    (slow,) = jobs.claim(service.db, "slow", LEASE)
    _expire(service, slow.job_id)
    taken = jobs.claim(service.db, "fast", LEASE, limit=2)
    assert [j.job_id for j in taken] == [slow.job_id] and taken[0].attempts == 2  # a retry is claimed alone
    taken += jobs.claim(service.db, "fast", LEASE, limit=2)
    assert not jobs.renew(service.db, slow.job_id, "slow", LEASE)  # the heartbeat learns it lost the job
    for job in taken:
        assert jobs.complete(service.db, job.job_id, "fast", fake_pages(job.filename, [f"20260100{job.job_id:02d}"]))
    # The first worker finishes late: refused, nothing stored twice, and its fail() cannot requeue the job either.
    assert not jobs.complete(service.db, slow.job_id, "slow", fake_pages(slow.filename, ["2026019999"]))
    assert not jobs.fail(service.db, slow.job_id, "slow", "late")
    rows = _page_rows(service, batch)
    assert len(rows) == 2 and {worker for *_, worker in rows} == {"fast"}
    assert job_states(service, batch) == {"done": 2}
    assert batch_status(service, batch) == "done"
    with service.db.read() as session:
        assert "2026019999" not in session.scalars(select(Sheet.student_id)).all()


def test_give_up_after_max_attempts_records_an_error_page(service):
    batch = seed_batch(service, files=2)
    (job,) = jobs.claim(service.db, "a", LEASE, max_attempts=2)
    _expire(service, job.job_id)
    (again,) = jobs.claim(service.db, "b", LEASE, max_attempts=2)
    assert again.job_id == job.job_id and again.attempts == 2
    _expire(service, job.job_id)
    # The third claim gives the job up (attempts reached max_attempts) and takes the next one instead.
    (other,) = jobs.claim(service.db, "c", LEASE, max_attempts=2)
    assert other.job_id != job.job_id
    with service.db.read() as session:
        failed = session.get(Job, job.job_id)
        assert failed.status == "failed" and "gave up after 2 attempts" in failed.error
        (page,) = session.scalars(select(Page).where(Page.file_id == job.file_id)).all()
    assert page.status == "error" and page.page_index == 0 and "gave up after 2 attempts" in page.reasons[0]
    assert page.result["source"] == job.filename
    assert batch_status(service, batch) == "processing"  # one job still running
    assert jobs.complete(service.db, other.job_id, "c", fake_pages(other.filename, ["2026010001"]))
    assert batch_status(service, batch) == "done"
    assert not jobs.complete(service.db, job.job_id, "b", fake_pages(job.filename, ["2026010002"]))


def test_fail_requeues_then_gives_up_and_release_does_not_count(service):
    batch = seed_batch(service, files=1)
    (job,) = jobs.claim(service.db, "a", LEASE)
    assert jobs.release(service.db, job.job_id, "a")
    with service.db.read() as session:
        assert session.get(Job, job.job_id).attempts == 0  # a shutdown is not a failed attempt
    (job,) = jobs.claim(service.db, "a", LEASE)
    assert jobs.fail(service.db, job.job_id, "a", "MemoryError: boom", max_attempts=2)
    with service.db.read() as session:
        row = session.get(Job, job.job_id)
        assert (row.status, row.error, row.lease_owner) == ("queued", "MemoryError: boom", None)
    (job,) = jobs.claim(service.db, "b", LEASE)
    assert job.attempts == 2
    assert jobs.fail(service.db, job.job_id, "b", "MemoryError: boom", max_attempts=2)
    assert job_states(service, batch) == {"failed": 1}
    (page,) = (p for p in _page_rows(service, batch))
    assert page[1] == 0
    with service.db.read() as session:
        assert session.scalar(select(Page.reasons)) == ["file not read: gave up after 2 attempts: MemoryError: boom"]
        assert session.scalar(select(func.count()).select_from(Sheet)) == 0  # an error page makes no sheet
    assert batch_status(service, batch) == "done"


def test_batch_finalised_exactly_once_with_sheets(any_service):
    service = any_service
    batch = seed_batch(service, files=3)
    claimed = jobs.claim(service.db, "w", LEASE, limit=3)
    students = ["2026010001", "2026010002", "2026010003"]
    for job, student in zip(claimed[:2], students):
        assert jobs.complete(service.db, job.job_id, "w", fake_pages(job.filename, [student]))
    assert batch_status(service, batch) == "processing"
    # The last job's pages are stored without the usual finalise (a worker dying right after its commit) ...
    last = claimed[2]
    with service.db.write() as session:
        session.execute(update(Job).where(Job.id == last.job_id).values(status="done"))
        session.commit()
    assert batch_status(service, batch) == "processing"
    # ... so concurrent finalisers race: exactly one wins, and the sweep finds nothing left to do.
    results = []
    threads = [threading.Thread(target=lambda: results.append(jobs.finalize_batch_if_done(service.db, batch)))
               for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False, False, False, True]
    assert jobs.sweep(service.db) == 0
    with service.db.read() as session:
        finished = session.get(Batch, batch)
        assert finished.status == "done" and finished.finished_at is not None
        sheets = session.scalars(select(Sheet).where(Sheet.batch_id == batch).order_by(Sheet.sheet_index)).all()
    assert [s.student_id for s in sheets] == students[:2]
    assert all(s.status == "ok" and len(s.page_ids) == 1 for s in sheets)


def test_sweep_finishes_a_batch_left_processing(service):
    batch = seed_batch(service, files=1)
    (job,) = jobs.claim(service.db, "w", LEASE)
    with service.db.write() as session:
        session.execute(update(Job).where(Job.id == job.job_id).values(status="done"))
        session.commit()
    assert jobs.sweep(service.db) == 1
    assert jobs.sweep(service.db) == 0
    assert batch_status(service, batch) == "done"


def test_concurrent_claimants_never_share_a_job(any_service):
    service = any_service
    batch = seed_batch(service, files=24)
    taken: dict[str, list[int]] = {}

    def claimant(name: str) -> None:
        mine = taken.setdefault(name, [])
        while claimed := jobs.claim(service.db, name, LEASE, limit=2):
            mine.extend(job.job_id for job in claimed)

    threads = [threading.Thread(target=claimant, args=(f"w{i}",)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    everything = [job_id for ids in taken.values() for job_id in ids]
    assert len(everything) == 24 and len(set(everything)) == 24
    assert job_states(service, batch) == {"running": 24}
