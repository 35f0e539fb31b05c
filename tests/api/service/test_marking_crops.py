"""网上阅卷 of answers continued across columns and onto the next page (the provincial A3 card cn-prov-a3: answer
24 runs on in the next column, answer 25 on page 2), and of a 题块 whose regions lie on two pages (answers 25 and
26), through real HTTP: the crop a marker fetches is the whole answer, stitched as ``omr.crops`` stitches it; a
sheet whose page 2 is missing gives the part that exists with a note, and goes to the leader as a 问题卷;
identity areas never show and a giant region gives a bounded crop."""

from __future__ import annotations

import json
import types
from pathlib import Path

import cv2
import numpy as np
import pytest
from sqlalchemy import func, select

from api.service.marking import CROP_MAX_PIXELS, CROP_MAX_SIDE_PX, CropSource, ScanPage, cut_crop
from api.service.marking_jobs import jobs_of
from api.service.models import MarkingItem, MarkingTask
from omr.crops import STITCH_GAP_PX

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


def _prov_exam(client, city) -> int:
    """The cn-prov-a3 sample exam, as the city's exam: its id."""
    exam = client.post(f"{API}/exams", json={"definition": json.loads(EXAM.read_text(encoding="utf-8"))},
                       headers=city.municipal)
    assert exam.status_code == 201, exam.text
    return exam.json()["id"]


def _stored_without_page_2_of_sheet_2(service, city, exam_id: int, folder: Path, manifest: dict):
    """School A's two sheets stored, the second one's page 2 never having reached the service: (the complete
    sheet's 考号, the other's, what was stored)."""
    complete, partial = manifest["pages"][0]["student_id"], manifest["pages"][2]["student_id"]
    files = [(p["file"], (folder / p["file"]).read_bytes()) for p in manifest["pages"] if p["index"] != 3]
    ingested = ingest(service, city.a.id, exam_id, files)
    assert set(ingested.sheets) == {complete, partial}
    return complete, partial, ingested


def _teachers(client, city, names: tuple[str, ...]) -> list[tuple[int, dict[str, str]]]:
    """New teachers of school A: (id, API headers) each."""
    made = []
    for name in names:
        answer = client.post(f"{API}/users", headers=city.a.admin, json={
            "username": name, "password": PASSWORD, "role": "teacher", "school_id": city.a.id})
        assert answer.status_code == 201, answer.text
        made.append((answer.json()["id"], _login(client, name)))
    return made


def test_a_marker_sees_every_part_of_a_continued_answer_and_a_note_where_a_page_is_missing(
        client, service, city, prov_scans):
    folder, manifest, stitched = prov_scans
    exam_id = _prov_exam(client, city)
    complete, partial, ingested = _stored_without_page_2_of_sheet_2(service, city, exam_id, folder, manifest)
    marker, leader = _teachers(client, city, ("marker", "leader"))
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


def _giant_answer24() -> dict:
    """cn-prov-a3 with answer 24 continued over the whole of page 1 (name, label, 考号 grid)."""
    from sample_sheets import resolve_template

    template = resolve_template("cn-prov-a3").model_dump(mode="json")
    region = next(f for f in template["pages"][0]["fields"] if f.get("id") == "answer24")
    region["continues"] = [{"x": 14, "y": 12, "w": 392, "h": 278}]
    return template


def _cut_from_files(template: dict, regions: tuple[str, ...], files: dict[int, Path]) -> np.ndarray:
    """The crop of ``regions`` cut from scan files ({template page: file}) as the workers registered them."""
    from omr.batch import ScanOptions, scan_file
    from omr.load import LoadLimits
    from omr.result import page_result_to_dict

    from api.service.processing import prepared_template

    pages = []
    for number, path in files.items():
        stored = page_result_to_dict(scan_file(path, prepared_template(template), ScanOptions())[0])
        assert stored["page"] == number
        pages.append((number, ScanPage(number, str(path), path.name, 0, stored["page"],
                                       tuple(map(tuple, stored["page_to_image"])))))
    service = types.SimpleNamespace(blobs=types.SimpleNamespace(path=Path),
                                    settings=types.SimpleNamespace(load_limits=LoadLimits))
    crop = _decode(cut_crop(service, CropSource(1, template, regions, tuple(pages))))
    assert crop.shape[0] <= CROP_MAX_SIDE_PX and crop.shape[1] <= CROP_MAX_SIDE_PX
    assert crop.size <= CROP_MAX_PIXELS
    return crop


def _assert_page_one_identity_blank(part: np.ndarray, scale: float) -> None:
    """``part`` (the whole of page 1 from (14, 12) mm, at ``scale`` px/mm) shows paper over the name, the label
    and the 考号 grid, and the print beside them."""
    for x, y, w, h in ((20, 31, 60, 10), (86, 30, 56, 20), (23, 50, 55, 45)):  # name, label, 考号 grid
        inside = part[int((y - 12) * scale) + 3:int((y - 12 + h) * scale) - 3,
                      int((x - 14) * scale) + 3:int((x - 14 + w) * scale) - 3]
        assert inside.min() == 255
    print_area = part[int((133 - 12) * scale):int((190 - 12) * scale), int((27 - 14) * scale):int((140 - 14) * scale)]
    assert print_area.min() < 128  # the choice questions beside them still show (the part was cut)


def test_a_part_over_the_identity_areas_shows_paper_there_and_a_giant_region_stays_bounded(prov_scans):
    """A template whose answer 24 continues over the whole of page 1 (name, label, 考号 grid): the crop blanks
    them, and the crop is no larger than the bounds however large the region."""
    folder, manifest, _ = prov_scans
    crop = _cut_from_files(_giant_answer24(), ("answer24",), {1: folder / manifest["pages"][0]["file"]})
    # The second part starts below the first (126 x 78 mm) and the gap; its scale is the crop's width / 392 mm.
    scale = crop.shape[1] / 392
    _assert_page_one_identity_blank(crop[crop.shape[0] - int(round(278 * scale)):], scale)


# --- a 题块 over two pages ----------------------------------------------------------------------------------------

#: The two-page 题块 of the tests: answer 25 (page 1, continued at the top of page 2), then answer 26 (page 2).
BLOCK = ("answer25", "answer26")
#: A black square (mm) drawn in each part of the block, further right in each part: (region, part) -> its left.
MARK_MM = 12
MARKS = {("answer25", 1): 10, ("answer25", 2): 50, ("answer26", 1): 90}
MARK_TOP_MM = 15


def _block_parts(template) -> list[tuple[int, object]]:
    """(page, rectangle) of every part of :data:`BLOCK`, in the order its crop shows them."""
    from omr.template import region_parts

    parts = region_parts(template)
    return [part for region in BLOCK for part in parts[region]]


@pytest.fixture(scope="module")
def marked_scans(prov_scans, tmp_path_factory):
    """The cn-prov-a3 scans with a black square written into each part of :data:`BLOCK` (where the simulated
    scan's truth puts that part), at :data:`MARKS`: the crop must show each square in its own part."""
    from sample_sheets import resolve_template

    folder, manifest, _ = prov_scans
    out = tmp_path_factory.mktemp("marked")
    parts = _block_parts(resolve_template("cn-prov-a3"))
    for entry in manifest["pages"]:
        truth = json.loads((folder / entry["truth"]).read_text(encoding="utf-8"))
        image = cv2.imread(str(folder / entry["file"]), cv2.IMREAD_GRAYSCALE)
        px_per_mm, homography = truth["dpi"] / 25.4, np.asarray(truth["homography"], dtype=float)
        for number, rect in parts:
            if number != entry["page"]:
                continue
            left, top = rect.x + MARKS[(rect.region, rect.part or 1)], rect.y + MARK_TOP_MM
            corners = np.array([[x * px_per_mm - 0.5, y * px_per_mm - 0.5] for x, y in (
                (left, top), (left + MARK_MM, top), (left + MARK_MM, top + MARK_MM), (left, top + MARK_MM))])
            placed = cv2.perspectiveTransform(corners[None], homography)[0]
            cv2.fillPoly(image, [np.round(placed).astype(np.int32)], 0)
        cv2.imwrite(str(out / entry["file"]), image, [cv2.IMWRITE_JPEG_QUALITY, 95])
    return out, manifest


def _dark_share(crop: np.ndarray, left_mm: float, top_mm: float, px_per_mm: float, size_mm: float = 8) -> float:
    """Share of dark pixels in a ``size_mm`` square of ``crop`` at (left, top) mm of its own scale."""
    window = crop[int(top_mm * px_per_mm):int((top_mm + size_mm) * px_per_mm),
                  int(left_mm * px_per_mm):int((left_mm + size_mm) * px_per_mm)]
    assert window.size, (left_mm, top_mm)
    return float((window < 100).mean())


def _assert_marks(crop: np.ndarray, parts: list[tuple[object, float]], px_per_mm: float) -> None:
    """Each part (rectangle, top in mm of the crop) shows its own square, and not the other parts' squares."""
    for rect, top in parts:
        own = MARKS[(rect.region, rect.part or 1)]
        for left in MARKS.values():
            share = _dark_share(crop, left + 2, top + MARK_TOP_MM + 2, px_per_mm)
            if left == own:
                assert share > 0.9, (rect.id, left, share)
            else:
                assert share < 0.5, (rect.id, left, share)


def test_a_block_over_two_pages_is_one_crop_in_the_order_named_and_its_score_is_graded(
        client, service, city, marked_scans):
    """A 题块 set up over the API from answer 25 (page 1, continued on page 2) and answer 26 (page 2): the crop
    shows the three parts in order, each cut from its page; a sheet whose page 2 never came shows page 1's part
    under the note and goes to the leader; the final scores reach grading."""
    from sample_sheets import resolve_template

    folder, manifest = marked_scans
    exam_id = _prov_exam(client, city)
    complete, partial, ingested = _stored_without_page_2_of_sheet_2(service, city, exam_id, folder, manifest)
    (marker, marker_headers), (leader, leader_headers) = _teachers(client, city, ("marker", "leader"))
    made = client.post(f"{API}/exams/{exam_id}/marking", headers=city.a.admin, json={
        "question": "Q25", "regions": list(BLOCK), "step": 1, "double": False, "markers": [marker],
        "leader_id": leader})
    assert made.status_code == 201, made.text
    setup = made.json()
    assert setup["regions"] == list(BLOCK) and setup["answers"] == 2
    jobs_of(service).drain()
    with service.db.read() as session:
        assert session.scalar(select(func.count()).select_from(MarkingItem).where(
            MarkingItem.setup_id == setup["id"], MarkingItem.crop_sha256.is_not(None))) == 2  # cut ahead

    parts = _block_parts(resolve_template("cn-prov-a3"))
    tasks = client.get(f"{API}/marking/{setup['id']}/tasks", params={"count": 2}, headers=marker_headers).json()
    assert len(tasks) == 2
    received = json.dumps(tasks, ensure_ascii=False)
    assert complete not in received and partial not in received and city.a.id not in received
    with service.db.read() as session:
        sheets = dict(session.execute(select(MarkingTask.token, MarkingItem.sheet_id).join(
            MarkingItem, MarkingItem.id == MarkingTask.item_id).where(
            MarkingTask.token.in_([t["token"] for t in tasks]))).all())
    for task in tasks:
        response = client.get(task["image"], headers=marker_headers)
        assert response.status_code == 200 and response.headers["content-type"] == "image/png"
        crop = _decode(response.content)
        assert crop.shape[0] <= CROP_MAX_SIDE_PX and crop.size <= CROP_MAX_PIXELS
        if sheets[task["token"]] == ingested.sheets[complete]:
            # Three parts of 122, 124 and 124 mm wide, stacked at one scale with STITCH_GAP_PX between them.
            px_per_mm = crop.shape[1] / max(r.w for _, r in parts)
            heights = [r.h for _, r in parts]
            assert abs(crop.shape[0] - sum(heights) * px_per_mm - 2 * STITCH_GAP_PX) < 3
            tops = [sum(heights[:k]) + k * STITCH_GAP_PX / px_per_mm for k in range(3)]
            _assert_marks(crop, [(rect, top) for (_, rect), top in zip(parts, tops)], px_per_mm)
            assert client.post(f"{API}/marking/tasks/{task['token']}/score", json={"score": 9},
                               headers=marker_headers).status_code == 200
        else:
            # Page 2 is missing: page 1's part under the note, then to the leader as a 问题卷.
            first = parts[0][1]
            px_per_mm = crop.shape[1] / first.w
            top = crop.shape[0] / px_per_mm - first.h
            assert 20 < top * px_per_mm < 200  # the note's height (two lines) above the part
            assert (crop[:int(top * px_per_mm) - STITCH_GAP_PX] < 128).mean() > 0.01
            _assert_marks(crop, [(first, top)], px_per_mm)
            problem = client.post(f"{API}/marking/tasks/{task['token']}/problem",
                                  json={"kind": "illegible", "note": "第2页缺失"}, headers=marker_headers)
            assert problem.status_code == 200, problem.text
            problem_token = task["token"]
    resolved = client.post(f"{API}/marking/problems/{problem_token}/resolve", json={"action": "score", "score": 4},
                           headers=leader_headers)
    assert resolved.status_code == 200, resolved.text

    assert client.post(f"{API}/exams/{exam_id}/grade", headers=city.a.admin).status_code in (200, 201)
    for student, score in ((complete, 9), (partial, 4)):
        result = client.get(f"{API}/exams/{exam_id}/results/{student}", headers=city.a.admin)
        assert result.status_code == 200, result.text
        assert result.json()["scores"]["Q25"] == score


def test_a_block_named_from_page_2_back_to_page_1_keeps_that_order_and_blanks_page_1s_identity(marked_scans):
    """A 题块 named answer 26 (page 2) first, then answer 24 continued over the whole of page 1: the crop shows
    page 2's part on top (its square), then page 1's parts, with the name, label and 考号 grid paper though the
    block's first page is page 2."""
    from omr.template import parse_template, region_parts

    folder, manifest = marked_scans
    template = _giant_answer24()
    files = {p["page"]: folder / p["file"] for p in manifest["pages"] if p["sheet"] == 0}
    crop = _cut_from_files(template, ("answer26", "answer24"), {2: files[2], 1: files[1]})
    scale = crop.shape[1] / 392
    answer26 = region_parts(parse_template(template))["answer26"][0][1]
    assert abs(crop.shape[0] - (154 + 78 + 278) * scale - 2 * STITCH_GAP_PX) < 3
    _assert_marks(crop, [(answer26, 0)], scale)
    giant = crop[crop.shape[0] - int(round(278 * scale)):]
    _assert_page_one_identity_blank(giant, scale)
    # Page 1's square in answer 25 shows in the giant part: that part was cut from page 1's scan.
    assert _dark_share(giant, 284 - 14 + MARKS[("answer25", 1)] + 2, 133 - 12 + MARK_TOP_MM + 2, scale) > 0.9


def test_an_answer_is_loaded_for_a_sheet_holding_any_page_of_its_block(service):
    """Sheets holding pages {1, 2}, {2}, {1} and an absent one: the two-page block (answers 25 and 26) loads the
    three present sheets, each from the first of its pages holding a part; answer 26 alone (page 2) loads only
    the sheets that have page 2."""
    import uuid

    from api.service.marking import load_items
    from api.service.models import Batch, BatchFile, Blob, Exam, MarkingSetup, Page, School, Sheet, User
    from sample_sheets import resolve_template

    with service.db.write() as session:
        session.add(School(id="S1", name="第一中学"))
        session.add(Blob(sha256="0" * 64, size=1, media_type="image/jpeg"))
        session.flush()
        exam = Exam(code="block", school_id="S1", subject="数学",
                    definition=json.loads(EXAM.read_text(encoding="utf-8")),
                    template=resolve_template("cn-prov-a3").model_dump(mode="json"))
        leader = User(username="leader", password_hash="x", role="teacher", school_id="S1")
        session.add_all([exam, leader])
        session.flush()
        batch = Batch(id=str(uuid.uuid4()), school_id="S1", exam_id=exam.id, uploaded_by="test")
        session.add(batch)
        session.flush()
        page_of: dict[tuple[int, int], int] = {}
        sheet_ids = []
        for k, (numbers, absent) in enumerate((((1, 2), False), ((2,), False), ((1,), False), ((1, 2), True))):
            ids = []
            for number in numbers:
                file = BatchFile(batch_id=batch.id, school_id="S1", exam_id=exam.id, seq=len(page_of),
                                 filename=f"{k}-{number}.jpg", sha256="0" * 64)
                session.add(file)
                session.flush()
                page = Page(file_id=file.id, batch_id=batch.id, school_id="S1", page_index=0, status="ok",
                            result={"page": number})
                session.add(page)
                session.flush()
                page_of[(k, number)] = page.id
                ids.append(page.id)
            sheet = Sheet(batch_id=batch.id, school_id="S1", exam_id=exam.id, sheet_index=k, status="ok",
                          student_id=f"2026{k:06d}", page_ids=ids, result={
                              "absent": absent, "pages": [{"source": "x", "page_index": 0, "page": n}
                                                          for n in numbers]})
            session.add(sheet)
            session.flush()
            sheet_ids.append(sheet.id)
        loaded = {}
        for question, regions in (("Q25", ["answer25", "answer26"]), ("Q26", ["answer26"])):
            setup = MarkingSetup(school_id="S1", exam_id=exam.id, question=question, regions=regions,
                                 full_marks=12, leader_id=leader.id, created_by="test")
            session.add(setup)
            session.flush()
            assert load_items(session, setup, exam) == (3 if question == "Q25" else 2)
            assert load_items(session, setup, exam) == 0  # once per sheet
            loaded[question] = dict(session.execute(select(MarkingItem.sheet_id, MarkingItem.page_id).where(
                MarkingItem.setup_id == setup.id)).all())
    assert loaded["Q25"] == {sheet_ids[0]: page_of[(0, 1)], sheet_ids[1]: page_of[(1, 2)],
                             sheet_ids[2]: page_of[(2, 1)]}
    assert loaded["Q26"] == {sheet_ids[0]: page_of[(0, 2)], sheet_ids[1]: page_of[(1, 2)]}


def test_the_set_up_page_offers_regions_of_every_page_and_sets_up_a_two_page_block(client, city):
    """The school admin's set-up page lists the card's answer regions under their page numbers (not the name
    region), and a form naming answer 25 (continued on page 2) and answer 26 sets up that 题块; the supervision
    page shows it with its pages."""
    import re

    from service_city import SCHOOL_A

    exam_id = _prov_exam(client, city)
    html = {"Accept": "text/html"}
    login = client.get("/login", headers=html)
    token = re.search(r'name="csrf" value="([^"]+)"', login.text).group(1)
    assert client.post("/login", data={"csrf": token, "username": f"school_admin-{SCHOOL_A}",
                                       "password": PASSWORD}, follow_redirects=False).status_code == 303
    page = client.get("/marking/setup", params={"exam": exam_id}, headers=html)
    assert page.status_code == 200, page.text
    chooser = page.text[page.text.index('id="block-regions"'):]
    chooser = chooser[:chooser.index("</fieldset>")]
    offered = {int(number): re.findall(r'name="regions" value="([^"]+)"', group) for number, group in
               re.findall(r'data-page="(\d)"><b>第\d页</b>(.*?)</div>', chooser, re.S)}
    assert offered == {1: [f"answer{n}" for n in range(21, 26)], 2: ["answer26", "answer27", "answer28"]}
    assert "续第2页" in chooser and 'value="name"' not in chooser
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    marker = _teachers(client, city, ("marker",))[0][0]
    made = client.post("/marking/setup", follow_redirects=False, headers=html, data={
        "csrf": csrf, "exam_id": str(exam_id), "question": "Q25", "regions": ["answer25", "answer26"], "step": "1",
        "markers": str(marker), "tolerance": "0", "final_rule": "closest_two"})
    assert made.status_code == 303, made.text
    setup_id = int(re.search(r"/marking/(\d+)/supervise", made.headers["location"]).group(1))
    setup = client.get(f"{API}/marking/{setup_id}", headers=city.a.admin).json()
    assert setup["regions"] == ["answer25", "answer26"] and setup["question"] == "Q25"
    supervise = client.get(f"/marking/{setup_id}/supervise", headers=html)
    block = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", re.search(r'id="block">(.*?)</p>', supervise.text,
                                                                 re.S).group(1)))
    assert block.strip() == "题块: 第1页 answer25 (续第2页) → 第2页 answer26"
