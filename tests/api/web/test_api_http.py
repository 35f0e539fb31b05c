"""The API over real HTTP (uvicorn on 127.0.0.1) for what the pages rest on: a teacher's classes bound their
class views and downloads, and a marking task's lease returns it to the pool."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest
from sqlalchemy import select, update

from api.service.models import MarkingTask, utcnow
from review_helpers import CLASS_1, CLASS_2, assign_classes
from web_helpers import PASSWORD


@pytest.fixture
def api(site):
    """An HTTP client of the site's API (school A's admin by default)."""
    with httpx.Client(base_url=site.url + "/api/v1", headers=site.city.a.admin, timeout=60) as client:
        yield client


def _person(api, username: str, role: str = "teacher") -> tuple[int, dict[str, str]]:
    """A new person of school A: their id and log-in headers."""
    made = api.post("/users", json={"username": username, "password": PASSWORD, "role": role})
    assert made.status_code == 201, made.text
    token = api.post("/auth/token", headers={}, json={"username": username, "password": PASSWORD})
    return made.json()["id"], {"Authorization": f"Bearer {token.json()['access_token']}"}


def test_a_teacher_of_class_1_reads_and_downloads_class_1_only(site, api):
    exam = site.city.exam_id
    _, teacher = _person(api, f"class1-{site.city.a.id}")
    with httpx.Client(base_url=site.url, timeout=60) as root:
        assign_classes(root, site.city.a.admin, f"class1-{site.city.a.id}", [CLASS_1])
    mine = [f"/exams/{exam}/reports/classes/{CLASS_1}.xlsx", f"/exams/{exam}/reports/classes/{CLASS_1}/students.pdf",
            f"/exams/{exam}/classes/{CLASS_1}/results", f"/exams/{exam}/results?class_name={CLASS_1}"]
    for path in mine:
        assert api.get(path, headers=teacher).status_code == 200, path
    for path in mine:
        other = path.replace(CLASS_1, CLASS_2)
        answer = api.get(other, headers=teacher)
        assert answer.status_code == 403, (other, answer.text)
        assert api.get(other).status_code == 200, other  # the school admin sees every class
    with httpx.Client(base_url=site.url, timeout=60) as pages:  # the class view page, with the same session
        token = teacher["Authorization"].split()[1]
        pages.cookies.set("yj_session", f"t.{token}")
        assert pages.get(f"/exams/{exam}/classes/{CLASS_1}").status_code == 200
        assert pages.get(f"/exams/{exam}/classes/{CLASS_2}").status_code == 403
        assert pages.get(f"/exams/{exam}/classes/{CLASS_2}/workbook.xlsx").status_code == 403
        exam_page = pages.get(f"/exams/{exam}", headers={"Accept": "text/html"}).text
        assert CLASS_1 in exam_page and CLASS_2 not in exam_page


def test_only_the_school_admin_assigns_a_teachers_classes_and_only_its_own(site, api):
    user_id, teacher = _person(api, f"assign-{site.city.a.id}")
    classes = {c["name"]: c["id"] for c in api.get("/classes").json()}
    assert api.put(f"/users/{user_id}/classes", headers=teacher, json={"classes": [classes[CLASS_2]]}
                   ).status_code == 403
    assert api.put(f"/users/{user_id}/classes", headers=site.city.b.admin,
                   json={"classes": [classes[CLASS_2]]}).status_code == 404  # another school's teacher
    b_classes = api.get("/classes", headers=site.city.b.admin).json()
    if b_classes:
        assert api.put(f"/users/{user_id}/classes", json={"classes": [b_classes[0]["id"]]}).status_code == 404
    set_ = api.put(f"/users/{user_id}/classes", json={"classes": [classes[CLASS_2]]})
    assert set_.status_code == 200 and [c["name"] for c in set_.json()] == [CLASS_2]
    assert [c["name"] for c in api.get(f"/users/{user_id}/classes").json()] == [CLASS_2]


@pytest.fixture
def school_exam(site, api):
    """A school exam of school A whose sheets are copies of school A's sheets of the city exam (the same pages:
    what matters here is the marking), for a marking of its own."""
    from api.service.models import Sheet
    from service_city import sample_exam

    made = api.post("/exams", json={"definition": sample_exam(id=f"lease-{utcnow().timestamp():.0f}")})
    assert made.status_code == 201, made.text
    exam_id = made.json()["id"]
    with site.service.db.write() as session:
        for sheet in session.scalars(select(Sheet).where(Sheet.school_id == site.city.a.id,
                                                         Sheet.exam_id == site.city.exam_id)).all():
            session.add(Sheet(batch_id=sheet.batch_id, school_id=sheet.school_id, exam_id=exam_id,
                              sheet_index=sheet.sheet_index + 1000 * exam_id, student_id=sheet.student_id,
                              status=sheet.status, reasons=[], page_ids=list(sheet.page_ids),
                              result=sheet.result))
        session.commit()
    return exam_id


def test_a_marker_who_leaves_loses_the_tasks_in_hand_to_the_pool(site, api, school_exam):
    from api.service import marking

    (first_id, first), (second_id, second) = (_person(api, f"lease-{n}-{site.city.a.id}") for n in (1, 2))
    setup = api.post(f"/exams/{school_exam}/marking", json={"question": "Q56", "double": False,
                                                            "markers": [first_id, second_id]})
    assert setup.status_code == 201, setup.text
    setup_id, answers = setup.json()["id"], setup.json()["answers"]
    assert answers >= 4
    held = api.get(f"/marking/{setup_id}/tasks", params={"count": 2}, headers=first).json()
    assert len(held) == 2
    others = api.get(f"/marking/{setup_id}/tasks", params={"count": answers}, headers=second).json()
    assert len(others) == answers - 2  # the first marker's two are theirs while the lease lasts
    with site.service.db.read() as session:
        leases = session.scalars(select(MarkingTask.lease_until).where(MarkingTask.setup_id == setup_id,
                                                                       MarkingTask.status == "assigned")).all()
    assert all(lease is not None and lease.replace(tzinfo=dt.timezone.utc) > utcnow() + dt.timedelta(minutes=15)
               for lease in leases)

    # The first marker leaves: their leases run out (time moved on), the second marker's are about to.
    with site.service.db.write() as session:
        session.execute(update(MarkingTask).where(MarkingTask.token.in_([t["token"] for t in held]))
                        .values(lease_until=utcnow() - dt.timedelta(seconds=1)))
        session.execute(update(MarkingTask).where(MarkingTask.token.in_([t["token"] for t in others]))
                        .values(lease_until=utcnow() + dt.timedelta(minutes=1)))
        session.commit()
    marking._swept.clear()  # the sweep's once-per-10-seconds pause is over too
    now_held = api.get(f"/marking/{setup_id}/tasks", params={"count": answers}, headers=second).json()
    assert len(now_held) == answers  # the first marker's answers came back to the pool
    with site.service.db.read() as session:
        renewed = session.scalars(select(MarkingTask.lease_until).where(
            MarkingTask.token.in_([t["token"] for t in others]))).all()
    assert all(lease.replace(tzinfo=dt.timezone.utc) > utcnow() + dt.timedelta(minutes=15) for lease in renewed)
    late = api.post(f"/marking/tasks/{held[0]['token']}/score", json={"score": 5}, headers=first)
    assert late.status_code == 404  # no longer theirs: its new marker has it
    assert api.get(f"/marking/{setup_id}/tasks", params={"count": 2}, headers=first).json() == []
