"""The pages in a real browser (Debian's chromium under Playwright) against yuejuan on 127.0.0.1: log in, fix a
flagged question in the review queue with the keyboard, school isolation, CSRF refusal, and Swagger UI with no
request leaving the machine. With ``YUEJUAN_SCREENSHOTS=1`` the tests also save the README's screenshots."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlparse

from sqlalchemy import select

from api.service.models import AuditEntry, Correction, Sheet
from conftest import log_in, log_in_with_key, screenshot


def _truth(scans, student_id: str) -> dict[str, str]:
    """The simulator's answers of one student (what the sheet really says)."""
    folder, manifest = scans
    page = next(p for p in manifest["pages"] if p["student_id"] == student_id)
    return json.loads((Path(folder) / page["truth"]).read_text(encoding="utf-8"))["answers"]


def _flagged_choice(site) -> tuple[Sheet, str]:
    """School A's first unresolved flagged sheet with a choice question to decide, and that question."""
    from api.service.routes.review import _LISTED

    with site.service.db.read() as session:
        for sheet in session.scalars(select(Sheet).where(Sheet.id.in_(site.sheets), Sheet.resolved.is_(False))
                                     .order_by(Sheet.id)):
            for reason in sheet.reasons or []:
                listed = _LISTED.match(reason)
                if listed and "marks" in reason and sheet.student_id:
                    return sheet, listed.group(1).split(",")[0].strip()
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
    screenshot(page, "review-sheet")
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
        screenshot(page, "review-unreadable")
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
    screenshot(page, "api-docs")
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

    city = context.browser.new_context(locale="zh-CN", viewport={"width": 1400, "height": 900})
    try:
        municipal = city.new_page()
        log_in_with_key(municipal, site, site.keys["municipal"])
        municipal.click(f"a[href='/city/exams/{site.city.exam_id}']")
        assert municipal.locator("svg.chart rect").count() >= 1
        screenshot(municipal, "city-view")
    finally:
        city.close()

    station = context.browser.new_context(locale="zh-CN", viewport={"width": 1400, "height": 900})
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
