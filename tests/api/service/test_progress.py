"""Students over time in the service: one school's exams linked by 学籍号 (GET /exams/{id}/progress)."""

from __future__ import annotations

import json

from sqlalchemy import select

from api.service.models import Student
from grading.roster import student_no_check_char
from review_helpers import CLASS_1, CLASS_2, assign_classes, ingest, school_files, setup_school
from service_city import SAMPLE_EXAM

API = "/api/v1"


def _student_numbers(service, school_id: str) -> None:
    """Give the school's students a 学籍号 each (the roster import of the fixtures has none)."""
    with service.db.write() as session:
        for k, student in enumerate(session.scalars(select(Student).where(Student.school_id == school_id)
                                                    .order_by(Student.id))):
            body = f"3301022010{1 + k % 12:02d}{1 + k % 28:02d}{k:03d}"
            student.student_no = "G" + body + student_no_check_char(body)
        session.commit()


def test_two_exams_of_a_school_are_linked_by_student_number(client, service, city, simulated_scans):
    setup_school(client, service, city.a, city.exam_id, simulated_scans)
    _student_numbers(service, city.a.id)
    assert client.post(f"{API}/exams/{city.exam_id}/grade", headers=city.a.teacher).status_code == 201
    definition = json.loads(SAMPLE_EXAM.read_text(encoding="utf-8"))
    later = client.post(f"{API}/exams", json={"definition": {**definition, "id": "later"}}, headers=city.a.teacher)
    assert later.status_code == 201, later.text
    later_id = later.json()["id"]
    files, _ = school_files(simulated_scans, extras=False)
    ingest(service, city.a.id, later_id, files)
    graded = client.post(f"{API}/exams/{later_id}/grade", headers=city.a.teacher)
    assert graded.status_code == 201, graded.text

    response = client.get(f"{API}/exams/{later_id}/progress", params={"previous": [city.exam_id]},
                          headers=city.a.teacher)
    assert response.status_code == 200, response.text
    document = response.json()
    trend = document["trend"]
    assert trend["exams"][-1] == "later" and len(trend["exams"]) == 2
    assert len(trend["students"]) == graded.json()["graded"]  # the same sheets: everyone graded twice links
    assert all(s["student_no"].startswith("G") and s["totals"][0] == s["totals"][1] for s in trend["students"])
    assert document["value_added"]["unmatched"] == []

    # another school sees nothing of it; an exam is not its own previous one; previous is required
    other = client.get(f"{API}/exams/{later_id}/progress", params={"previous": [city.exam_id]},
                       headers=city.b.teacher)
    assert other.status_code == 404
    assert client.get(f"{API}/exams/{later_id}/progress", params={"previous": [later_id]},
                      headers=city.a.teacher).status_code == 422
    assert client.get(f"{API}/exams/{later_id}/progress", headers=city.a.teacher).status_code == 422


def test_a_teacher_follows_their_own_classes_students(client, service, city, simulated_scans):
    setup_school(client, service, city.a, city.exam_id, simulated_scans)
    assign_classes(client, city.a.admin, f"teacher-{city.a.id}", [CLASS_1])  # 高一(1)班 only
    _student_numbers(service, city.a.id)
    assert client.post(f"{API}/exams/{city.exam_id}/grade", headers=city.a.admin).status_code == 201
    definition = json.loads(SAMPLE_EXAM.read_text(encoding="utf-8"))
    later = client.post(f"{API}/exams", json={"definition": {**definition, "id": "later"}}, headers=city.a.admin)
    later_id = later.json()["id"]
    ingest(service, city.a.id, later_id, school_files(simulated_scans, extras=False)[0])
    assert client.post(f"{API}/exams/{later_id}/grade", headers=city.a.admin).status_code == 201
    classes = {r["exam_id"]: r["class_name"] for r in
               client.get(f"{API}/exams/{later_id}/results", headers=city.a.admin).json()["items"]}

    def linked(who: dict[str, str]) -> dict:
        answer = client.get(f"{API}/exams/{later_id}/progress", params={"previous": [city.exam_id]}, headers=who)
        assert answer.status_code == 200, answer.text
        return answer.json()

    mine, everyone = linked(city.a.teacher), linked(city.a.admin)
    assert {classes[s["exam_id"]] for s in everyone["trend"]["students"]} == {CLASS_1, CLASS_2}
    assert mine["trend"]["students"]
    assert {classes[s["exam_id"]] for s in mine["trend"]["students"]} == {CLASS_1}
    assert mine["trend"]["students"] == [s for s in everyone["trend"]["students"]
                                         if classes[s["exam_id"]] == CLASS_1]
    # six students are too few for value added (tests/analytics/test_disclosure.py: a small class's is withheld)
    assert mine["value_added"] == everyone["value_added"]
