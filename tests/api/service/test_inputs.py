"""What clients send, on the way in: text fields at their columns' lengths (SQLite and PostgreSQL), a student
named with a NUL refused whichever way it arrives, JSON bodies within limits, and the usernames people have."""

from __future__ import annotations

import itertools
import json
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from api.service.app import create_app
from api.service.json_body import MAX_DEPTH, MAX_VALUES, parse_json_body
from api.service.models import ApiKey, AuditEntry, Correction, Exam, School, SchoolClass, Student, User

from service_city import PASSWORD, SAMPLE_EXAM, SCHOOL_A, City, make_city

API = "/api/v1"
G_OK = "G11010519491231002X"  # a valid 学籍号 (19 characters by format; its column holds 32)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


# --- text fields at their columns' lengths --------------------------------------------------------------------

@pytest.fixture
def any_client(any_service):
    """A client of a fresh service with the city made, on SQLite, then on PostgreSQL (which, unlike SQLite,
    refuses text longer than its column)."""
    with TestClient(create_app(service=any_service)) as client:
        yield client, make_city(client, any_service), any_service


@dataclass
class Sender:
    """How to send one field of one operation: ``send(value)`` makes a request otherwise valid; ``accepted`` is
    the status that shows the value passed validation (2xx where the value is stored; 401/404 where the
    operation then stops for another reason); ``column`` is where the value is stored, if in a column;
    ``longest(n)`` a valid value of n characters when plain text is not (default: one CJK character n times)."""

    send: Callable[[str], object]
    accepted: int
    column: object = None
    longest: Callable[[int], str] | None = None


def _senders(client: TestClient, city: City, tmp_path) -> dict[tuple[str, str, str], Sender]:
    """Every (method, path, field) of the OpenAPI schema whose text has a maximum length."""
    from grading.exam import parse_exam
    from grading.exam_io import write_exam_xlsx

    admin, municipal, teacher = city.a.admin, city.municipal, city.a.teacher
    serial = itertools.count(1)
    definition = json.loads(SAMPLE_EXAM.read_text(encoding="utf-8"))
    student = client.post(f"{API}/students", json={"exam_id": "9000"}, headers=admin).json()["id"]
    user = client.post(f"{API}/users", json={"username": "patched", "password": PASSWORD}, headers=admin).json()["id"]
    key_book = tmp_path / "key.xlsx"

    def post(path, body, headers=admin):
        return client.post(f"{API}{path}", json=body, headers=headers)

    def patch(path, body):
        return client.patch(f"{API}{path}", json=body, headers=admin)

    def exam_id() -> str:
        return f"{next(serial):04d}"

    def roster(grade: str):  # the grade goes to the roster's classes
        csv = f"考号,姓名,班级\n{exam_id()},张三,1班\n".encode()
        return client.post(f"{API}/students/import", headers=admin, data={"grade": grade},
                           files={"file": ("名单.csv", csv, "text/csv")})

    def key_workbook(grade: str):
        write_exam_xlsx(parse_exam({**definition, "id": f"wb-{next(serial)}"}), key_book)
        return client.post(f"{API}/exams/import", headers=teacher, data={"grade": grade},
                           files={"file": ("key.xlsx", key_book.read_bytes(), XLSX)})

    digits = lambda n: "1" * n  # noqa: E731
    letters = lambda n: "A" * n  # noqa: E731
    login = "/auth/token"
    return {
        ("post", login, "username"): Sender(lambda v: post(login, {"username": v, "password": PASSWORD}, {}), 401,
                                            User.username),
        ("post", login, "password"): Sender(lambda v: post(login, {"username": "nobody", "password": v}, {}), 401),
        ("post", "/schools", "name"): Sender(
            lambda v: post("/schools", {"id": f"34330{next(serial):05d}", "name": v}, municipal), 201, School.name),
        ("post", "/classes", "name"): Sender(lambda v: post("/classes", {"name": v}), 201, SchoolClass.name),
        ("post", "/classes", "grade"): Sender(lambda v: post("/classes", {"name": exam_id(), "grade": v}), 201,
                                              SchoolClass.grade),
        ("post", "/students", "exam_id"): Sender(lambda v: post("/students", {"exam_id": v}), 201, Student.exam_id,
                                                 digits),
        # a 学籍号 has 19 characters by format: the longest value accepted is that, and 33 is refused for length
        ("post", "/students", "student_no"): Sender(
            lambda v: post("/students", {"exam_id": exam_id(), "student_no": v}), 201, Student.student_no,
            lambda n: G_OK if n <= 32 else "G" * n),
        **{("post", "/students", field): Sender(lambda v, f=field: post("/students", {"exam_id": exam_id(), f: v}),
                                                201, getattr(Student, field))
           for field in ("name", "class_name", "version")},
        ("patch", "/students/{student_id}", "student_no"): Sender(
            lambda v: patch(f"/students/{student}", {"student_no": v}), 200, Student.student_no,
            lambda n: G_OK if n <= 32 else "G" * n),
        **{("patch", "/students/{student_id}", field): Sender(
            lambda v, f=field: patch(f"/students/{student}", {f: v}), 200, getattr(Student, field))
           for field in ("name", "class_name", "version")},
        ("post", "/students/import", "grade"): Sender(roster, 200, SchoolClass.grade),
        ("post", "/users", "username"): Sender(lambda v: post("/users", {"username": v, "password": PASSWORD}), 201,
                                               User.username),
        ("post", "/users", "password"): Sender(
            lambda v: post("/users", {"username": f"u{next(serial)}", "password": v}), 201, None, letters),
        ("post", "/users", "display_name"): Sender(
            lambda v: post("/users", {"username": f"u{next(serial)}", "password": PASSWORD, "display_name": v}),
            201, User.display_name),
        ("patch", "/users/{user_id}", "display_name"): Sender(lambda v: patch(f"/users/{user}", {"display_name": v}),
                                                              200, User.display_name),
        ("patch", "/users/{user_id}", "password"): Sender(lambda v: patch(f"/users/{user}", {"password": v}), 200,
                                                          None, letters),
        ("post", "/api-keys", "name"): Sender(lambda v: post("/api-keys", {"name": v}), 201, ApiKey.name),
        ("post", "/exams", "grade"): Sender(
            lambda v: post("/exams", {"definition": {**definition, "id": f"e{next(serial)}"}, "grade": v}, teacher),
            201, Exam.grade),
        ("post", "/exams/import", "grade"): Sender(key_workbook, 201, Exam.grade),
        # stored in the audit log's JSON; the page does not exist, so a valid body ends in 404
        ("post", "/pages/{page_id}/resolve", "reason"): Sender(lambda v: post("/pages/999999/resolve", {"reason": v}),
                                                               404),
        # stored in corrections' columns: the sheet does not exist, so a valid body ends in 404
        ("post", "/sheets/{sheet_id}/corrections", "corrections/value"): Sender(
            lambda v: post("/sheets/999999/corrections", {"corrections": [{"question": "Q1", "value": v}]}), 404,
            Correction.value, letters),
        ("post", "/sheets/{sheet_id}/corrections", "corrections/reason"): Sender(
            lambda v: post("/sheets/999999/corrections",
                           {"corrections": [{"question": "Q1", "value": "A", "reason": v}]}), 404, Correction.reason),
        # key changes are kept in the exam's JSON and the audit log; the exam does not exist: 404
        **{("post", "/exams/{exam_id}/key-changes", field): Sender(
            lambda v, b=body: post("/exams/999999/key-changes", {"action": "accept", "question": "Q1", **b(v)},
                                   municipal), 404, None, letters)
           for field, body in (("answer", lambda v: {"answer": v}), ("answers", lambda v: {"answers": [v]}),
                               ("option_points", lambda v: {"option_points": {v: 1.0}}),
                               ("reason", lambda v: {"reason": v}))},
        # 网上阅卷: the set-up names an exam that does not exist, the task token is nobody's: 404 once valid
        ("post", "/exams/{exam_id}/marking", "question"): Sender(
            lambda v: post("/exams/999999/marking", {"question": v, "markers": [1]}), 404, None, letters),
        ("post", "/exams/{exam_id}/marking", "regions"): Sender(
            lambda v: post("/exams/999999/marking", {"question": "Q56", "markers": [1], "regions": [v]}), 404, None,
            letters),
        **{("post", "/exams/{exam_id}/marking/city", field): Sender(
            lambda v, b=body: post("/exams/999999/marking/city", {"markers": [1], "leader_id": 1, **b(v)}, municipal),
            404, None, letters)
           for field, body in (("question", lambda v: {"question": v}),
                               ("regions", lambda v: {"question": "Q56", "regions": [v]}))},
        ("post", "/marking/tasks/{token}/problem", "note"): Sender(
            lambda v: post(f"/marking/tasks/{'0' * 32}/problem", {"kind": "blank", "note": v}), 404),
        # 考场编排 stores nothing but the audit log; the exam named does not exist, so a valid body ends in 404
        **{("post", "/arrangements", field): Sender(
            lambda v, b=body: post("/arrangements", {"rooms": 1, "capacity": 30, "exam_id": 999999, **b(v)}), 404,
            column) for field, body, column in (
                ("rooms", lambda v: {"rooms": [v]}, None), ("title", lambda v: {"title": v}, None),
                ("exam_id_format", lambda v: {"exam_id_format": v}, None),
                ("grade", lambda v: {"grade": v}, SchoolClass.grade),
                ("class_names", lambda v: {"class_names": [v]}, SchoolClass.name))},
    }


def _bounded_text_fields(document: dict) -> dict[tuple[str, str, str], int]:
    """(method, path, field) -> maxLength of every bounded string in a request body of the OpenAPI document
    (nested fields as ``outer/inner``; items of an array and keys of an object count as their field)."""
    schemas = document["components"]["schemas"]

    def resolve(schema: dict) -> dict:
        while "$ref" in schema:
            schema = schemas[schema["$ref"].rsplit("/", 1)[1]]
        return schema

    def walk(schema: dict, path: tuple[str, ...]):
        schema = resolve(schema)
        for alternative in schema.get("anyOf", []):
            yield from walk(alternative, path)
        if schema.get("type") == "string" and "maxLength" in schema:
            yield path, schema["maxLength"]
        for name, inner in schema.get("properties", {}).items():
            yield from walk(inner, (*path, name))
        if "items" in schema:
            yield from walk(schema["items"], path)
        if "maxLength" in schema.get("propertyNames", {}):
            yield path, schema["propertyNames"]["maxLength"]

    found = {}
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for content in operation.get("requestBody", {}).get("content", {}).values():
                for field, length in walk(content["schema"], ()):
                    found[(method, path.removeprefix(API), "/".join(field))] = length
    return found


def _names_field(response, field: str) -> bool:
    """A 422 of request validation whose error is on ``field`` (its first part: nested errors add indices)."""
    detail = response.json().get("detail")
    return response.status_code == 422 and isinstance(detail, list) and any(
        error["loc"][:2] == ["body", field.split("/")[0]] for error in detail)


def test_every_text_field_takes_its_columns_length_and_no_more(any_client, tmp_path):
    """For every bounded text field of every request: its maximum is its column's length; that many characters
    (CJK: three bytes each) are accepted and stored, one more is a 422 naming the field. On PostgreSQL this is
    where a too-long value used to be a 500 (a 90-character class name against the audit log's 80)."""
    client, city, service = any_client
    senders = _senders(client, city, tmp_path)
    fields = _bounded_text_fields(client.get(f"{API}/openapi.json").json())
    assert set(fields) == set(senders), "a bounded text field without a sender (add it here), or a stale sender"
    for number, (key, length) in enumerate(sorted(fields.items())):
        sender = senders[key]
        if sender.column is not None:
            assert length == sender.column.type.length, f"{key}: maxLength {length} is not its column's length"
        # three bytes each in UTF-8, and another character for each field (class names must differ)
        longest = sender.longest or (lambda n, char=chr(0x4E00 + number): char * n)
        response = sender.send(longest(length))
        assert response.status_code == sender.accepted, f"{key} at {length}: {response.status_code} {response.text}"
        response = sender.send(longest(length + 1))
        assert _names_field(response, key[2]), f"{key} at {length + 1}: {response.status_code} {response.text}"
    with service.db.read() as session:  # the longest values are stored whole
        assert session.scalar(select(func.max(func.length(SchoolClass.name)))) == SchoolClass.name.type.length
        assert session.scalar(select(func.max(func.length(School.name)))) == School.name.type.length


def test_roster_limits_are_the_students_columns():
    from grading.roster import EXAM_ID_MAX, TEXT_LIMITS

    assert TEXT_LIMITS == {field: getattr(Student, field).type.length for field in TEXT_LIMITS}
    assert EXAM_ID_MAX == Student.exam_id.type.length


def test_audit_object_id_fits_its_column(any_client):
    """The audit log names an object by a label fit for its 80 characters (the full name is in the entry); an
    uploaded file's name, which no model checks, loses what the database refuses."""
    client, city, service = any_client
    name = "班" * 100
    assert client.post(f"{API}/classes", json={"name": name}, headers=city.a.admin).status_code == 201
    roster = client.post(f"{API}/students/import", headers=city.a.admin,
                         files={"file": ("名单\x00\x1b.csv", "考号,姓名\n1,张三\n".encode(), "text/csv")})
    assert roster.status_code == 200, roster.text
    with service.db.read() as session:
        entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "class.create"))
        imported = session.scalar(select(AuditEntry.object_id).where(AuditEntry.action == "roster.import"))
    assert len(entry.object_id) == AuditEntry.object_id.type.length and entry.object_id.endswith("…")
    assert entry.after["name"] == name
    assert imported == "名单%00?.csv"  # the client sends a NUL as %00; the escape is replaced


def test_query_text_the_database_cannot_hold_is_422(any_client):
    """A NUL in a query string reaches PostgreSQL, which refuses it: the client hears 422, not 500."""
    client, city, _service = any_client
    for path, params in (("/students", {"class_name": "a\x00"}), ("/audit", {"action": "a\x00"}),
                         ("/review", {"batch_id": "a\x00"})):
        response = client.get(f"{API}{path}", params=params, headers=city.a.admin)
        assert response.status_code in (200, 422), (path, response.status_code, response.text)


# --- a student named with a NUL --------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["张\x00三", "张\x1b三", "张\ue000三"])
def test_a_bad_name_is_refused_wherever_it_arrives(any_client, name):
    """A NUL, an escape or a private-use character in a name, created one by one (JSON), renamed, or in a roster:
    a 422 naming the field or the row and column; nothing stored, so grading never meets it."""
    client, city, service = any_client
    created = client.post(f"{API}/students", json={"exam_id": "2026010001", "name": name}, headers=city.a.admin)
    assert created.status_code == 422 and created.json()["detail"][0]["loc"] == ["body", "name"]
    roster = f"考号,姓名,班级\n2026010002,李四,1班\n2026010003,{name},1班\n".encode()
    imported = client.post(f"{API}/students/import", headers=city.a.admin,
                           files={"file": ("名单.csv", roster, "text/csv")})
    assert imported.status_code == 422 and "row 3 (2026010003): 姓名: contains" in imported.json()["detail"]
    renamed = client.post(f"{API}/students", json={"exam_id": "2026010004"}, headers=city.a.admin).json()["id"]
    assert client.patch(f"{API}/students/{renamed}", json={"name": name}, headers=city.a.admin).status_code == 422
    with service.db.read() as session:
        assert session.scalars(select(Student.name).where(Student.school_id == SCHOOL_A)).all() == [""]
        assert session.scalar(select(func.count()).select_from(AuditEntry)
                              .where(AuditEntry.action == "roster.import")) == 0


# --- JSON bodies ----------------------------------------------------------------------------------------------

def _post_raw(client, headers, path: str, raw: str | bytes):
    return client.post(f"{API}{path}", content=raw, headers={**headers, "Content-Type": "application/json"})


@pytest.mark.parametrize("raw, reason", [
    ('{"exam_id": "2026010001", "name": NaN}', "NaN is not a number JSON allows"),
    ('{"exam_id": "2026010001", "name": Infinity}', "Infinity is not a number"),
    ('{"exam_id": "2026010001", "name": -Infinity}', "-Infinity is not a number"),
    ('{"exam_id": "2026010001", "name": 1e999}', "out of range"),
    ('{"exam_id": "2026010001", "name": 123456789012345678901}', "more than 19 digits"),
    ('{"exam_id": "2026010001", "name": "\\ud800"}', "unpaired surrogate"),
    ('{"exam_id": "2026010001", "name": "ok", "\\udfff": 1}', "unpaired surrogate"),
    ('{"exam_id": "2026010001", "name": "ok\\udc00\\ud800"}', "unpaired surrogate"),
    ('{"exam_id": "2026010001", "name": "x"}', None),  # the control: a valid body is stored
])
def test_json_that_no_column_can_hold_is_422(client, city, service, raw, reason):
    response = _post_raw(client, city.a.admin, "/students", raw)
    if reason is None:
        assert response.status_code == 201
        return
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["type"] == "json_invalid"
    assert reason in response.json()["detail"][0]["ctx"]["error"]
    with service.db.read() as session:
        assert session.scalar(select(func.count()).select_from(Student)) == 0


def test_json_depth_and_size_are_bounded_before_parsing(client, city):
    headers = city.a.admin
    deep = "[" * 100_000 + "]" * 100_000  # was a RecursionError in the parser (FastAPI answered 400)
    assert _post_raw(client, headers, "/students", deep).status_code in (413, 422)
    too_deep = _post_raw(client, headers, "/students", '{"exam_id": ' + "[" * MAX_DEPTH + "]" * MAX_DEPTH + "}")
    assert too_deep.status_code == 422 and "nested deeper than 32" in too_deep.json()["detail"][0]["ctx"]["error"]
    deep_enough = _post_raw(client, headers, "/students", '{"exam_id": ' + "[" * (MAX_DEPTH - 1)
                            + "]" * (MAX_DEPTH - 1) + "}")
    assert deep_enough.status_code == 422 and deep_enough.json()["detail"][0]["type"] != "json_invalid"
    many = _post_raw(client, headers, "/students", '{"exam_id": "1", "name": [' + "0," * MAX_VALUES + "0]}")
    assert many.status_code == 413
    # brackets, commas and quotes inside strings are text, not structure
    text = '{"exam_id": "2026010001", "name": "[[[[{{\\"]],,' + "[" * 40 + '"}'
    assert _post_raw(client, headers, "/students", text).status_code == 201


@pytest.mark.parametrize("raw, reason", [
    (b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1), "nested deeper than 32 levels"),
    (b"[" * 50_000, "nested deeper"),  # unbalanced: still refused before the parser recurses
    (b'["' + b"[" * 100 + b'", ' + b"[" * (MAX_DEPTH + 1), "nested deeper"),  # brackets after a string count
    (b'"\\ud800"', "unpaired surrogate"), (b'{"a": "\\ud83d"}', "unpaired surrogate"),
    (b'"\xed\xa0\x80"', "not UTF-8"),  # a surrogate encoded as bytes
    ('"王老师"'.encode("utf-16"), "not UTF-8"), (b"\xff\xfe\xfa", "not UTF-8"),
    (b"NaN", "NaN is not a number"), (b"[1e400]", "out of range"), (b"-12345678901234567890", "more than 19"),
    (b'{"a": 1', "Expecting"),
])
def test_parse_json_body_refuses(raw, reason):
    with pytest.raises(json.JSONDecodeError, match=reason):
        parse_json_body(raw)


def test_parse_json_body_counts_values_before_building_them():
    from fastapi import HTTPException

    with pytest.raises(HTTPException) as info:
        parse_json_body(b"[" + b"1," * MAX_VALUES + b"1]")
    assert info.value.status_code == 413
    assert len(parse_json_body(b"[" + b"1," * (MAX_VALUES - 2) + b"1]")) == MAX_VALUES - 1
    # a string that never ends is taken in one pass (a search restarting at every quote was quadratic)
    with pytest.raises(json.JSONDecodeError, match="Unterminated string"):
        parse_json_body(b'"' + b'\\"' * 200_000)


@pytest.mark.parametrize("raw, value", [
    (b'{"a": ["\\ud83d\\ude00", 1.5, -2, null, true]}', {"a": ["😀", 1.5, -2, None, True]}),
    ('"王老师"'.encode(), "王老师"),
    (b"[" * MAX_DEPTH + b"]" * MAX_DEPTH, json.loads("[" * MAX_DEPTH + "]" * MAX_DEPTH)),
    (b'"' + b"[" * 1000 + b'"', "[" * 1000),
    (b"-9223372036854775808", -9223372036854775808),
])
def test_parse_json_body_takes_what_json_allows(raw, value):
    assert parse_json_body(raw) == value


# --- usernames --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("username", ["王老师", "li", "José", "Jose\u0301.li", "अनु_1", "wang-li.2026"])
def test_the_names_people_have_can_log_in(client, city, username):
    """Created over the API and logged in with: letters of any script (CJK, accents, Devanagari with its vowel
    signs), digits, '_', '.', '-'; two letters are enough. A decomposed 'é' is the same person as a composed one."""
    created = client.post(f"{API}/users", json={"username": username, "password": PASSWORD}, headers=city.a.admin)
    assert created.status_code == 201, created.text
    composed = unicodedata.normalize("NFC", username)
    assert created.json()["username"] == composed
    for typed in {username, composed, unicodedata.normalize("NFD", username)}:
        login = client.post(f"{API}/auth/token", json={"username": typed, "password": PASSWORD})
        assert login.status_code == 200, login.text


@pytest.mark.parametrize("username", ["王", "wang li", " li", "wang\tli", "wang\x00li", "wang@school", "王老师!",
                                      "x" * 65, "\ue000\ue001", "wang\u200bli", "①②"])
def test_names_that_are_not_usernames(client, city, username):
    created = client.post(f"{API}/users", json={"username": username, "password": PASSWORD}, headers=city.a.admin)
    assert created.status_code == 422 and created.json()["detail"][0]["loc"] == ["body", "username"]
    login = client.post(f"{API}/auth/token", json={"username": username, "password": PASSWORD})
    assert login.status_code == 422


# --- exam definitions -------------------------------------------------------------------------------------------

def test_exam_text_follows_the_rule(client, city):
    """An exam's subject fits its 50-character column; a control character anywhere in the definition or the
    template (a knowledge point's name ends up in workbooks, which refuse it) is a 422 saying where."""
    definition = json.loads(SAMPLE_EXAM.read_text(encoding="utf-8"))

    def create(changed: dict, **extra):
        return client.post(f"{API}/exams", json={"definition": {**definition, **changed}, **extra},
                           headers=city.a.teacher)

    assert create({"id": "s50", "subject": "数" * 50}).status_code == 201
    too_long = create({"id": "s51", "subject": "数" * 51})
    assert too_long.status_code == 422 and "subject: longer than 50" in too_long.json()["detail"]
    questions = [dict(q) for q in definition["questions"]]
    questions[2]["knowledge_points"] = [{"id": "K04", "name": "函数\x1b", "weight": 1}]
    bad_name = create({"id": "k", "questions": questions})
    assert bad_name.status_code == 422
    assert bad_name.json()["detail"] == ("exam.questions.2.knowledge_points.0.name: contains a control character "
                                         "(U+001B) at position 3")
    from sample_sheets import resolve_template

    template = resolve_template("cn-a4-55").model_dump(mode="json")
    bad_key = create({"id": "t"}, template={**template, "\x00": 1})
    assert bad_key.status_code == 422 and bad_key.json()["detail"].startswith("template: contains a control")
