"""The whole day of a school through HTTP: the station uploads, a worker reads, a teacher works the review queue
and corrects a sheet, grades, reads results and downloads the reports; every number checked against the
simulator's truth or the correction made."""

from __future__ import annotations

import io
from urllib.parse import quote

from openpyxl import load_workbook

from api.service.worker import run_worker

from jobs_helpers import upload
from review_helpers import CLASS_1, CLASS_2, assign_classes, import_roster

API = "/api/v1"


def test_upload_read_review_correct_grade_report(client, service, settings, city, simulated_scans):
    folder, manifest = simulated_scans
    import_roster(client, city.a.admin, simulated_scans)
    assign_classes(client, city.a.admin, f"teacher-{city.a.id}", [CLASS_1, CLASS_2])
    files = [(entry["file"], (folder / entry["file"]).read_bytes()) for entry in manifest["files"]]
    batch = upload(client, city.a.station, city.exam_id, files, key="station-1/2026-11-23/001")
    assert batch.status_code == 202, batch.text
    assert run_worker(settings, "e2e", service=service, exit_when_idle=True) == len(files)
    progress = client.get(f"{API}/batches/{batch.json()['id']}", headers=city.a.station).json()["progress"]
    assert progress["status"] == "done" and progress["pages_read"] == len(files) and progress["sheets"] == len(files)

    # Every sheet OMR calls sure names the student the simulator wrote on it.
    truth = {entry["file"]: entry["student_id"] for entry in manifest["pages"]}
    queue = client.get(f"{API}/review", headers=city.a.teacher, params={"exam_id": city.exam_id}).json()["items"]
    flagged = {item["id"] for item in queue if item["kind"] == "sheet"}
    sheet_ids = range(1, progress["sheets"] + 1)
    for sheet_id in sheet_ids:
        sheet = client.get(f"{API}/sheets/{sheet_id}", headers=city.a.teacher).json()
        page = client.get(f"{API}/pages/{sheet['page_ids'][0]}", headers=city.a.teacher).json()
        if sheet_id not in flagged:
            assert sheet["status"] == "ok" and sheet["student_id"] == truth[page["filename"]]

    # A double mark scores nothing until the teacher, looking at the paper, says which answer it is.
    exam = client.get(f"{API}/exams/{city.exam_id}", headers=city.a.teacher).json()["definition"]
    questions = {q["id"]: q for q in exam["questions"]}
    sheet, question = next((item, reason.split(": ")[1].split(", ")[0]) for item in queue if item["kind"] == "sheet"
                           for reason in item["reasons"] if reason.startswith("multiple marks: "))
    student = client.get(f"{API}/sheets/{sheet['id']}", headers=city.a.teacher).json()["student_id"]
    before = client.post(f"{API}/exams/{city.exam_id}/grade", headers=city.a.teacher).json()
    scores_before = client.get(f"{API}/exams/{city.exam_id}/results/{student}", params={"detail": True},
                               headers=city.a.teacher).json()
    assert scores_before["status"] == "graded" and scores_before["scores"][question] == 0.0
    answer, points = questions[question]["answers"][0], questions[question]["points"]
    correction = client.post(f"{API}/sheets/{sheet['id']}/corrections", headers=city.a.teacher,
                             json={"corrections": [{"question": question, "value": answer,
                                                    "reason": "checked on paper: the other mark is erased"}]})
    assert correction.status_code == 201, correction.text
    after = client.post(f"{API}/exams/{city.exam_id}/grade", headers=city.a.teacher).json()
    assert after["run_id"] != before["run_id"]
    scores_after = client.get(f"{API}/exams/{city.exam_id}/results/{student}", params={"detail": True},
                              headers=city.a.teacher).json()
    assert scores_after["scores"][question] == points
    assert scores_after["total"] == scores_before["total"] + points
    still_queued = client.get(f"{API}/review", headers=city.a.teacher, params={"exam_id": city.exam_id}).json()
    assert sheet["id"] not in [item["id"] for item in still_queued["items"] if item["kind"] == "sheet"]
    audit = client.get(f"{API}/audit", headers=city.a.admin, params={"action": "correction.create"}).json()["items"]
    assert audit and audit[0]["after"] and audit[0]["actor"].startswith("user:")

    # Results, analytics and the downloads a teacher takes home.
    results = client.get(f"{API}/exams/{city.exam_id}/results", headers=city.a.teacher).json()
    assert len(results["items"]) == len(set(truth.values()))
    analytics = client.get(f"{API}/exams/{city.exam_id}/analytics", headers=city.a.teacher).json()
    assert analytics["counts"]["graded"] == after["graded"]
    class_name = results["items"][0]["class_name"]
    book = client.get(f"{API}/exams/{city.exam_id}/reports/classes/{quote(class_name)}.xlsx", headers=city.a.teacher)
    assert book.status_code == 200 and load_workbook(io.BytesIO(book.content), read_only=True).sheetnames
    pdf = client.get(f"{API}/exams/{city.exam_id}/reports/classes/{quote(class_name)}/students.pdf",
                     headers=city.a.teacher)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
