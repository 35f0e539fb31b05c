"""Scanner profiles through HTTP: versions per school and station with their history and audit, a station's batch
read with that station's profile, and a profile learned from the review queue's corrections (issue 10, points 3
and 4). Who may do what is in test_permissions.py's table; another school's profile is tried in
test_cross_school.py and here."""

from __future__ import annotations

from sqlalchemy import select

from api.service.models import AuditEntry
from api.service.worker import run_worker

from jobs_helpers import upload

API = "/api/v1"
#: Thresholds no mark reaches: every bubble reads empty.
ABSURD = {"name": "absurd", "blank_trace": 0.9, "empty_max": 0.95, "filled_floor": 0.97, "filled_min": 0.99,
          "residue_max": 0.5}


def _station_key_id(client, headers: dict) -> int:
    keys = client.get(f"{API}/api-keys", headers=headers).json()
    return next(key["id"] for key in keys if key["role"] == "station" and key["revoked_at"] is None)


def _create(client, headers: dict, profile: dict, **fields):
    return client.post(f"{API}/profiles", headers=headers, json={"profile": profile, **fields})


def test_versions_are_kept_one_is_active_and_every_change_is_audited(client, service, city):
    from omr.profile import profile_from_dict, profile_to_dict

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
