"""Pages of a school's other answer sheets, through HTTP: a page of another exam's card uploaded to the wrong exam
is named as such, and a two-page card whose page 2 arrives first still makes one sheet."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select

from api.service.models import BatchFile, Page, Sheet
from api.service.worker import run_worker
from sample_sheets import resolve_template
from sample_sheets.simulate import write_batch

from jobs_helpers import upload
from service_city import SAMPLE_EXAM

#: The school's own A3 card: cn-a3-100's layout under another id and code, so it is no bundled template.
CARD = resolve_template("cn-a3-100").model_copy(update={"id": "school-a3-card", "code": 303})


@pytest.fixture
def a3_exam(client, city) -> int:
    """An exam of school A on its own A3 card (a definition that does not fit the card only warns)."""
    definition = json.loads(SAMPLE_EXAM.read_text(encoding="utf-8")) | {"id": "a3-exam", "template": CARD.id}
    response = client.post("/api/v1/exams", headers=city.a.admin,
                           json={"definition": definition, "template": CARD.model_dump(mode="json")})
    assert response.status_code == 201, response.text
    return response.json()["id"]


@pytest.fixture(scope="module")
def card_files(tmp_path_factory) -> list[tuple[str, bytes]]:
    """One card scanned as two JPEG files: (name, bytes) of page 1, then page 2."""
    folder = tmp_path_factory.mktemp("a3")
    manifest = write_batch(CARD, folder, count=1, seed=11, profile="clean", fmt="jpg")
    files = [(entry["file"], (Path(folder) / entry["file"]).read_bytes()) for entry in manifest["files"]]
    assert len(files) == 2
    return files


def _read(client, service, settings, headers, exam_id: int, files) -> str:
    response = upload(client, headers, exam_id, files)
    assert response.status_code == 202, response.text
    run_worker(settings, "other-templates-test", service=service, exit_when_idle=True)
    return response.json()["id"]


def test_a_page_of_the_schools_other_exam_is_named(client, service, settings, city, a3_exam, card_files):
    batch_id = _read(client, service, settings, city.a.station, city.exam_id, card_files[:1])
    with service.db.read() as session:
        (page,) = session.scalars(select(Page).where(Page.batch_id == batch_id)).all()
    assert page.status == "error"
    assert page.reasons[0].startswith("page of another template school-a3-card (code 303, page 1)"), page.reasons
    queue = client.get("/api/v1/review", headers=city.a.teacher, params={"batch_id": batch_id}).json()["items"]
    assert [item["fix"] for item in queue] == [[
        "这页属于另一份答题卡模板 (school-a3-card), 不是本考试的: 请在对应考试中上传, 再在此标记为已处理 "
        "(a page of another template: upload it to that exam, then resolve it here)"]]


def test_a_card_uploaded_back_to_front_is_one_sheet(client, service, settings, city, a3_exam, card_files):
    batch_id = _read(client, service, settings, city.a.station, a3_exam, card_files[::-1])
    with service.db.read() as session:
        pages = session.execute(select(Page.id, BatchFile.filename, Page.status).join(BatchFile)
                                .where(Page.batch_id == batch_id).order_by(BatchFile.seq)).all()
        sheets = session.scalars(select(Sheet).where(Sheet.batch_id == batch_id)).all()
    assert [name for _, name, _ in pages] == [card_files[1][0], card_files[0][0]]
    assert all(status != "error" for _, _, status in pages), pages
    (sheet,) = sheets
    assert sheet.page_ids == [pages[1][0], pages[0][0]]  # page 1, then page 2, whatever the upload order
    assert not any(reason.startswith("missing page") for reason in sheet.reasons), sheet.reasons
