"""The public pages in a real browser: Debian's headless Chromium, driven by Selenium through
``/usr/bin/chromedriver`` (no driver or browser download), against a real ``pledge-ledger
serve`` process on a small demo store.

Every page is loaded and checked for accessibility as the browser built it; a person's path is
followed (home -> list -> a pledge -> its receipt), the language switched, a filter and the
as-of picker used, and the timeline compared with the API's. JavaScript is off in the browser:
the pages must work without it. Each page's screenshot is saved in the directory printed at the
start (``LEDGER_SCREENSHOTS`` chooses it; by default pytest's temporary directory).

Without the browser the tests skip, saying so, except under ``CI=true``: ``.ci/run`` installs
``chromium`` and ``chromium-driver``, so there they must run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ledger.settings import LedgerSettings
from tests.conftest import sqlite_settings
from tests.e2e.accessibility import accessibility_problems
from tests.e2e.serving import Server, running_server, server_environment

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
DEMO_PLEDGES = 12

webdriver = pytest.importorskip("selenium.webdriver")
from selenium.webdriver.chrome.options import Options  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.remote.webdriver import WebDriver  # noqa: E402
from selenium.webdriver.remote.webelement import WebElement  # noqa: E402
from selenium.webdriver.support import expected_conditions  # noqa: E402
from selenium.webdriver.support.wait import WebDriverWait  # noqa: E402

NAVIGATION_SECONDS = 60


def browser_missing() -> str | None:
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    return (
        f"{', '.join(missing)} not installed (Debian: chromium chromium-driver)"
        if missing
        else None
    )


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    chosen = os.environ.get("LEDGER_SCREENSHOTS")
    folder = Path(chosen) if chosen else tmp_path_factory.mktemp("screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    print(f"\nscreenshots of the pages: {folder}")
    return folder


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    directory = tmp_path_factory.mktemp("demo-store")
    settings: LedgerSettings = sqlite_settings(directory)
    executable = Path(sys.executable).with_name("pledge-ledger")
    loaded = subprocess.run(
        [str(executable), "demo", "--pledges", str(DEMO_PLEDGES), "--json"],
        env=server_environment(settings),
        cwd=directory,
        capture_output=True,
        text=True,
        check=False,
    )
    assert loaded.returncode == 0, loaded.stderr
    with running_server(settings, directory) as server:
        yield server
        server.terminate()


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    reason = browser_missing()
    if reason is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but {reason}: .ci/run installs them")
        pytest.skip(reason)
    options = Options()
    options.binary_location = str(CHROMIUM)
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-dev-shm-usage",
        "--window-size=1280,1600",
        "--lang=en-US",
    ):
        options.add_argument(flag)
    # The pages must work without JavaScript: the browser runs none.
    options.add_experimental_option(
        "prefs", {"profile.managed_default_content_settings.javascript": 2}
    )
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


def visit(browser: WebDriver, url: str, screenshots: Path, name: str) -> str:
    browser.get(url)
    html = browser.page_source
    problems = accessibility_problems(html)
    assert problems == [], (url, problems)
    assert browser.find_element(By.ID, "demo-label").is_displayed(), url
    # A full-page screenshot: the window as tall as the page.
    height = browser.find_element(By.TAG_NAME, "body").size["height"]
    browser.set_window_size(1280, max(800, min(height + 40, 12000)))
    assert browser.save_screenshot(str(screenshots / f"{name}.png"))
    browser.set_window_size(1280, 1600)
    return html


def follow(browser: WebDriver, element: WebElement, to: str) -> None:
    """Click and wait until the browser is at an address containing ``to`` (a click returns
    before the next page has loaded)."""
    element.click()
    # chromedriver then waits for the page's load before the next command.
    WebDriverWait(browser, NAVIGATION_SECONDS).until(expected_conditions.url_contains(to))


def first_pledge(server: Server) -> str:
    body = httpx.get(f"{server.url}/api/v1/pledges", params={"limit": 200}).json()
    # The pledge with the longest history shows the most of the timeline.
    longest: str = max(body["items"], key=lambda item: item["version"])["pledge_id"]
    return longest


def test_every_page_loads_and_passes_the_accessibility_check(
    demo_server: Server, browser: WebDriver, screenshots: Path
) -> None:
    base = demo_server.url
    pledge_id = first_pledge(demo_server)
    networks = httpx.get(f"{base}/api/v1/rollups", params={"by": "network"}).json()["items"]
    cities = httpx.get(f"{base}/api/v1/rollups", params={"by": "city"}).json()["items"]
    pages = {
        "home": "/",
        "pledges": "/pledges",
        "pledge": f"/pledges/{pledge_id}",
        "network": f"/networks/{networks[0]['key']}",
        "city": f"/cities/{cities[0]['key']}",
        "reports": "/reports",
        "audit": "/audit",
    }
    for name, path in pages.items():
        visit(browser, f"{base}{path}", screenshots, name)
        assert browser.find_element(By.TAG_NAME, "h1").text.strip(), name


def test_a_person_follows_the_list_to_a_pledge_and_its_receipt(
    demo_server: Server, browser: WebDriver, screenshots: Path
) -> None:
    visit(browser, f"{demo_server.url}/", screenshots, "path-home")
    follow(browser, browser.find_element(By.CSS_SELECTOR, "nav a[href='/pledges']"), "/pledges")
    assert browser.current_url.endswith("/pledges")
    link = browser.find_element(By.CSS_SELECTOR, "a.pledge-link")
    title = link.text
    follow(browser, link, "/pledges/")
    assert "/pledges/" in browser.current_url
    assert browser.find_element(By.TAG_NAME, "h1").text == title
    visit(browser, browser.current_url, screenshots, "path-pledge")
    pledge_id = browser.current_url.rsplit("/", 1)[1]
    expected = httpx.get(f"{demo_server.url}/api/v1/pledges/{pledge_id}/timeline").json()
    shown = browser.find_elements(By.CSS_SELECTOR, "#timeline-events > li.event")
    assert [e.get_attribute("data-event-id") for e in shown] == [
        e["event_id"] for e in expected["events"]
    ]
    follow(browser, browser.find_element(By.CSS_SELECTOR, "#timeline-events a.receipt"), "/receipt")
    receipt = json.loads(browser.find_element(By.TAG_NAME, "body").text)
    assert receipt["event_id"] == expected["events"][0]["event_id"]
    assert receipt["leaf_index"] == expected["events"][0]["leaf_index"]


def test_the_language_switcher_changes_the_language_and_it_is_remembered(
    demo_server: Server, browser: WebDriver, screenshots: Path
) -> None:
    browser.get(f"{demo_server.url}/pledges")
    follow(browser, browser.find_element(By.CSS_SELECTOR, "a[hreflang='fr']"), "lang=fr")
    assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == "fr"
    assert browser.find_element(By.TAG_NAME, "h1").text == "Engagements"
    visit(browser, f"{demo_server.url}/", screenshots, "home-fr")
    assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == "fr"
    follow(browser, browser.find_element(By.CSS_SELECTOR, "a[hreflang='es']"), "lang=es")
    assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == "es"
    visit(browser, f"{demo_server.url}/audit", screenshots, "audit-es")
    follow(browser, browser.find_element(By.CSS_SELECTOR, "a[hreflang='en']"), "lang=en")
    assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == "en"


def test_a_filter_narrows_the_list_and_its_address_can_be_shared(
    demo_server: Server, browser: WebDriver, screenshots: Path
) -> None:
    browser.get(f"{demo_server.url}/pledges?lang=en")
    select = browser.find_element(By.ID, "f-status")
    select.find_element(By.CSS_SELECTOR, "option[value='validated']").click()
    follow(
        browser,
        browser.find_element(By.CSS_SELECTOR, "form.filters button[type='submit']"),
        "status=validated",
    )
    assert "status=validated" in browser.current_url
    statuses = {e.text for e in browser.find_elements(By.CSS_SELECTOR, "table.pledges .status")}
    assert statuses <= {"Validated"}
    shared = browser.current_url
    visit(browser, shared, screenshots, "pledges-validated")
    expected = httpx.get(
        f"{demo_server.url}/api/v1/pledges", params={"status": "validated", "limit": 50}
    ).json()
    shown = [
        str(e.get_attribute("href")).rsplit("/", 1)[1]
        for e in browser.find_elements(By.CSS_SELECTOR, "a.pledge-link")
    ]
    assert shown == [item["pledge_id"] for item in expected["items"]]


def test_the_as_of_picker_shows_the_pledge_on_a_past_day(
    demo_server: Server, browser: WebDriver, screenshots: Path
) -> None:
    pledge_id = first_pledge(demo_server)
    timeline = httpx.get(f"{demo_server.url}/api/v1/pledges/{pledge_id}/timeline").json()
    second_day = timeline["events"][1]["recorded_at"][:10]
    browser.get(f"{demo_server.url}/pledges/{pledge_id}?lang=en")
    picker = browser.find_element(By.ID, "as-of")
    # A date input takes the day as typed in the browser's locale order (en-US: mm/dd/yyyy).
    year, month, day = second_day.split("-")
    picker.send_keys(f"{month}{day}{year}")
    follow(
        browser, browser.find_element(By.CSS_SELECTOR, "form.as-of button[type='submit']"), "as_of="
    )
    assert f"as_of={second_day}" in browser.current_url
    assert f"State at the end of {second_day}" in browser.find_element(By.ID, "state").text
    expected = httpx.get(
        f"{demo_server.url}/api/v1/pledges/{pledge_id}", params={"as_of": second_day}
    ).json()
    assert expected["status"].replace("_", " ") in browser.find_element(
        By.ID, "pledge-status"
    ).text.lower().replace("_", " ")
    later = browser.find_elements(By.CSS_SELECTOR, "#timeline-events > li.later")
    assert len(later) == sum(1 for e in timeline["events"] if e["recorded_at"][:10] > second_day)
    visit(browser, browser.current_url, screenshots, "pledge-as-of")
