"""考场编排 through the service over HTTP: a school admin seats their school's students and downloads the files;
only their own school's students, never another school's exam; callers without the role refused; audited."""

from __future__ import annotations

import csv
import io
import zipfile

import pytest
from sqlalchemy import select

from api.service.models import AuditEntry

from service_city import SCHOOL_A, sample_exam

API = "/api/v1"


def _import(client, headers: dict, rows: list[tuple[str, str, str]], grade: str) -> None:
    text = "考号,姓名,班级\n" + "".join(f"{i},{n},{c}\n" for i, n, c in rows)
    response = client.post(f"{API}/students/import", headers=headers, data={"grade": grade},
                           files={"file": ("名单.csv", text.encode("utf-8"), "text/csv")})
    assert response.status_code == 200, response.text


@pytest.fixture
def rosters(client, city):
    """School A: 高一 two classes of 26 and 高二 one class of 5; school B: 高一 one class of 20."""
    a = [(f"0026{c:02d}{n:04d}", f"甲{c}班{n}号", f"高一({c})班") for c in (1, 2) for n in range(1, 27)]
    _import(client, city.a.admin, a, "高一")
    _import(client, city.a.admin, [(f"0025{n:06d}", f"高二{n}号", "高二(1)班") for n in range(1, 6)], "高二")
    _import(client, city.b.admin, [(f"0026{n:06d}", f"乙校{n}号", "高一(1)班") for n in range(1, 21)], "高一")
    return a


def _files(response) -> dict[str, bytes]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _rows(files: dict[str, bytes]) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(files["考场编排.csv"].decode("utf-8-sig"))))


BODY = {"rooms": ["101", "102"], "capacity": 30, "school_number": "0101", "grade_number": 26, "grade": "高一",
        "title": "期中考试", "seed": 3}


def test_a_school_admin_arranges_their_grade_and_gets_every_file(client, service, city, rosters) -> None:
    files = _files(client.post(f"{API}/arrangements", json=BODY, headers=city.a.admin))
    assert {"考场编排.csv", "考场编排.xlsx", "新名单.csv", "新名单.xlsx", "考场门贴.pdf", "座位标签.pdf", "签到表.pdf",
            "缺考登记表.pdf", "个性化答题卡/考场01.pdf", "个性化答题卡/考场02.pdf"} == set(files)
    rows = _rows(files)
    assert sorted(r["原考号"] for r in rows) == sorted(i for i, _, _ in rosters)  # 高一 of school A, nobody else
    assert [r["考场"] for r in rows].count("101") == 30 and rows[0]["考号"] == "0101260101"
    assert all(r["学校标识码"] == SCHOOL_A for r in rows)
    with service.db.read() as session:
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "arrangement.create")).one()
    assert entry.school_id == SCHOOL_A and entry.actor == f"user:school_admin-{SCHOOL_A}"
    assert entry.after["students"] == 52 and entry.after["adjacent_classmates"] == 0
    again = _files(client.post(f"{API}/arrangements", json=BODY | {"sheets": False}, headers=city.a.admin))
    assert again["考场编排.csv"] == files["考场编排.csv"] and "个性化答题卡/考场01.pdf" not in again


def test_each_school_sees_only_its_own_students_and_exams(client, city, rosters) -> None:
    rows = _rows(_files(client.post(f"{API}/arrangements", json=BODY | {"rooms": 1}, headers=city.b.admin)))
    assert [r["姓名"] for r in rows if not r["姓名"].startswith("乙校")] == [] and len(rows) == 20
    b_exam = client.post(f"{API}/exams", json={"definition": sample_exam(id="b-only")}, headers=city.b.admin)
    assert b_exam.status_code == 201, b_exam.text
    foreign = client.post(f"{API}/arrangements", json=BODY | {"exam_id": b_exam.json()["id"]}, headers=city.a.admin)
    assert foreign.status_code == 404
    # the city-wide exam's sheet is every school's to print
    assert client.post(f"{API}/arrangements", json=BODY | {"exam_id": city.exam_id},
                       headers=city.a.admin).status_code == 200


@pytest.mark.parametrize("who, code", [("teacher", 403), ("station", 403), ("municipal", 403), ("nobody", 401)])
def test_only_a_school_admin_may_arrange(client, city, rosters, who: str, code: int) -> None:
    headers = {"teacher": city.a.teacher, "station": city.a.station, "municipal": city.municipal,
               "nobody": {}}[who]
    assert client.post(f"{API}/arrangements", json=BODY, headers=headers).status_code == code


@pytest.mark.parametrize("change, words", [
    ({"rooms": 1}, "52 students but only 30 seats"),
    ({"exam_id_format": "{school}{grade:02d}{room}{seat:02d}"}, "fixed width"),
    ({"school_number": "01"}, "8-digit 考号"),
    ({"grade": "高三"}, "no students to arrange"),
    ({"rooms": 0}, ""),
    ({"capacity": 101}, ""),
    ({"rooms": ["101", "101"]}, "listed twice"),
])
def test_what_cannot_be_arranged_is_a_clear_422(client, city, rosters, change: dict, words: str) -> None:
    response = client.post(f"{API}/arrangements", json=BODY | change, headers=city.a.admin)
    assert response.status_code == 422, response.text
    assert words in str(response.json()["detail"])
