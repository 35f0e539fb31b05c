"""School A and B with every kind of caller, and the city-wide exam: imported by the service tests and their
conftest (a module of its own: ``from conftest import`` would find whichever conftest.py was loaded first)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from api.service.bootstrap import add_api_key

SAMPLE_EXAM = Path(__file__).resolve().parents[3] / "grading" / "samples" / "cn-a4-55-exam.json"
SCHOOL_A, SCHOOL_B = "3433000101", "3433000202"
PASSWORD = "correct horse battery"


def sample_exam(**changes) -> dict:
    """The bundled sample exam's definition, with ``changes``."""
    return {**json.loads(SAMPLE_EXAM.read_text(encoding="utf-8")), **changes}


@dataclass
class SchoolCallers:
    """Request headers of each kind of caller of one school."""

    id: str
    admin: dict[str, str] = field(default_factory=dict)
    teacher: dict[str, str] = field(default_factory=dict)
    station: dict[str, str] = field(default_factory=dict)


@dataclass
class City:
    municipal: dict[str, str]
    a: SchoolCallers
    b: SchoolCallers
    exam_id: int  # the city-wide exam on cn-a4-55 (the sample exam)


def _login(client, username: str) -> dict[str, str]:
    response = client.post("/api/v1/auth/token", json={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def make_city(client, service) -> City:
    """Two schools, an admin, a teacher and a station key each, the municipal key, and the city-wide exam."""
    municipal = {"X-API-Key": add_api_key(service, "municipal", name="city system")}
    schools = []
    for code, name in ((SCHOOL_A, "第一中学"), (SCHOOL_B, "第二中学")):
        assert client.post("/api/v1/schools", json={"id": code, "name": name}, headers=municipal).status_code == 201
        callers = SchoolCallers(code)
        for role in ("school_admin", "teacher"):
            username = f"{role}-{code}"
            body = {"username": username, "password": PASSWORD, "role": role, "school_id": code}
            assert client.post("/api/v1/users", json=body, headers=municipal).status_code == 201
            setattr(callers, "admin" if role == "school_admin" else "teacher", _login(client, username))
        key = client.post("/api/v1/api-keys", json={"name": "scanner"}, headers=callers.admin)
        assert key.status_code == 201, key.text
        callers.station = {"X-API-Key": key.json()["key"]}
        schools.append(callers)
    # The review tests work on the simulated set's double-marked sheet: this exam sends sure double marks to review.
    exam = client.post("/api/v1/exams", json={"definition": sample_exam(review_multiple=True)}, headers=municipal)
    assert exam.status_code == 201, exam.text
    return City(municipal, schools[0], schools[1], exam.json()["id"])
