"""Per-school isolation over every operation the OpenAPI schema lists: school B's admin, teacher and station try
each with school A's objects and get 403 or 404, never a 2xx; lists answer B with nothing of A's. An operation
added later without an entry here fails this test until someone says how to try it."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest
from sqlalchemy import select

from api.service.models import ApiKey, Student, User

from service_city import SAMPLE_EXAM
from review_helpers import setup_school

API = "/api/v1"
PLACEHOLDER = "{{A}}"  # a body value replaced by school A's code
KEY_PLACEHOLDER = "{{A_KEY}}"  # ... and by the id of school A's station key
EXAM_PLACEHOLDER = "{{A_EXAM}}"  # ... and by the id of school A's own exam


def _a_objects(client, service, city, scans) -> dict[str, str]:
    """School A's own exam, graded, with a batch, sheets, pages, students, a user and a key."""
    definition = json.loads(SAMPLE_EXAM.read_text(encoding="utf-8"))
    exam = client.post(f"{API}/exams", json={"definition": {**definition, "id": "a-only"}}, headers=city.a.teacher)
    assert exam.status_code == 201, exam.text
    exam_id = exam.json()["id"]
    ingested, _ = setup_school(client, service, city.a, exam_id, scans)
    assert client.post(f"{API}/exams/{exam_id}/grade", headers=city.a.teacher).status_code == 201
    with service.db.read() as session:
        student = session.scalars(select(Student).where(Student.school_id == city.a.id)).first()
        user = session.scalars(select(User).where(User.school_id == city.a.id)).first()
        key = session.scalars(select(ApiKey).where(ApiKey.school_id == city.a.id)).first()
    page_id = next(iter(ingested.pages.values()))[0]
    profile = client.post(f"{API}/profiles", json={"profile": {"name": "a-only"}, "station_key_id": key.id},
                          headers=city.a.admin)
    assert profile.status_code == 201, profile.text
    with service.db.read() as session:
        marker = session.scalar(select(User.id).where(User.username == f"teacher-{city.a.id}"))
    setup = client.post(f"{API}/exams/{exam_id}/marking", json={"question": "Q56", "markers": [marker]},
                        headers=city.a.admin)
    assert setup.status_code == 201, setup.text
    task = client.get(f"{API}/marking/{setup.json()['id']}/tasks", headers=city.a.teacher).json()[0]
    return {"setup_id": str(setup.json()["id"]), "token": task["token"], "exam_id": str(exam_id),
            "batch_id": ingested.batch_id, "sheet_id": str(ingested.sheet_ids[0]),
            "profile_id": str(profile.json()["id"]),
            "page_id": str(page_id), "student_id": str(student.id), "user_id": str(user.id), "key_id": str(key.id),
            "school_id": city.a.id, "class_name": quote(student.class_name), "student_exam_id": student.exam_id,
            "grant_id": "1", "_exam_id_text": student.exam_id}


# (method, path) -> how to try it: a JSON body, or "multipart" for an upload. Paths as the schema writes them.
TRIES: dict[tuple[str, str], object] = {
    ("get", "/schools/{school_id}"): None,
    ("get", "/students/{student_id}"): None,
    ("patch", "/students/{student_id}"): {"name": "改名"},
    ("patch", "/users/{user_id}"): {"display_name": "改名"},
    ("delete", "/api-keys/{key_id}"): None,
    ("get", "/exams/{exam_id}"): None,
    ("get", "/batches/{batch_id}"): None,
    ("get", "/sheets/{sheet_id}"): None,
    ("post", "/sheets/{sheet_id}/corrections"): {"corrections": [{"question": "Q1", "value": "A"}]},
    ("get", "/pages/{page_id}"): None,
    ("post", "/pages/{page_id}/resolve"): {"reason": "not a sheet"},
    ("get", "/pages/{page_id}/image"): None,
    ("get", "/pages/{page_id}/overlay"): None,
    ("post", "/exams/{exam_id}/grade"): {},
    ("post", "/exams/{exam_id}/key-changes"): {"action": "void", "question": "Q1"},
    ("get", "/exams/{exam_id}/grants"): None,
    ("post", "/exams/{exam_id}/grants"): {"user_id": 1},
    ("delete", "/exams/{exam_id}/grants/{grant_id}"): None,
    ("get", "/exams/{exam_id}/results"): None,
    ("get", "/exams/{exam_id}/results/{student_exam_id}"): None,
    ("get", "/exams/{exam_id}/classes/{class_name}/results"): None,
    ("get", "/exams/{exam_id}/analytics"): None,
    ("get", "/exams/{exam_id}/progress"): None,
    ("get", "/exams/{exam_id}/reports/grade.xlsx"): None,
    ("get", "/exams/{exam_id}/reports/classes/{class_name}.xlsx"): None,
    ("get", "/exams/{exam_id}/reports/classes/{class_name}/students.pdf"): None,
    ("get", "/exams/{exam_id}/reports/classes/{class_name}/wrongbook.pdf"): None,
    ("get", "/bank"): None,
    ("get", "/exams/{exam_id}/scores.xlsx"): None,
    ("get", "/exams/{exam_id}/scores.csv"): None,
    ("get", "/municipal/exams/{exam_id}/aggregates"): None,
    ("get", "/municipal/exams/{exam_id}/scores"): None,
    # No id in the path: the school is named in the query or the body.
    ("post", "/classes"): {"name": "高三(9)班"},
    ("get", "/classes"): None,
    ("post", "/students"): {"exam_id": "2026019999"},
    ("get", "/students"): None,
    ("post", "/students/import"): "multipart",
    ("get", "/users"): None,
    ("post", "/users"): {"username": "intruder", "password": "a long password 1", "school_id": PLACEHOLDER},
    ("get", "/api-keys"): None,
    ("post", "/api-keys"): {"name": "intruder", "school_id": PLACEHOLDER},
    ("get", "/review"): None,
    ("get", "/audit"): None,
    ("post", "/batches"): "multipart",
    ("get", "/profiles/{profile_id}"): None,
    ("post", "/profiles/{profile_id}/activate"): None,
    ("get", "/profiles"): None,
    ("post", "/profiles"): {"profile": {"name": "intruder"}, "station_key_id": KEY_PLACEHOLDER},
    ("post", "/profiles/learn"): {"station_key_id": KEY_PLACEHOLDER},
    ("post", "/arrangements"): {"rooms": 1, "capacity": 30, "school_number": "0101", "exam_id": EXAM_PLACEHOLDER},
    ("post", "/exams/{exam_id}/marking"): {"question": "Q57", "markers": [1]},
    ("get", "/exams/{exam_id}/marking"): None,
    ("get", "/marking/{setup_id}"): None,
    ("patch", "/marking/{setup_id}"): {"self_check_rate": 0.1},
    ("post", "/marking/{setup_id}/load"): None,
    ("get", "/marking/{setup_id}/tasks"): None,
    ("get", "/marking/{setup_id}/history"): None,
    ("get", "/marking/{setup_id}/problems"): None,
    ("get", "/marking/{setup_id}/progress"): None,
    ("post", "/marking/{setup_id}/reassign"): {"from_user": 1},
    ("post", "/marking/tasks/{token}/score"): {"score": 1},
    ("post", "/marking/tasks/{token}/problem"): {"kind": "blank"},
    ("get", "/marking/tasks/{token}/image"): None,
    ("post", "/marking/problems/{token}/resolve"): {"action": "return"},
    ("get", "/users/{user_id}/classes"): None,
    ("put", "/users/{user_id}/classes"): {"classes": [1]},
    ("post", "/exams/{exam_id}/marking/city"): {"question": "Q58", "markers": [1], "leader_id": 1},
    ("get", "/exams/{exam_id}/marking/city"): None,
}
# Operations that act only on the caller's own school (nothing of another school can be named) or on nothing
# school-bound: they are tried for leaks in what they list, not for access.
OWN_SCHOOL_ONLY = {("get", "/health"), ("post", "/auth/token"), ("post", "/auth/logout"), ("get", "/schools"),
                   ("post", "/schools"), ("get", "/exams"), ("post", "/exams"), ("post", "/exams/import"),
                   ("get", "/batches"), ("put", "/bank")}


def _operations(client) -> list[tuple[str, str, dict]]:
    document = client.get(f"{API}/openapi.json").json()
    return [(method, path.removeprefix(API), operation) for path, operations in document["paths"].items()
            for method, operation in operations.items()]


def test_every_operation_is_tried(client):
    listed = {(method, path) for method, path, _ in _operations(client)}
    assert listed - set(TRIES) - OWN_SCHOOL_ONLY == set(), "say in TRIES how to try these across schools"


@pytest.mark.parametrize("who", ["admin", "teacher", "station"])
def test_school_b_reaches_nothing_of_school_a(client, service, city, simulated_scans, who):
    a = _a_objects(client, service, city, simulated_scans)
    headers = getattr(city.b, who)
    tried = 0
    for method, path, operation in _operations(client):
        if (method, path) not in TRIES:
            continue
        how = TRIES[(method, path)]
        url = API + path.format(**{k: v for k, v in a.items() if not k.startswith("_")})
        takes_school = any(p["name"] == "school_id" and p["in"] == "query" for p in operation.get("parameters", []))
        params = {"school_id": a["school_id"]} if takes_school else {}
        if path == "/exams/{exam_id}/progress":
            params["previous"] = [999999]
        kwargs: dict = {"params": params, "headers": headers}
        if how == "multipart":
            if path == "/batches":
                kwargs |= {"data": {"exam_id": a["exam_id"]}, "files": [("files", ("x.png", _png(), "image/png"))]}
            else:
                kwargs |= {"files": {"file": ("r.csv", "考号,姓名\n2026019998,某\n".encode(), "text/csv")}}
        elif how is not None:
            kwargs["json"] = json.loads(json.dumps(how).replace(PLACEHOLDER, a["school_id"])
                                        .replace(f'"{KEY_PLACEHOLDER}"', a["key_id"])
                                        .replace(f'"{EXAM_PLACEHOLDER}"', a["exam_id"]))
        if "{" not in path and not takes_school and not isinstance(how, dict):
            continue  # nothing of A's can be named here; the listing check below covers it
        response = client.request(method.upper(), url, **kwargs)
        tried += 1
        assert response.status_code in (403, 404), f"{who} of B: {method.upper()} {url}: {response.status_code} " \
                                                   f"{response.text[:300]}"
    assert tried >= 30

    # What B lists holds nothing of A's.
    markers = [a["school_id"], a["batch_id"], a["_exam_id_text"], "a-only"]
    for method, path, operation in _operations(client):
        if method != "get" or "{" in path:
            continue
        response = client.get(API + path, headers=headers)
        if response.status_code == 200:
            for marker in markers:
                assert marker not in response.text, f"{who} of B: GET {path} shows {marker!r} of school A"
    # And nothing of A's changed: its student is as it was, its key still works.
    assert client.get(f"{API}/students/{a['student_id']}", headers=city.a.admin).json()["name"] != "改名"
    assert client.get(f"{API}/batches/{a['batch_id']}", headers=city.a.station).status_code == 200


def _png() -> bytes:
    import cv2
    import numpy as np

    return cv2.imencode(".png", np.full((64, 64), 255, np.uint8))[1].tobytes()
