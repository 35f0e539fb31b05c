"""The pages over real HTTP without a browser: sessions, CSRF, headers, roles and schools (fast checks; the
browser tests are in test_browser.py)."""

from __future__ import annotations

import re

import httpx
import pytest
from sqlalchemy import func, select

from api.service.models import AuditEntry, Correction
from web_helpers import PASSWORD

HTML = {"Accept": "text/html"}


@pytest.fixture
def opened(site):
    """A factory of HTTP clients for the site, all closed after the test."""
    made: list[httpx.Client] = []

    def client() -> httpx.Client:
        made.append(httpx.Client(base_url=site.url, follow_redirects=False, timeout=30))
        return made[-1]

    yield client
    for each in made:
        each.close()


def _session(opened, username: str) -> httpx.Client:
    """A client logged in through the log-in form (its cookies kept), as a browser would."""
    client = opened()
    login = client.get("/login", headers=HTML)
    token = re.search(r'name="csrf" value="([^"]+)"', login.text).group(1)
    answer = client.post("/login", data={"csrf": token, "username": username, "password": PASSWORD})
    assert answer.status_code == 303, answer.text
    return client


def _csrf(client: httpx.Client, path: str) -> str:
    return re.search(r'name="csrf-token" content="([^"]+)"', client.get(path, headers=HTML).text).group(1)


def _corrections(site) -> int:
    with site.service.db.read() as session:
        return session.scalar(select(func.count()).select_from(Correction))


def test_log_in_sets_a_strict_http_only_cookie_and_pages_need_it(site, opened):
    anonymous = opened()
    assert anonymous.get("/review", headers=HTML).status_code == 303  # a browser is sent to the log-in page
    assert anonymous.get("/review").status_code == 401
    assert "httponly" in anonymous.get("/login").headers["set-cookie"].lower()  # the pre-log-in CSRF cookie
    client = opened()
    login = client.get("/login")
    token = re.search(r'name="csrf" value="([^"]+)"', login.text).group(1)
    answer = client.post("/login", data={"csrf": token, "username": f"teacher-{site.city.a.id}",
                                         "password": PASSWORD})
    session_cookie = answer.headers["set-cookie"].lower()
    assert answer.status_code == 303 and "yj_session=" in session_cookie
    assert "httponly" in session_cookie and "samesite=strict" in session_cookie and "path=/" in session_cookie
    page = client.get("/review", headers=HTML)
    assert page.status_code == 200 and "复核队列" in page.text
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
    assert page.headers["x-frame-options"] == "DENY"
    assert "<script>" not in page.text  # no inline script anywhere


def test_the_api_never_takes_the_session_cookie(site, opened):
    client = _session(opened, f"teacher-{site.city.a.id}")
    assert client.get("/api/v1/review").status_code == 401  # the cookie is for pages only: no CSRF on the API


def test_a_post_without_the_right_csrf_token_is_refused_and_changes_nothing(site, opened):
    client = _session(opened, f"teacher-{site.city.a.id}")
    sheet = site.sheets[-1]
    before = _corrections(site)
    form = {"q:Q1": "A", "resolved": "1"}
    assert client.post(f"/review/sheets/{sheet}", data=form).status_code == 403
    assert client.post(f"/review/sheets/{sheet}", data={**form, "csrf": "x" * 64}).status_code == 403
    assert client.post(f"/review/sheets/{sheet}", data=form, headers={"X-CSRF-Token": "wrong"}).status_code == 403
    token = _csrf(client, "/review")
    cross = client.post(f"/review/sheets/{sheet}", data={**form, "csrf": token},
                        headers={"Origin": "http://evil.example"})
    assert cross.status_code == 403
    assert _corrections(site) == before


def test_pages_keep_each_school_to_itself_and_each_role_to_its_pages(site, opened):
    b = _session(opened, f"teacher-{site.city.b.id}")
    for path in (f"/review/sheets/{site.sheets[0]}", f"/review/sheets/{site.sheets[0]}/../{site.sheets[0]}"):
        assert b.get(path, headers=HTML).status_code == 404
    with site.service.db.read() as session:
        from api.service.models import Sheet

        page_id = session.get(Sheet, site.sheets[0]).page_ids[0]
    assert b.get(f"/review/pages/{page_id}/overlay").status_code == 404
    assert b.get(f"/review/pages/{page_id}/image").status_code == 404
    assert "/review/sheets/" not in b.get("/review", headers=HTML).text  # school B has nothing to review
    assert b.get("/admin/users", headers=HTML).status_code == 403  # a teacher is no school admin
    assert b.get("/city", headers=HTML).status_code == 403


def test_assets_are_served_locally(site, opened):
    client = opened()
    docs = client.get("/api/v1/docs")
    assert docs.status_code == 200 and "/static/swagger/swagger-ui-bundle.js" in docs.text
    assert "http" not in re.sub(r'openapi-url="[^"]*"', "", docs.text.split("<body>")[1])
    for path in ("/static/swagger/swagger-ui-bundle.js", "/static/swagger/swagger-ui.css", "/static/app.css",
                 "/static/review.js"):
        assert client.get(path).status_code == 200, path
    assert client.get("/static/..%2Fpages.py").status_code == 404


def test_log_out_ends_the_session_for_good(site, opened):
    client = _session(opened, f"school_admin-{site.city.a.id}")
    kept = dict(client.cookies)
    assert client.get("/admin/users", headers=HTML).status_code == 200
    token = _csrf(client, "/admin/users")
    answer = client.post("/logout", data={"csrf": token})
    assert answer.status_code == 303 and answer.headers["location"] == "/login"
    replay = opened()
    replay.cookies.update(kept)  # the old cookie, sent again: its token was revoked
    assert replay.get("/admin/users", headers=HTML).status_code == 303
    with site.service.db.read() as session:
        assert session.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "auth.logout", AuditEntry.actor == f"user:school_admin-{site.city.a.id}")) >= 1


def test_a_wrong_password_shows_the_form_again_in_chinese(site, opened):
    client = opened()
    token = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text).group(1)
    answer = client.post("/login", data={"csrf": token, "username": f"teacher-{site.city.b.id}",
                                         "password": "not it"})
    assert answer.status_code == 401 and "用户名或密码错误" in answer.text and "yj_session" not in answer.headers.get(
        "set-cookie", "")


def test_a_plain_form_with_a_wrong_answer_shows_the_sheet_again_with_why(site, opened):
    client = _session(opened, f"teacher-{site.city.a.id}")
    sheet = site.sheets[-1]
    token = _csrf(client, f"/review/sheets/{sheet}")
    before = _corrections(site)
    answer = client.post(f"/review/sheets/{sheet}", data={"csrf": token, "q:Q30": "Z"}, headers=HTML)
    assert answer.status_code == 422
    assert re.search(r'<p class="error" role="alert">[^<]*Q30[^<]*Z', answer.text), answer.text[:3000]
    assert _corrections(site) == before


def test_a_key_log_in_keeps_the_key_out_of_the_cookie_and_log_out_ends_that_session(site, opened):
    client = opened()
    token = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text).group(1)
    key = site.keys["station-a"]
    answer = client.post("/login", data={"csrf": token, "api_key": key})
    assert answer.status_code == 303
    kept = dict(client.cookies)
    assert key not in kept["yj_session"] and key.split("_", 1)[1] not in kept["yj_session"]
    assert client.get("/station", headers=HTML).status_code == 200
    assert client.post("/logout", data={"csrf": _csrf(client, "/station")}).status_code == 303
    replay = opened()
    replay.cookies.update(kept)  # the old cookie again: its session was revoked at log-out
    assert replay.get("/station", headers=HTML).status_code == 303
    assert replay.get("/station").status_code == 401
    with httpx.Client(base_url=site.url, timeout=30) as api:  # the key itself still works for its station
        assert api.get("/api/v1/batches", headers={"X-API-Key": key}).status_code == 200


def test_the_users_page_assigns_a_teachers_classes_with_its_csrf_token(site, opened):
    from api.service.models import SchoolClass, TeacherClass

    admin = _session(opened, f"school_admin-{site.city.a.id}")
    with httpx.Client(base_url=site.url + "/api/v1", headers=site.city.a.admin, timeout=30) as api:
        made = api.post("/users", json={"username": f"users-page-{site.city.a.id}", "password": PASSWORD,
                                        "role": "teacher"})
        assert made.status_code == 201, made.text
        classes = {c["name"]: c["id"] for c in api.get("/classes").json()}
    user_id, class_id = made.json()["id"], min(classes.values())
    page = admin.get("/admin/users", headers=HTML).text
    assert f'action="/admin/users/{user_id}/classes"' in page
    assert admin.post(f"/admin/users/{user_id}/classes", data={"classes": str(class_id)}).status_code == 403
    answer = admin.post(f"/admin/users/{user_id}/classes",
                        data={"csrf": _csrf(admin, "/admin/users"), "classes": str(class_id)})
    assert answer.status_code == 303
    with site.service.db.read() as session:
        assert session.scalars(select(TeacherClass.class_id).where(TeacherClass.user_id == user_id)).all() \
            == [class_id]
        assert session.get(SchoolClass, class_id).school_id == site.city.a.id
        assert session.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "user.classes", AuditEntry.object_id == f"users-page-{site.city.a.id}")) == 1
