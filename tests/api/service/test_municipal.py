"""The municipal system's aggregates and score export across two schools, checked against an independent numpy
computation from the exported score rows.

One city for the module (two schools marked once: making it is most of the cost); the test that adds a student
and marks again runs last.
"""

from __future__ import annotations

import csv
import io
import math
import re

import numpy as np
import pytest
from fastapi.testclient import TestClient

from api.service.app import create_app
from api.service.context import open_service
from api.service.settings import Settings
from service_city import make_city
from review_helpers import CLASS_2, setup_school

API = "/api/v1"
EXTRA_B = "2026019999"  # on school B's roster, no sheet: absent


@pytest.fixture(scope="session")
def second_scans(tmp_path_factory):
    """Another six simulated sheets (school B's), other students' marks."""
    from sample_sheets.simulate import write_batch

    folder = tmp_path_factory.mktemp("scans_b")
    return folder, write_batch("cn-a4-55", folder, count=6, seed=5151, profile="typical", fmt="jpg", classes=2)


@pytest.fixture(scope="module")
def marked_city(tmp_path_factory, simulated_scans, second_scans):
    service = open_service(Settings(data_dir=tmp_path_factory.mktemp("municipal") / "data", workers=0,
                                    _env_file=None))
    try:
        with TestClient(create_app(service=service)) as client:
            city = make_city(client, service)
            setup_school(client, service, city.a, city.exam_id, simulated_scans, extras=False)
            setup_school(client, service, city.b, city.exam_id, second_scans, extras=False)
            extra = client.post(f"{API}/students", headers=city.b.admin,
                                json={"exam_id": EXTRA_B, "name": "缺考生", "class_name": CLASS_2})
            assert extra.status_code == 201
            for school in (city.a, city.b):
                assert client.post(f"{API}/exams/{city.exam_id}/grade", headers=school.teacher).status_code == 201
            yield client, service, city
    finally:
        service.close()


def _export(client, city, limit: int) -> list[dict]:
    rows, cursor, pages = [], None, 0
    while True:
        params = {"limit": limit, **({"cursor": cursor} if cursor else {})}
        response = client.get(f"{API}/municipal/exams/{city.exam_id}/scores", headers=city.municipal, params=params)
        assert response.status_code == 200, response.text
        rows += response.json()["items"]
        cursor = response.json()["next_cursor"]
        pages += 1
        assert pages < 100
        if cursor is None:
            return rows


def _approx(value):
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else pytest.approx(value,
                                                                                                      abs=1e-9)


def _expected_stats(totals: np.ndarray, statuses: list[str], full: float) -> dict:
    """Independent: mean, SD (ddof 1), min, max, median, 四率 at 85/70/60 % and below 40 % of full marks."""
    graded = totals[[s == "graded" for s in statuses]]
    n = len(graded)
    return {"n": n, "absent": statuses.count("absent"), "pending": statuses.count("pending"),
            "mean": _approx(graded.mean()) if n else None, "sd": _approx(graded.std(ddof=1)) if n > 1 else None,
            "min": _approx(graded.min()) if n else None, "max": _approx(graded.max()) if n else None,
            "median": _approx(float(np.median(graded))) if n else None,
            "score_rate": _approx(graded.mean() / full) if n else None,
            "rates": {"excellent": _approx((graded >= 0.85 * full).mean()),
                      "good": _approx((graded >= 0.70 * full).mean()),
                      "pass": _approx((graded >= 0.60 * full).mean()),
                      "low": _approx((graded < 0.40 * full).mean())}}


def _upper_lower(scores: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Independent D: the first and last floor(0.27 N + 0.5) students by total (highest first, stable)."""
    totals = scores.sum(axis=1)
    n = len(totals)
    size = min(max(1, int(math.floor(0.27 * n + 0.5))), n // 2)
    order = sorted(range(n), key=lambda i: -totals[i])
    upper, lower = scores[order[:size]], scores[order[n - size:]]
    return (upper.mean(axis=0) - lower.mean(axis=0)) / points


def test_aggregates_across_two_schools(marked_city):
    client, service, city = marked_city
    rows = _export(client, city, 1000)
    definition = client.get(f"{API}/exams/{city.exam_id}", headers=city.municipal).json()["definition"]
    questions = [q for q in definition["questions"] if q["status"] != "void"]
    qids = [q["id"] for q in questions]
    points = np.array([q["points"] for q in questions], float)
    full = float(points.sum())
    totals = np.array([np.nan if r["total"] is None else r["total"] for r in rows])
    statuses = [r["status"] for r in rows]
    schools = [r["school_id"] for r in rows]
    assert sorted(set(schools)) == [city.a.id, city.b.id] and statuses.count("absent") >= 1
    # the rows are what grading wrote: each school's scores.csv, cell for cell
    for school in (city.a.id, city.b.id):
        table = client.get(f"{API}/exams/{city.exam_id}/scores.csv", headers=city.municipal,
                           params={"school_id": school})
        written = {r["考号"]: r for r in csv.DictReader(io.StringIO(table.content.decode("utf-8-sig")))}
        mine = [r for r in rows if r["school_id"] == school]
        assert sorted(written) == [r["exam_id"] for r in mine]
        for row in mine:
            record = {re.sub(r"\((作废|送分)\)$", "", header): cell for header, cell in written[row["exam_id"]].items()}
            assert record["状态代码"] == row["status"]
            assert (float(record["总分"]) if record["总分"] else None) == row["total"]
            assert {q: float(record[f"{q}得分"]) if record[f"{q}得分"] else None for q in qids} == row["scores"]

    def get(by: str) -> dict:
        response = client.get(f"{API}/municipal/exams/{city.exam_id}/aggregates", headers=city.municipal,
                              params={"by": by})
        assert response.status_code == 200, response.text
        return response.json()

    by_school = get("school")
    assert by_school["full_marks"] == full and by_school["schools_reporting"] == 2
    assert by_school["cut_lines"] == pytest.approx([0.85 * full, 0.70 * full, 0.60 * full, 0.40 * full])
    assert by_school["city"] == _expected_stats(totals, statuses, full)
    assert [s["school_id"] for s in by_school["schools"]] == [city.a.id, city.b.id]
    assert [s["school_name"] for s in by_school["schools"]] == ["第一中学", "第二中学"]
    for entry in by_school["schools"]:
        mine = [i for i, s in enumerate(schools) if s == entry["school_id"]]
        expected = _expected_stats(totals[mine], [statuses[i] for i in mine], full)
        assert {k: entry[k] for k in expected} == expected
    assert next(r for r in rows if r["exam_id"] == EXTRA_B)["status"] == "absent"
    assert by_school["schools"][1]["absent"] >= 1

    by_class = get("class")
    keys = sorted({(r["school_id"], r["class_name"]) for r in rows})
    assert [(c["school_id"], c["class_name"]) for c in by_class["classes"]] == keys
    for entry in by_class["classes"]:
        mine = [i for i, r in enumerate(rows) if (r["school_id"], r["class_name"]) == (entry["school_id"],
                                                                                        entry["class_name"])]
        expected = _expected_stats(totals[mine], [statuses[i] for i in mine], full)
        assert {k: entry[k] for k in ("n", "mean", "sd")} == {k: expected[k] for k in ("n", "mean", "sd")}

    graded = [i for i, s in enumerate(statuses) if s == "graded"]
    matrix = np.array([[rows[i]["scores"][q] for q in qids] for i in graded], float)
    by_question = get("question")["questions"]
    discrimination = _upper_lower(matrix, points)
    for j, entry in enumerate(by_question["city"]):
        assert entry["question"] == qids[j] and entry["n"] == len(graded)
        assert entry["mean"] == pytest.approx(matrix[:, j].mean(), abs=1e-9)
        assert entry["difficulty"] == pytest.approx(matrix[:, j].mean() / points[j], abs=1e-9)
        assert entry["discrimination"] == pytest.approx(discrimination[j], abs=1e-9)
    for school in by_question["schools"]:
        mine = np.array([schools[i] == school["school_id"] for i in graded])
        assert [e["difficulty"] for e in school["questions"]] == \
            [pytest.approx(v, abs=1e-9) for v in matrix[mine].mean(axis=0) / points]

    # knowledge points: weights normalised per question (the weighted Q-matrix), rate = earned / possible
    point_ids = list(dict.fromkeys(kp["id"] for q in questions for kp in q["knowledge_points"]))
    weights = np.zeros((len(qids), len(point_ids)))
    for j, q in enumerate(questions):
        total_weight = sum(kp["weight"] for kp in q["knowledge_points"])
        for kp in q["knowledge_points"]:
            weights[j, point_ids.index(kp["id"])] = kp["weight"] / total_weight
    rates = (matrix @ weights) / (points @ weights)
    knowledge = get("knowledge_point")["knowledge_points"]
    assert [k["id"] for k in knowledge["city"]] == point_ids
    assert [k["rate"] for k in knowledge["city"]] == [pytest.approx(v, abs=1e-9) for v in rates.mean(axis=0)]
    assert all(k["band"] in ("mastered", "partly", "not_yet") for k in knowledge["city"])
    for school in knowledge["schools"]:
        mine = np.array([schools[i] == school["school_id"] for i in graded])
        assert [k["rate"] for k in school["knowledge_points"]] == \
            [pytest.approx(v, abs=1e-9) for v in rates[mine].mean(axis=0)]


def test_municipal_routes_are_for_the_municipal_system(marked_city):
    client, service, city = marked_city
    aggregates = f"{API}/municipal/exams/{city.exam_id}/aggregates"
    scores = f"{API}/municipal/exams/{city.exam_id}/scores"
    for headers in (city.a.teacher, city.a.admin, city.a.station, city.b.teacher):
        assert client.get(aggregates, headers=headers).status_code == 403
        assert client.get(scores, headers=headers).status_code == 403
    export_only = client.post(f"{API}/api-keys", headers=city.municipal,
                              json={"name": "export", "role": "municipal", "scopes": ["scores:export"]})
    assert export_only.status_code == 201
    narrow = {"X-API-Key": export_only.json()["key"]}
    assert client.get(aggregates, headers=narrow).status_code == 403
    assert client.get(scores, headers=narrow).status_code == 200
    assert client.get(f"{API}/municipal/exams/99999/aggregates", headers=city.municipal).status_code == 404
    assert client.get(aggregates, headers=city.municipal, params={"by": "province"}).status_code == 422
    assert client.get(scores, headers=city.municipal, params={"limit": 5001}).status_code == 422
    assert client.get(scores, headers=city.municipal, params={"cursor": "bm90IGpzb24"}).status_code == 422
    assert client.get(scores, headers=city.municipal, params={"cursor": "../.."}).status_code == 422


def test_score_export_pages_hold_every_student_once(marked_city, simulated_scans):
    client, service, city = marked_city
    everything = _export(client, city, 5000)
    assert len(everything) == 13 and everything[-1]["exam_id"] == EXTRA_B
    keys = [(r["school_id"], r["exam_id"]) for r in everything]
    assert keys == sorted(keys) and len(set(keys)) == len(keys)
    assert all(isinstance(r["exam_id"], str) and len(r["scores"]) == 58 for r in everything)
    for limit in (1, 4, 13):
        assert _export(client, city, limit) == everything
    # a student added and a school marked again between pages: nobody twice, nobody who was there missed
    first = client.get(f"{API}/municipal/exams/{city.exam_id}/scores", headers=city.municipal,
                       params={"limit": 3}).json()
    assert client.post(f"{API}/students", headers=city.a.admin,
                       json={"exam_id": "2026010000", "class_name": "高一(1)班"}).status_code == 201
    assert client.post(f"{API}/exams/{city.exam_id}/grade", headers=city.a.teacher).status_code == 201
    rest, cursor = [], first["next_cursor"]
    while cursor:
        page = client.get(f"{API}/municipal/exams/{city.exam_id}/scores", headers=city.municipal,
                          params={"limit": 3, "cursor": cursor}).json()
        rest += page["items"]
        cursor = page["next_cursor"]
    seen = [(r["school_id"], r["exam_id"]) for r in first["items"] + rest]
    assert len(seen) == len(set(seen)) and set(keys) <= set(seen)


def test_aggregates_follow_a_key_change_at_once(marked_city):
    # Aggregates are cached while every school's newest run stays the same; a key change makes new runs.
    client, _service, city = marked_city
    url = f"{API}/municipal/exams/{city.exam_id}/aggregates"
    before = client.get(url, headers=city.municipal, params={"by": "question"}).json()
    assert client.get(url, headers=city.municipal, params={"by": "question"}).json() == before
    change = client.post(f"{API}/exams/{city.exam_id}/key-changes", headers=city.municipal,
                         json={"action": "bonus", "question": "Q2", "reason": "printing error"})
    assert change.status_code == 201, change.text
    after = client.get(url, headers=city.municipal, params={"by": "question"}).json()
    q2_before = next(q for q in before["questions"]["city"] if q["question"] == "Q2")
    q2_after = next(q for q in after["questions"]["city"] if q["question"] == "Q2")
    assert q2_before["difficulty"] < 1 and q2_after["difficulty"] == 1  # everyone gets the bonus point
