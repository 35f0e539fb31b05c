"""An exam's roster is its grade's students only; unreadable pages can be resolved off the review queue."""

from __future__ import annotations

import json

from sqlalchemy import select

from api.service.models import AuditEntry

from service_city import SAMPLE_EXAM
from review_helpers import import_roster, ingest, school_files

API = "/api/v1"


def test_exam_for_one_grade_rosters_only_that_grades_students(client, service, city, simulated_scans):
    # The simulated students are 高一; the school also has a 高二 class that does not sit this exam.
    senior = "考号,姓名,班级\n2025990001,高二甲,高二(9)班\n2025990002,高二乙,高二(9)班\n".encode("utf-8")
    response = client.post(f"{API}/students/import", headers=city.a.admin, data={"grade": "高二"},
                           files={"file": ("senior.csv", senior, "text/csv")})
    assert response.status_code == 200, response.text
    import_roster(client, city.a.admin, simulated_scans)
    for name in {s["class_name"] for s in client.get(f"{API}/students", headers=city.a.admin).json()} - {"高二(9)班"}:
        again = client.post(f"{API}/classes", json={"name": name, "grade": "高一"}, headers=city.a.admin)
        assert again.status_code == 409  # the import made it
    classes = client.get(f"{API}/classes", headers=city.a.admin).json()
    # Classes made by a roster import without a grade get theirs from a later import that names it.
    roster = client.post(f"{API}/students/import", headers=city.a.admin, data={"grade": "高一"},
                         files={"file": ("r.csv", _roster_text(client, city), "text/csv")})
    assert roster.status_code == 200
    grades = {c["name"]: c["grade"] for c in client.get(f"{API}/classes", headers=city.a.admin).json()}
    assert grades["高二(9)班"] == "高二" and {g for n, g in grades.items() if n != "高二(9)班"} == {"高一"}, classes

    definition = json.loads(SAMPLE_EXAM.read_text(encoding="utf-8"))
    whole_school = client.post(f"{API}/exams", json={"definition": {**definition, "id": "all-grades"}},
                               headers=city.a.teacher).json()
    first_years = client.post(f"{API}/exams", json={"definition": {**definition, "id": "g1-only"}, "grade": "高一"},
                              headers=city.a.teacher).json()
    assert first_years["grade"] == "高一" and whole_school["grade"] is None
    files, _ = school_files(simulated_scans, extras=False)
    for exam in (whole_school, first_years):
        ingest(service, city.a.id, exam["id"], files)
    everyone = client.post(f"{API}/exams/{whole_school['id']}/grade", headers=city.a.teacher).json()
    grade_one = client.post(f"{API}/exams/{first_years['id']}/grade", headers=city.a.teacher).json()
    assert everyone["students"] == grade_one["students"] + 2
    assert everyone["absent"] == grade_one["absent"] + 2  # the 高二 students, counted absent only when rostered


def _roster_text(client, city) -> bytes:
    students = client.get(f"{API}/students", headers=city.a.admin).json()
    lines = ["考号,姓名,班级"] + [f"{s['exam_id']},{s['name']},{s['class_name']}" for s in students
                                  if s["class_name"] != "高二(9)班"]
    return ("\n".join(lines) + "\n").encode("utf-8")


def test_unreadable_page_is_resolved_off_the_queue_with_an_audited_reason(client, service, city, simulated_scans):
    import_roster(client, city.a.admin, simulated_scans)
    files, _ = school_files(simulated_scans, extras=True)
    ingest(service, city.a.id, city.exam_id, files)
    queue = client.get(f"{API}/review", headers=city.a.teacher).json()["items"]
    pages = [item for item in queue if item["kind"] == "page"]
    sheets = [item for item in queue if item["kind"] == "sheet"]
    assert pages, queue
    page_id = pages[0]["id"]
    body = {"reason": "not an answer sheet: a blank page between two batches"}
    assert client.post(f"{API}/pages/{page_id}/resolve", json=body, headers=city.b.teacher).status_code == 404
    assert client.post(f"{API}/pages/{page_id}/resolve", json=body, headers=city.a.station).status_code == 403
    assert client.post(f"{API}/pages/{page_id}/resolve", json={}, headers=city.a.teacher).status_code == 422
    resolved = client.post(f"{API}/pages/{page_id}/resolve", json=body, headers=city.a.teacher)
    assert resolved.status_code == 200 and resolved.json()["resolved"] is True
    after = client.get(f"{API}/review", headers=city.a.teacher).json()["items"]
    assert page_id not in [item["id"] for item in after if item["kind"] == "page"]
    assert len(after) == len(queue) - 1
    if sheets:  # a readable page's sheet is corrected, not resolved as a page
        readable = sheets[0]["page_ids"][0]
        assert client.post(f"{API}/pages/{readable}/resolve", json=body, headers=city.a.teacher).status_code == 409
    with service.db.read() as session:
        entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "page.resolve"))
    assert entry.after["reason"] == body["reason"] and entry.actor.startswith("user:") and entry.before["reasons"]
