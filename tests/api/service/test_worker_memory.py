"""A worker's memory stays bounded on files the limits accept, however many pages they hold or however they are
encoded: a real `yuejuan worker` process reads each file while its peak resident memory (VmHWM) is measured."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import select

from api.service.models import Page
from sample_sheets.hostile import deep_rgba_png, noisy_tiff

from jobs_helpers import job_states, upload, wait_for
from test_worker_kill import start_worker

#: What a worker may use at most, whatever the file (issue 15, finding 4).
MAX_WORKER_MB = 600
#: How much more a worker may use for a 30-page file than for its first page alone (allocator slack).
MAX_GROWTH_MB = 40


def _peak_mb(pid: int) -> float:
    """The process's peak resident memory so far (VmHWM), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM in /proc/<pid>/status")


def _read_by_worker(client, service, city, process, path: Path) -> float:
    """Upload ``path``, let the running worker read it; the worker's peak memory so far (MiB)."""
    response = upload(client, city.a.station, city.exam_id, [(path.name, path.read_bytes())])
    assert response.status_code == 202, response.text
    assert response.json()["progress"]["files_received"] == 1  # within the limits: accepted for reading
    batch_id = response.json()["id"]
    wait_for(lambda: job_states(service, batch_id) == {"done": 1} or process.poll() is not None, 600,
             f"{path.name} to be read")
    assert process.poll() is None, "the worker died"
    with service.db.read() as session:
        stored = session.execute(select(Page.page_index, Page.status, Page.reasons)
                                 .where(Page.batch_id == batch_id).order_by(Page.page_index)).all()
    with Image.open(path) as image:
        frames = getattr(image, "n_frames", 1)
    assert [index for index, _, _ in stored] == list(range(frames))  # every page stored, once
    assert all(status in ("ok", "flagged", "error") and (status == "ok" or reasons) for _, status, reasons in stored)
    return _peak_mb(process.pid)


@pytest.fixture
def worker_process(settings, tmp_path):
    """A real `yuejuan worker` on the test's service; its log is shown if it fails."""
    process = start_worker(settings, "measured", tmp_path / "worker.log")
    yield process
    process.send_signal(signal.SIGTERM)
    process.wait(30)


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads peak memory from /proc")
def test_worker_memory_does_not_grow_with_the_pages_of_a_file(tmp_path, service, client, city, worker_process):
    # 30 gray A4 frames at 300 dpi sprinkled with dark specks: ~7.5 MB that decode to 260 Mpx
    (tmp_path / "one.tif").write_bytes(noisy_tiff(frames=1))
    (tmp_path / "thirty.tif").write_bytes(noisy_tiff())
    one_page = _read_by_worker(client, service, city, worker_process, tmp_path / "one.tif")
    thirty_pages = _read_by_worker(client, service, city, worker_process, tmp_path / "thirty.tif")
    assert thirty_pages < MAX_WORKER_MB, f"worker peaked at {thirty_pages:.0f} MiB"
    # each page is stored and let go as it is read: 29 more pages cost no more than one
    assert thirty_pages - one_page < MAX_GROWTH_MB, f"{one_page:.0f} MiB for 1 page, {thirty_pages:.0f} MiB for 30"


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads peak memory from /proc")
def test_worker_memory_on_a_huge_flat_16_bit_png(tmp_path, service, client, city, worker_process):
    # 60 Mpx (the service's pixel limit) of 16-bit RGBA in ~0.7 MB: 480 MB if decoded as stored
    (tmp_path / "rgba16.png").write_bytes(deep_rgba_png())
    peak = _read_by_worker(client, service, city, worker_process, tmp_path / "rgba16.png")
    assert peak < MAX_WORKER_MB, f"worker peaked at {peak:.0f} MiB"
