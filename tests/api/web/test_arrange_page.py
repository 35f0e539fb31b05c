"""The 考场编排 page over real HTTP: a school admin's form gives the ZIP of their own school's arrangement, a
problem shows the form again with why; other roles and a missing CSRF token are refused."""

from __future__ import annotations

import csv
import io
import re
import zipfile

import httpx
import pytest

from web_helpers import PASSWORD

HTML = {"Accept": "text/html"}
FORM = {"rooms": "2", "capacity": "30", "columns": "5", "school_number": "0101", "grade_number": "26",
        "exam_id_format": "{school}{grade:02d}{room:02d}{seat:02d}", "seed": "2", "title": "期中考试",
        "grade": "", "sheets": "on"}


@pytest.fixture
def as_user(site):
    made: list[httpx.Client] = []

    def log_in(username: str) -> httpx.Client:
        client = httpx.Client(base_url=site.url, follow_redirects=False, timeout=60)
        made.append(client)
        token = re.search(r'name="csrf" value="([^"]+)"', client.get("/login", headers=HTML).text).group(1)
        assert client.post("/login", data={"csrf": token, "username": username,
                                           "password": PASSWORD}).status_code == 303
        return client

    yield log_in
    for client in made:
        client.close()


def _token(client: httpx.Client) -> str:
    page = client.get("/admin/arrange", headers=HTML)
    assert page.status_code == 200, page.text
    return re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)


def test_the_admin_downloads_the_arrangement_of_their_school(site, as_user) -> None:
    admin = as_user(f"school_admin-{site.city.a.id}")
    page = admin.get("/admin/arrange", headers=HTML)
    assert "考场编排" in page.text and 'href="/admin/arrange"' in page.text
    answer = admin.post("/admin/arrange", data=FORM | {"csrf": _token(admin)})
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(answer.content)) as archive:
        names = set(archive.namelist())
        rows = list(csv.DictReader(io.StringIO(archive.read("考场编排.csv").decode("utf-8-sig"))))
    assert {"考场门贴.pdf", "签到表.pdf", "个性化答题卡/考场01.pdf"} <= names
    with site.service.db.read() as session:
        from sqlalchemy import select

        from api.service.models import Student

        own = set(session.scalars(select(Student.exam_id).where(Student.school_id == site.city.a.id)))
    assert rows and {r["原考号"] for r in rows} == own and all(r["考号"].startswith("010126") for r in rows)


def test_a_problem_shows_the_form_again_with_why(site, as_user) -> None:
    admin = as_user(f"school_admin-{site.city.a.id}")
    answer = admin.post("/admin/arrange", data=FORM | {"csrf": _token(admin), "exam_id_format": "{room}{seat}"})
    assert answer.status_code == 422 and 'role="alert"' in answer.text and "fixed width" in answer.text
    assert 'value="{room}{seat}"' in answer.text  # what was typed stays in the form
    answer = admin.post("/admin/arrange", data=FORM | {"csrf": _token(admin), "capacity": "三十"})
    assert answer.status_code == 422 and "每考场座位数: 请填写整数" in answer.text


def test_other_roles_and_forged_posts_are_refused(site, as_user) -> None:
    teacher = as_user(f"teacher-{site.city.a.id}")
    assert teacher.get("/admin/arrange", headers=HTML).status_code == 403
    admin = as_user(f"school_admin-{site.city.a.id}")
    assert admin.post("/admin/arrange", data=FORM | {"csrf": "forged"}).status_code == 403
