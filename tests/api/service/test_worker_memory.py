"""A worker's memory stays bounded on files the limits accept, however many pages they hold or however they are
encoded: a real `yuejuan worker` process reads each file while its peak resident memory (VmHWM) is measured."""

from __future__ import annotations

import signal
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import select

from api.service.models import Page

from jobs_helpers import job_states, upload, wait_for
from test_worker_kill import start_worker

#: What a worker may use at most, whatever the file (issue 15, finding 4).
MAX_WORKER_MB = 600


def _noisy_tiff(path: Path) -> None:
    """30 A4 frames at 300 dpi, 1-bit, scattered noise (CCITT G4): ~7.5 MB that decode to 260 Mpx."""
    rng = np.random.default_rng(1504)
    height, width = 3508, 2480
    frames = []
    for _ in range(30):
        pixels = np.full((height, width), 255, np.uint8)
        pixels[rng.random((height, width), np.float32) < 0.009] = 0
        frames.append(Image.fromarray(pixels).convert("1"))
    frames[0].save(path, save_all=True, append_images=frames[1:], compression="group4", dpi=(300, 300))


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _rgba16_png(path: Path, side: int = 7745) -> None:
    """A 16-bit RGBA PNG of side x side (just under 60 Mpx, the service's pixel limit), one flat colour: it
    compresses to under half a megabyte and decodes to 480 MB if converted naively."""
    pixel = struct.pack(">4H", 0xE000, 0xE000, 0xE000, 0xFFFF)
    row = b"\x00" + pixel * side  # filter type 0, then the row's pixels
    packer = zlib.compressobj(9)
    body = b"".join(packer.compress(row) for _ in range(side)) + packer.flush()
    header = struct.pack(">IIBBBBB", side, side, 16, 6, 0, 0, 0)  # 16 bits per sample, RGBA
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", body) + _chunk(b"IEND", b""))


def _peak_mb(pid: int) -> float:
    """The process's peak resident memory so far (VmHWM), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM in /proc/<pid>/status")


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads peak memory from /proc")
@pytest.mark.parametrize("make, name, pages", [(_noisy_tiff, "noisy.tif", 30), (_rgba16_png, "rgba16.png", 1)],
                         ids=["tiff-30-noisy-frames", "png-16bit-rgba-7745"])
def test_worker_memory_stays_bounded(make, name, pages, tmp_path, settings, service, client, city):
    make(tmp_path / name)
    response = upload(client, city.a.station, city.exam_id, [(name, (tmp_path / name).read_bytes())])
    assert response.status_code == 202, response.text
    assert response.json()["progress"]["files_received"] == 1  # within the limits: accepted for reading
    batch_id = response.json()["id"]

    log_path = tmp_path / "worker.log"
    process = start_worker(settings, "measured", log_path)
    try:
        wait_for(lambda: job_states(service, batch_id) == {"done": 1} or process.poll() is not None, 600,
                 "the file to be read")
        assert process.poll() is None, log_path.read_text()
        peak = _peak_mb(process.pid)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(30)
    assert peak < MAX_WORKER_MB, f"worker peaked at {peak:.0f} MiB reading {name}"
    with service.db.read() as session:
        stored = session.execute(select(Page.page_index, Page.status, Page.reasons)
                                 .where(Page.batch_id == batch_id).order_by(Page.page_index)).all()
    assert [index for index, _, _ in stored] == list(range(pages))
    assert all(status in ("ok", "flagged", "error") and (status == "ok" or reasons) for _, status, reasons in stored)
