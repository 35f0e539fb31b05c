"""A teacher reads and downloads their own classes' students only (任课班级), over real HTTP: the results list,
one student's result, the grade workbook, the scores table (xlsx and CSV) and the analytics; the school admin
gets the whole school, and every download is audited with the classes it holds."""

from __future__ import annotations

import io
import json

import httpx
import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from api.service.models import AuditEntry
from grading.report_io import read_scores_csv
from review_helpers import CLASS_1, CLASS_2, assign_classes
from web_helpers import PASSWORD


@pytest.fixture
def api(site):
    """An HTTP client of the site's API (school A's admin by default)."""
    with httpx.Client(base_url=site.url + "/api/v1", headers=site.city.a.admin, timeout=120) as client:
        yield client


def _teacher(site, api, username: str, classes: list[str]) -> dict[str, str]:
    """A new teacher of school A who teaches ``classes``: their log-in headers."""
    made = api.post("/users", json={"username": username, "password": PASSWORD, "role": "teacher"})
    assert made.status_code == 201, made.text
    if classes:
        with httpx.Client(base_url=site.url, timeout=60) as root:
            assign_classes(root, site.city.a.admin, username, classes)
    token = api.post("/auth/token", headers={}, json={"username": username, "password": PASSWORD})
    return {"Authorization": f"Bearer {token.json()['access_token']}"}


def _students(api, exam: int) -> dict[str, set[str]]:
    """Each class's 考号 and names, as the school admin reads the results."""
    items = api.get(f"/exams/{exam}/results").json()["items"]
    found: dict[str, set[str]] = {}
    for row in items:
        found.setdefault(row["class_name"], set()).update({row["exam_id"], row["name"]})
    return found


def _cells(content: bytes) -> set[str]:
    """Every non-empty cell of every sheet of a workbook, as text."""
    book = load_workbook(io.BytesIO(content), read_only=True)
    return {str(value) for sheet in book.worksheets for row in sheet.iter_rows(values_only=True)
            for value in row if value is not None}


@pytest.fixture
def scope(site, api, request):
    """A new teacher of 高一(1)班 (their headers), and the 考号 of each class's students; the regrades the
    marking tests left pending done first, so that the teacher's and the admin's files are of one run."""
    from api.service.marking_jobs import jobs_of

    jobs_of(site.service).drain()
    username = f"scope-{request.node.name[5:25]}-{site.city.a.id}"
    teacher = _teacher(site, api, username, [CLASS_1])
    exam = site.city.exam_id
    ids = {name: [r["exam_id"] for r in api.get(f"/exams/{exam}/classes/{name}/results").json()["items"]]
           for name in (CLASS_1, CLASS_2)}
    assert ids[CLASS_1] and ids[CLASS_2]
    return username, teacher, ids


def test_a_teachers_results_are_their_classes_only(site, api, scope):
    exam = site.city.exam_id
    _, teacher, ids = scope
    listed = api.get(f"/exams/{exam}/results", headers=teacher, params={"detail": True})
    assert listed.status_code == 200
    assert {r["class_name"] for r in listed.json()["items"]} == {CLASS_1}
    assert sorted(r["exam_id"] for r in listed.json()["items"]) == sorted(ids[CLASS_1])
    assert {r["class_name"] for r in api.get(f"/exams/{exam}/results").json()["items"]} == {CLASS_1, CLASS_2}


def test_another_classes_student_is_not_found_as_an_unknown_one(site, api, scope):
    exam = site.city.exam_id
    _, teacher, ids = scope
    other = api.get(f"/exams/{exam}/results/{ids[CLASS_2][0]}", headers=teacher)
    unknown = api.get(f"/exams/{exam}/results/999999999", headers=teacher)
    assert other.status_code == 404 and other.json() == unknown.json()  # as an unknown student: nothing told
    assert api.get(f"/exams/{exam}/results/{ids[CLASS_2][0]}").status_code == 200  # the school admin
    assert api.get(f"/exams/{exam}/results/{ids[CLASS_1][0]}", headers=teacher).status_code == 200


def test_a_teachers_grade_workbook_lists_their_students_beside_the_grades_figures(site, api, scope):
    exam = site.city.exam_id
    _, teacher, ids = scope
    people = _students(api, exam)
    grade = api.get(f"/exams/{exam}/reports/grade.xlsx", headers=teacher)
    assert grade.status_code == 200, grade.text
    cells = _cells(grade.content)
    assert not cells & people[CLASS_2], cells & people[CLASS_2]
    assert set(ids[CLASS_1]) <= cells
    admin = api.get(f"/exams/{exam}/reports/grade.xlsx").content
    assert people[CLASS_2] <= _cells(admin)
    # class 2 (three students) is too small to show beside a class-1 teacher: its head count only
    book = load_workbook(io.BytesIO(grade.content))
    classes = {row[0]: row for row in book["班级对比"].iter_rows(min_row=2, values_only=True) if row[0]}
    assert classes[CLASS_2][1] is not None and all(v is None for v in classes[CLASS_2][3:])
    assert classes[CLASS_1][3] is not None and classes["年级"][3] is not None  # own class and grade: means
    assert any("人数过少" in str(row[0]) for row in book["班级对比"].iter_rows(values_only=True) if row[0])
    admin_classes = {row[0]: row for row in load_workbook(io.BytesIO(admin))["班级对比"]
                     .iter_rows(min_row=2, values_only=True) if row[0]}
    assert admin_classes[CLASS_2][3] is not None


def test_a_teachers_scores_table_holds_their_classes_rows(site, api, scope, tmp_path):
    exam = site.city.exam_id
    _, teacher, ids = scope
    xlsx = api.get(f"/exams/{exam}/scores.xlsx", headers=teacher)
    assert xlsx.status_code == 200, xlsx.text
    rows = list(load_workbook(io.BytesIO(xlsx.content))["成绩"].iter_rows(values_only=True))
    admin_rows = list(load_workbook(io.BytesIO(api.get(f"/exams/{exam}/scores.xlsx").content))["成绩"]
                      .iter_rows(values_only=True))
    assert rows[0] == admin_rows[0]  # the same columns
    klass, exam_id = rows[0].index("班级"), rows[0].index("考号")
    assert {r[klass] for r in rows[1:]} == {CLASS_1} and {r[klass] for r in admin_rows[1:]} == {CLASS_1, CLASS_2}
    assert sorted(r[exam_id] for r in rows[1:]) == sorted(ids[CLASS_1])
    assert all(isinstance(r[exam_id], str) for r in rows[1:])  # 考号 as text
    assert [r for r in admin_rows if r[klass] == CLASS_1] == rows[1:]  # the same cells as the school's file
    assert not _cells(xlsx.content) & _students(api, exam)[CLASS_2]

    for name, who, expected in (("teacher", teacher, {CLASS_1}), ("admin", None, {CLASS_1, CLASS_2})):
        answer = api.get(f"/exams/{exam}/scores.csv", **({"headers": who} if who else {}))
        assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
        (tmp_path / f"{name}.csv").write_bytes(answer.content)
        assert set(read_scores_csv(tmp_path / f"{name}.csv").texts("class")) == expected
    teachers, admins = read_scores_csv(tmp_path / "teacher.csv"), read_scores_csv(tmp_path / "admin.csv")
    assert sorted(teachers.texts("exam_id")) == sorted(ids[CLASS_1]) and teachers.index == admins.index
    mine = [row for row, name in zip(admins.rows, admins.texts("class")) if name == CLASS_1]
    assert teachers.rows == mine  # the same cells as the school's file


def test_a_teachers_analytics_list_their_students_only(site, api, scope):
    exam = site.city.exam_id
    _, teacher, ids = scope
    document = api.get(f"/exams/{exam}/analytics", headers=teacher).json()
    assert {s["class"] for s in document["students"]} == {CLASS_1}
    assert {s["class"] for s in document["not_graded"]} <= {CLASS_1}
    assert not {s["exam_id"] for s in document["students"]} & set(ids[CLASS_2])
    hidden = next(g for g in document["classes"] if g["class"] == CLASS_2)
    assert hidden["n"] and hidden["mean"] is None and hidden["segments"] is None  # too small: head count only
    full = api.get(f"/exams/{exam}/analytics").json()
    assert {s["class"] for s in full["students"]} == {CLASS_1, CLASS_2}
    assert next(g for g in full["classes"] if g["class"] == CLASS_2)["mean"] is not None


def test_a_teachers_downloads_are_audited_with_their_classes(site, api, scope):
    exam = site.city.exam_id
    username, teacher, _ = scope
    for path in ("/reports/grade.xlsx", "/scores.xlsx", "/scores.csv"):
        assert api.get(f"/exams/{exam}{path}", headers=teacher).status_code == 200, path
    assert api.get(f"/exams/{exam}/scores.csv").status_code == 200
    with site.service.db.read() as session:
        entries = list(session.scalars(select(AuditEntry).where(AuditEntry.action == "results.export")))
    mine = [e for e in entries if e.actor == f"user:{username}"]
    assert sorted(e.after["file"] for e in mine) == ["grade.xlsx", "scores.csv", "scores.xlsx"]
    assert all(e.after["classes"] == [CLASS_1] for e in mine)
    admins = [e for e in entries if e.actor == f"user:school_admin-{site.city.a.id}"]
    assert admins and admins[-1].after["classes"] is None  # the whole school


def test_the_same_classes_share_one_kept_workbook(site):
    """Built once per run and set of classes (whatever their order), beside the run; never half written."""
    from api.service import grading_runs

    settings = site.service.settings
    with site.service.db.read() as session:  # the run itself: the site's marking tests may regrade meanwhile
        row = grading_runs.newest_run(session, site.city.a.id, site.city.exam_id)
        first = grading_runs.scoped_grade_workbook(settings, row, [CLASS_2, CLASS_1])
        stamp = first.stat().st_mtime_ns
        assert grading_runs.scoped_grade_workbook(settings, row, {CLASS_1, CLASS_2}) == first
        assert first.stat().st_mtime_ns == stamp
        other = grading_runs.scoped_grade_workbook(settings, row, [CLASS_1])
        scores = grading_runs.scoped_scores(settings, row, [CLASS_1])
    assert other != first and other.parent.parent == first.parent.parent == scores.parent
    assert first.parent.parent == grading_runs.run_dir(settings, row.id) / "scoped"
    assert not any(p.name.startswith(".") for p in first.parent.parent.iterdir())  # no half-written folder left


def test_a_teacher_without_classes_sees_no_student(site, api):
    exam = site.city.exam_id
    teacher = _teacher(site, api, f"scope3-{site.city.a.id}", [])
    listed = api.get(f"/exams/{exam}/results", headers=teacher)
    assert listed.status_code == 200 and listed.json()["items"] == []
    assert listed.json()["run"]["students"] > 0  # the run's counts (aggregates) stay
    assert json.loads(api.get(f"/exams/{exam}/analytics", headers=teacher).content)["students"] == []
    rows = list(load_workbook(io.BytesIO(api.get(f"/exams/{exam}/scores.xlsx", headers=teacher).content))["成绩"]
                .iter_rows(values_only=True))
    assert len(rows) == 1 and "考号" in rows[0]
    with httpx.Client(base_url=site.url, timeout=60) as pages:
        pages.cookies.set("yj_session", f"t.{teacher['Authorization'].split()[1]}")
        page = pages.get(f"/exams/{exam}", headers={"Accept": "text/html"})
        assert page.status_code == 200
        assert "您还没有任课班级" in page.text and CLASS_1 not in page.text and CLASS_2 not in page.text
        assert pages.get(f"/exams/{exam}/grade.xlsx").status_code == 200  # the page's link still works
