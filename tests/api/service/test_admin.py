"""Log-in, schools, classes, students and rosters, people and API keys, exams: through HTTP."""

from __future__ import annotations

import json

from sqlalchemy import select

from api.service.models import AuditEntry, LoginAttempt, User

from service_city import PASSWORD, SAMPLE_EXAM, SCHOOL_A, SCHOOL_B


def test_no_credentials_is_401_and_bad_ones_too(client, city):
    assert client.get("/api/v1/exams").status_code == 401
    assert client.get("/api/v1/exams", headers={"X-API-Key": "yj_not-a-key"}).status_code == 401
    assert client.get("/api/v1/exams", headers={"Authorization": "Bearer nonsense"}).status_code == 401
    assert client.get("/api/v1/health").json() == {"status": "ok"}


def test_wrong_password_and_unknown_user_are_the_same_401(client, city):
    for username, password in (("teacher-" + SCHOOL_A, "wrong password!!"), ("nobody-here", PASSWORD)):
        response = client.post("/api/v1/auth/token", json={"username": username, "password": password})
        assert response.status_code == 401
        assert response.json()["detail"] == "wrong username or password"


def test_passwords_are_stored_as_argon2(service, city):
    with service.db.read() as session:
        hashes = list(session.scalars(select(User.password_hash)))
    assert hashes and all(h.startswith("$argon2id$") and PASSWORD not in h for h in hashes)


def test_logout_revokes_the_token(client, city):
    assert client.post("/api/v1/auth/logout", headers=city.a.teacher).status_code == 204
    assert client.get("/api/v1/exams", headers=city.a.teacher).status_code == 401


def test_deactivated_user_loses_access_at_once(client, city):
    users = client.get("/api/v1/users", headers=city.a.admin).json()
    teacher = next(u for u in users if u["role"] == "teacher")
    response = client.patch(f"/api/v1/users/{teacher['id']}", json={"active": False}, headers=city.a.admin)
    assert response.status_code == 200 and response.json()["active"] is False
    assert client.get("/api/v1/exams", headers=city.a.teacher).status_code == 401


def test_revoked_key_stops_working_and_stays_listed(client, city):
    keys = client.get("/api/v1/api-keys", headers=city.a.admin).json()
    assert [k["role"] for k in keys] == ["station"] and "key" not in keys[0]
    assert client.get("/api/v1/exams", headers=city.a.station).status_code == 403  # stations upload, not read
    revoked = client.delete(f"/api/v1/api-keys/{keys[0]['id']}", headers=city.a.admin)
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    assert client.get("/api/v1/exams", headers=city.a.station).status_code == 401


def test_roles_are_enforced(client, city):
    school = {"id": "3433000303", "name": "第三中学"}
    for headers in (city.a.admin, city.a.teacher, city.a.station):
        assert client.post("/api/v1/schools", json=school, headers=headers).status_code == 403
    assert client.post("/api/v1/students", json={"exam_id": "2026019999"}, headers=city.a.teacher).status_code == 403
    municipal_key = {"name": "x", "role": "municipal"}
    assert client.post("/api/v1/api-keys", json=municipal_key, headers=city.a.admin).status_code == 403


def test_another_schools_objects_are_not_found(client, city):
    created = client.post("/api/v1/students", json={"exam_id": "2026010001", "name": "王伟", "class_name": "高一(1)班"},
                          headers=city.a.admin)
    assert created.status_code == 201
    student_id = created.json()["id"]
    users_a = client.get("/api/v1/users", headers=city.a.admin).json()
    key_a = client.get("/api/v1/api-keys", headers=city.a.admin).json()[0]
    b = city.b
    assert client.get(f"/api/v1/students/{student_id}", headers=b.teacher).status_code == 404
    assert client.patch(f"/api/v1/students/{student_id}", json={"name": "x"}, headers=b.admin).status_code == 404
    assert client.patch(f"/api/v1/users/{users_a[0]['id']}", json={"active": False}, headers=b.admin).status_code == 404
    assert client.delete(f"/api/v1/api-keys/{key_a['id']}", headers=b.admin).status_code == 404
    assert client.get(f"/api/v1/schools/{SCHOOL_A}", headers=b.teacher).status_code == 404
    assert client.get("/api/v1/students", params={"school_id": SCHOOL_A}, headers=b.teacher).status_code == 404
    assert client.get("/api/v1/students", headers=b.teacher).json() == []
    assert client.get(f"/api/v1/students/{student_id}", headers=city.a.teacher).status_code == 200


def test_unknown_fields_and_loose_types_are_refused(client, city):
    # Mass assignment: a caller cannot set its own role or school through extra fields.
    body = {"username": "sneaky", "password": PASSWORD, "role": "teacher", "is_superuser": True}
    assert client.post("/api/v1/users", json=body, headers=city.a.admin).status_code == 422
    body = {"username": "sneaky", "password": PASSWORD, "role": "teacher", "school_id": SCHOOL_B}
    assert client.post("/api/v1/users", json=body, headers=city.a.admin).status_code == 404
    # 考号 is text: a JSON number is refused, not converted (leading zeros would be lost).
    assert client.post("/api/v1/students", json={"exam_id": 12345}, headers=city.a.admin).status_code == 422
    assert client.post("/api/v1/students", json={"exam_id": "12a45"}, headers=city.a.admin).status_code == 422
    response = client.post("/api/v1/students", json={"exam_id": "0012345"}, headers=city.a.admin)
    assert response.status_code == 201 and response.json()["exam_id"] == "0012345"
    update = client.patch(f"/api/v1/users/{response.json()['id']}", json={"active": 1}, headers=city.a.admin)
    assert update.status_code == 422


def test_roster_import_creates_students_and_classes_and_is_audited(client, service, city):
    csv_text = "考号,学籍号,姓名,班级\n0026010001,,王伟,高一(1)班\n0026010002,,李娜,高一(2)班\n"
    response = client.post("/api/v1/students/import", headers=city.a.admin,
                           files={"file": ("名单.csv", csv_text.encode("utf-8"), "text/csv")})
    assert response.status_code == 200, response.text
    assert response.json() | {"warnings": []} == {"created": 2, "updated": 0, "classes_created": 2, "warnings": []}
    students = client.get("/api/v1/students", headers=city.a.teacher).json()
    assert [s["exam_id"] for s in students] == ["0026010001", "0026010002"]
    classes = client.get("/api/v1/classes", headers=city.a.teacher).json()
    assert [c["name"] for c in classes] == ["高一(1)班", "高一(2)班"]
    again = client.post("/api/v1/students/import", headers=city.a.admin,
                        files={"file": ("名单.csv", csv_text.replace("王伟", "王伟伟").encode(), "text/csv")})
    assert again.json()["created"] == 0 and again.json()["updated"] == 1
    bad = client.post("/api/v1/students/import", headers=city.a.admin,
                      files={"file": ("名单.csv", "考号,姓名\n12a,张三\n".encode(), "text/csv")})
    assert bad.status_code == 422 and "12a" in bad.json()["detail"]
    with service.db.read() as session:
        actions = [e.action for e in session.scalars(select(AuditEntry).where(AuditEntry.school_id == SCHOOL_A))]
    assert actions.count("roster.import") == 2


def test_exams_city_wide_and_per_school(client, city):
    definition = json.loads(SAMPLE_EXAM.read_text(encoding="utf-8"))
    own = client.post("/api/v1/exams", json={"definition": {**definition, "id": "a-school-quiz"}},
                      headers=city.a.teacher)
    assert own.status_code == 201 and own.json()["school_id"] == SCHOOL_A and own.json()["template_id"] == "cn-a4-55"
    a_sees = {e["id"] for e in client.get("/api/v1/exams", headers=city.a.teacher).json()}
    b_sees = {e["id"] for e in client.get("/api/v1/exams", headers=city.b.teacher).json()}
    assert a_sees == {city.exam_id, own.json()["id"]} and b_sees == {city.exam_id}
    assert client.get(f"/api/v1/exams/{own.json()['id']}", headers=city.b.teacher).status_code == 404
    assert client.post("/api/v1/exams", json={"definition": {**definition, "id": "a-school-quiz"}},
                       headers=city.a.admin).status_code == 409


def test_exam_template_must_be_bundled_or_sent(client, city):
    definition = json.loads(SAMPLE_EXAM.read_text(encoding="utf-8"))
    # A template name must never be read as a path on the server.
    for name in ("../../../etc/passwd", "/etc/hostname", "no-such-sheet"):
        response = client.post("/api/v1/exams", json={"definition": {**definition, "id": "x1", "template": name}},
                               headers=city.a.teacher)
        assert response.status_code == 422 and "send its JSON" in response.json()["detail"]
    broken = client.post("/api/v1/exams", json={"definition": {**definition, "questions": []}}, headers=city.a.teacher)
    assert broken.status_code == 422


def test_exam_import_from_key_workbook(client, city, tmp_path):
    from grading.exam import parse_exam
    from grading.exam_io import write_exam_xlsx

    definition = json.loads(SAMPLE_EXAM.read_text(encoding="utf-8"))
    path = tmp_path / "key.xlsx"
    write_exam_xlsx(parse_exam({**definition, "id": "wb-import"}), path)
    response = client.post("/api/v1/exams/import", headers=city.a.teacher,
                           files={"file": ("key.xlsx", path.read_bytes(),
                                           "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")})
    assert response.status_code == 201, response.text
    imported = response.json()["definition"]
    assert [q["answers"] for q in imported["questions"]] == [q.get("answers", []) for q in
                                                             parse_exam(definition).model_dump()["questions"]]


def test_request_body_limit(service, settings):
    from fastapi.testclient import TestClient

    from api.service.app import create_app

    small = service.settings.model_copy(update={"max_request_bytes": 1000})
    service.settings = small
    with TestClient(create_app(service=service)) as client:
        response = client.post("/api/v1/auth/token", content=b"x" * 5000, headers={"Content-Type": "application/json"})
        assert response.status_code == 413

        def chunks():  # no Content-Length: counted as it streams
            for _ in range(10):
                yield b"y" * 500

        assert client.post("/api/v1/auth/token", content=chunks(),
                           headers={"Content-Type": "application/json"}).status_code == 413


def test_too_many_wrong_passwords_lock_the_account_and_are_audited(client, service, city):
    import datetime as dt

    username = "teacher-" + SCHOOL_A
    wrong = {"username": username, "password": "not the password"}
    for _ in range(service.settings.login_max_failures - 1):
        assert client.post("/api/v1/auth/token", json=wrong).status_code == 401
    # A good password before the limit resets the count.
    assert client.post("/api/v1/auth/token", json={"username": username, "password": PASSWORD}).status_code == 200
    for _ in range(service.settings.login_max_failures):
        assert client.post("/api/v1/auth/token", json=wrong).status_code == 401
    # Locked: even the right password is refused, and says why.
    locked = client.post("/api/v1/auth/token", json={"username": username, "password": PASSWORD})
    assert locked.status_code == 423 and "try again later" in locked.json()["detail"]
    assert client.get("/api/v1/exams", headers=city.a.teacher).status_code == 200  # tokens already given still work
    # An unknown name locks exactly like a real one (test_permissions.py tries that side by side).
    with service.db.write() as session:  # the lock runs out
        lock = session.get(LoginAttempt, ("username", username))
        assert lock.locked_until is not None
        lock.locked_until = lock.locked_until - dt.timedelta(minutes=service.settings.login_lock_minutes + 1)
        session.commit()
    assert client.post("/api/v1/auth/token", json={"username": username, "password": PASSWORD}).status_code == 200
    with service.db.read() as session:
        actions = [e.action for e in session.scalars(select(AuditEntry).where(AuditEntry.object_id == username)
                                                     .order_by(AuditEntry.id))]
    assert actions.count("auth.login_failed") == 2 * service.settings.login_max_failures - 2
    assert actions.count("auth.locked") == 1 and actions.count("auth.login") == 3  # make_city's log-in too
    assert actions.count("auth.login_locked") == 1  # the attempt while locked


def test_concurrent_wrong_passwords_all_count_and_never_collide(any_service):
    """Two wrong passwords for a name never seen before, in two transactions at once: both count, neither fails
    (read-then-insert made the second a primary-key collision, a 500, and lost failures under load)."""
    import datetime as dt
    import threading

    from api.service.routes.admin import _address_failed, _name_failed

    settings = any_service.settings
    first_counted, errors = threading.Event(), []

    def fail_once(hold: bool) -> None:
        try:
            with any_service.db.write() as session:
                now = dt.datetime.now(dt.timezone.utc)
                _name_failed(session, "brand-new-name", None, "10.0.0.9", settings, now)
                _address_failed(session, "10.0.0.9", settings, now)
                if hold:  # keep the transaction open while the other one counts too
                    first_counted.set()
                    threading.Event().wait(0.5)
                session.commit()
        except Exception as error:  # noqa: BLE001 — the test reports whatever the second transaction raised
            errors.append(error)

    holder = threading.Thread(target=fail_once, args=(True,))
    holder.start()
    assert first_counted.wait(10)
    fail_once(False)
    holder.join()
    assert errors == []
    with any_service.db.read() as session:
        assert session.get(LoginAttempt, ("username", "brand-new-name")).failures == 2
        assert session.get(LoginAttempt, ("address", "10.0.0.9")).failures == 2


def test_an_address_window_that_ran_out_starts_again(any_service):
    import datetime as dt

    from api.service.routes.admin import _address_failed

    settings = any_service.settings
    long_ago = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=settings.login_address_window_minutes + 5)
    for moment in (long_ago, long_ago + dt.timedelta(seconds=1), dt.datetime.now(dt.timezone.utc)):
        with any_service.db.write() as session:
            _address_failed(session, "10.0.0.7", settings, moment)
            session.commit()
    with any_service.db.read() as session:
        row = session.get(LoginAttempt, ("address", "10.0.0.7"))
        assert row.failures == 1 and row.window_start.replace(tzinfo=None) > long_ago.replace(tzinfo=None)
