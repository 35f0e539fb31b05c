"""Authorisation as a mechanism: every operation of the OpenAPI schema declares its scope and roles, and every
kind of caller (station key, teacher, an exam's subject leader, school admin, the municipal key, a key of every
single scope, nobody) gets 401/403 exactly where the declaration says and never where it allows. An operation
added later without a line in ``DECLARED`` fails here until someone says what it needs.

Then the exploits of issue 15 one by one: narrow municipal keys reaching everything, ``"scopes": []``, keys
granting more than their creator holds, any teacher changing an exam's key, sessions outliving a password
change, unknown names never locking, one address locking every account, and the audit gaps."""

from __future__ import annotations

import datetime as dt
import itertools
import json

import pytest
from sqlalchemy import select

from api.service.bootstrap import add_api_key
from api.service.models import ApiKey, AuditEntry, LoginAttempt
from api.service.security import PEOPLE, SCOPES, new_api_key

from review_helpers import CLASS_1, assign_classes, setup_school
from service_city import PASSWORD, SAMPLE_EXAM, SCHOOL_A, _login

API = "/api/v1"
PUBLIC = "public"

# (method, path) -> (scope, roles) as the operation declares it; roles None = every role holding the scope;
# scope PUBLIC = anyone, None = the roles alone.
DECLARED: dict[tuple[str, str], tuple[str | None, tuple[str, ...] | None]] = {
    ("get", "/health"): (PUBLIC, None),
    ("post", "/auth/token"): (PUBLIC, None),
    ("post", "/auth/logout"): (None, PEOPLE),
    ("post", "/schools"): ("schools:write", None),
    ("get", "/schools"): ("schools:read", None),
    ("get", "/schools/{school_id}"): ("schools:read", None),
    ("post", "/classes"): ("roster:write", None),
    ("get", "/classes"): ("roster:read", None),
    ("post", "/students"): ("roster:write", None),
    ("get", "/students"): ("roster:read", None),
    ("get", "/students/{student_id}"): ("roster:read", None),
    ("patch", "/students/{student_id}"): ("roster:write", None),
    ("post", "/students/import"): ("roster:write", None),
    ("post", "/users"): ("users:write", None),
    ("get", "/users"): ("users:read", None),
    ("patch", "/users/{user_id}"): ("users:write", None),
    ("get", "/users/{user_id}/classes"): ("users:read", None),
    ("put", "/users/{user_id}/classes"): ("users:write", None),
    ("post", "/api-keys"): ("keys:write", None),
    ("get", "/api-keys"): ("keys:read", None),
    ("delete", "/api-keys/{key_id}"): ("keys:write", None),
    ("post", "/exams"): ("exams:write", None),
    ("post", "/exams/import"): ("exams:write", None),
    ("get", "/exams"): ("exams:read", None),
    ("get", "/exams/{exam_id}"): ("exams:read", None),
    ("get", "/exams/{exam_id}/grants"): ("grants:read", None),
    ("post", "/exams/{exam_id}/grants"): ("grants:write", None),
    ("delete", "/exams/{exam_id}/grants/{grant_id}"): ("grants:write", None),
    ("post", "/batches"): ("upload", None),
    ("get", "/batches"): ("batches:read", None),
    ("get", "/batches/{batch_id}"): ("batches:read", None),
    ("get", "/review"): ("review:read", None),
    ("get", "/sheets/{sheet_id}"): ("review:read", None),
    ("get", "/pages/{page_id}"): ("review:read", None),
    ("post", "/pages/{page_id}/resolve"): ("review:write", None),
    ("get", "/pages/{page_id}/image"): ("review:read", None),
    ("get", "/pages/{page_id}/overlay"): ("review:read", None),
    ("post", "/sheets/{sheet_id}/corrections"): ("review:write", None),
    ("get", "/audit"): ("audit:read", None),
    ("post", "/exams/{exam_id}/grade"): ("exams:grade", None),
    ("post", "/exams/{exam_id}/key-changes"): ("exams:write", None),  # teachers: only with the exam's grant
    ("get", "/exams/{exam_id}/results"): ("results:read", None),
    ("get", "/exams/{exam_id}/results/{student_exam_id}"): ("results:read", None),
    ("get", "/exams/{exam_id}/classes/{class_name}/results"): ("results:read", None),
    ("get", "/exams/{exam_id}/analytics"): ("results:read", None),
    ("get", "/exams/{exam_id}/progress"): ("results:read", None),
    ("get", "/exams/{exam_id}/reports/grade.xlsx"): ("results:read", None),
    ("get", "/exams/{exam_id}/reports/classes/{class_name}.xlsx"): ("results:read", None),
    ("get", "/exams/{exam_id}/reports/classes/{class_name}/students.pdf"): ("results:read", None),
    ("get", "/exams/{exam_id}/reports/classes/{class_name}/wrongbook.pdf"): ("results:read", None),
    ("put", "/bank"): ("roster:write", ("school_admin",)),
    ("get", "/bank"): ("results:read", None),
    ("get", "/exams/{exam_id}/scores.xlsx"): ("scores:export", None),
    ("get", "/exams/{exam_id}/scores.csv"): ("scores:export", None),
    ("get", "/municipal/exams/{exam_id}/aggregates"): ("aggregates:read", None),
    ("get", "/municipal/exams/{exam_id}/scores"): ("scores:export", ("municipal",)),
    ("post", "/profiles"): ("profiles:write", None),
    ("get", "/profiles"): ("profiles:read", None),
    ("get", "/profiles/{profile_id}"): ("profiles:read", None),
    ("post", "/profiles/{profile_id}/activate"): ("profiles:write", None),
    ("post", "/profiles/learn"): ("profiles:write", None),
    ("post", "/arrangements"): ("roster:write", ("school_admin",)),
    ("post", "/exams/{exam_id}/marking"): ("marking:manage", None),  # teachers: only with the exam's grant
    ("get", "/exams/{exam_id}/marking"): ("marking:score", None),
    ("get", "/marking/{setup_id}"): ("marking:score", None),
    ("patch", "/marking/{setup_id}"): ("marking:manage", None),
    ("post", "/marking/{setup_id}/load"): ("marking:manage", None),
    ("get", "/marking/{setup_id}/tasks"): ("marking:score", None),
    ("post", "/marking/tasks/{token}/score"): ("marking:score", None),
    ("post", "/marking/tasks/{token}/problem"): ("marking:score", None),
    ("get", "/marking/{setup_id}/history"): ("marking:score", None),
    ("get", "/marking/tasks/{token}/image"): ("marking:score", None),
    ("get", "/marking/{setup_id}/problems"): ("marking:manage", None),
    ("post", "/marking/problems/{token}/resolve"): ("marking:manage", None),
    ("get", "/marking/{setup_id}/progress"): ("marking:manage", None),
    ("post", "/marking/{setup_id}/reassign"): ("marking:manage", None),
    ("post", "/exams/{exam_id}/marking/city"): ("exams:write", ("municipal",)),
    ("get", "/exams/{exam_id}/marking/city"): ("aggregates:read", None),
}
#: What each role holds, written out (security.SCOPES must say the same).
ROLE_SCOPES = {
    "station": {"upload", "batches:read"},
    "teacher": {"schools:read", "roster:read", "exams:read", "exams:write", "exams:grade", "upload", "batches:read",
                "review:read", "review:write", "results:read", "scores:export", "marking:score", "marking:manage"},
    "municipal": {"schools:read", "schools:write", "roster:read", "roster:write", "users:read", "users:write",
                  "keys:read", "keys:write", "exams:read", "exams:write", "exams:grade", "review:read",
                  "results:read", "scores:export", "aggregates:read", "audit:read", "profiles:read"},
}
ROLE_SCOPES["school_admin"] = ROLE_SCOPES["teacher"] | {"roster:write", "users:read", "users:write", "keys:read",
                                                       "keys:write", "grants:read", "grants:write", "audit:read",
                                                       "profiles:read", "profiles:write"}


def _operations(client) -> dict[tuple[str, str], dict]:
    document = client.get(f"{API}/openapi.json").json()
    return {(method, path.removeprefix(API)): operation for path, operations in document["paths"].items()
            for method, operation in operations.items()}


def test_every_operation_declares_what_it_needs(client):
    operations = _operations(client)
    assert set(operations) - set(DECLARED) == set(), "say in DECLARED what these operations need"
    assert set(DECLARED) - set(operations) == set()
    assert {role: set(scopes) for role, scopes in SCOPES.items()} == ROLE_SCOPES
    for key, operation in operations.items():
        scope, roles = DECLARED[key]
        declared = operation["x-permission"]
        assert declared["public"] == (scope == PUBLIC), key
        if scope != PUBLIC:
            assert declared["scope"] == scope, key
            assert set(declared["roles"]) == set(roles or [r for r, s in ROLE_SCOPES.items() if scope in s]), key


def test_an_operation_without_a_declaration_is_refused(service):
    from fastapi import APIRouter

    from api.service.app import check_declarations, create_app

    app = create_app(service=service)
    check_declarations(app)  # the real application is fully declared
    stray = APIRouter()

    @stray.post("/api/v1/stray")
    def undeclared(body: dict) -> dict:
        return body

    app.include_router(stray)
    with pytest.raises(RuntimeError, match="/api/v1/stray"):
        check_declarations(app)
    # added behind the check's back, it is still refused, unread
    assert _through_asgi(app, "POST", f"{API}/stray", {"Content-Length": "2"}, [b"{}"]) == (403, 0)
    assert _through_asgi(app, "POST", f"{API}/nowhere", {}, []) == (404, 0)


# --- the walk: every operation x every caller ------------------------------------------------------------------

class World:
    """School A's objects and callers, and a fresh name or key whenever an operation uses one up."""

    def __init__(self, client, service, city):
        self.client, self.service, self.city = client, service, city
        self.counter = itertools.count(1)
        definition = json.loads(SAMPLE_EXAM.read_text(encoding="utf-8"))
        own = client.post(f"{API}/exams", json={"definition": {**definition, "id": "walk-own"}},
                          headers=city.a.admin)
        assert own.status_code == 201, own.text
        self.definition = definition
        self.own_exam = own.json()["id"]
        student = client.post(f"{API}/students", headers=city.a.admin,
                              json={"exam_id": "2026017001", "name": "张三", "class_name": CLASS_1})
        assert student.status_code == 201, student.text
        self.student = student.json()["id"]
        self.leader = self._teacher("walk-leader")
        self.victim = self._teacher("walk-victim")
        self.spare = self._teacher("walk-spare")
        for username in (f"teacher-{city.a.id}", "walk-leader"):  # both teach the class the walk reads
            assign_classes(client, city.a.admin, username, [CLASS_1])
        for user in (self.leader, self.spare):
            grant = client.post(f"{API}/exams/{self.own_exam}/grants", json={"user_id": user}, headers=city.a.admin)
            assert grant.status_code == 201, grant.text
            self.grant = grant.json()["id"]  # the spare's: the one the walk revokes
        self.callers: dict[str, tuple[str, dict[str, str], frozenset[str]]] = {
            "station": ("station", city.a.station, frozenset(ROLE_SCOPES["station"])),
            "teacher": ("teacher", city.a.teacher, frozenset(ROLE_SCOPES["teacher"])),
            "subject leader": ("teacher", self.leader_headers, frozenset(ROLE_SCOPES["teacher"])),
            "school_admin": ("school_admin", city.a.admin, frozenset(ROLE_SCOPES["school_admin"])),
            "municipal": ("municipal", city.municipal, frozenset(ROLE_SCOPES["municipal"])),
        }
        for role, creator in (("municipal", city.municipal), ("station", city.a.admin)):
            for scope in sorted(ROLE_SCOPES[role]):
                made = client.post(f"{API}/api-keys", headers=creator,
                                   json={"name": f"only {scope}", "role": role, "scopes": [scope]})
                assert made.status_code == 201, made.text
                assert made.json()["scopes"] == [scope]
                self.callers[f"{role} key with {scope}"] = (role, {"X-API-Key": made.json()["key"]},
                                                            frozenset({scope}))

    def _teacher(self, username: str) -> int:
        made = self.client.post(f"{API}/users", headers=self.city.a.admin,
                                json={"username": username, "password": PASSWORD, "role": "teacher"})
        assert made.status_code == 201, made.text
        if username == "walk-leader":
            self.leader_headers = _login(self.client, username)
        return made.json()["id"]

    def request(self, method: str, path: str, operation: dict, caller: str) -> dict:
        """A minimal valid request of ``caller`` for the operation (404 and 422 are fine: not 401/403)."""
        role, headers, scopes = self.callers[caller]
        n = next(self.counter)
        city = self.city
        exam = city.exam_id if role == "municipal" else self.own_exam
        key_id = ""
        if (method, path) == ("delete", "/api-keys/{key_id}"):
            secret = add_api_key(self.service, "station", SCHOOL_A, name="to revoke")
            with self.service.db.read() as session:
                key_id = session.scalar(select(ApiKey.id).where(ApiKey.prefix == secret[:11]))
        url = API + path.format(school_id=SCHOOL_A, student_id=self.student, user_id=self.victim, key_id=key_id,
                                exam_id=exam, grant_id=self.grant, batch_id="no-such-batch", sheet_id=999999,
                                page_id=999999, student_exam_id="2026017001", class_name=CLASS_1,
                                profile_id=999999, setup_id=999999, token="0" * 32)
        takes_school = any(p["name"] == "school_id" and p["in"] == "query" for p in operation.get("parameters", []))
        kwargs: dict = {"headers": headers, "params": {"school_id": SCHOOL_A} if takes_school else {}}
        bodies = {
            ("post", "/auth/token"): {"username": "walk-victim", "password": PASSWORD},
            ("post", "/schools"): {"id": f"34330{n:05d}", "name": "新学校"},
            ("post", "/classes"): {"name": f"高三({n})班"},
            ("post", "/students"): {"exam_id": f"20260{n:05d}"},
            ("patch", "/students/{student_id}"): {"name": "李四"},
            ("post", "/users"): {"username": f"walk-new-{n}", "password": PASSWORD, "role": "teacher",
                                 "school_id": SCHOOL_A},
            ("patch", "/users/{user_id}"): {"display_name": f"改名{n}"},
            ("post", "/api-keys"): ({"name": "walk", "role": "municipal", "scopes": ["keys:write"]}
                                    if role == "municipal" else {"name": "walk"}),
            ("post", "/exams"): {"definition": {**self.definition, "id": f"walk-{n}"}},
            ("post", "/exams/{exam_id}/grants"): {"user_id": self.victim},
            ("post", "/pages/{page_id}/resolve"): {"reason": "not a sheet"},
            ("post", "/sheets/{sheet_id}/corrections"): {"corrections": [{"question": "Q1", "value": "A"}]},
            ("post", "/exams/{exam_id}/grade"): {},
            ("post", "/exams/{exam_id}/key-changes"): {"action": "void", "question": "Q1"},
            ("post", "/profiles"): {"profile": {"name": f"walk {n}"}},
            ("post", "/profiles/learn"): {},
            ("post", "/arrangements"): {"rooms": 1, "capacity": 30, "school_number": "0101", "sheets": False},
            ("post", "/exams/{exam_id}/marking"): {"question": "Q56", "markers": [self.leader]},
            ("patch", "/marking/{setup_id}"): {"self_check_rate": 0.1},
            ("post", "/marking/tasks/{token}/score"): {"score": 1},
            ("post", "/marking/tasks/{token}/problem"): {"kind": "blank"},
            ("post", "/marking/problems/{token}/resolve"): {"action": "return"},
            ("post", "/marking/{setup_id}/reassign"): {"from_user": self.victim},
        }
        if (method, path) in bodies:
            kwargs["json"] = bodies[(method, path)]
        elif (method, path) == ("post", "/batches"):
            kwargs |= {"data": {"exam_id": str(city.exam_id)}, "files": [("files", ("x.png", b"\x89PNG", "image/png"))]}
        elif (method, path) in (("post", "/students/import"), ("post", "/exams/import")):
            kwargs["files"] = {"file": ("r.csv", "考号,姓名\n2026019998,某\n".encode(), "text/csv")}
        return {"method": method.upper(), "url": url, **kwargs}


def _allowed(key: tuple[str, str], caller: str, role: str, scopes: frozenset[str]) -> bool:
    scope, roles = DECLARED[key]
    if scope == PUBLIC:
        return True
    if role not in (roles or [r for r, s in ROLE_SCOPES.items() if scope in s]):
        return False
    if key in (("post", "/exams/{exam_id}/key-changes"), ("post", "/exams/{exam_id}/marking")) \
            and caller == "teacher":
        return False  # a teacher without the exam's grant (the subject leader holds it)
    return scope is None or scope in scopes


def test_every_operation_answers_every_caller_as_declared(client, service, city):
    world = World(client, service, city)
    operations = _operations(client)
    # log-out last: it ends the caller's session
    order = sorted(operations, key=lambda key: key == ("post", "/auth/logout"))
    wrong, tally = [], {True: 0, False: 0}
    for key in order:
        method, path = key
        anonymous = client.request(**{**world.request(method, path, operations[key], "station"), "headers": {}})
        if DECLARED[key][0] != PUBLIC and anonymous.status_code != 401:
            wrong.append(f"nobody: {method.upper()} {path}: {anonymous.status_code}")
        for caller, (role, _, scopes) in world.callers.items():
            response = client.request(**world.request(method, path, operations[key], caller))
            refused = response.status_code in (401, 403)
            tally[refused] += 1
            if refused == _allowed(key, caller, role, scopes) or response.status_code == 401:
                wrong.append(f"{caller}: {method.upper()} {path}: {response.status_code} {response.text[:150]}")
    assert wrong == []
    assert tally[True] > 500 and tally[False] > 200, tally


# --- finding 1: the exploits -------------------------------------------------------------------------------------

def _key(client, creator: dict[str, str], **body) -> dict[str, str]:
    made = client.post(f"{API}/api-keys", headers=creator, json={"name": "k", **body})
    assert made.status_code == 201, made.text
    return {"X-API-Key": made.json()["key"]}


def test_an_aggregates_key_reaches_nothing_else(client, service, city, simulated_scans):
    ingested, _ = setup_school(client, service, city.a, city.exam_id, simulated_scans, extras=False)
    assert client.post(f"{API}/exams/{city.exam_id}/grade", headers=city.a.teacher).status_code == 201
    narrow = _key(client, city.municipal, role="municipal", scopes=["aggregates:read"])
    admin_a = next(u for u in client.get(f"{API}/users", headers=city.a.admin).json() if u["role"] == "school_admin")
    every = list(SCOPES["municipal"])
    attempts = [
        ("POST", "/api-keys", {"json": {"name": "all", "role": "municipal", "scopes": every}}),
        ("POST", "/api-keys", {"json": {"name": "all", "role": "municipal"}}),
        ("POST", "/users", {"json": {"username": "evil-admin", "password": PASSWORD, "role": "school_admin",
                                     "school_id": SCHOOL_A}}),
        ("PATCH", f"/users/{admin_a['id']}", {"json": {"password": "taken over 12345"}}),
        ("GET", f"/exams/{city.exam_id}/results", {"params": {"school_id": SCHOOL_A, "detail": "true"}}),
        ("GET", f"/exams/{city.exam_id}/scores.csv", {"params": {"school_id": SCHOOL_A}}),
        ("GET", f"/exams/{city.exam_id}/scores.xlsx", {"params": {"school_id": SCHOOL_A}}),
        ("GET", f"/municipal/exams/{city.exam_id}/scores", {}),
        ("GET", f"/pages/{ingested.pages['batch-0001-p1.jpg'][0]}/image", {}),
        ("GET", f"/sheets/{ingested.sheet_ids[0]}", {}),
        ("GET", "/audit", {}),
        ("GET", "/students", {"params": {"school_id": SCHOOL_A}}),
    ]
    for method, path, kwargs in attempts:
        response = client.request(method, API + path, headers=narrow, **kwargs)
        assert response.status_code == 403, f"{method} {path}: {response.status_code}"
    aggregates = client.get(f"{API}/municipal/exams/{city.exam_id}/aggregates", headers=narrow)
    assert aggregates.status_code == 200
    assert client.post(f"{API}/auth/token", json={"username": admin_a["username"],
                                                  "password": PASSWORD}).status_code == 200  # unchanged


def test_a_key_with_no_scopes_has_none(client, service, city):
    refused = client.post(f"{API}/api-keys", headers=city.municipal,
                          json={"name": "empty", "role": "municipal", "scopes": []})
    assert refused.status_code == 422
    # a key stored with [] (made before this rule) can do nothing at all
    secret, prefix, key_hash = new_api_key()
    with service.db.write() as session:
        session.add(ApiKey(prefix=prefix, key_hash=key_hash, role="municipal", school_id=None, scopes=[]))
        session.commit()
    empty = {"X-API-Key": secret}
    for method, path in (("GET", f"/municipal/exams/{city.exam_id}/aggregates"), ("GET", "/exams"),
                         ("GET", "/audit"), ("GET", "/users")):
        assert client.request(method, API + path, headers=empty, params={"school_id": SCHOOL_A}).status_code == 403
    assert client.post(f"{API}/api-keys", headers=empty, json={"name": "x", "role": "municipal"}).status_code == 403


def test_a_key_never_grants_more_than_its_creator_holds(client, city):
    keys_only = _key(client, city.municipal, role="municipal", scopes=["keys:write", "aggregates:read"])
    for scopes in (["scores:export"], ["keys:write", "users:write"], None):
        body = {"name": "wider", "role": "municipal"} | ({"scopes": scopes} if scopes is not None else {})
        response = client.post(f"{API}/api-keys", headers=keys_only, json=body)
        if scopes is None:  # the default is what the creator holds of the role's scopes
            assert response.status_code == 201 and set(response.json()["scopes"]) == {"keys:write", "aggregates:read"}
        else:
            assert response.status_code == 403, scopes
    narrower = client.post(f"{API}/api-keys", headers=keys_only,
                           json={"name": "narrower", "role": "municipal", "scopes": ["aggregates:read"]})
    assert narrower.status_code == 201 and narrower.json()["scopes"] == ["aggregates:read"]
    # a station key's scopes are a station's; a school admin cannot issue a municipal key
    assert client.post(f"{API}/api-keys", headers=city.a.admin,
                       json={"name": "x", "scopes": ["users:write"]}).status_code == 422
    assert client.post(f"{API}/api-keys", headers=city.a.admin,
                       json={"name": "x", "role": "municipal", "school_id": None}).status_code == 403


def test_only_the_admin_and_the_subject_leader_change_an_exams_key(client, service, city):
    definition = json.loads(SAMPLE_EXAM.read_text(encoding="utf-8"))
    exam = client.post(f"{API}/exams", json={"definition": {**definition, "id": "leader-test"}},
                       headers=city.a.teacher).json()["id"]
    leader = client.post(f"{API}/users", headers=city.a.admin,
                         json={"username": "leader", "password": PASSWORD, "role": "teacher"}).json()
    leader_headers = _login(client, "leader")
    url = f"{API}/exams/{exam}/key-changes"
    change = {"action": "bonus", "question": "Q1"}
    assert client.post(url, headers=city.a.teacher, json=change).status_code == 403  # even the exam's author
    assert client.post(url, headers=leader_headers, json=change).status_code == 403
    # teachers cannot hand out grants; the admin can, and it is audited
    grants = f"{API}/exams/{exam}/grants"
    assert client.post(grants, headers=city.a.teacher, json={"user_id": leader["id"]}).status_code == 403
    assert client.post(grants, headers=city.b.admin, json={"user_id": leader["id"]}).status_code == 404
    grant = client.post(grants, headers=city.a.admin, json={"user_id": leader["id"]})
    assert grant.status_code == 201, grant.text
    assert client.post(url, headers=leader_headers, json=change).status_code == 201
    assert client.post(url, headers=city.a.teacher, json={"action": "void", "question": "Q2"}).status_code == 403
    assert client.post(url, headers=city.a.admin, json={"action": "void", "question": "Q2"}).status_code == 201
    revoked = client.delete(f"{grants}/{grant.json()['id']}", headers=city.a.admin)
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    assert client.post(url, headers=leader_headers, json={"action": "void", "question": "Q3"}).status_code == 403
    listed = client.get(grants, headers=city.a.admin).json()
    assert [(g["username"], g["revoked_at"] is not None) for g in listed] == [("leader", True)]
    with service.db.read() as session:
        actions = [e.action for e in session.scalars(select(AuditEntry).where(AuditEntry.object_type == "exam",
                                                                               AuditEntry.object_id == str(exam)))]
    assert actions.count("exam_grant.create") == 1 and actions.count("exam_grant.revoke") == 1
    assert actions.count("exam.key_change") == 2


# --- finding 5 ------------------------------------------------------------------------------------------------

def test_a_new_password_ends_every_session(client, city):
    teacher = next(u for u in client.get(f"{API}/users", headers=city.a.admin).json() if u["role"] == "teacher")
    second = _login(client, teacher["username"])
    assert client.get(f"{API}/exams", headers=city.a.teacher).status_code == 200
    changed = client.patch(f"{API}/users/{teacher['id']}", headers=city.a.admin,
                           json={"password": "a brand new password"})
    assert changed.status_code == 200
    for headers in (city.a.teacher, second):
        assert client.get(f"{API}/exams", headers=headers).status_code == 401
    fresh = client.post(f"{API}/auth/token", json={"username": teacher["username"], "password": "a brand new password"})
    assert fresh.status_code == 200
    # an admin changing their own password ends their own sessions too
    admin = next(u for u in client.get(f"{API}/users", headers=city.a.admin).json() if u["role"] == "school_admin")
    assert client.patch(f"{API}/users/{admin['id']}", headers=city.a.admin,
                        json={"password": "another new password"}).status_code == 200
    assert client.get(f"{API}/exams", headers=city.a.admin).status_code == 401


# --- finding 8 ------------------------------------------------------------------------------------------------

def _statuses(client, username: str, times: int) -> list[int]:
    return [client.post(f"{API}/auth/token", json={"username": username, "password": "wrong password!"}).status_code
            for _ in range(times)]


def test_an_unknown_name_locks_exactly_like_a_real_one(client, service, city):
    limit = service.settings.login_max_failures
    real = _statuses(client, "teacher-" + SCHOOL_A, limit + 2)
    made_up = _statuses(client, "nobody-at-all", limit + 2)
    assert real == made_up == [401] * limit + [423, 423]
    with service.db.read() as session:
        entries = list(session.scalars(select(AuditEntry).where(AuditEntry.object_id == "nobody-at-all")
                                       .order_by(AuditEntry.id)))
    assert [e.action for e in entries] == ["auth.login_failed"] * (limit - 1) + ["auth.locked"] + \
        ["auth.login_locked"] * 2
    assert all(e.address == "testclient" and e.actor == "anonymous" for e in entries)


def test_one_address_cannot_lock_every_account(service, settings):
    from fastapi.testclient import TestClient

    from api.service.app import create_app
    from api.service.bootstrap import add_school, add_user

    service.settings = settings.model_copy(update={"login_address_max_failures": 6})
    add_school(service, SCHOOL_A, "第一中学")
    for k in range(4):
        add_user(service, f"teacher-{k}", PASSWORD, "teacher", SCHOOL_A)
    app = create_app(service=service)
    with TestClient(app, client=("203.0.113.7", 4000)) as attacker, \
            TestClient(app, client=("198.51.100.2", 4000)) as school:
        answers = [attacker.post(f"{API}/auth/token", json={"username": f"teacher-{k % 4}",
                                                            "password": "guess guess"}) for k in range(8)]
        assert [a.status_code for a in answers] == [401] * 6 + [429, 429]
        retry = int(answers[-1].headers["Retry-After"])
        assert 0 < retry <= service.settings.login_address_window_minutes * 60
        # the right password from that address waits too; from another address every account still logs in
        assert attacker.post(f"{API}/auth/token", json={"username": "teacher-0",
                                                        "password": PASSWORD}).status_code == 429
        for k in range(4):
            assert school.post(f"{API}/auth/token", json={"username": f"teacher-{k}",
                                                          "password": PASSWORD}).status_code == 200
        with service.db.write() as session:  # the window runs out
            row = session.get(LoginAttempt, ("address", "203.0.113.7"))
            row.window_start -= dt.timedelta(minutes=service.settings.login_address_window_minutes + 1)
            row.locked_until -= dt.timedelta(minutes=service.settings.login_address_window_minutes + 1)
            session.commit()
        assert attacker.post(f"{API}/auth/token", json={"username": "teacher-0",
                                                        "password": PASSWORD}).status_code == 200
    with service.db.read() as session:
        throttled = list(session.scalars(select(AuditEntry).where(AuditEntry.action == "auth.throttled")))
    assert [(e.object_id, e.address) for e in throttled] == [("203.0.113.7", "203.0.113.7")]


# --- finding 9 ------------------------------------------------------------------------------------------------

def test_log_outs_exports_and_addresses_are_audited(client, service, city, simulated_scans):
    with service.db.read() as session:
        first = session.scalar(select(AuditEntry.id).order_by(AuditEntry.id.desc()).limit(1))
    setup_school(client, service, city.a, city.exam_id, simulated_scans, extras=False)
    assert client.post(f"{API}/exams/{city.exam_id}/grade", headers=city.a.teacher).status_code == 201
    downloads = ["/scores.xlsx", "/scores.csv", "/reports/grade.xlsx", f"/reports/classes/{CLASS_1}.xlsx",
                 f"/reports/classes/{CLASS_1}/students.pdf"]
    for path in downloads:
        assert client.get(f"{API}/exams/{city.exam_id}{path}", headers=city.a.teacher).status_code == 200, path
    assert client.get(f"{API}/municipal/exams/{city.exam_id}/scores", headers=city.municipal).status_code == 200
    assert client.post(f"{API}/auth/logout", headers=city.a.teacher).status_code == 204
    with service.db.read() as session:
        entries = list(session.scalars(select(AuditEntry).where(AuditEntry.id > first).order_by(AuditEntry.id)))
    exports = [(e.actor, e.after["file"]) for e in entries if e.action == "results.export"]
    teacher = f"user:teacher-{SCHOOL_A}"
    assert exports[:5] == [(teacher, "scores.xlsx"), (teacher, "scores.csv"), (teacher, "grade.xlsx"),
                           (teacher, "class.xlsx"), (teacher, "students.pdf")]
    assert exports[5][1] == "municipal scores" and exports[5][0].startswith("key:")
    assert [(e.actor, e.school_id) for e in entries if e.action == "auth.logout"] == [(teacher, SCHOOL_A)]
    assert entries and all(e.address == "testclient" for e in entries)  # every entry made over HTTP
    listed = client.get(f"{API}/audit", headers=city.a.admin, params={"action": "auth.logout"}).json()["items"]
    assert [e["address"] for e in listed] == ["testclient"]


def test_a_corrections_before_is_the_previous_value(client, service, city, simulated_scans):
    ingested, _ = setup_school(client, service, city.a, city.exam_id, simulated_scans, extras=False)
    sheet = ingested.sheet_ids[0]
    read = client.get(f"{API}/sheets/{sheet}", headers=city.a.teacher).json()["result"]["questions"]["Q1"]
    url = f"{API}/sheets/{sheet}/corrections"
    first = client.post(url, headers=city.a.teacher, json={"corrections": [{"question": "Q1", "value": "B"}]})
    second = client.post(url, headers=city.a.teacher, json={"corrections": [{"question": "Q1", "value": "C"},
                                                                            {"question": "Q1", "value": "D"}]})
    assert first.status_code == second.status_code == 201, second.text
    assert [a["before"] for a in second.json()["applied"]] == ["B", "C"]
    with service.db.read() as session:
        befores = [e.before["value"] for e in session.scalars(
            select(AuditEntry).where(AuditEntry.action == "correction.create").order_by(AuditEntry.id))]
    assert befores == [first.json()["applied"][0]["before"], "B", "C"]
    assert befores[0] == ("".join(read["marked"]) or "(blank)")  # the first one replaces what OMR read


# --- finding 2: nothing read before the caller is known, and no more than the route takes ---------------------

def _through_asgi(app, method: str, path: str, headers: dict[str, str], chunks) -> tuple[int, int]:
    """Send a request straight to the ASGI app with the body as ``chunks`` (a generator, so nothing exists
    until the app asks for it); (status, bytes of body the app pulled)."""
    import asyncio

    pulled = 0
    chunks = iter(chunks)
    answer: dict = {}

    async def receive():
        nonlocal pulled
        chunk = next(chunks, None)
        if chunk is None:
            return {"type": "http.request", "body": b"", "more_body": False}
        pulled += len(chunk)
        return {"type": "http.request", "body": chunk, "more_body": True}

    async def send(message):
        if message["type"] == "http.response.start":
            answer["status"] = message["status"]

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
             "path": path, "raw_path": path.encode(), "root_path": "", "query_string": b"",
             "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
             "client": ("192.0.2.1", 5000), "server": ("testserver", 80), "state": {}}
    asyncio.run(app(scope, receive, send))
    return answer["status"], pulled


def _megabytes(total: int, size: int = 1 << 20):
    for _ in range(total // size):
        yield b" " * size


def test_no_body_is_read_before_the_caller_is_known(service, city):
    from api.service.app import create_app

    app = create_app(service=service)
    announced = {"Content-Type": "application/json", "Content-Length": str(56 << 20)}
    for path in ("/exams", "/students/import", "/batches", "/users"):
        assert _through_asgi(app, "POST", API + path, announced, _megabytes(56 << 20)) == (401, 0), path
    chunked = {"Content-Type": "application/json", "Transfer-Encoding": "chunked"}  # no length said
    assert _through_asgi(app, "POST", f"{API}/exams", chunked, _megabytes(56 << 20)) == (401, 0)
    assert _through_asgi(app, "POST", f"{API}/exams", {**chunked, "Authorization": "Bearer forged"},
                         _megabytes(56 << 20)) == (401, 0)
    # known, but not allowed: 403, still unread
    assert _through_asgi(app, "POST", f"{API}/exams", {**chunked, **city.a.station},
                         _megabytes(56 << 20)) == (403, 0)
    assert _through_asgi(app, "POST", f"{API}/users", {**announced, **city.a.teacher},
                         _megabytes(56 << 20)) == (403, 0)


def test_a_body_above_its_routes_limit_is_refused_unread(service, city):
    from api.service.app import create_app

    MIB = 1 << 20
    app = create_app(service=service)
    teacher = {**city.a.teacher, "Content-Type": "application/json"}
    # an exam definition takes at most 1 MiB: 56 MiB announced is refused before a byte is read
    assert _through_asgi(app, "POST", f"{API}/exams", {**teacher, "Content-Length": str(56 << 20)},
                         _megabytes(56 << 20)) == (413, 0)
    # sent without a length, it is counted as it comes and refused just past the limit
    status, pulled = _through_asgi(app, "POST", f"{API}/exams", teacher, _megabytes(56 << 20, 64 << 10))
    assert status == 413 and MIB < pulled <= MIB + (64 << 10)
    # a correction takes 256 KiB; the log-in 4 KiB; health nothing
    status, pulled = _through_asgi(app, "POST", f"{API}/sheets/1/corrections", teacher, _megabytes(4 << 20))
    assert status == 413 and pulled <= 1 << 20
    assert _through_asgi(app, "POST", f"{API}/auth/token", {"Content-Length": str(5000)},
                         _megabytes(5000, 5000)) == (413, 0)
    assert _through_asgi(app, "GET", f"{API}/health", {"Content-Length": "10"}, [b"x" * 10]) == (413, 0)
    # the batch upload is the big one: its limit is the upload setting
    assert service.settings.max_request_bytes > 100 * MIB
    station = {**city.a.station, "Content-Type": "multipart/form-data; boundary=x"}
    assert _through_asgi(app, "POST", f"{API}/batches",
                         {**station, "Content-Length": str(service.settings.max_request_bytes + 1)},
                         _megabytes(1 << 20)) == (413, 0)


def test_the_gate_hands_the_caller_on(client, city, monkeypatch):
    import api.service.app as app_module
    import api.service.deps as deps

    looked_up = []
    real = deps.authenticate

    def counted(*args):
        looked_up.append(args[1:3])
        return real(*args)

    monkeypatch.setattr(deps, "authenticate", counted)
    monkeypatch.setattr(app_module, "authenticate", counted)
    assert client.get(f"{API}/exams", headers=city.a.teacher).status_code == 200
    assert len(looked_up) == 1  # by the gate; the route's dependency took the principal it left
