"""网上阅卷 of answers continued across columns and onto the next page (the provincial A3 card cn-prov-a3: answer
24 runs on in the next column, answer 25 on page 2), through real HTTP: the crop a marker fetches is the whole
answer, stitched as ``omr.crops`` stitches it; a sheet whose page 2 is missing gives the part that exists with a
note, and goes to the leader as a 问题卷; identity areas never show and a giant region gives a bounded crop."""

from __future__ import annotations

import json
import types
from pathlib import Path

import cv2
import numpy as np
import pytest
from sqlalchemy import select

from api.service.marking import CROP_MAX_PIXELS, CROP_MAX_SIDE_PX, CropSource, ScanPage, cut_crop
from api.service.marking_jobs import jobs_of
from api.service.models import MarkingItem, MarkingTask

from review_helpers import ingest
from service_city import PASSWORD, _login

API = "/api/v1"
EXAM = Path(__file__).resolve().parents[3] / "grading" / "samples" / "cn-prov-a3-exam.json"


@pytest.fixture(scope="module")
def prov_scans(tmp_path_factory):
    """Two simulated cn-prov-a3 sheets (two pages each) as JPEG files, and each sheet's stitched crops of answers
    24 and 25 as ``yuejuan scan --crops`` makes them (omr.crops)."""
    from omr.batch import ScanOptions, scan_file
    from omr.crops import stitch_sheet_crops
    from sample_sheets import resolve_template
    from sample_sheets.simulate import write_batch

    from api.service.processing import prepared_template

    folder = tmp_path_factory.mktemp("prov")
    manifest = write_batch("cn-prov-a3", folder, count=2, seed=2411, profile="typical", fmt="jpg")
    template = resolve_template("cn-prov-a3")
    prepared = prepared_template(template.model_dump(mode="json"))
    stitched: dict[str, dict[str, np.ndarray]] = {}
    for sheet in (0, 1):
        crops: dict[str, str] = {}
        for page in (p for p in manifest["pages"] if p["sheet"] == sheet):
            options = ScanOptions(crops_dir=str(folder / "crops"))
            for result in scan_file(folder / page["file"], prepared, options):
                crops.update(result.crops)
        files = stitch_sheet_crops(template, crops, folder, f"sheet{sheet}")
        stitched[manifest["pages"][2 * sheet]["student_id"]] = {
            region: cv2.imread(path, cv2.IMREAD_GRAYSCALE) for region, path in files.items()}
    return folder, manifest, stitched


def _decode(png: bytes) -> np.ndarray:
    return cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_GRAYSCALE)


def _agreement(crop: np.ndarray, reference: np.ndarray) -> tuple[float, float]:
    """(normalised correlation, shift in pixels) of ``crop`` scaled to ``reference``'s size and ``reference``,
    both smoothed alike (the two are cut at different resolutions)."""
    scaled = cv2.resize(crop, (reference.shape[1], reference.shape[0]), interpolation=cv2.INTER_AREA)
    a, b = (cv2.GaussianBlur(image.astype(np.float32), (5, 5), 0) for image in (scaled, reference))
    (dx, dy), _ = cv2.phaseCorrelate(a, b)
    return float(cv2.matchTemplate(a, b, cv2.TM_CCOEFF_NORMED)[0, 0]), float(np.hypot(dx, dy))


def _marking(client, city, exam_id: int, question: str, marker: int, leader: int) -> dict:
    body = {"question": question, "step": 1, "double": False, "markers": [marker], "leader_id": leader}
    made = client.post(f"{API}/exams/{exam_id}/marking", json=body, headers=city.a.admin)
    assert made.status_code == 201, made.text
    return made.json()


def test_a_marker_sees_every_part_of_a_continued_answer_and_a_note_where_a_page_is_missing(
        client, service, city, prov_scans):
    folder, manifest, stitched = prov_scans
    exam = client.post(f"{API}/exams", json={"definition": json.loads(EXAM.read_text(encoding="utf-8"))},
                       headers=city.municipal)
    assert exam.status_code == 201, exam.text
    exam_id = exam.json()["id"]
    complete, partial = manifest["pages"][0]["student_id"], manifest["pages"][2]["student_id"]
    # The second sheet's page 2 never reached the service.
    files = [(p["file"], (folder / p["file"]).read_bytes()) for p in manifest["pages"] if p["index"] != 3]
    ingested = ingest(service, city.a.id, exam_id, files)
    assert set(ingested.sheets) == {complete, partial}
    people = {}
    for name in ("marker", "leader"):
        made = client.post(f"{API}/users", headers=city.a.admin, json={
            "username": name, "password": PASSWORD, "role": "teacher", "school_id": city.a.id})
        assert made.status_code == 201, made.text
        people[name] = made.json()["id"], _login(client, name)
    marker, leader = people["marker"], people["leader"]
    q25 = _marking(client, city, exam_id, "Q25", marker[0], leader[0])
    q24 = _marking(client, city, exam_id, "Q24", marker[0], leader[0])
    assert q25["answers"] == q24["answers"] == 2
    jobs_of(service).drain()  # the crops cut ahead, as the service does

    for setup, region in ((q25, "answer25"), (q24, "answer24")):
        tasks = client.get(f"{API}/marking/{setup['id']}/tasks", params={"count": 2}, headers=marker[1]).json()
        assert len(tasks) == 2
        with service.db.read() as session:
            sheets = dict(session.execute(select(MarkingTask.token, MarkingItem.sheet_id).join(
                MarkingItem, MarkingItem.id == MarkingTask.item_id).where(
                MarkingTask.token.in_([t["token"] for t in tasks]))).all())
        for task in tasks:
            response = client.get(task["image"], headers=marker[1])
            assert response.status_code == 200 and response.headers["content-type"] == "image/png"
            crop = _decode(response.content)
            assert crop.shape[0] <= CROP_MAX_SIDE_PX and crop.size <= CROP_MAX_PIXELS
            if sheets[task["token"]] == ingested.sheets[complete] or region == "answer24":
                # Both parts, in order, as omr.crops stitches them (the same geometry within a few pixels).
                reference = stitched[complete if sheets[task["token"]] == ingested.sheets[complete] else partial]
                reference = reference[region]
                assert abs(crop.shape[0] / crop.shape[1] - reference.shape[0] / reference.shape[1]) < 0.02
                correlation, shift = _agreement(crop, reference)
                assert correlation > 0.9 and shift < 3, (correlation, shift)
            else:
                # Only page 1's part exists: it is shown under a note, and the task goes to the leader.
                first_part = stitched[complete][region]
                assert crop.shape[0] < first_part.shape[0] * crop.shape[1] / first_part.shape[1]
                note_rows = crop[:40]
                assert (note_rows < 128).mean() > 0.01  # the note's dark text and frame
                problem = client.post(f"{API}/marking/tasks/{task['token']}/problem",
                                      json={"kind": "illegible", "note": "第2页缺失"}, headers=marker[1])
                assert problem.status_code == 200, problem.text


def test_a_part_over_the_identity_areas_shows_paper_there_and_a_giant_region_stays_bounded(prov_scans):
    """A template whose answer 24 continues over the whole of page 1 (name, label, 考号 grid): the crop blanks
    them, and the crop is no larger than the bounds however large the region."""
    from omr.batch import ScanOptions, scan_file
    from omr.load import LoadLimits
    from omr.result import page_result_to_dict
    from sample_sheets import resolve_template

    from api.service.processing import prepared_template

    folder, manifest, _ = prov_scans
    template = resolve_template("cn-prov-a3").model_dump(mode="json")
    region = next(f for f in template["pages"][0]["fields"] if f.get("id") == "answer24")
    region["continues"] = [{"x": 14, "y": 12, "w": 392, "h": 278}]
    path = folder / manifest["pages"][0]["file"]
    stored = page_result_to_dict(scan_file(path, prepared_template(template), ScanOptions())[0])
    service = types.SimpleNamespace(blobs=types.SimpleNamespace(path=lambda _sha: path),
                                    settings=types.SimpleNamespace(load_limits=LoadLimits))
    scan = ScanPage(1, "sha", path.name, 0, stored["page"], tuple(map(tuple, stored["page_to_image"])))
    png = cut_crop(service, CropSource(1, template, ("answer24",), ((1, scan),)))
    crop = _decode(png)
    assert crop.shape[0] <= CROP_MAX_SIDE_PX and crop.shape[1] <= CROP_MAX_SIDE_PX
    assert crop.size <= CROP_MAX_PIXELS
    # The second part starts below the first (126 x 78 mm) and the gap; its scale is the crop's width / 392 mm.
    scale = crop.shape[1] / 392
    top = crop.shape[0] - int(round(278 * scale))
    part = crop[top:]
    for x, y, w, h in ((20, 31, 60, 10), (86, 30, 56, 20), (23, 50, 55, 45)):  # name, label, 考号 grid
        inside = part[int((y - 12) * scale) + 3:int((y - 12 + h) * scale) - 3,
                      int((x - 14) * scale) + 3:int((x - 14 + w) * scale) - 3]
        assert inside.min() == 255
    print_area = part[int((133 - 12) * scale):int((190 - 12) * scale), int((27 - 14) * scale):int((140 - 14) * scale)]
    assert print_area.min() < 128  # the choice questions beside them still show (the part was cut)
