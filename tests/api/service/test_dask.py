"""OMR work sent to a Dask cluster (api/service/worker.run_dask_dispatcher): a real LocalCluster with worker
processes reads an uploaded batch; every page is stored once and the sheets carry the simulator's student ids."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from api.service.models import Job
from api.service.worker import run_dask_dispatcher

from jobs_helpers import check_sheets_against_truth, job_states, pages_by_file, truth_by_page, upload


@pytest.fixture
def dask_cluster():
    from distributed import LocalCluster

    cluster = LocalCluster(n_workers=1, threads_per_worker=2, processes=True, dashboard_address=None)
    try:
        yield cluster
    finally:
        cluster.close()


def test_dispatcher_reads_a_batch_on_a_dask_cluster(client, service, city, simulated_scans, dask_cluster):
    folder, manifest = simulated_scans
    files = [(e["file"], (folder / e["file"]).read_bytes()) for e in manifest["pages"]]
    files.append(("broken.jpg", files[0][1][:5000]))  # a truncated scan: an error page, not a failed task
    response = upload(client, city.a.station, city.exam_id, files)
    assert response.status_code == 202, response.text
    batch_id = response.json()["id"]

    service.settings.dask_scheduler = dask_cluster.scheduler_address
    service.settings.poll_seconds = 0.05
    handled = run_dask_dispatcher(service.settings, "dispatcher", service=service, exit_when_idle=True)
    assert handled == 7

    assert job_states(service, batch_id) == {"done": 7}
    with service.db.read() as session:
        assert set(session.scalars(select(Job.lease_owner))) == {"dispatcher"}
    progress = client.get(f"/api/v1/batches/{batch_id}", headers=city.a.station).json()["progress"]
    assert progress["status"] == "done" and progress["pages_read"] == 7 and progress["pages_failed"] == 1
    broken = pages_by_file(service, batch_id)[("broken.jpg", 0)][0]
    assert broken.status == "error" and broken.reasons and broken.result["source"] == "broken.jpg"
    truth = truth_by_page(folder, manifest)
    truth[("broken.jpg", 0)] = None
    assert check_sheets_against_truth(service, batch_id, truth) == progress["sheets_ok"] >= 4
