"""Fixtures of the web page tests: one service for the session with schools A and B (school A's simulated scans
stored and graded), served over real HTTP on 127.0.0.1 by uvicorn, and one Debian chromium driven by Playwright.

Browser tests skip when chromium or Playwright is missing, unless ``YUEJUAN_REQUIRE_BROWSER`` is set (CI).
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from pathlib import Path

import pytest

# web_helpers first: it puts the service tests' helpers on the path
from web_helpers import CHROMIUM, CHROMIUM_ARGS, Site, new_context
from review_helpers import flagged_sheets, setup_school  # noqa: I001
from service_city import make_city


@pytest.fixture(scope="session")
def simulated_scans(tmp_path_factory):
    """Six simulated cn-a4-55 sheets as JPEG files with their truth (the service tests' set, seed fixed)."""
    from sample_sheets.simulate import write_batch

    folder = tmp_path_factory.mktemp("scans")
    return folder, write_batch("cn-a4-55", folder, count=6, seed=4242, profile="typical", fmt="jpg", classes=2)


@pytest.fixture(scope="session")
def site(tmp_path_factory, simulated_scans):
    """yuejuan served on 127.0.0.1 with schools A and B; school A's scans stored, graded, some flagged."""
    import uvicorn
    from fastapi.testclient import TestClient

    from api.demo_service import free_port
    from api.service.app import create_app
    from api.service.context import open_service
    from api.service.settings import Settings

    settings = Settings(data_dir=tmp_path_factory.mktemp("web") / "data", workers=0, _env_file=None)
    service = open_service(settings)
    with TestClient(create_app(service=service)) as client:
        city = make_city(client, service)
        setup_school(client, service, city.a, city.exam_id, simulated_scans)
        graded = client.post(f"/api/v1/exams/{city.exam_id}/grade", headers=city.a.admin)
        assert graded.status_code == 201, graded.text
    flagged = [s.id for s in flagged_sheets(service, city.a.id)]
    assert flagged, "the simulated set has flagged sheets"
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(service=service), host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the server did not start"
        time.sleep(0.05)
    yield Site(f"http://127.0.0.1:{port}", service, city, flagged,
               {"station-a": city.a.station["X-API-Key"], "municipal": city.municipal["X-API-Key"]})
    server.should_exit = True
    thread.join(timeout=10)
    service.close()


@pytest.fixture(scope="session")
def browser():
    """Debian's chromium under Playwright (its own browser download is not used), one for the session."""
    required = bool(os.environ.get("YUEJUAN_REQUIRE_BROWSER"))
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        if required:
            pytest.fail("Playwright is not installed (make install)")
        pytest.skip("Playwright is not installed (make install)")
    if not shutil.which(CHROMIUM) and not Path(CHROMIUM).exists():
        if required:
            pytest.fail(f"{CHROMIUM} is missing (make system-deps installs chromium)")
        pytest.skip(f"{CHROMIUM} is missing (make system-deps installs chromium)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield launched
        launched.close()


@pytest.fixture
def context(browser):
    """A fresh browser profile (cookies, cache) for one test."""
    made = new_context(browser)
    yield made
    made.close()
