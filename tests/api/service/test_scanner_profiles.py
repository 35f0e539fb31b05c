"""Scanner profiles through HTTP: versions per school and station with their history and audit, a station's batch
read with that station's profile, and a profile learned from the review queue's corrections (issue 10, points 3
and 4). Who may do what is in test_permissions.py's table; another school's profile is tried in
test_cross_school.py and here."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from api.service.models import AuditEntry, ScannerProfileVersion
from api.service.worker import run_worker

from jobs_helpers import upload
from service_city import make_city

API = "/api/v1"
#: Thresholds no mark reaches: every bubble reads empty.
ABSURD = {"name": "absurd", "blank_trace": 0.9, "empty_max": 0.95, "filled_floor": 0.97, "filled_min": 0.99,
          "residue_max": 0.5}


def _station_key_id(client, headers: dict) -> int:
    keys = client.get(f"{API}/api-keys", headers=headers).json()
    return next(key["id"] for key in keys if key["role"] == "station" and key["revoked_at"] is None)


def _create(client, headers: dict, profile: dict, **fields):
    return client.post(f"{API}/profiles", headers=headers, json={"profile": profile, **fields})


@pytest.fixture
def any_city(any_service):
    """A client, the city and its service, on SQLite, then on PostgreSQL."""
    from fastapi.testclient import TestClient

    from api.service.app import create_app

    with TestClient(create_app(service=any_service)) as client:
        yield client, make_city(client, any_service), any_service


def test_versions_are_kept_one_is_active_and_every_change_is_audited(any_city):
    from omr.profile import profile_from_dict, profile_to_dict

    client, city, service = any_city

    admin = city.a.admin
    first = _create(client, admin, {"name": "一号扫描仪", "empty_max": 0.12})
    assert first.status_code == 201, first.text
    first = first.json()
    assert (first["version"], first["active"], first["station_key_id"], first["source"]) == (1, False, None, "upload")
    assert first["profile"] == profile_to_dict(profile_from_dict({"name": "一号扫描仪", "empty_max": 0.12}))
    second = _create(client, admin, {"name": "一号扫描仪", "empty_max": 0.11}, activate=True).json()
    assert (second["version"], second["active"], second["activated_by"]) == (2, True, f"user:school_admin-{city.a.id}")
    station = _station_key_id(client, admin)
    own = _create(client, admin, {"name": "station"}, station_key_id=station, activate=True).json()
    assert (own["version"], own["active"], own["station_key_id"]) == (1, True, station)  # its own numbering

    # activating an older version deactivates the newer one; nothing is overwritten or lost
    back = client.post(f"{API}/profiles/{first['id']}/activate", headers=admin)
    assert back.status_code == 200 and back.json()["active"]
    listed = client.get(f"{API}/profiles", headers=admin).json()
    assert [(p["id"], p["active"]) for p in listed] == [(own["id"], True), (second["id"], False),
                                                        (first["id"], True)]
    assert [p["id"] for p in client.get(f"{API}/profiles", headers=admin,
                                        params={"station_key_id": station}).json()] == [own["id"]]
    assert client.get(f"{API}/profiles/{second['id']}", headers=admin).json()["profile"]["empty_max"] == 0.11
    # the municipal system reads a school's profiles; it changes none
    municipal = client.get(f"{API}/profiles", headers=city.municipal, params={"school_id": city.a.id})
    assert municipal.status_code == 200 and len(municipal.json()) == 3
    assert client.get(f"{API}/profiles", headers=city.municipal).status_code == 422  # which school?
    assert client.post(f"{API}/profiles/{first['id']}/activate", headers=city.municipal).status_code == 403
    # teachers and stations neither read nor change profiles; another school's are not found
    for headers in (city.a.teacher, city.a.station):
        assert client.get(f"{API}/profiles", headers=headers).status_code == 403
        assert _create(client, headers, {"name": "x"}).status_code == 403
    assert client.get(f"{API}/profiles/{first['id']}", headers=city.b.admin).status_code == 404
    assert client.post(f"{API}/profiles/{second['id']}/activate", headers=city.b.admin).status_code == 404
    assert _create(client, city.b.admin, {"name": "x"}, station_key_id=station).status_code == 404
    assert client.get(f"{API}/profiles", headers=city.b.admin).json() == []

    with service.db.read() as session:
        entries = list(session.scalars(select(AuditEntry).where(AuditEntry.object_type == "scanner_profile")
                                       .order_by(AuditEntry.id)))
    assert [e.action for e in entries] == ["profile.create", "profile.create", "profile.activate", "profile.create",
                                           "profile.activate", "profile.activate"]
    assert entries[-1].before == {"target": "school", "active_version": 2}
    assert entries[-1].after["active_version"] == 1 and entries[-1].actor == f"user:school_admin-{city.a.id}"
    # the database itself holds one active version per school/station
    with service.db.write() as session:
        row = session.get(ScannerProfileVersion, second["id"])
        row.active = True
        with pytest.raises(IntegrityError):
            session.flush()
        session.rollback()


def test_a_profile_is_checked_before_it_is_stored(client, city):
    admin = city.a.admin
    refused = {
        "unknown key": {"name": "x", "empty_maxx": 0.1},
        "a threshold as true": {"empty_max": True},
        "thresholds out of order": {"empty_max": 0.5, "filled_floor": 0.4},
        "a string threshold": {"filled_min": "0.5"},
        "a control character in the name": {"name": "一号\x1b[31m"},
        "a name longer than its column": {"name": "x" * 101},
        "a print baseline of another shape": {"print_baselines": {"cn-a4-55": {"layout": "x", "pages": [[2.0]]}}},
    }
    for why, profile in refused.items():
        response = _create(client, admin, profile)
        assert response.status_code == 422, (why, response.text)
    assert "empty_maxx" in _create(client, admin, {"empty_maxx": 0.1}).json()["detail"]
    municipal_key = client.post(f"{API}/api-keys", headers=city.municipal,
                                json={"name": "m", "role": "municipal", "scopes": ["profiles:read"]}).json()["id"]
    assert _create(client, admin, {"name": "x"}, station_key_id=municipal_key).status_code == 404  # not a station
    assert client.get(f"{API}/profiles", headers=admin).json() == []


def test_a_station_batch_is_read_with_its_profile(client, service, settings, city, simulated_scans):
    folder, manifest = simulated_scans
    name = manifest["files"][0]["file"]
    scan = [(name, (folder / name).read_bytes())]
    station = _station_key_id(client, city.a.admin)
    profile = _create(client, city.a.admin, ABSURD, station_key_id=station, activate=True).json()
    school = _create(client, city.a.admin, {"name": "学校"}, activate=True).json()

    by_station = upload(client, city.a.station, city.exam_id, scan)
    by_teacher = upload(client, city.a.teacher, city.exam_id, [("again.jpg", scan[0][1] + b"\0")])
    elsewhere = upload(client, city.b.station, city.exam_id, scan)  # school B: no profile, the default
    assert by_station.status_code == by_teacher.status_code == elsewhere.status_code == 202
    assert by_station.json()["profile"] == {"id": profile["id"], "name": "absurd", "version": 1,
                                            "station_key_id": station}
    assert by_teacher.json()["profile"]["id"] == school["id"]  # a person's upload: the school's profile
    assert elsewhere.json()["profile"] is None
    assert run_worker(settings, "profiles", service=service, exit_when_idle=True) == 3

    def marked(batch, headers) -> dict[str, str]:
        page_id = _page_ids(service, batch.json()["id"])[0]
        result = client.get(f"{API}/pages/{page_id}", headers=headers).json()["result"]
        return {q: r["marked"] for q, r in result["questions"].items()}

    absurd, default = marked(by_station, city.a.teacher), marked(elsewhere, city.b.teacher)
    school_default = marked(by_teacher, city.a.teacher)
    assert sum(bool(v) for v in default.values()) >= 40  # the sheet is answered
    assert school_default == default  # the school's profile holds the default thresholds
    assert not any(absurd.values())  # read with the station's profile: no mark reaches its thresholds
    progress = client.get(f"{API}/batches/{by_station.json()['id']}", headers=city.a.station).json()
    assert progress["profile"]["name"] == "absurd" and progress["progress"]["pages_read"] == 1


def _page_ids(service, batch_id: str) -> list[int]:
    from api.service.models import Page

    with service.db.read() as session:
        return list(session.scalars(select(Page.id).where(Page.batch_id == batch_id).order_by(Page.id)))


def test_learning_needs_reviewed_pages(client, city):
    station = _station_key_id(client, city.a.admin)
    refused = client.post(f"{API}/profiles/learn", headers=city.a.admin, json={"station_key_id": station})
    assert refused.status_code == 409 and "at least" in refused.json()["detail"]
    assert client.post(f"{API}/profiles/learn", headers=city.b.admin,
                       json={"station_key_id": station}).status_code == 404
    assert client.post(f"{API}/profiles/learn", headers=city.a.admin,
                       json={"max_pages": 10**6}).status_code == 422


# --- learning from the review queue, end to end ---------------------------------------------------------------------

#: A station whose students all mark with a light, hard pencil: the default profile flags nearly every answer.
LIGHT_PENCIL = {"mark": "faint"}


def _light_pencil_sheets(folder, count: int, seed: int) -> tuple[list[tuple[str, bytes]], dict[str, dict]]:
    """Simulated sheets of that station: (file name, bytes) and each file's true answers."""
    import json

    from sample_sheets.simulate import write_batch

    manifest = write_batch("cn-a4-55", folder, count=count, seed=seed, profile="typical", fmt="jpg",
                           overrides=LIGHT_PENCIL, name=f"light{seed}")
    files = [(entry["file"], (folder / entry["file"]).read_bytes()) for entry in manifest["pages"]]
    truth = {entry["file"]: json.loads((folder / entry["truth"]).read_text(encoding="utf-8"))["answers"]
             for entry in manifest["pages"]}
    return files, truth


def _readings(client, service, headers, batch_id: str) -> dict[str, dict[str, dict]]:
    """What OMR read on each page of a batch, by file name: question -> {marked, status}."""
    read = {}
    for page_id in _page_ids(service, batch_id):
        page = client.get(f"{API}/pages/{page_id}", headers=headers).json()
        read[page["filename"]] = page["result"]["questions"]
    return read


def _tally(read: dict[str, dict[str, dict]], truth: dict[str, dict]) -> tuple[int, int, int]:
    """(questions, flagged, wrong but sure) of readings against the truth."""
    questions = flagged = wrong_sure = 0
    for name, readings in read.items():
        for question, reading in readings.items():
            questions += 1
            if reading["status"] == "uncertain":
                flagged += 1
            elif reading["marked"] != truth[name].get(question, ""):
                wrong_sure += 1
    return questions, flagged, wrong_sure


def test_a_profile_learned_from_corrections_flags_less_and_reads_nothing_wrong(client, service, settings, city,
                                                                              tmp_path):
    station = _station_key_id(client, city.a.admin)
    files, truth = _light_pencil_sheets(tmp_path / "reviewed", 12, seed=8100)
    batch = upload(client, city.a.station, city.exam_id, files).json()
    assert batch["profile"] is None  # the station has no profile yet: the default
    run_worker(settings, "learn-1", service=service, exit_when_idle=True)
    questions, flagged, wrong_sure = _tally(_readings(client, service, city.a.teacher, batch["id"]), truth)
    assert flagged > 0.5 * questions and wrong_sure == 0  # nearly every answer goes to a person

    # Teachers work the review queue: each uncertain answer corrected from the paper, the sure ones let stand.
    queue = client.get(f"{API}/review", headers=city.a.teacher, params={"batch_id": batch["id"]}).json()["items"]
    sheets = [item for item in queue if item["kind"] == "sheet"]
    assert len(sheets) == len(files)
    for item in sheets:
        name = client.get(f"{API}/pages/{item['page_ids'][0]}", headers=city.a.teacher).json()["filename"]
        read = client.get(f"{API}/sheets/{item['id']}", headers=city.a.teacher).json()["result"]["questions"]
        fixes = [{"question": q, "value": truth[name].get(q, ""), "reason": "看原卷"}
                 for q, reading in read.items() if reading["status"] == "uncertain"]
        done = client.post(f"{API}/sheets/{item['id']}/corrections", headers=city.a.teacher,
                           json={"corrections": fixes, "resolved": True})
        assert done.status_code == 201, done.text

    learned = client.post(f"{API}/profiles/learn", headers=city.a.admin, json={"station_key_id": station})
    assert learned.status_code == 201, learned.text
    result = learned.json()
    report = result["version"]["report"]
    assert (result["pages_labelled"], result["pages_train"], result["pages_held_back"]) == (12, 8, 4)
    assert result["accepted"] and result["activated"] and result["version"]["active"]
    assert result["version"]["source"] == "learned" and result["version"]["station_key_id"] == station
    assert report["after"]["wrong_sure"] == 0
    assert report["after"]["flag_rate"] < report["before"]["flag_rate"]
    assert report["held_back_pages"] == 4

    # The station's next uploads are read with it: fewer answers flagged, none wrong but sure; the same sheets
    # from a station of another school (the default profile) are flagged as before.
    new_files, new_truth = _light_pencil_sheets(tmp_path / "next", 3, seed=8200)
    after = upload(client, city.a.station, city.exam_id, new_files).json()
    assert after["profile"] == {"id": result["version"]["id"], "name": result["version"]["name"], "version": 1,
                                "station_key_id": station}
    default = upload(client, city.b.station, city.exam_id, new_files).json()
    run_worker(settings, "learn-2", service=service, exit_when_idle=True)
    learned_tally = _tally(_readings(client, service, city.a.teacher, after["id"]), new_truth)
    default_tally = _tally(_readings(client, service, city.b.teacher, default["id"]), new_truth)
    assert learned_tally[2] == 0 == default_tally[2]
    assert learned_tally[1] < default_tally[1]
    print(f"\nlight pencil, next sheets: flagged {learned_tally[1]} of {learned_tally[0]} with the learned profile, "
          f"{default_tally[1]} with the default; held back: {report['before']['flag_rate']:.3f} -> "
          f"{report['after']['flag_rate']:.3f}")


def test_a_profile_that_is_not_better_is_kept_but_not_used(client, service, city, simulated_scans):
    from review_helpers import setup_school

    ingested, _ = setup_school(client, service, city.a, city.exam_id, simulated_scans, extras=False)
    for sheet_id in ingested.sheet_ids:  # the reviewer looked at every sheet and let every reading stand
        assert client.post(f"{API}/sheets/{sheet_id}/corrections", headers=city.a.teacher,
                           json={"resolved": True}).status_code == 201
    learned = client.post(f"{API}/profiles/learn", headers=city.a.admin, json={})
    assert learned.status_code == 201, learned.text
    result = learned.json()
    assert not result["accepted"] and not result["activated"] and not result["version"]["active"]
    assert result["version"]["report"]["reason"]
    listed = client.get(f"{API}/profiles", headers=city.a.admin).json()
    assert [(p["source"], p["active"]) for p in listed] == [("learned", False)]
