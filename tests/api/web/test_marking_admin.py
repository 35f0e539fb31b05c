"""网上阅卷 for those who run it, in a real browser: a school admin sets up a question with 双评 on the set-up page,
the supervision page shows a disagreement and moves a marker's tasks back to the pool; the municipal system sets
up a pooled city marking, and a marker of school B marks school A's answer without anything on the page saying
whose it is, and the score lands in school A's grading."""

from __future__ import annotations

import re

import httpx
from sqlalchemy import select

from api.service.models import AuditEntry, MarkingItem, MarkingSetup, MarkingTask, Sheet
from web_helpers import PASSWORD, log_in, log_in_with_key, new_context, overflowing, screenshot


def _people(site, admin: dict[str, str], school: str, names: list[str]) -> dict[str, tuple[int, dict[str, str]]]:
    """New teachers of ``school``: {name: (id, API headers)}."""
    made = {}
    with httpx.Client(base_url=site.url + "/api/v1", timeout=60) as api:
        for name in names:
            answer = api.post("/users", headers=admin, json={"username": name, "password": PASSWORD,
                                                             "role": "teacher", "school_id": school})
            assert answer.status_code == 201, answer.text
            token = api.post("/auth/token", json={"username": name, "password": PASSWORD}).json()["access_token"]
            made[name] = (answer.json()["id"], {"Authorization": f"Bearer {token}"})
    return made


def _tasks(api: httpx.Client, setup_id: int, headers: dict[str, str], count: int) -> list[dict]:
    answer = api.get(f"/marking/{setup_id}/tasks", params={"count": count}, headers=headers)
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_set_up_a_question_with_double_marking_then_supervise_it(site, context):
    a = site.city.a
    who = _people(site, a.admin, a.id, [f"q57-{n}-{a.id}" for n in ("one", "two", "three")])
    one, two, three = who.values()
    page = context.new_page()
    log_in(page, site, f"school_admin-{a.id}")
    page.goto(site.url + "/marking")
    page.click("text=设置一道题的网上阅卷")
    form = page.locator("#setup-form")
    form.locator("select[name=question]").select_option("Q57")
    form.locator("select[name=step]").select_option("0.5")
    assert form.locator("input[name=double]").is_checked()
    form.locator("input[name=tolerance]").fill("2")
    for user_id, _ in (one, two, three):
        form.locator(f"input[name=markers][value='{user_id}']").check()
    form.locator("select[name=leader_id]").select_option(str(three[0]))
    screenshot(page, "marking-setup")
    assert overflowing(page) == []
    form.locator("button[type=submit]").click()
    page.wait_for_url("**/supervise")
    setup_id = int(re.search(r"/marking/(\d+)/supervise", page.url).group(1))
    with site.service.db.read() as session:
        setup = session.get(MarkingSetup, setup_id)
        assert (setup.question, setup.double, setup.tolerance, setup.step, setup.leader_id) == ("Q57", True, 2, 0.5,
                                                                                                 three[0])
        assert session.scalar(select(AuditEntry.actor).where(AuditEntry.action == "marking.setup",
                                                             AuditEntry.object_id == str(setup_id))) \
            == f"user:school_admin-{a.id}"
    answers = int(page.inner_text("[data-field=answers]"))
    assert answers >= 2

    # Two markers score every answer; they disagree on the last one (10 against 2, beyond the tolerance of 2).
    with httpx.Client(base_url=site.url + "/api/v1", timeout=60) as api:
        for headers, scores in ((one[1], [10] * answers), (two[1], [10] * (answers - 1) + [2])):
            for task, score in zip(_tasks(api, setup_id, headers, answers), scores):
                assert api.post(f"/marking/tasks/{task['token']}/score", params={"prefetch": 0},
                                json={"score": score}, headers=headers).status_code == 200
        held = _tasks(api, setup_id, three[1], 3)  # the third marker takes the 三评 task
    assert [t["kind"] for t in held] == ["third"]
    page.reload()
    assert page.inner_text("[data-field=third]") == "1"
    first_row = page.locator(f"tr[data-marker='q57-one-{a.id}']")
    assert first_row.locator("[data-field=agreement]").inner_text() == f"{100 * (answers - 1) / answers:.0f}%"
    third_row = page.locator(f"tr[data-marker='q57-three-{a.id}']")
    assert third_row.locator("[data-field=open]").inner_text() == "1"
    screenshot(page, "marking-supervision")
    assert overflowing(page) == []

    # Reassignment: the third marker's task in hand goes back to the pool.
    page.locator("#reassign select[name=from_user]").select_option(str(three[0]))
    page.locator("#reassign select[name=to_user]").select_option("")
    page.click("#reassign button[type=submit]")
    page.wait_for_url("**/supervise?done=reassign")
    assert page.locator(f"tr[data-marker='q57-three-{a.id}'] [data-field=open]").inner_text() == "0"
    with site.service.db.read() as session:
        task = session.scalar(select(MarkingTask).where(MarkingTask.token == held[0]["token"]))
        assert (task.status, task.marker_id) == ("open", None)
        assert session.scalar(select(AuditEntry.id).where(AuditEntry.action == "marking.reassign",
                                                          AuditEntry.object_id == str(setup_id))) is not None


def test_pooled_city_marking_a_marker_of_school_b_marks_school_a_anonymously(site, browser, simulated_scans):
    a, b = site.city.a, site.city.b
    (marker_id, _), = _people(site, b.admin, b.id, [f"city-marker-{b.id}"]).values()
    city = new_context(browser)
    try:
        municipal = city.new_page()
        log_in_with_key(municipal, site, site.keys["municipal"])
        municipal.goto(f"{site.url}/city/exams/{site.city.exam_id}/marking")
        form = municipal.locator("#city-setup")
        form.locator("select[name=question]").select_option("Q58")
        form.locator("input[name=double]").uncheck()  # 单评: the one score is the final score
        form.locator(f"input[name=markers][value='{marker_id}']").check()
        form.locator("select[name=leader_id]").select_option(str(marker_id))
        form.locator("button[type=submit]").click()
        municipal.wait_for_url(f"**/city/exams/{site.city.exam_id}/marking")
        assert "Q58" in municipal.inner_text("#pooled")
        screenshot(municipal, "city-marking")
        assert overflowing(municipal) == []
    finally:
        city.close()
    with site.service.db.read() as session:
        setup = session.scalar(select(MarkingSetup).where(MarkingSetup.question == "Q58"))
        assert setup.pooled and setup.school_id == b.id
        schools = set(session.scalars(select(MarkingItem.school_id).where(MarkingItem.setup_id == setup.id)))
    assert schools == {a.id}  # school A's answers (school B scanned none)

    context = new_context(browser)
    try:
        page = context.new_page()
        log_in(page, site, f"city-marker-{b.id}")
        page.goto(site.url + "/marking")
        page.click(f"a[href='/marking/{setup.id}']")
        page.wait_for_function("() => { const c = document.getElementById('crop');"
                               " return !c.hidden && c.complete && c.naturalWidth > 0; }")
        token = page.get_attribute("#crop", "data-token")
        assert re.fullmatch(r"/marking/tasks/[0-9a-f]{32}/image", page.get_attribute("#crop", "src"))
        received = page.evaluate(f"async () => JSON.stringify(await (await fetch('/marking/{setup.id}/next'))"
                                 ".json())")
        _, manifest = simulated_scans
        # school A's code and name, every 考号 and the roster's names (学生1 …), the sheet's batch
        identifying = {a.id, "第一中学", "学生"} | {p["student_id"] for p in manifest["pages"]}
        with site.service.db.read() as session:
            item = session.get(MarkingItem, session.scalar(select(MarkingTask.item_id)
                                                           .where(MarkingTask.token == token)))
            sheet = session.get(Sheet, item.sheet_id)
            identifying |= {sheet.student_id, sheet.batch_id}
        shown = page.content()
        for text in identifying:
            assert text not in shown and text not in received, text
        screenshot(page, "city-marking-marker")
        assert overflowing(page) == []
        page.keyboard.press("9")
        page.keyboard.press("Enter")
        page.wait_for_function("(before) => { const c = document.getElementById('crop');"
                               " return c.hidden || c.dataset.token !== before; }", arg=token)
    finally:
        context.close()
    with site.service.db.read() as session:
        assert session.get(MarkingItem, item.id).final_score == 9
    with httpx.Client(base_url=site.url + "/api/v1", headers=a.admin, timeout=120) as api:
        assert api.post(f"/exams/{site.city.exam_id}/grade").status_code == 201
        result = api.get(f"/exams/{site.city.exam_id}/results/{sheet.student_id}").json()
    assert result["scores"]["Q58"] == 9  # the pooled marking's score is school A's subjective score
