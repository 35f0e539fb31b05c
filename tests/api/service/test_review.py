"""The review queue, sheets, pages, page images and overlays, corrections and the audit log, through HTTP.

The scans are the simulator's (``simulated_scans``), read in-process and stored as the workers would store them
(``review_helpers.ingest``): sheets 1-4 as JPEG files, sheets 5 and 6 in one two-page TIFF, a page that is no
answer sheet and a file that is no image.
"""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from api.service.models import AuditEntry, Correction, Page, Sheet
from review_helpers import flagged_sheets, setup_school
from service_city import sample_exam

API = "/api/v1"


@pytest.fixture
def school_a(client, service, city, simulated_scans):
    ingested, frames = setup_school(client, service, city.a, city.exam_id, simulated_scans,
                                    stored_overlays=("batch-0002-p1.jpg",))
    return ingested, frames


def _queue(client, headers, **params) -> list[dict]:
    """Every item of the review queue, page by page."""
    items, cursor, seen = [], None, 0
    while True:
        query = dict(params, **({"cursor": cursor} if cursor else {}))
        response = client.get(f"{API}/review", headers=headers, params=query)
        assert response.status_code == 200, response.text
        body = response.json()
        items += body["items"]
        cursor = body["next_cursor"]
        seen += 1
        assert seen < 50
        if cursor is None:
            return items


def _image(response) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(response.content)))


def test_review_queue_lists_flagged_sheets_and_unreadable_pages(client, service, city, school_a):
    ingested, _ = school_a
    flagged = flagged_sheets(service, city.a.id)
    assert flagged, "the simulated set has a sheet OMR flags (a double mark)"
    queue = _queue(client, city.a.teacher, limit=500)
    sheets = [i for i in queue if i["kind"] == "sheet"]
    pages = [i for i in queue if i["kind"] == "page"]
    assert [(i["id"], i["reasons"]) for i in sheets] == [(s.id, s.reasons) for s in flagged]
    assert any(r.startswith(("multiple marks: Q", "uncertain marks: Q")) for i in sheets for r in i["reasons"])
    assert all(len(i["fix"]) == len(i["reasons"]) and i["page_ids"] for i in sheets)
    unreadable = {ingested.pages["blank.png"][0], ingested.pages["junk.jpg"][0]}
    assert {i["id"] for i in pages} == unreadable
    junk = next(i for i in pages if i["id"] == ingested.pages["junk.jpg"][0])
    assert "not an image" in junk["reasons"][0]
    # one item per page of the queue: the same items, each once
    assert _queue(client, city.a.admin, limit=1) == queue
    assert _queue(client, city.a.teacher, batch_id="no-such-batch") == []
    assert _queue(client, city.a.teacher, exam_id=city.exam_id + 99) == []
    assert _queue(client, city.a.teacher, exam_id=city.exam_id, batch_id=ingested.batch_id) == queue
    # the municipal system names the school; the other school's queue is empty; stations may not look
    assert client.get(f"{API}/review", headers=city.municipal).status_code == 422
    assert _queue(client, city.municipal, school_id=city.a.id) == queue
    assert _queue(client, city.b.teacher) == []
    assert client.get(f"{API}/review", headers=city.b.teacher, params={"school_id": city.a.id}).status_code == 404
    assert client.get(f"{API}/review", headers=city.a.station).status_code == 403
    assert client.get(f"{API}/review", headers=city.a.teacher, params={"limit": 501}).status_code == 422
    assert client.get(f"{API}/review", headers=city.a.teacher, params={"cursor": "x1"}).status_code == 422


def test_sheet_page_image_and_overlay(client, service, city, school_a, simulated_scans):
    ingested, frames = school_a
    folder, manifest = simulated_scans
    sheet_id = ingested.sheet_ids[0]
    sheet = client.get(f"{API}/sheets/{sheet_id}", headers=city.a.teacher)
    assert sheet.status_code == 200
    body = sheet.json()
    assert body["student_id"] == manifest["pages"][0]["student_id"] and len(body["result"]["questions"]) == 55
    assert body["corrections"] == [] and body["page_ids"] == ingested.pages["batch-0001-p1.jpg"]

    jpeg_page = ingested.pages["batch-0001-p1.jpg"][0]
    page = client.get(f"{API}/pages/{jpeg_page}", headers=city.a.teacher).json()
    assert page["filename"] == "batch-0001-p1.jpg" and page["result"]["student_id"] == body["student_id"]

    # a JPEG file: its stored bytes
    image = client.get(f"{API}/pages/{jpeg_page}/image", headers=city.a.teacher)
    assert image.status_code == 200 and image.headers["content-type"] == "image/jpeg"
    assert image.content == (folder / "batch-0001-p1.jpg").read_bytes()
    # page 2 of a TIFF: that page, extracted, as PNG (lossless: the very pixels)
    second = ingested.pages["sheets-5-6.tif"][1]
    image = client.get(f"{API}/pages/{second}/image", headers=city.a.teacher)
    assert image.status_code == 200 and image.headers["content-type"] == "image/png"
    assert np.array_equal(_image(image), frames[1])

    # the stored overlay as stored (with its own media type); another drawn now (JPEG, as workers store them):
    # colour, the size of the page as read (~100 dpi A4)
    stored = ingested.pages["batch-0002-p1.jpg"][0]
    overlay = client.get(f"{API}/pages/{stored}/overlay", headers=city.a.teacher)
    assert overlay.status_code == 200 and overlay.headers["content-type"] == "image/png"
    with service.db.read() as session:
        sha = session.get(Page, stored).overlay_sha256
    assert sha and overlay.content == service.blobs.read(sha)
    # a JPEG is read at about 100 dpi (decoded reduced), a TIFF page at its own size
    for page_id, widths in ((jpeg_page, (780, 1000)), (second, (frames[1].shape[1],) * 2)):
        drawn = client.get(f"{API}/pages/{page_id}/overlay", headers=city.a.teacher)
        assert drawn.status_code == 200 and drawn.headers["content-type"] == "image/jpeg"
        pixels = _image(drawn)
        height, width, channels = pixels.shape
        assert channels == 3 and widths[0] <= width <= widths[1] and 1.38 < height / width < 1.45
        assert (pixels[..., 0] != pixels[..., 2]).sum() > 500  # coloured rings: what OMR read is drawn
        # drawn once, then kept: linked from the page and sent as stored the next time
        with service.db.read() as session:
            sha = session.get(Page, page_id).overlay_sha256
        assert sha and service.blobs.read(sha) == drawn.content
        assert client.get(f"{API}/pages/{page_id}/overlay", headers=city.a.teacher).content == drawn.content
    # a page that is no sheet still has a picture; a file that is no image has none
    blank = ingested.pages["blank.png"][0]
    assert client.get(f"{API}/pages/{blank}/overlay", headers=city.a.teacher).status_code == 200
    assert client.get(f"{API}/pages/{blank}/image", headers=city.a.teacher).headers["content-type"] == "image/png"
    junk = ingested.pages["junk.jpg"][0]
    assert client.get(f"{API}/pages/{junk}/image", headers=city.a.teacher).status_code == 404
    assert client.get(f"{API}/pages/{junk}/overlay", headers=city.a.teacher).status_code == 404
    assert client.get(f"{API}/pages/{junk}", headers=city.a.teacher).json()["status"] == "error"
    # stations may not see pages; the municipal system may; nothing that does not exist
    for path in (f"/sheets/{sheet_id}", f"/pages/{jpeg_page}", f"/pages/{jpeg_page}/image",
                 f"/pages/{jpeg_page}/overlay"):
        assert client.get(API + path, headers=city.a.station).status_code == 403
        assert client.get(API + path, headers=city.municipal).status_code == 200
    assert client.get(f"{API}/sheets/999999", headers=city.a.teacher).status_code == 404
    assert client.get(f"{API}/pages/999999/image", headers=city.a.teacher).status_code == 404


def _score(client, city, exam_id: str) -> dict:
    response = client.get(f"{API}/exams/{city.exam_id}/results/{exam_id}", headers=city.a.teacher)
    assert response.status_code == 200, response.text
    return response.json()


def test_correction_changes_the_score_and_is_audited(client, service, city, school_a):
    flagged = flagged_sheets(service, city.a.id)[0]
    question = next(r for r in flagged.reasons if r.startswith("multiple marks: "))[len("multiple marks: "):]
    question = question.split(",")[0].strip()
    read = flagged.result["questions"][question]["marked"]
    definition = client.get(f"{API}/exams/{city.exam_id}", headers=city.a.teacher).json()["definition"]
    key = next(q for q in definition["questions"] if q["id"] == question)
    answer = key["answers"][0]
    assert client.post(f"{API}/exams/{city.exam_id}/grade", headers=city.a.teacher).status_code == 201
    before = _score(client, city, flagged.student_id)
    assert before["scores"][question] == 0  # two marks on a single-choice question score nothing

    response = client.post(f"{API}/sheets/{flagged.id}/corrections", headers=city.a.teacher,
                           json={"corrections": [{"question": question.lower(), "value": answer.lower(),
                                                  "reason": "erasure residue, checked on paper"}]})
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["applied"] == [{"question": question, "before": read, "after": answer,
                                "reason": "erasure residue, checked on paper"}]
    assert body["sheet"]["resolved"] and body["uncovered"] == []
    assert [c["value"] for c in body["sheet"]["corrections"]] == [answer.lower()]
    queue = client.get(f"{API}/review", headers=city.a.teacher).json()["items"]
    assert flagged.id not in [i["id"] for i in queue if i["kind"] == "sheet"]

    graded = client.post(f"{API}/exams/{city.exam_id}/grade", headers=city.a.teacher).json()
    assert graded["corrections_applied"] == 1
    after = _score(client, city, flagged.student_id)
    assert after["scores"][question] == key["points"]
    assert after["total"] == pytest.approx(before["total"] + key["points"])

    log = client.get(f"{API}/audit", headers=city.a.admin, params={"action": "correction.create"}).json()["items"]
    assert len(log) == 1
    entry = log[0]
    assert entry["actor"] == f"user:teacher-{city.a.id}" and entry["object_id"] == str(flagged.id)
    assert entry["before"] == {"question": question, "value": read}
    assert entry["after"]["value"] == answer and entry["school_id"] == city.a.id
    resolved = client.get(f"{API}/audit", headers=city.a.admin, params={"object_type": "sheet"}).json()["items"]
    assert [e["action"] for e in resolved] == ["sheet.resolve", "correction.create"]  # newest first
    assert client.get(f"{API}/audit", headers=city.a.teacher).status_code == 403
    assert client.get(f"{API}/audit", headers=city.a.station).status_code == 403
    other = client.get(f"{API}/audit", headers=city.b.admin, params={"action": "correction.create"})
    assert other.json()["items"] == []
    city_log = client.get(f"{API}/audit", headers=city.municipal,
                          params={"school_id": city.a.id, "action": "correction.create"}).json()["items"]
    assert city_log == log


def test_corrections_are_checked_against_the_exam(client, service, city, school_a):
    sheet_id = school_a[0].sheet_ids[1]
    url = f"{API}/sheets/{sheet_id}/corrections"

    def post(body, headers=city.a.teacher):
        return client.post(url, headers=headers, json=body)

    unknown = post({"corrections": [{"question": "Q99", "value": "A"}]})
    assert unknown.status_code == 422 and "Q99 is not a question" in unknown.json()["detail"][0]
    option = post({"corrections": [{"question": "Q2", "value": "A"}, {"question": "Q1", "value": "E"}]})
    assert option.status_code == 422
    assert option.json()["detail"] == ["correction 2: Q1: 'E' not among options A–D"]
    too_many = post({"corrections": [{"question": "Q56", "value": "99"}]})
    assert too_many.status_code == 422 and "above its" in too_many.json()["detail"][0]
    assert post({"corrections": [{"question": "absent", "value": "maybe"}]}).status_code == 422
    assert post({"corrections": [{"question": "exam_id", "value": "2.0260E+09"}]}).status_code == 422
    # strict bodies: no coercion, no unknown fields
    assert post({"corrections": [{"question": "Q1", "value": 1}]}).status_code == 422
    assert post({"corrections": [], "resolved": 1}).status_code == 422
    assert post({"corrections": [{"question": "Q1", "value": "A", "sheet": 3}]}).status_code == 422
    assert post({"corrections": [{"question": "../../Q1", "value": "A"}]}).status_code == 422
    # people of the sheet's school only
    good = {"corrections": [{"question": "Q1", "value": "A"}]}
    assert post(good, city.a.station).status_code == 403
    assert post(good, city.municipal).status_code == 403
    assert post(good, city.b.teacher).status_code == 404
    with service.db.read() as session:
        assert session.scalar(select(func.count()).select_from(Correction)) == 0
        assert session.scalar(select(func.count()).select_from(AuditEntry)
                              .where(AuditEntry.action == "correction.create")) == 0
    # a sheet without reasons is resolved by its correction; a version and a score are accepted
    ok = post({"corrections": [{"question": "1", "value": "a"}, {"question": "Q56", "value": "7.5"},
                               {"question": "FORM", "value": "A"}]}, city.a.admin)
    assert ok.status_code == 201, ok.text
    assert [(a["question"], a["after"]) for a in ok.json()["applied"]] == [("Q1", "A"), ("Q56", "7.5"),
                                                                             ("form", "A")]


def test_resolving_a_sheet_without_corrections(client, service, city, school_a):
    flagged = flagged_sheets(service, city.a.id)[0]
    partial = client.post(f"{API}/sheets/{flagged.id}/corrections", headers=city.a.teacher,
                          json={"corrections": [{"question": "absent", "value": "0"}]})
    assert partial.status_code == 201
    assert not partial.json()["sheet"]["resolved"] and partial.json()["uncovered"] == flagged.reasons
    done = client.post(f"{API}/sheets/{flagged.id}/corrections", headers=city.a.teacher,
                       json={"corrections": [], "resolved": True})
    assert done.status_code == 201 and done.json()["sheet"]["resolved"]
    with service.db.read() as session:
        assert session.get(Sheet, flagged.id).resolved


def test_audit_log_is_append_only_and_paged(client, service, city, school_a):
    with service.db.read() as session:
        count = session.scalar(select(func.count()).select_from(AuditEntry))
        first = session.scalar(select(AuditEntry).order_by(AuditEntry.id).limit(1))
    for statement in ("UPDATE audit_log SET actor = 'someone else'", "DELETE FROM audit_log"):
        with service.db.write() as session:
            with pytest.raises(DBAPIError, match="append-only"):
                session.execute(text(statement))
            session.rollback()
    with service.db.read() as session:
        assert session.scalar(select(func.count()).select_from(AuditEntry)) == count
        assert session.get(AuditEntry, first.id).actor == first.actor
    # newest first, in pages, each entry once
    entries, cursor = [], None
    while True:
        response = client.get(f"{API}/audit", headers=city.municipal,
                              params={"limit": 3, **({"cursor": cursor} if cursor else {})})
        assert response.status_code == 200
        entries += response.json()["items"]
        cursor = response.json()["next_cursor"]
        if cursor is None:
            break
    ids = [e["id"] for e in entries]
    assert ids == sorted(ids, reverse=True) and len(ids) == count
    mine = client.get(f"{API}/audit", headers=city.a.admin, params={"limit": 500}).json()["items"]
    assert mine and all(e["school_id"] == city.a.id for e in mine)
    assert json.dumps(mine, ensure_ascii=False)


def test_a_sure_double_mark_goes_to_review_only_when_the_exam_asks(client, service, city, simulated_scans):
    # The city's exam sets review_multiple; the same scans for an exam that keeps the default are not reviewed.
    relaxed = client.post(f"{API}/exams", json={"definition": sample_exam(id="demo-relaxed")},
                          headers=city.municipal)
    assert relaxed.status_code == 201, relaxed.text
    setup_school(client, service, city.a, relaxed.json()["id"], simulated_scans, extras=False)
    setup_school(client, service, city.b, city.exam_id, simulated_scans, extras=False)
    with service.db.read() as session:
        stored = session.scalars(select(Sheet).order_by(Sheet.id)).all()
        double = {s.exam_id: s for s in stored if any(r.startswith("multiple marks: Q") for r in s.reasons)}
    assert set(double) == {relaxed.json()["id"], city.exam_id}, "the simulated set has a sure double mark"
    assert double[relaxed.json()["id"]].status == "ok" and double[city.exam_id].status == "flagged"
    assert double[city.exam_id].id in {i["id"] for i in _queue(client, city.b.teacher)}
    assert double[relaxed.json()["id"]].id not in {i["id"] for i in _queue(client, city.a.teacher)}
