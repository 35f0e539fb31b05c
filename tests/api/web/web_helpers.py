"""What the web page tests share besides fixtures: the running site, logging in through the form, chromium's
settings, and the README's screenshots (a module of its own: ``from conftest import`` would find whichever
conftest.py was loaded first)."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "service"))  # the service tests' city and scans

from service_city import PASSWORD, City  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
#: Chromium as the tests run it: headless, no sandbox (root in a container), and nothing that calls home.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
#: Set to a folder (or 1 for docs/screenshots) to have the browser tests save the README's screenshots.
SCREENSHOTS_ENV = "YUEJUAN_SCREENSHOTS"
REPO = Path(__file__).resolve().parents[3]


@dataclass
class Site:
    """The running service: its address, the city's callers and school A's stored scans."""

    url: str
    service: object
    city: City
    sheets: list[int]  # school A's flagged sheets
    keys: dict[str, str]  # API keys: "station-a", "municipal"


#: Long enough for a crop or an overlay cut on first request on a busy 2-core machine.
TIMEOUT_MS = 60_000


def new_context(browser):
    """A fresh browser profile (cookies, cache) at the screenshots' size, Chinese first."""
    made = browser.new_context(locale="zh-CN", viewport={"width": 1400, "height": 900})
    made.set_default_timeout(TIMEOUT_MS)
    return made


def log_in(page, site: Site, username: str, password: str = PASSWORD) -> None:
    page.goto(site.url + "/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("#login button[type=submit]")
    page.wait_for_url(lambda url: "/login" not in url)


def log_in_with_key(page, site: Site, key: str) -> None:
    page.goto(site.url + "/login")
    page.click("summary")
    page.fill("input[name=api_key]", key)
    page.click("#key-login button[type=submit]")
    page.wait_for_url(lambda url: "/login" not in url)


def screenshot(page, name: str, *, scan: bool = False, full_page: bool = True) -> None:
    """Save the page for the README when ``YUEJUAN_SCREENSHOTS`` asks (CI leaves the committed files alone): PNG,
    or JPEG for a page that is mostly a scanned image (``scan``), a tenth of the size."""
    wanted = os.environ.get(SCREENSHOTS_ENV)
    if not wanted:
        return
    folder = REPO / "docs" / "screenshots" if wanted == "1" else Path(wanted)
    folder.mkdir(parents=True, exist_ok=True)
    if scan:
        page.screenshot(path=str(folder / f"{name}.jpg"), full_page=full_page, type="jpeg", quality=80)
    else:
        page.screenshot(path=str(folder / f"{name}.png"), full_page=full_page)


#: Elements that stick out of the window (sideways) or whose text is cut off by their own box; a table inside a
#: scrolling box (``overflow-x: auto``) is meant to scroll and is left out.
_OVERFLOW_JS = """() => {
  const found = [];
  const scrolls = (el) => { for (let p = el.parentElement; p; p = p.parentElement) {
      const o = getComputedStyle(p).overflowX; if (o === "auto" || o === "scroll") return true; } return false; };
  for (const el of document.querySelectorAll("body *")) {
    const box = el.getBoundingClientRect();
    if (!box.width || scrolls(el)) continue;
    const style = getComputedStyle(el);
    const clipped = (style.overflowX === "hidden" || style.textOverflow === "ellipsis")
      && el.scrollWidth > el.clientWidth + 1;
    if (box.right > window.innerWidth + 1 || clipped)
      found.push(el.tagName + "." + el.className + ": " + (el.textContent || "").trim().slice(0, 40));
  }
  return found;
}"""


def overflowing(page) -> list[str]:
    """What on ``page`` is cut off or sticks out of the window (empty: everything fits)."""
    return page.evaluate(_OVERFLOW_JS)
