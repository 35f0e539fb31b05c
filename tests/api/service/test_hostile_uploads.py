"""A corpus of bad and hostile files uploaded next to good scans: each refused or read as an error page with a
clear reason, the worker never falls over, and the good pages are read all the same."""

from __future__ import annotations

import tempfile
from pathlib import Path

from sqlalchemy import select

from api.service.models import BatchFile, Page
from api.service.worker import run_worker
from sample_sheets import hostile

from jobs_helpers import upload, zip_of


def _pages_by_file(service, batch_id: str) -> dict[str, list[Page]]:
    rows: dict[str, list[Page]] = {}
    with service.db.read() as session:
        for page, name in session.execute(select(Page, BatchFile.filename).join(BatchFile, BatchFile.id == Page.file_id)
                                          .where(Page.batch_id == batch_id).order_by(BatchFile.seq, Page.page_index)):
            rows.setdefault(name, []).append(page)
    return rows


def test_hostile_corpus_is_refused_or_reported_and_good_pages_still_read(client, service, settings, city,
                                                                       simulated_scans):
    folder, manifest = simulated_scans
    good = [(entry["file"], (folder / entry["file"]).read_bytes()) for entry in manifest["files"][:3]]
    corpus = hostile.corpus()
    bad = [(name, data) for name, (data, _) in corpus.items()]
    archives = [("bomb.zip", hostile.zip_bomb(64)), ("nested.zip", hostile.nested_zip(zip_of([good[0]]))),
                ("escape.zip", hostile.traversal_zip(good[2][1]))]
    # A page of another answer sheet (the A3 card) uploaded to the A4 exam.
    from sample_sheets.simulate import write_batch

    with tempfile.TemporaryDirectory() as other:
        other_manifest = write_batch("cn-a3-100", other, count=1, seed=5, profile="clean", fmt="jpg")
        wrong = [(f"a3-{entry['file']}", (Path(other) / entry["file"]).read_bytes())
                 for entry in other_manifest["files"]]
    files = [good[0], *bad, *archives, *wrong, good[1]]

    response = upload(client, city.a.station, city.exam_id, files)
    assert response.status_code == 202, response.text
    batch = response.json()
    rejected = {r["file"]: r["reason"] for r in batch["rejected"]}
    # Not an image or PDF by its first bytes, whatever its name says: refused at the door with the reason.
    for name in ("zero.jpg", "random.jpg", "page.html.jpg"):
        assert name in rejected and rejected[name], (name, rejected)
    assert any("bomb.zip" in name for name in rejected), rejected
    assert any(name.startswith("nested.zip") for name in rejected), rejected
    assert all(reason.strip() for reason in rejected.values())
    # Nothing was written outside the data folder by the traversal zip's member names.
    assert not Path("/tmp/yuejuan-escape.jpg").exists() and not Path("/etc/yuejuan-escape.jpg").exists()

    handled = run_worker(settings, "hostile-test", service=service, exit_when_idle=True)
    assert handled >= 2
    progress = client.get(f"/api/v1/batches/{batch['id']}", headers=city.a.station).json()["progress"]
    assert progress["status"] == "done" and progress["jobs_queued"] == progress["jobs_running"] == 0

    pages = _pages_by_file(service, batch["id"])
    for name in ("truncated.jpg", "bomb.png", "bomb.tif", "huge-header.jpg", "huge-page.pdf", "tiny.jpg"):
        (page,) = pages[name]
        phrase = corpus[name][1]
        assert page.status == "error" and any(phrase in reason for reason in page.reasons), (name, page.reasons)
    # The A3 card is named for what it is (the service reads against the bundled cards too), not "unreadable".
    a3_pages = [p for name in pages if name.startswith("a3-") for p in pages[name]]
    assert len(a3_pages) == 2
    for page in a3_pages:
        assert page.status == "error" and page.reasons[0].startswith("page of another template cn-a3-100 "), \
            page.reasons
    # The good scans before and after the hostile ones, and the one inside the traversal zip, were read.
    readable = [p for rows in pages.values() for p in rows if p.status != "error"]
    assert len(readable) == 3  # the traversal zip's two members hold the same bytes: read once, one duplicate
    escaped = [name for name in pages if name.startswith("escape.zip")]
    assert len(escaped) == 1, escaped  # its member name is only a label: the bytes are stored by their SHA-256
    assert len(batch["duplicates"]) == 1
    assert {good[0][0], good[1][0]} <= set(pages)
    assert all(pages[name][0].status != "error" for name in (good[0][0], good[1][0]))
    # Every unreadable page is in the review queue with its reason.
    queue = client.get("/api/v1/review", headers=city.a.teacher, params={"batch_id": batch["id"]})
    assert queue.status_code == 200
    assert str(queue.json()["items"]).count("exceeds") >= 3
    a3_items = [i for i in queue.json()["items"] if i["id"] in {p.id for p in a3_pages}]
    assert len(a3_items) == 2
    assert all(i["fix"][0].startswith("这页属于另一份答题卡模板 (cn-a3-100)") and "请在对应考试中上传" in i["fix"][0]
               for i in a3_items), a3_items
    # And so is every file refused at the door: nothing uploaded goes unmentioned.
    listed = {(r["file"], r["reason"]) for r in queue.json()["rejected_files"]}
    assert listed == {(r["file"], r["reason"]) for r in batch["rejected"]}
    assert client.get("/api/v1/review", headers=city.b.teacher).json()["rejected_files"] == []


def test_too_many_files_is_413_and_nothing_is_stored(client, service, city, settings):
    service.settings = settings.model_copy(update={"max_files_per_batch": 3})
    files = [(f"scan{i}.jpg", hostile.jpeg_declaring(16, 16 + i)) for i in range(4)]
    response = upload(client, city.a.station, city.exam_id, files)
    assert response.status_code == 413 and "3" in response.json()["detail"]
    assert client.get("/api/v1/batches", headers=city.a.station).json() == []
