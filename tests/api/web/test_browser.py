"""The pages in a real browser (Debian's chromium under Playwright) against yuejuan on 127.0.0.1: log in, fix a
flagged question in the review queue with the keyboard, school isolation, CSRF refusal, and Swagger UI with no
request leaving the machine. With ``YUEJUAN_SCREENSHOTS=1`` the tests also save the README's screenshots."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlparse

from sqlalchemy import select

from api.service.models import AuditEntry, Correction, Sheet
from web_helpers import log_in, log_in_with_key, new_context, screenshot


def _truth(scans, student_id: str) -> dict[str, str]:
    """The simulator's answers of one student (what the sheet really says)."""
    folder, manifest = scans
    page = next(p for p in manifest["pages"] if p["student_id"] == student_id)
    return json.loads((Path(folder) / page["truth"]).read_text(encoding="utf-8"))["answers"]


def _flagged_choice(site) -> tuple[Sheet, str]:
    """School A's first unresolved flagged sheet with a choice question to decide, and that question."""
    from grading.review_reasons import listed_questions

    with site.service.db.read() as session:
        for sheet in session.scalars(select(Sheet).where(Sheet.id.in_(site.sheets), Sheet.resolved.is_(False))
                                     .order_by(Sheet.id)):
            for reason in sheet.reasons or []:
                listed = listed_questions(reason)
                if listed and "marks" in reason and sheet.student_id:
                    return sheet, listed[0]
    raise AssertionError("no flagged choice question among school A's sheets")


def test_log_in_and_fix_a_flagged_question_from_the_review_queue(site, context, simulated_scans):
    sheet, question = _flagged_choice(site)
    right = _truth(simulated_scans, sheet.student_id)[question]
    page = context.new_page()
    screenshot_page = context.new_page()
    screenshot_page.goto(site.url + "/login")
    screenshot(screenshot_page, "login")
    screenshot_page.close()
    log_in(page, site, f"teacher-{site.city.a.id}")
    assert page.url.endswith("/exams")
    page.goto(site.url + "/review")
    page.click(f"a[href='/review/sheets/{sheet.id}']")
    page.wait_for_url(f"**/review/sheets/{sheet.id}")
    box = page.locator(f"fieldset[data-question='{question}']")
    page.wait_for_function("() => [...document.images].every(i => i.complete && i.naturalWidth > 0)")
    screenshot(page, "review-sheet", scan=True)
    answer = box.locator("input.answer")
    answer.fill("")
    for letter in right:  # click the options (the buttons light up), then Enter saves and moves on
        box.locator(f"button.option[data-letter='{letter}']").click()
    assert answer.input_value() == right
    assert box.locator("button.option.on").count() == len(right)
    for other in page.locator("fieldset.question").all():
        if other.get_attribute("data-question") != question:
            other.locator("input.answer").fill("")
    page.check("input[name=resolved]")
    answer.press("Enter")
    page.wait_for_url(lambda url: f"/review/sheets/{sheet.id}" not in url)
    if "/review/pages/" in page.url:  # the unreadable pages come after the sheets, each with its reason
        assert page.locator("ul.reasons li").count() >= 1
        screenshot(page, "review-unreadable", scan=True)
    with site.service.db.read() as session:
        saved = session.scalars(select(Correction).where(Correction.sheet_id == sheet.id)).all()
        entries = session.scalars(select(AuditEntry).where(AuditEntry.action == "correction.create",
                                                           AuditEntry.object_id == str(sheet.id))).all()
        resolved = session.get(Sheet, sheet.id).resolved
    assert [(c.question, c.value, c.by) for c in saved] == [(question, right, f"user:teacher-{site.city.a.id}")]
    assert entries and entries[-1].after["value"] == right and entries[-1].address == "127.0.0.1"
    assert resolved


def test_a_teacher_of_school_b_cannot_see_school_a_pages(site, context):
    page = context.new_page()
    log_in(page, site, f"teacher-{site.city.b.id}")
    answer = page.goto(f"{site.url}/review/sheets/{site.sheets[0]}")
    assert answer.status == 404 and "未找到" in page.content()
    with site.service.db.read() as session:
        page_id = session.get(Sheet, site.sheets[0]).page_ids[0]
    assert page.goto(f"{site.url}/review/pages/{page_id}/overlay").status == 404
    page.goto(site.url + "/review")
    assert page.locator("a[href^='/review/sheets/']").count() == 0
    page.goto(f"{site.url}/exams/{site.city.exam_id}")
    assert page.locator("a[href^='/station/batches/']").count() == 0  # school A's batches are not listed


def test_a_post_without_the_csrf_token_is_refused(site, context):
    page = context.new_page()
    log_in(page, site, f"teacher-{site.city.a.id}")
    page.goto(site.url + "/review")
    sheet = site.sheets[-1]
    with site.service.db.read() as session:
        before = len(session.scalars(select(Correction)).all())
    statuses = page.evaluate("""async (sheet) => {
        const body = new URLSearchParams({"q:Q1": "A", "resolved": "1"});
        const plain = await fetch(`/review/sheets/${sheet}`, {method: "POST", body});
        const wrong = await fetch(`/review/sheets/${sheet}`, {method: "POST", body,
                                  headers: {"X-CSRF-Token": "0".repeat(64)}});
        return [plain.status, wrong.status];
    }""", sheet)
    assert statuses == [403, 403]
    with site.service.db.read() as session:
        assert len(session.scalars(select(Correction)).all()) == before


def test_docs_load_with_no_request_leaving_the_machine(site, context):
    attempted: list[str] = []
    problems: list[str] = []

    def only_local(route):
        if urlparse(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            attempted.append(route.request.url)
            route.abort()

    context.route("**/*", only_local)
    page = context.new_page()
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    page.goto(site.url + "/api/v1/docs")
    page.wait_for_selector(".swagger-ui .info .title")
    assert "yuejuan" in page.inner_text(".swagger-ui .info .title")
    page.wait_for_selector(".opblock-tag")
    screenshot(page, "api-docs", full_page=False)
    assert attempted == []
    assert problems == []  # no script or style refused by the Content-Security-Policy


def test_class_view_city_view_and_station(site, context, simulated_scans):
    """The views the README shows: a class with its charts, the city for the municipal key, a station's batch."""
    from review_helpers import CLASS_1

    page = context.new_page()
    log_in(page, site, f"teacher-{site.city.a.id}")
    page.goto(f"{site.url}/exams/{site.city.exam_id}")
    screenshot(page, "exam-progress")
    page.click(f"text={CLASS_1}")
    assert page.locator("svg.chart").count() == 2 and page.locator("svg.chart rect").count() > 10
    screenshot(page, "class-view")
    with page.expect_download() as download:
        page.click("text=下载班级报表 (xlsx)")
    assert download.value.suggested_filename.endswith(".xlsx")

    city = new_context(context.browser)
    try:
        municipal = city.new_page()
        log_in_with_key(municipal, site, site.keys["municipal"])
        municipal.click(f"a[href='/city/exams/{site.city.exam_id}']")
        assert municipal.locator("svg.chart rect").count() >= 1
        screenshot(municipal, "city-view")
    finally:
        city.close()

    station = new_context(context.browser)
    try:
        scanner = station.new_page()
        log_in_with_key(scanner, site, site.keys["station-a"])
        assert scanner.url.endswith("/station")
        folder, manifest = simulated_scans
        scanner.set_input_files("input[name=files]", str(Path(folder) / manifest["pages"][0]["file"]))
        scanner.click("#upload button[type=submit]")
        scanner.wait_for_url("**/station/batches/*")
        assert scanner.inner_text("[data-field=files_received]") == "1"
        screenshot(scanner, "station-batch")
    finally:
        station.close()


def _marking_setup(site) -> tuple[dict, dict[str, str]]:
    """Q56 of school A marked twice (step 0.5, tolerance 1, a disagreement goes to the leader's ruling) by two
    new teachers, led by a third; their usernames by part."""
    import httpx

    from web_helpers import PASSWORD

    names = {part: f"{part}-{site.city.a.id}" for part in ("m1", "m2", "leader")}
    ids = {}
    with httpx.Client(base_url=site.url + "/api/v1", headers=site.city.a.admin, timeout=60) as api:
        for part, username in names.items():
            made = api.post("/users", json={"username": username, "password": PASSWORD, "role": "teacher",
                                            "school_id": site.city.a.id})
            assert made.status_code == 201, made.text
            ids[part] = made.json()["id"]
        setup = api.post(f"/exams/{site.city.exam_id}/marking", json={
            "question": "Q56", "step": 0.5, "double": True, "tolerance": 1, "final_rule": "ruling",
            "markers": [ids["m1"], ids["m2"]], "leader_id": ids["leader"]})
        assert setup.status_code == 201, setup.text
    return setup.json(), names


def _mark(page, site, setup_id: int, keys: list[str], shot: str | None = None) -> None:
    """Open the marking page and score one crop per entry of ``keys`` with the keyboard (Enter submits): each
    next crop must show without the page reloading. ``shot``: the screenshot's name, taken before the first
    Enter."""
    page.goto(f"{site.url}/marking")
    page.click(f"a[href='/marking/{setup_id}']")
    page.evaluate("() => { window.stayed = true; }")  # lost if the page reloaded
    for typed in keys:
        page.wait_for_function("() => { const c = document.getElementById('crop');"
                               " return !c.hidden && c.complete && c.naturalWidth > 0; }")
        before = page.get_attribute("#crop", "data-token")
        for key in typed:
            page.keyboard.press(key)
        assert page.inner_text("#typed").strip() == (typed[:-1] + ".5" if typed[-1] in ".h" else typed)
        if shot:
            screenshot(page, shot)
            shot = None
        page.keyboard.press("Enter")
        page.wait_for_function("(before) => { const c = document.getElementById('crop');"
                               " return c.hidden || c.dataset.token !== before; }", arg=before)
    assert page.evaluate("() => window.stayed") is True


def test_two_markers_disagree_and_the_leaders_ruling_lands_in_the_total(site, browser):
    import httpx

    from api.service.models import MarkingItem

    setup, names = _marking_setup(site)
    answers = setup["answers"]
    assert answers >= 2
    contexts = []
    try:
        for part in ("m1", "m2", "leader"):
            contexts.append(new_context(browser))
            page = contexts[-1].new_page()
            log_in(page, site, names[part])
            if part == "m1":
                _mark(page, site, setup["id"], ["8h"] * answers, "marking")  # 8.5 each, with the half-point key
            elif part == "m2":  # agrees on all but the last, where it gives 2: beyond the tolerance of 1
                _mark(page, site, setup["id"], ["8."] * (answers - 1) + ["2"])
            else:
                page.goto(f"{site.url}/marking/{setup['id']}")
                page.wait_for_selector("#crop[data-token]")  # the script has shown the first task
                assert "仲裁" in page.inner_text("#task-kind") and "8.5" in page.inner_text("#earlier")
                screenshot(page, "marking-ruling")
                _mark(page, site, setup["id"], ["5"])
            assert page.is_visible("#empty")  # nothing left for this person
    finally:
        for made in contexts:
            made.close()
    with site.service.db.read() as session:
        ruled = session.execute(select(Sheet.student_id).join(MarkingItem, MarkingItem.sheet_id == Sheet.id)
                                .where(MarkingItem.setup_id == setup["id"], MarkingItem.final_score == 5)).all()
    assert len(ruled) == 1
    with httpx.Client(base_url=site.url + "/api/v1", headers=site.city.a.admin, timeout=120) as api:
        assert api.post(f"/exams/{site.city.exam_id}/grade").status_code == 201
        result = api.get(f"/exams/{site.city.exam_id}/results/{ruled[0][0]}").json()
    assert result["scores"]["Q56"] == 5
