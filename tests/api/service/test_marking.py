"""网上阅卷 through real HTTP: set-up, two markers, a disagreement going to a third marker and then to the leader
whose ruling lands in the student's total (also after grading: a late score regrades), 回评, 问题卷, 自评,
supervision and reassignment, anonymity, school isolation and roles; and claims racing on SQLite and
PostgreSQL."""

from __future__ import annotations

import json
import threading
import time
import uuid

import pytest
from sqlalchemy import select

from api.service.marking_jobs import jobs_of
from api.service.models import AuditEntry, MarkingItem, MarkingTask, Sheet

from review_helpers import setup_school
from service_city import PASSWORD, SCHOOL_A, SCHOOL_B, _login

API = "/api/v1"


def _teacher(client, city, name: str, school=None) -> tuple[int, dict[str, str]]:
    school = school or city.a
    made = client.post(f"{API}/users", headers=school.admin,
                       json={"username": name, "password": PASSWORD, "role": "teacher", "school_id": school.id})
    assert made.status_code == 201, made.text
    return made.json()["id"], _login(client, name)


@pytest.fixture
def service(any_service):
    """This module's service: on SQLite, then on PostgreSQL (the conftest's ``client`` and ``city`` use it)."""
    return any_service


@pytest.fixture
def marked(client, service, city, simulated_scans):
    """School A's six sheets ingested, three markers and a leader, and the admin's set-up of Q56 (双评,
    tolerance 2, closest two)."""
    ingested, _ = setup_school(client, service, city.a, city.exam_id, simulated_scans, extras=False)
    people = {name: _teacher(client, city, name) for name in ("m1", "m2", "m3", "leader")}
    body = {"question": "Q56", "step": 1, "double": True, "tolerance": 2, "final_rule": "closest_two",
            "markers": [people[m][0] for m in ("m1", "m2", "m3")], "leader_id": people["leader"][0]}
    made = client.post(f"{API}/exams/{city.exam_id}/marking", json=body, headers=city.a.admin)
    assert made.status_code == 201, made.text
    setup = made.json()
    assert setup["answers"] == 6 and setup["regions"] == ["answer56"] and setup["full_marks"] == 12
    return setup, {name: headers for name, (_, headers) in people.items()}, {n: i for n, (i, _) in people.items()}, \
        ingested


def _tasks(client, setup_id, headers, count=1):
    response = client.get(f"{API}/marking/{setup_id}/tasks", params={"count": count}, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def _score(client, token, headers, score, prefetch=1):
    return client.post(f"{API}/marking/tasks/{token}/score", params={"prefetch": prefetch}, json={"score": score},
                       headers=headers)


def _student_q56(client, city, student_id):
    response = client.get(f"{API}/exams/{city.exam_id}/results/{student_id}", headers=city.a.teacher)
    assert response.status_code == 200, response.text
    return response.json()


def test_two_markers_disagree_third_marker_then_leader_ruling_lands_in_the_total(client, service, city, marked,
                                                                              simulated_scans):
    setup, who, ids, ingested = marked
    sid = setup["id"]
    first = _tasks(client, sid, who["m1"], count=6)
    second = _tasks(client, sid, who["m2"], count=6)
    assert len(first) == len(second) == 6
    assert not {t["token"] for t in first} & {t["token"] for t in second}
    assert _tasks(client, sid, who["m3"], count=3) == []  # every answer has its two markers
    assert _tasks(client, sid, who["m1"], count=6) == first  # the same tasks in hand, not new ones

    # Anonymity: nothing a marker receives names the student, the sheet, the page or the school.
    received = json.dumps(first + second, ensure_ascii=False)
    _, manifest = simulated_scans
    for student_id in {p["student_id"] for p in manifest["pages"]}:
        assert student_id not in received
    for forbidden in (SCHOOL_A, "学生", "sheet", "page", "student", "school"):
        assert forbidden not in received
    image = client.get(first[0]["image"], headers=who["m1"])
    assert image.status_code == 200 and image.headers["content-type"] == "image/png"
    assert image.content[:8] == b"\x89PNG\r\n\x1a\n"
    assert client.get(first[0]["image"], headers=who["m2"]).status_code == 404  # another marker's task

    # Scores are checked against full marks and step.
    for bad in (12.5, 13, -1, 7.5):
        assert _score(client, first[0]["token"], who["m1"], bad).status_code == 422
    assert client.post(f"{API}/marking/tasks/{first[0]['token']}/score", json={"score": "7"},
                       headers=who["m1"]).status_code == 422

    # m1 gives 10 everywhere; each answer comes back with the next task in hand.
    for k, task in enumerate(first):
        answer = _score(client, task["token"], who["m1"], 10)
        assert answer.status_code == 200, answer.text
        assert answer.json()["saved"]["score"] == 10
        assert [t["token"] for t in answer.json()["next"]] == [t["token"] for t in first[k + 1:k + 2]]
    # 回评: m1 changes its first score while the answer is open (then back to 10), audited.
    assert _score(client, first[0]["token"], who["m1"], 9).json()["saved"]["score"] == 9
    assert _score(client, first[0]["token"], who["m1"], 10).status_code == 200
    history = client.get(f"{API}/marking/{sid}/history", params={"limit": 3}, headers=who["m1"]).json()
    assert len(history) == 3 and all(h["changeable"] for h in history)

    # m2 agrees on five answers and gives 2 on the last: beyond the tolerance, a third marker is needed.
    for task in second[:5]:
        assert _score(client, task["token"], who["m2"], 11).status_code == 200
    assert _score(client, second[5]["token"], who["m2"], 2).json()["next"] == []
    third = _tasks(client, sid, who["m3"], count=3)
    assert [t["kind"] for t in third] == ["third"]
    assert _tasks(client, sid, who["m1"], count=2) == [] and _tasks(client, sid, who["m2"], count=2) == []
    # The final answers are no longer open to 回评.
    final_token = second[0]["token"]
    assert _score(client, final_token, who["m2"], 12).status_code == 409

    # Before the ruling, grade: five answers have final scores (mean 10.5), one waits for the leader.
    assert client.post(f"{API}/exams/{city.exam_id}/grade", headers=city.a.admin).status_code in (200, 201)
    with service.db.read() as session:
        finals = session.execute(select(Sheet.student_id, MarkingItem.final_score, MarkingItem.state)
                                 .join(Sheet, Sheet.id == MarkingItem.sheet_id)).all()
    open_student = next(s for s, _, state in finals if state != "final")
    agreed_student = next(s for s, _, state in finals if state == "final")
    assert _student_q56(client, city, agreed_student)["scores"]["Q56"] == 10.5

    # The third marker gives 6: 4 from each, so the leader rules (仲裁) and sees the three scores.
    assert _score(client, third[0]["token"], who["m3"], 6).status_code == 200
    ruling = _tasks(client, sid, who["leader"], count=5)
    assert [t["kind"] for t in ruling] == ["ruling"] and sorted(ruling[0]["earlier"]) == [2, 6, 10]
    before = _student_q56(client, city, open_student)
    answer = _score(client, ruling[0]["token"], who["leader"], 7)
    assert answer.status_code == 200, answer.text
    # A late score regrades the sheet (a background job, a few seconds later: here at once): the newest run has
    # the ruling as Q56, and the total moved with it.
    jobs_of(service).drain()
    after = _student_q56(client, city, open_student)
    assert after["scores"]["Q56"] == 7
    if before["total"] is not None and before["scores"]["Q56"] is not None:
        assert after["total"] == pytest.approx(before["total"] - before["scores"]["Q56"] + 7)
    else:
        assert after["total"] is not None
    with service.db.read() as session:
        actions = [a for a, in session.execute(select(AuditEntry.action).where(AuditEntry.action.like("marking.%")))]
    assert actions.count("marking.score") == 6 + 6 + 1 + 1 and actions.count("marking.rescore") == 2
    assert "marking.regrade" in actions and "marking.setup" in actions

    # Supervision: the leader sees progress and each marker's figures.
    progress = client.get(f"{API}/marking/{sid}/progress", headers=who["leader"]).json()
    assert progress["answers"] == 6 and progress["final"] == 6 and progress["waiting_ruling"] == 0
    by_id = {m["user_id"]: m for m in progress["markers"]}
    assert by_id[ids["m1"]]["scored"] == 6 and by_id[ids["m1"]]["mean"] == 10
    assert by_id[ids["m1"]]["agreement"] == pytest.approx(5 / 6)
    assert by_id[ids["m3"]]["scored"] == 1
    assert client.get(f"{API}/marking/{sid}/progress", headers=who["m1"]).status_code == 403


def test_problem_paper_goes_to_the_leader_who_scores_it(client, service, city, marked):
    setup, who, ids, _ = marked
    single = client.post(f"{API}/exams/{city.exam_id}/marking", headers=city.a.admin,
                         json={"question": "Q57", "double": False, "step": 0.5, "markers": [ids["m1"]],
                               "leader_id": ids["leader"]})
    assert single.status_code == 201, single.text
    sid = single.json()["id"]
    task = _tasks(client, sid, who["m1"])[0]
    assert task["step"] == 0.5 and task["full_marks"] == 14
    reported = client.post(f"{API}/marking/tasks/{task['token']}/problem", json={"kind": "illegible", "note": "看不清"},
                           headers=who["m1"])
    assert reported.status_code == 200, reported.text
    assert reported.json()["next"] and reported.json()["next"][0]["token"] != task["token"]
    queue = client.get(f"{API}/marking/{sid}/problems", headers=who["leader"]).json()
    assert [(p["problem"], p["problem_name"], p["note"]) for p in queue] == [("illegible", "字迹无法辨认", "看不清")]
    assert client.get(queue[0]["image"], headers=who["leader"]).status_code == 200
    assert client.get(f"{API}/marking/{sid}/problems", headers=who["m1"]).status_code == 403
    resolved = client.post(f"{API}/marking/problems/{task['token']}/resolve", json={"action": "score", "score": 3.5},
                           headers=who["leader"])
    assert resolved.status_code == 200, resolved.text
    with service.db.read() as session:
        item = session.scalar(select(MarkingItem).join(MarkingTask, MarkingTask.item_id == MarkingItem.id)
                              .where(MarkingTask.token == task["token"]))
    assert (item.state, item.final_score, item.final_how) == ("final", 3.5, "ruling")
    assert client.get(f"{API}/marking/{sid}/problems", headers=who["leader"]).json() == []


def test_reassignment_and_self_checks(client, service, city, marked):
    setup, who, ids, _ = marked
    sid = setup["id"]
    held = _tasks(client, sid, who["m1"], count=4)
    moved = client.post(f"{API}/marking/{sid}/reassign", json={"from_user": ids["m1"], "to_user": ids["m3"]},
                        headers=city.a.admin)
    assert moved.status_code == 200 and moved.json()["moved"] == 4
    assert {t["token"] for t in _tasks(client, sid, who["m3"], count=4)} == {t["token"] for t in held}
    assert client.post(f"{API}/marking/tasks/{held[0]['token']}/score", json={"score": 3},
                       headers=who["m1"]).status_code == 404  # no longer m1's

    # 自评: at a share of 0.5, once more than five answers are scored, the oldest beyond the last five is served
    # again; none is served twice, and the marker does not know it (the same kind of token, a crop).
    assert client.patch(f"{API}/marking/{sid}", json={"self_check_rate": 0.5},
                        headers=who["leader"]).status_code == 200
    served = []
    for _ in range(10):
        tasks = _tasks(client, sid, who["m2"])
        if not tasks:
            break
        served.append(tasks[0])
        assert _score(client, tasks[0]["token"], who["m2"], 4 if len(served) <= 6 else 5,
                      prefetch=0).status_code == 200
    assert [t["kind"] for t in served] == ["first"] * 7 and all(t["changeable"] for t in served)
    with service.db.read() as session:
        kinds = [session.scalar(select(MarkingTask.kind).where(MarkingTask.token == t["token"])) for t in served]
    assert kinds == ["first"] * 6 + ["self"]
    progress = client.get(f"{API}/marking/{sid}/progress", headers=city.a.admin).json()
    m2 = next(m for m in progress["markers"] if m["user_id"] == ids["m2"])
    assert m2["scored"] == 6 and m2["mean"] == 4
    assert (m2["self_checks"], m2["self_agreement"], m2["self_mean_difference"]) == (1, 1.0, 1.0)


def test_roles_and_school_isolation(client, service, city, marked):
    setup, who, ids, _ = marked
    sid = setup["id"]
    token = _tasks(client, sid, who["m1"])[0]["token"]
    outsider_id, outsider = _teacher(client, city, "outsider")
    b_id, b_teacher = _teacher(client, city, "b-marker", school=city.b)
    body = {"question": "Q58", "markers": [ids["m1"]]}
    # Roles: a station key, a teacher without the exam's grant, the municipal key.
    assert client.post(f"{API}/exams/{city.exam_id}/marking", json=body, headers=city.a.station).status_code == 403
    assert client.post(f"{API}/exams/{city.exam_id}/marking", json=body, headers=outsider).status_code == 403
    assert client.post(f"{API}/exams/{city.exam_id}/marking", json=body,
                       headers=city.municipal).status_code == 403
    assert client.get(f"{API}/marking/{sid}/tasks", headers=city.a.station).status_code == 403
    assert client.get(f"{API}/marking/{sid}/tasks", headers=outsider).status_code == 403  # not a marker of it
    assert client.post(f"{API}/marking/{sid}/reassign", json={"from_user": ids["m1"]},
                       headers=who["m2"]).status_code == 403
    # School isolation: school B sees nothing of school A's marking.
    for headers in (city.b.admin, b_teacher):
        assert client.get(f"{API}/marking/{sid}", headers=headers).status_code == 404
        assert client.get(f"{API}/marking/{sid}/tasks", headers=headers).status_code == 404
        assert client.get(f"{API}/marking/{sid}/progress", headers=headers).status_code in (403, 404)
        assert client.post(f"{API}/marking/tasks/{token}/score", json={"score": 1},
                           headers=headers).status_code == 404
        assert client.get(f"{API}/marking/tasks/{token}/image", headers=headers).status_code == 404
    assert client.get(f"{API}/exams/{city.exam_id}/marking", headers=city.b.admin).json() == []
    # A school B teacher cannot be made a marker of school A's question.
    assert client.patch(f"{API}/marking/{sid}", json={"markers": [b_id]}, headers=city.a.admin).status_code == 422
    assert SCHOOL_B not in json.dumps(client.get(f"{API}/marking/{sid}", headers=city.a.admin).json())


def test_bad_setups_are_refused(client, city, marked):
    _, _, ids, _ = marked
    url = f"{API}/exams/{city.exam_id}/marking"
    for body, expected in [({"question": "Q1", "markers": [ids["m1"]]}, "not a written question"),
                           ({"question": "Q99", "markers": [ids["m1"]]}, "no question"),
                           ({"question": "Q57", "markers": [ids["m1"]], "full_marks": 15}, "above"),
                           ({"question": "Q57", "markers": [ids["m1"]], "regions": ["nowhere"]}, "no region"),
                           ({"question": "Q57", "markers": [ids["m1"]], "regions": ["name"]}, "name box"),
                           ({"question": "Q57", "markers": [ids["m1"]], "tolerance": 20}, "tolerance"),
                           ({"question": "Q57", "markers": [99999]}, "not an active"),
                           ({"question": "Q56", "markers": [ids["m1"]]}, "already")]:
        response = client.post(url, json=body, headers=city.a.admin)
        assert response.status_code in (409, 422) and expected in response.text, (body, response.text)


# --- concurrency: many markers claiming at once, SQLite and PostgreSQL ----------------------------------------------

def _seed(service, answers: int, markers: int):
    """A school, an exam, ``answers`` sheets with a page each, ``markers`` people and a 双评 set-up, stored
    directly (claims need no images)."""
    from api.service.marking import load_items
    from api.service.models import (Batch, BatchFile, Blob, Exam, MarkingMarker, MarkingSetup, Page, School,
                                    User)
    from api.service.security import Principal
    from sample_sheets import resolve_template
    from service_city import sample_exam

    template = resolve_template("cn-a4-55").model_dump(mode="json")
    with service.db.write() as session:
        session.add(School(id=SCHOOL_A, name="第一中学"))
        session.add(Blob(sha256="0" * 64, size=1, media_type="image/jpeg"))
        session.flush()
        exam = Exam(code="race", school_id=SCHOOL_A, subject="数学", definition=sample_exam(id="race"),
                    template=template)
        session.add(exam)
        session.flush()
        batch = Batch(id=str(uuid.uuid4()), school_id=SCHOOL_A, exam_id=exam.id, uploaded_by="test")
        session.add(batch)
        users = [User(username=f"racer{k}", password_hash="x", role="teacher", school_id=SCHOOL_A)
                 for k in range(markers)]
        session.add_all(users)
        session.flush()
        for k in range(answers):
            file = BatchFile(batch_id=batch.id, school_id=SCHOOL_A, exam_id=exam.id, seq=k, filename=f"{k}.jpg",
                             sha256="0" * 64)
            session.add(file)
            session.flush()
            page = Page(file_id=file.id, batch_id=batch.id, school_id=SCHOOL_A, page_index=0, status="ok",
                        result={})
            session.add(page)
            session.flush()
            session.add(Sheet(batch_id=batch.id, school_id=SCHOOL_A, exam_id=exam.id, sheet_index=k,
                              student_id=f"2026{k:06d}", status="ok", page_ids=[page.id],
                              result={"pages": [{"source": "x", "page_index": 0, "page": 1}]}))
        setup = MarkingSetup(school_id=SCHOOL_A, exam_id=exam.id, question="Q56", regions=["answer56"],
                             full_marks=12, step=1, double=True, tolerance=2, final_rule="closest_two",
                             self_check_rate=0, leader_id=users[0].id, created_by="test")
        session.add(setup)
        session.flush()
        session.add_all(MarkingMarker(setup_id=setup.id, user_id=u.id) for u in users)
        assert load_items(session, setup, exam) == answers
        session.commit()
        return setup.id, [Principal("teacher", SCHOOL_A, f"user:{u.username}", frozenset(), user_id=u.id)
                          for u in users]


def test_concurrent_markers_never_share_a_task_or_score_an_answer_twice(any_service):
    from api.service import marking
    from api.service.models import MarkingSetup
    from api.service.routes.marking import _hand_out

    service = any_service
    setup_id, markers = _seed(service, answers=30, markers=6)
    errors: list[BaseException] = []

    def work(principal):
        try:
            for _ in range(400):
                tasks = _hand_out(service, principal, setup_id, 3)
                if not tasks:  # nothing for this marker now: done when no answer waits for anyone
                    with service.db.read() as session:
                        if session.scalar(select(MarkingTask.id).where(
                                MarkingTask.status.in_(("open", "assigned"))).limit(1)) is None:
                            return
                    time.sleep(0.01)
                    continue
                with service.db.write() as session:
                    setup = session.get(MarkingSetup, setup_id)
                    task = session.scalar(select(MarkingTask).where(MarkingTask.token == tasks[0].token))
                    assert task.marker_id == principal.user_id
                    try:  # the same marker's other request may have scored it and closed the answer: 回评 is over
                        marking.record_score(session, principal, setup, task, 6)
                    except marking.MarkingConflict:
                        continue
                    session.commit()
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=work, args=(m,)) for m in markers for _ in range(2)]  # 2 requests each
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    with service.db.read() as session:
        rows = session.execute(select(MarkingTask.item_id, MarkingTask.marker_id, MarkingTask.status)
                               .where(MarkingTask.kind == "first")).all()
        states = session.scalars(select(MarkingItem.state)).all()
    by_item: dict[int, list[int]] = {}
    for item_id, marker_id, status in rows:
        assert status == "done"
        by_item.setdefault(item_id, []).append(marker_id)
    assert len(by_item) == 30 and all(len(set(m)) == 2 == len(m) for m in by_item.values())
    assert set(states) == {"final"}


def test_a_problem_reported_on_a_self_check_leaves_the_answer_alone(any_service):
    from api.service import marking
    from api.service.models import MarkingSetup

    service = any_service
    setup_id, (first, _other) = _seed(service, answers=8, markers=2)
    with service.db.write() as session:
        setup = session.get(MarkingSetup, setup_id)
        setup.self_check_rate = 0.5
        for _ in range(6):
            task = marking.hand_out(session, setup, first.user_id, 1)[0]
            assert task.kind == "first"
            marking.record_score(session, first, setup, task, 5)
        check = marking.hand_out(session, setup, first.user_id, 1)[0]
        assert check.kind == "self"
        before = session.get(MarkingItem, check.item_id).state
        marking.report_problem(session, first, setup, check, "blank", "")
        session.commit()
        assert session.get(MarkingItem, check.item_id).state == before == "marking"
        assert session.scalar(select(MarkingTask.id).where(MarkingTask.status == "problem")) is None


def test_crops_are_cut_ahead_and_late_scores_make_one_regrade(client, service, city, marked, monkeypatch):
    from api.service import marking_jobs

    monkeypatch.setattr(marking_jobs, "REGRADE_DELAY_S", 600.0)  # nothing due before the drain, however slow
    setup, who, ids, _ = marked
    sid = setup["id"]
    jobs_of(service).drain()  # the crops the set-up asked for
    with service.db.read() as session:
        crops = session.scalars(select(MarkingItem.crop_sha256).where(MarkingItem.setup_id == sid)).all()
    assert len(crops) == 6 and all(crops)  # cut when the answers were loaded, before any marker asked
    task = _tasks(client, sid, who["m1"])[0]
    image = client.get(task["image"], headers=who["m1"])
    assert image.status_code == 200 and image.content in {service.blobs.path(c).read_bytes() for c in crops}

    # Graded first, then six answers decided in a burst: one regrade for all of them, not one each.
    assert client.post(f"{API}/exams/{city.exam_id}/grade", headers=city.a.admin).status_code in (200, 201)
    for marker in ("m1", "m2"):
        for held in _tasks(client, sid, who[marker], count=6):
            assert _score(client, held["token"], who[marker], 8, prefetch=0).status_code == 200
    jobs_of(service).drain()
    with service.db.read() as session:
        regrades = session.scalars(select(AuditEntry.after).where(AuditEntry.action == "marking.regrade")).all()
    assert len(regrades) == 1
    assert _student_q56(client, city, _any_student(service))["scores"]["Q56"] == 8


def _any_student(service) -> str:
    with service.db.read() as session:
        return session.scalar(select(Sheet.student_id).join(MarkingItem, MarkingItem.sheet_id == Sheet.id)
                              .where(Sheet.student_id.is_not(None)).limit(1))


def test_pooled_city_marking_crosses_schools_for_its_markers_only(client, service, city, marked):
    _, _, ids, _ = marked
    b_id, b_marker = _teacher(client, city, "pooled-b", school=city.b)
    url = f"{API}/exams/{city.exam_id}/marking/city"
    body = {"question": "Q58", "double": False, "markers": [b_id], "leader_id": b_id}
    assert client.post(url, json=body, headers=city.a.admin).status_code == 403  # the municipal system's
    assert client.post(url, json={**body, "question": "Q56"}, headers=city.municipal).status_code == 409  # A marks it
    made = client.post(url, json=body, headers=city.municipal)
    assert made.status_code == 201, made.text
    pooled = made.json()
    assert pooled["pooled"] and pooled["school_id"] == SCHOOL_B and pooled["answers"] == 6
    # School A cannot set up its own marking of the pooled question, nor see or manage the pooled one.
    assert client.post(f"{API}/exams/{city.exam_id}/marking", json={"question": "Q58", "markers": [ids["m1"]]},
                       headers=city.a.admin).status_code == 409
    assert client.get(f"{API}/marking/{pooled['id']}", headers=city.a.admin).status_code == 404
    assert client.get(f"{API}/marking/{pooled['id']}/progress", headers=city.b.admin).status_code == 404
    assert client.get(f"{API}/marking/{pooled['id']}/tasks", headers=city.b.teacher).status_code == 404
    task = _tasks(client, pooled["id"], b_marker)[0]
    assert SCHOOL_A not in json.dumps(task)
    assert client.get(task["image"], headers=b_marker).status_code == 200
    assert _score(client, task["token"], b_marker, 11).status_code == 200
    with service.db.read() as session:
        entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "marking.score",
                                                        AuditEntry.actor == "user:pooled-b"))
    assert entry.school_id == SCHOOL_A  # school A's log shows who scored its student's answer
    progress = client.get(url, headers=city.municipal).json()
    assert [(p["question"], p["final"]) for p in progress] == [("Q58", 1)]


def test_a_crop_placed_with_the_workers_registration_matches_one_read_again(tmp_path):
    """The crop reuses the homography the workers found on the reduced JPEG (scaled to full size) instead of
    reading the page again: the two crops agree to within a pixel or two at 8 px/mm."""
    import types

    import cv2
    import numpy as np
    from omr.batch import ScanOptions, scan_file
    from omr.load import LoadLimits
    from omr.result import page_result_to_dict
    from sample_sheets import resolve_template
    from sample_sheets.simulate import write_batch

    from api.service.marking import CropSource, ScanPage, cut_crop
    from api.service.processing import prepared_template

    manifest = write_batch("cn-a4-55", tmp_path, count=1, seed=9, profile="typical", fmt="jpg", classes=1)
    path = tmp_path / manifest["pages"][0]["file"]
    template = resolve_template("cn-a4-55").model_dump(mode="json")
    stored = page_result_to_dict(scan_file(path, prepared_template(template), ScanOptions())[0])
    service = types.SimpleNamespace(blobs=types.SimpleNamespace(path=lambda _sha: path),
                                    settings=types.SimpleNamespace(load_limits=LoadLimits))
    regions = ("answer56", "answer57")
    registered = ScanPage(1, "sha", path.name, 0, stored["page"], tuple(map(tuple, stored["page_to_image"])))
    reused = cut_crop(service, CropSource(1, template, regions, ((1, registered),)))
    again = cut_crop(service, CropSource(1, template, regions, ((1, ScanPage(1, "sha", path.name, 0)),)))
    a, b = (cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_GRAYSCALE).astype(np.float32)
            for png in (reused, again))
    assert abs(a.shape[0] - b.shape[0]) <= 2 and abs(a.shape[1] - b.shape[1]) <= 2
    rows, columns = min(a.shape[0], b.shape[0]), min(a.shape[1], b.shape[1])
    (dx, dy), _ = cv2.phaseCorrelate(a[:rows, :columns], b[:rows, :columns])
    assert abs(dx) < 2 and abs(dy) < 2
