"""The school's item bank (PUT/GET /bank) and a class's 错题本 download, through HTTP: built with the school's bank
as ``yuejuan report --wrongbook`` builds it, once per run and bank, for the class's teacher only, audited."""

from __future__ import annotations

import json
import shutil
import subprocess
from urllib.parse import quote

import pytest
from sqlalchemy import select

from api.demo_bank import demo_bank, exam_with_item_ids
from api.service.models import AuditEntry, ItemBank
from grading.exam import load_exam
from itembank.store import save_bank
from review_helpers import CLASS_1, CLASS_2, assign_classes, setup_school
from service_city import PASSWORD, SAMPLE_EXAM, _login
from test_permissions import _megabytes, _through_asgi

API = "/api/v1"


@pytest.fixture(scope="module")
def bank_json(tmp_path_factory) -> bytes:
    """The demo's bank for the sample exam, as the file ``yuejuan report --wrongbook`` reads (its items for the
    exam's questions are not linked: the sample exam's questions carry no item_id)."""
    path = tmp_path_factory.mktemp("bank") / "bank.json"
    save_bank(demo_bank(exam_with_item_ids(load_exam(SAMPLE_EXAM))), path)
    return path.read_bytes()


@pytest.fixture
def graded(client, service, city, simulated_scans):
    """School A's scans and roster, marked once; a teacher of 高一(1)班 only (their headers)."""
    setup_school(client, service, city.a, city.exam_id, simulated_scans)
    assert client.post(f"{API}/exams/{city.exam_id}/grade", headers=city.a.admin).status_code == 201
    made = client.post(f"{API}/users", headers=city.a.admin,
                       json={"username": "class1-teacher", "password": PASSWORD, "role": "teacher"})
    assert made.status_code == 201, made.text
    assign_classes(client, city.a.admin, "class1-teacher", [CLASS_1])
    return _login(client, "class1-teacher")


def _wrongbook(client, city, class_name: str, headers: dict[str, str]):
    return client.get(f"{API}/exams/{city.exam_id}/reports/classes/{class_name}/wrongbook.pdf", headers=headers)


def _text_of(pdf: bytes) -> str:
    """The text of a PDF as poppler's pdftotext reads it (from stdin)."""
    tool = shutil.which("pdftotext")
    assert tool, "pdftotext not found: run `make system-deps` (installs poppler-utils)"
    return subprocess.run([tool, "-", "-"], input=pdf, capture_output=True, timeout=60, check=True).stdout.decode()


def _page(client, headers: dict[str, str], path: str):
    """A web page (or a page's download) as the person of ``headers`` sees it, through the session cookie."""
    from fastapi.testclient import TestClient

    pages = TestClient(client.app)
    pages.cookies.set("yj_session", f"t.{headers['Authorization'].split()[1]}")
    return pages.get(path, headers={"Accept": "text/html"})


def _kept(service) -> list:
    """The 错题本 folders kept beside the runs."""
    return sorted(service.settings.runs_dir.glob("*/scoped/wrongbook_*"))


def test_a_classes_wrongbook_is_built_with_the_schools_bank(client, service, city, graded, bank_json):
    teacher_of_1 = graded
    # no bank yet: the download says what is missing
    assert client.get(f"{API}/bank", headers=city.a.admin).status_code == 404
    missing = _wrongbook(client, city, CLASS_1, city.a.admin)
    assert missing.status_code == 409 and "item bank" in missing.json()["detail"]
    exam_page = f"/exams/{city.exam_id}"
    link = f"{exam_page}/classes/{quote(CLASS_1)}/wrongbook.pdf"
    without = _page(client, teacher_of_1, exam_page).text
    assert CLASS_1 in without and "wrongbook.pdf" not in without

    stored = client.put(f"{API}/bank", headers={**city.a.admin, "Content-Type": "application/json"},
                        content=bank_json)
    assert stored.status_code == 200, stored.text
    told = client.get(f"{API}/bank", headers=teacher_of_1).json()
    assert told["items"] == len(json.loads(bank_json)["items"]) > 58
    assert told["uploaded_by"] == f"user:school_admin-{city.a.id}" and "stem" not in json.dumps(told)
    assert told["sha256"] == stored.json()["sha256"] and service.blobs.read(told["sha256"]) == bank_json

    # the exam page and the class page link the teacher's class's 错题本
    shown = _page(client, teacher_of_1, exam_page).text
    assert f'href="{link}">错题本 (PDF)' in shown and f"{quote(CLASS_2)}/wrongbook.pdf" not in shown
    assert f'href="{link}">下载错题本 (PDF)' in _page(client, teacher_of_1, f"{exam_page}/classes/{quote(CLASS_1)}").text
    through_page = _page(client, teacher_of_1, link)
    assert through_page.status_code == 200 and through_page.content.startswith(b"%PDF")
    assert _page(client, teacher_of_1, f"{exam_page}/classes/{quote(CLASS_2)}/wrongbook.pdf").status_code == 403

    first = _wrongbook(client, city, CLASS_1, teacher_of_1)
    assert first.status_code == 200, first.text
    assert first.headers["content-type"] == "application/pdf" and first.content.startswith(b"%PDF")
    assert "%E9%94%99%E9%A2%98%E6%9C%AC.pdf" in first.headers["content-disposition"]  # …_错题本.pdf
    # the PDF, and the JSON written beside it: this class's students, none of the other class
    names = {}
    for row in client.get(f"{API}/exams/{city.exam_id}/results", headers=city.a.admin).json()["items"]:
        if row["status"] == "graded":
            names.setdefault(row["class_name"], set()).add(row["name"])
    assert names[CLASS_1] and names[CLASS_2] and "" not in names[CLASS_1] | names[CLASS_2]
    text = _text_of(first.content)
    assert all(name in text for name in names[CLASS_1]) and not any(name in text for name in names[CLASS_2])
    assert "错题本" in text and "本题未关联题库" in text and "二、巩固练习" in text and "参考答案" in text
    [folder] = _kept(service)
    document = json.loads((folder / "wrongbook.json").read_text(encoding="utf-8"))
    listed = {student["name"] for student in document["students"]}
    assert listed == names[CLASS_1] and not listed & names[CLASS_2]
    # the sample exam's questions have no item_id: listed with the CLI's note, practice still from the bank
    assert any("未关联题库" in note for note in document["notes"])
    assert any(student["practice"] for student in document["students"])

    # the same run and bank: built once
    pdf = next(folder.glob("wrongbook_*.pdf"))
    made_at = pdf.stat().st_mtime_ns
    again = _wrongbook(client, city, CLASS_1, city.a.admin)
    assert again.status_code == 200 and again.content == first.content
    assert _kept(service) == [folder] and pdf.stat().st_mtime_ns == made_at

    # the teacher's rule: another class 403, an unknown class 404, another school 404
    assert _wrongbook(client, city, CLASS_2, teacher_of_1).status_code == 403
    assert _wrongbook(client, city, CLASS_2, city.a.admin).status_code == 200
    assert _wrongbook(client, city, "高九(9)班", city.a.admin).status_code == 404
    assert _wrongbook(client, city, CLASS_1, city.b.admin).status_code == 404
    assert _wrongbook(client, city, CLASS_1, city.b.teacher).status_code == 404

    with service.db.read() as session:
        entries = list(session.scalars(select(AuditEntry).where(AuditEntry.action.in_(["bank.upload",
                                                                                        "results.export"]))))
    assert [(e.action, e.after["items"]) for e in entries if e.action == "bank.upload"] == [
        ("bank.upload", told["items"])]
    exports = [e.after for e in entries if e.action == "results.export" and e.after["file"] == "wrongbook.pdf"]
    assert [e["class_name"] for e in exports] == [CLASS_1, CLASS_1, CLASS_1, CLASS_2]  # the page's, then the API's


def test_a_new_bank_makes_a_new_wrongbook(client, service, city, graded, bank_json):
    admin_json = {**city.a.admin, "Content-Type": "application/json"}
    assert client.put(f"{API}/bank", headers=admin_json, content=bank_json).status_code == 200
    assert _wrongbook(client, city, CLASS_1, city.a.admin).status_code == 200
    bank = json.loads(bank_json)
    bank["items"] = [item for item in bank["items"] if not item["id"].startswith("demo:P")]  # no practice items
    smaller = client.put(f"{API}/bank", headers=admin_json, content=json.dumps(bank, ensure_ascii=False))
    assert smaller.status_code == 200 and smaller.json()["items"] == 58
    assert _wrongbook(client, city, CLASS_1, city.a.admin).status_code == 200
    kept = _kept(service)
    assert len(kept) == 2
    newest = max(kept, key=lambda folder: folder.stat().st_mtime_ns)
    document = json.loads((newest / "wrongbook.json").read_text(encoding="utf-8"))
    assert not any(ps["items"] for student in document["students"] for ps in student["practice"])
    with service.db.read() as session:
        assert session.get(ItemBank, city.a.id).items == 58
        before = [e.before for e in session.scalars(select(AuditEntry).where(AuditEntry.action == "bank.upload")
                                                    .order_by(AuditEntry.id))]
    assert before[0] is None and before[1]["items"] > 58


def test_a_bank_upload_is_the_school_admins_and_is_checked(client, service, city, bank_json):
    admin_json = {**city.a.admin, "Content-Type": "application/json"}
    refused = client.put(f"{API}/bank", headers={**city.a.teacher, "Content-Type": "application/json"},
                         content=bank_json)
    assert refused.status_code == 403
    assert client.put(f"{API}/bank", headers={**city.municipal, "Content-Type": "application/json"},
                      content=bank_json).status_code == 403
    bank = json.loads(bank_json)
    wrong_key = {**bank, "items": [{**bank["items"][0], "answer": "Z"}, *bank["items"][1:]]}
    bad = client.put(f"{API}/bank", headers=admin_json, content=json.dumps(wrong_key, ensure_ascii=False))
    assert bad.status_code == 422 and "item demo:Q1" in bad.json()["detail"] and "'Z'" in bad.json()["detail"]
    twice = {**bank, "items": [bank["items"][0], bank["items"][0]]}
    assert "appears twice" in client.put(f"{API}/bank", headers=admin_json, content=json.dumps(twice)).text
    control = {**bank, "items": [{**bank["items"][0], "stem": "题干\x07"}]}
    refused_text = client.put(f"{API}/bank", headers=admin_json, content=json.dumps(control))
    assert refused_text.status_code == 422 and "item demo:Q1: stem" in refused_text.json()["detail"]
    for body, why in ((b"{", "not JSON"), (b"[]", "JSON object"), (b'{"items": [' + b"[" * 100 + b"]" * 100 + b"]}",
                                                                   "nested deeper"),
                      (b'{"items": NaN}', "NaN")):
        answer = client.put(f"{API}/bank", headers=admin_json, content=body)
        assert answer.status_code == 422 and why in answer.json()["detail"], (body[:20], answer.text)
    with service.db.read() as session:
        assert session.scalar(select(ItemBank)) is None
        assert session.scalar(select(AuditEntry).where(AuditEntry.action == "bank.upload")) is None
    # lines, tabs and the ideographic space are text a stem may hold
    lines = {**bank, "items": [{**bank["items"][0], "stem": "题干第一行\n\t第二行\u3000(  )"}]}
    assert client.put(f"{API}/bank", headers=admin_json, content=json.dumps(lines)).status_code == 200


def test_a_bank_body_is_bounded_and_unread_before_the_caller_is_allowed(service, city):
    from api.service.app import create_app
    from api.service.routes.bank import BANK_BODY

    app = create_app(service=service)
    announced = {"Content-Type": "application/json", "Content-Length": str(BANK_BODY + 1)}
    assert _through_asgi(app, "PUT", f"{API}/bank", {**announced, **city.a.admin},
                         _megabytes(BANK_BODY + (1 << 20))) == (413, 0)
    status, pulled = _through_asgi(app, "PUT", f"{API}/bank", {**city.a.admin, "Content-Type": "application/json"},
                                   _megabytes(BANK_BODY + (2 << 20)))
    assert status == 413 and pulled <= BANK_BODY + (1 << 20)
    assert _through_asgi(app, "PUT", f"{API}/bank", {**announced, **city.a.teacher},
                         _megabytes(BANK_BODY + (1 << 20))) == (403, 0)
    assert _through_asgi(app, "PUT", f"{API}/bank", announced, _megabytes(BANK_BODY + (1 << 20))) == (401, 0)



def test_bank_and_wrongbook_on_postgresql(tmp_path, pg_url, simulated_scans, bank_json):
    """The bank's row and blob (insert, then replace) and a class's 错题本 on PostgreSQL."""
    from fastapi.testclient import TestClient

    from api.service.app import create_app
    from api.service.context import open_service
    from api.service.settings import Settings
    from service_city import make_city

    pg_service = open_service(Settings(data_dir=tmp_path / "pg", database_url=pg_url, workers=0, _env_file=None))
    try:
        with TestClient(create_app(service=pg_service)) as pg_client:
            pg_city = make_city(pg_client, pg_service)
            setup_school(pg_client, pg_service, pg_city.a, pg_city.exam_id, simulated_scans, extras=False)
            assert pg_client.post(f"{API}/exams/{pg_city.exam_id}/grade", headers=pg_city.a.admin).status_code == 201
            admin_json = {**pg_city.a.admin, "Content-Type": "application/json"}
            for _ in range(2):  # the second upload of the same bytes replaces the row and keeps the one blob
                stored = pg_client.put(f"{API}/bank", headers=admin_json, content=bank_json)
                assert stored.status_code == 200, stored.text
            assert pg_client.get(f"{API}/bank", headers=pg_city.a.teacher).json()["sha256"] == stored.json()["sha256"]
            pdf = _wrongbook(pg_client, pg_city, CLASS_1, pg_city.a.teacher)
            assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF"), pdf.text
            with pg_service.db.read() as session:
                assert session.get(ItemBank, pg_city.a.id).uploaded_by == f"user:school_admin-{pg_city.a.id}"
    finally:
        pg_service.close()
