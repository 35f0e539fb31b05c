"""Grading, results, analytics, report downloads and key changes through HTTP (SQLite, and once PostgreSQL)."""

from __future__ import annotations

import csv
import io
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import func, select

from api.service.app import create_app
from api.service.context import open_service
from api.service.models import GradeRun, ScoreCell, Sheet, StudentResult
from api.service.settings import Settings
from service_city import SAMPLE_EXAM, make_city
from review_helpers import CLASS_1, CLASS_2, setup_school

API = "/api/v1"


@pytest.fixture
def graded(client, service, city, simulated_scans):
    """School A's scans and roster, marked once by a teacher."""
    ingested, _ = setup_school(client, service, city.a, city.exam_id, simulated_scans)
    response = client.post(f"{API}/exams/{city.exam_id}/grade", headers=city.a.teacher)
    assert response.status_code == 201, response.text
    return ingested, response.json()


def _column(sheet, heading: str) -> int:
    for cell in sheet[1]:
        if cell.value == heading:
            return cell.column
    raise AssertionError(f"no column {heading!r} in {sheet.title}")


def test_grade_results_analytics_and_reports(client, service, city, graded, simulated_scans):
    _, summary = graded
    exam = city.exam_id
    ids = sorted({p["student_id"] for p in simulated_scans[1]["pages"]})
    assert summary["students"] == 6 and summary["graded"] + summary["pending"] + summary["absent"] == 6
    assert summary["graded"] >= 5 and summary["policy"] == "pending" and summary["full_marks"] == 120
    assert summary["exceptions"]["unreadable_page"] == 2 and summary["exceptions_count"] >= 2

    results = client.get(f"{API}/exams/{exam}/results", headers=city.a.teacher)
    assert results.status_code == 200
    rows = results.json()["items"]
    assert sorted(r["exam_id"] for r in rows) == ids and all(r["scores"] is None for r in rows)
    assert results.json()["run"]["run_id"] == summary["run_id"]
    detail = client.get(f"{API}/exams/{exam}/results", headers=city.a.teacher, params={"detail": "true"}).json()
    for row in detail["items"]:
        assert len(row["scores"]) == 58
        if row["status"] == "graded":
            assert row["total"] == pytest.approx(sum(row["scores"].values()))
    assert summary["mean_total"] == pytest.approx(
        sum(r["total"] for r in detail["items"] if r["status"] == "graded") / summary["graded"], abs=1e-3)
    first = client.get(f"{API}/exams/{exam}/results", headers=city.a.teacher, params={"class_name": CLASS_1})
    assert {r["class_name"] for r in first.json()["items"]} == {CLASS_1} and len(first.json()["items"]) == 3
    one = client.get(f"{API}/exams/{exam}/results/{ids[0]}", headers=city.a.teacher).json()
    assert one == next(r for r in detail["items"] if r["exam_id"] == ids[0])
    klass = client.get(f"{API}/exams/{exam}/classes/{CLASS_2}/results", headers=city.a.teacher).json()
    assert [r["exam_id"] for r in klass["items"]] == ids[3:]
    assert client.get(f"{API}/exams/{exam}/results/9999999999", headers=city.a.teacher).status_code == 404
    assert client.get(f"{API}/exams/{exam}/classes/高一(9)班/results", headers=city.a.teacher).status_code == 404

    analytics = client.get(f"{API}/exams/{exam}/analytics", headers=city.a.teacher)
    assert analytics.status_code == 200 and analytics.headers["content-type"] == "application/json"
    document = analytics.json()
    assert document["schema"] == "yuejuan.analytics/1" and document["counts"]["graded"] == summary["graded"]
    assert sorted(c["class"] for c in document["classes"]) == [CLASS_1, CLASS_2]
    assert document["city"]["mean"] == pytest.approx(summary["mean_total"], abs=1e-3)
    assert client.get(f"{API}/exams/{exam}/analytics", headers=city.a.admin).content == analytics.content

    grade_book = client.get(f"{API}/exams/{exam}/reports/grade.xlsx", headers=city.a.teacher)
    assert grade_book.status_code == 200 and grade_book.headers["content-type"].startswith("application/vnd.openxml")
    assert "概况" in load_workbook(io.BytesIO(grade_book.content)).sheetnames
    class_book = client.get(f"{API}/exams/{exam}/reports/classes/{CLASS_1}.xlsx", headers=city.a.teacher)
    assert class_book.status_code == 200
    disposition = class_book.headers["content-disposition"]
    assert disposition.startswith("attachment; filename=") and "filename*=UTF-8''" in disposition
    assert quote(CLASS_1, safe="") in disposition
    sheet = load_workbook(io.BytesIO(class_book.content))["成绩总表"]
    id_cells = [sheet.cell(row=r, column=_column(sheet, "考号")) for r in range(2, sheet.max_row + 1)]
    assert sorted(c.value for c in id_cells) == ids[:3]
    assert all(c.data_type == "s" for c in id_cells)
    pdf = client.get(f"{API}/exams/{exam}/reports/classes/{CLASS_2}/students.pdf", headers=city.a.teacher)
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    scores = client.get(f"{API}/exams/{exam}/scores.xlsx", headers=city.a.teacher)
    table = load_workbook(io.BytesIO(scores.content))["成绩"]
    assert table.cell(row=1, column=1).value == "考号"
    assert sorted(table.cell(row=r, column=1).value for r in range(2, 8)) == ids
    assert all(table.cell(row=r, column=1).data_type == "s" for r in range(2, 8))
    text = client.get(f"{API}/exams/{exam}/scores.csv", headers=city.a.teacher)
    assert text.headers["content-type"].startswith("text/csv")
    records = list(csv.DictReader(io.StringIO(text.content.decode("utf-8-sig"))))
    assert sorted(r["考号"] for r in records) == ids and {r["状态代码"] for r in records} <= {"graded", "absent"}
    # only classes of the run, never a path from the request
    for name in ("高一(9)班", "..", "grade"):
        assert client.get(f"{API}/exams/{exam}/reports/classes/{name}.xlsx",
                          headers=city.a.teacher).status_code == 404
    assert client.get(f"{API}/exams/{exam}/reports/classes/{quote('../grade', safe='')}.xlsx",
                      headers=city.a.teacher).status_code == 404

    # stations may do none of this; the municipal system names the school
    for path in ("/results", "/analytics", "/reports/grade.xlsx", f"/reports/classes/{CLASS_1}.xlsx",
                 f"/reports/classes/{CLASS_1}/students.pdf", "/scores.xlsx", "/scores.csv", f"/results/{ids[0]}",
                 f"/classes/{CLASS_1}/results"):
        assert client.get(f"{API}/exams/{exam}{path}", headers=city.a.station).status_code == 403, path
        assert client.get(f"{API}/exams/{exam}{path}", headers=city.municipal).status_code == 422, path
        assert client.get(f"{API}/exams/{exam}{path}", headers=city.municipal,
                          params={"school_id": city.a.id}).status_code == 200, path
    assert client.post(f"{API}/exams/{exam}/grade", headers=city.a.station).status_code == 403
    # school B has not been graded: nothing to show it
    assert client.get(f"{API}/exams/{exam}/results", headers=city.b.teacher).status_code == 404


def test_exports_keep_formula_like_names_as_text(client, service, city, simulated_scans):
    """Issue 15 finding 6 through the service: a student renamed like a formula is a string cell in every
    downloaded workbook and a quoted cell in scores.csv."""
    formula = '=HYPERLINK("http://x","y")'
    setup_school(client, service, city.a, city.exam_id, simulated_scans)
    student = client.get(f"{API}/students", headers=city.a.teacher, params={"class_name": CLASS_1}).json()[0]
    renamed = client.patch(f"{API}/students/{student['id']}", headers=city.a.admin, json={"name": formula})
    assert renamed.status_code == 200, renamed.text
    assert client.post(f"{API}/exams/{city.exam_id}/grade", headers=city.a.teacher).status_code == 201
    exam = city.exam_id
    for path in ("/scores.xlsx", "/reports/grade.xlsx", f"/reports/classes/{CLASS_1}.xlsx"):
        book = load_workbook(io.BytesIO(client.get(f"{API}/exams/{exam}{path}", headers=city.a.teacher).content))
        cells = [cell for ws in book.worksheets for row in ws.iter_rows() for cell in row]
        assert not [c.coordinate for c in cells if c.data_type == "f"], path
        assert any(c.value == formula and c.data_type == "s" for c in cells), path
    text = client.get(f"{API}/exams/{exam}/scores.csv", headers=city.a.teacher).content.decode("utf-8-sig")
    names = {r["考号"]: r["姓名"] for r in csv.DictReader(io.StringIO(text))}
    assert names[student["exam_id"]] == "'" + formula


def test_grade_policy_body_is_strict(client, city, graded):
    url = f"{API}/exams/{city.exam_id}/grade"
    assert client.post(url, headers=city.a.teacher, json={"policy": "guess"}).status_code == 422
    assert client.post(url, headers=city.a.teacher, json={"policy": "zero", "extra": 1}).status_code == 422
    zero = client.post(url, headers=city.a.admin, json={"policy": "zero"})
    assert zero.status_code == 201 and zero.json()["policy"] == "zero"
    by_city = client.post(url, headers=city.municipal, params={"school_id": city.a.id})
    assert by_city.status_code == 201 and by_city.json()["by"].startswith("key:")
    runs = client.get(f"{API}/exams/{city.exam_id}/results", headers=city.a.teacher).json()["run"]
    assert runs["run_id"] == by_city.json()["run_id"]  # the newest run is the one shown


def test_key_change_regrades_at_once_and_is_audited(client, service, city, graded):
    exam = city.exam_id
    before = client.get(f"{API}/exams/{exam}/results", headers=city.a.teacher, params={"detail": "true"}).json()
    question = "Q1"
    url = f"{API}/exams/{exam}/key-changes"
    # a city-wide exam's key is the municipal system's
    assert client.post(url, headers=city.a.teacher, json={"action": "void", "question": question}).status_code == 403
    assert client.post(url, headers=city.a.station, json={"action": "void", "question": question}).status_code == 403
    assert client.post(url, headers=city.municipal,
                       json={"action": "set_points", "question": question, "points": True}).status_code == 422
    assert client.post(url, headers=city.municipal,
                       json={"action": "void", "question": question, "by": "me"}).status_code == 422
    unknown = client.post(url, headers=city.municipal, json={"action": "void", "question": "Q99"})
    assert unknown.status_code == 422 and "Q99" in unknown.json()["detail"]

    response = client.post(url, headers=city.municipal,
                           json={"action": "void", "question": question, "reason": "misprint"})
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["before"]["status"] == "normal" and body["after"]["status"] == "void"
    assert body["full_marks_before"] == 120 and body["full_marks_after"] == 119
    [record] = body["regraded"]
    assert record["school_id"] == city.a.id
    old = {r["exam_id"]: r for r in before["items"]}
    sitting = [r for r in old.values() if r["status"] in ("graded", "pending")]
    assert record["students_changed"] == len(sitting)  # every sitting student's Q1 is no longer scored
    scored = [r["scores"][question] for r in sitting]
    assert record["mean_before"] == pytest.approx(sum(scored) / len(scored)) and record["mean_after"] is None

    after = client.get(f"{API}/exams/{exam}/results", headers=city.a.teacher, params={"detail": "true"}).json()
    assert after["run"]["run_id"] == record["run_id"] and after["run"]["full_marks"] == 119
    for row in after["items"]:
        if row["status"] == "graded":
            assert row["total"] == pytest.approx(old[row["exam_id"]]["total"] - old[row["exam_id"]]["scores"][question])
            assert row["scores"][question] is None
    definition = client.get(f"{API}/exams/{exam}", headers=city.a.teacher).json()["definition"]
    assert next(q for q in definition["questions"] if q["id"] == question)["status"] == "void"
    analytics = client.get(f"{API}/exams/{exam}/analytics", headers=city.a.teacher).json()
    assert analytics["exam"]["full_marks"] == 119

    log = client.get(f"{API}/audit", headers=city.municipal, params={"action": "exam.key_change"}).json()["items"]
    assert len(log) == 1 and log[0]["actor"].startswith("key:")
    assert log[0]["before"]["question"]["status"] == "normal" and log[0]["after"]["question"]["status"] == "void"
    assert log[0]["after"]["regraded"] == [{"school_id": city.a.id, "run_id": record["run_id"],
                                            "students_changed": record["students_changed"]}]
    again = client.post(url, headers=city.municipal, json={"action": "void", "question": question})
    assert again.status_code == 422 and "already void" in again.json()["detail"]


def test_a_school_changes_the_key_of_its_own_exam(client, service, city, simulated_scans):
    import json


    own = client.post(f"{API}/exams", headers=city.a.teacher,
                      json={"definition": json.loads(SAMPLE_EXAM.read_text(encoding="utf-8"))})
    assert own.status_code == 201
    exam = own.json()["id"]
    ingested, _ = setup_school(client, service, city.a, exam, simulated_scans, extras=False)
    assert client.post(f"{API}/exams/{exam}/grade", headers=city.a.teacher).status_code == 201
    url = f"{API}/exams/{exam}/results"
    before = {r["exam_id"]: r for r in client.get(url, headers=city.a.teacher,
                                                  params={"detail": "true"}).json()["items"]}
    change = {"action": "set_answers", "question": "Q2", "answers": ["A", "B", "C", "D"]}
    assert client.post(f"{API}/exams/{exam}/key-changes", headers=city.municipal, json=change).status_code == 403
    assert client.post(f"{API}/exams/{exam}/key-changes", headers=city.b.teacher, json=change).status_code == 404
    response = client.post(f"{API}/exams/{exam}/key-changes", headers=city.a.admin, json=change)
    assert response.status_code == 201, response.text
    after = {r["exam_id"]: r for r in client.get(url, headers=city.a.teacher,
                                                 params={"detail": "true"}).json()["items"]}
    # any one letter now scores the point: check against what OMR read on each sheet
    with service.db.read() as session:
        readings = {s.student_id: s.result["questions"]["Q2"] for s in session.scalars(
            select(Sheet).where(Sheet.id.in_(ingested.sheet_ids)))}
    changed = 0
    for exam_id, row in after.items():
        if row["status"] != "graded":
            continue
        reading = readings[exam_id]
        assert row["scores"]["Q2"] == (1 if reading["status"] == "ok" and len(reading["marked"]) == 1 else 0)
        assert row["total"] == pytest.approx(before[exam_id]["total"] - before[exam_id]["scores"]["Q2"]
                                             + row["scores"]["Q2"])
        changed += row["scores"]["Q2"] != before[exam_id]["scores"]["Q2"]
    assert changed > 0 and response.json()["regraded"][0]["students_changed"] == changed


def test_another_school_finds_nothing(client, service, city, graded):
    ingested, _ = graded
    exam = city.exam_id
    sheet = ingested.sheet_ids[0]
    page = ingested.pages["batch-0001-p1.jpg"][0]
    reads = [f"/sheets/{sheet}", f"/pages/{page}", f"/pages/{page}/image", f"/pages/{page}/overlay"]
    exam_reads = ["/results", "/analytics", "/reports/grade.xlsx", f"/reports/classes/{CLASS_1}.xlsx",
                  f"/reports/classes/{CLASS_1}/students.pdf", "/scores.xlsx", "/scores.csv",
                  "/results/2026010001", f"/classes/{CLASS_1}/results"]
    for path in reads:
        assert client.get(API + path, headers=city.a.teacher).status_code == 200, path
        assert client.get(API + path, headers=city.b.teacher).status_code == 404, path
        assert client.get(API + path, headers=city.b.admin).status_code == 404, path
    for path in exam_reads:
        assert client.get(f"{API}/exams/{exam}{path}", headers=city.a.teacher).status_code == 200, path
        response = client.get(f"{API}/exams/{exam}{path}", headers=city.b.teacher, params={"school_id": city.a.id})
        assert response.status_code == 404, path
    corrections = {"corrections": [{"question": "Q1", "value": "A"}]}
    assert client.post(f"{API}/sheets/{sheet}/corrections", headers=city.b.teacher,
                       json=corrections).status_code == 404
    assert client.post(f"{API}/exams/{exam}/grade", headers=city.b.teacher,
                       params={"school_id": city.a.id}).status_code == 404
    # a school's own exam is not even there for another school
    import json


    own = client.post(f"{API}/exams", headers=city.a.teacher,
                      json={"definition": json.loads(SAMPLE_EXAM.read_text(encoding="utf-8"))}).json()["id"]
    for path in ("/results", "/analytics", "/reports/grade.xlsx", "/scores.csv"):
        response = client.get(f"{API}/exams/{own}{path}", headers=city.b.teacher)
        assert response.status_code == 404 and response.json()["detail"] == "exam not found"
    assert client.post(f"{API}/exams/{own}/grade", headers=city.b.teacher).status_code == 404
    assert client.post(f"{API}/exams/{own}/key-changes", headers=city.b.teacher,
                       json={"action": "void", "question": "Q1"}).status_code == 404


def test_grade_and_results_on_postgresql(tmp_path, pg_url, simulated_scans):
    """The bulk path on PostgreSQL (COPY into student_results and score_cells in the request's transaction)."""
    pg_service = open_service(Settings(data_dir=tmp_path / "pg", database_url=pg_url, workers=0, _env_file=None))
    try:
        with TestClient(create_app(service=pg_service)) as pg_client:
            pg_city = make_city(pg_client, pg_service)
            setup_school(pg_client, pg_service, pg_city.a, pg_city.exam_id, simulated_scans, extras=False)
            response = pg_client.post(f"{API}/exams/{pg_city.exam_id}/grade", headers=pg_city.a.teacher)
            assert response.status_code == 201, response.text
            run = response.json()
            results = pg_client.get(f"{API}/exams/{pg_city.exam_id}/results", headers=pg_city.a.teacher,
                                    params={"detail": "true"}).json()
            assert len(results["items"]) == 6
            for row in results["items"]:
                assert isinstance(row["exam_id"], str) and len(row["scores"]) == 58
                if row["status"] == "graded":
                    assert row["total"] == pytest.approx(sum(row["scores"].values()))
            with pg_service.db.read() as session:
                assert session.scalar(select(func.count()).select_from(ScoreCell)
                                      .where(ScoreCell.run_id == run["run_id"])) == 6 * 58
                assert session.scalar(select(func.count()).select_from(StudentResult)) == 6
                assert session.get(GradeRun, run["run_id"]).summary["graded"] == run["graded"]
            exported, cursor = [], None
            while True:  # the keyset cursor's row comparison, on PostgreSQL
                page = pg_client.get(f"{API}/municipal/exams/{pg_city.exam_id}/scores", headers=pg_city.municipal,
                                     params={"limit": 4, **({"cursor": cursor} if cursor else {})}).json()
                exported += [r["exam_id"] for r in page["items"]]
                cursor = page["next_cursor"]
                if cursor is None:
                    break
            assert exported == sorted(r["exam_id"] for r in results["items"])
    finally:
        pg_service.close()
