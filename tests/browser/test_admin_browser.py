"""The admin in a real browser: Debian's Chromium driven by Playwright.

An admin logs in, opens the pending upload handlers, sees one's progress,
expires it, then opens another's chunk ledger; the pages are saved in
``tests/artifacts/`` (``admin-pending.png``, ``admin-expired.png``, ``admin-detail.png``).
No browser is downloaded: Playwright drives ``/usr/bin/chromium``
(``apt-get install chromium``, which ``.ci/run`` does).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from django.db import connections

from chunked_upload.models import UploadHandler
from tests.factories import PASSWORD, UserFactory
from tests.handlers import make_handler, staged_keys
from tests.requirements import missing

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking"]


@pytest.fixture
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing("playwright", "pip install -r requirements/test.txt")
    if not CHROMIUM.exists():
        missing(str(CHROMIUM), "apt-get install chromium (no browser is downloaded)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()
        # Inside sync_playwright() the code runs in another contextvars context,
        # so the test's ORM calls opened database connections of their own.
        connections.close_all()


@pytest.fixture
def async_unsafe_allowed(monkeypatch):
    # Playwright's sync API runs an event loop in this thread; the ORM calls
    # the test makes around it are still plain synchronous ones.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def test_an_admin_expires_a_pending_upload_in_the_browser(
    live_server, browser, async_unsafe_allowed
):
    UserFactory(username="boss", is_staff=True, is_superuser=True)
    handler = make_handler(b"x" * 123_456)
    complete = make_handler(b"y" * 50_000, last=True)  # drawn with a progress bar
    page = browser.new_page(viewport={"width": 1920, "height": 600})

    page.goto(f"{live_server.url}/admin/login/?next=/admin/chunked_upload/uploadhandler/")
    page.fill("#id_username", "boss")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_selector("#result_list")

    row = page.locator("#result_list tbody tr", has=page.locator(f'[title="{handler.pk}"]'))
    assert "123,456 bytes" in row.inner_text()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "admin-pending.png"), full_page=True)
    row.locator("input.action-select").check()
    page.select_option("select[name=action]", "expire_selected")
    page.click("button[name=index]")
    page.wait_for_selector(".messagelist")
    assert "1 upload handler(s) expired, 123,456 staged bytes removed." in page.inner_text(
        ".messagelist")
    page.screenshot(path=str(ARTIFACTS / "admin-expired.png"), full_page=True)

    page.click(f'[title="{complete.pk}"]')
    page.wait_for_selector("table.chunk-ledger")
    page.screenshot(path=str(ARTIFACTS / "admin-detail.png"), full_page=True)

    handler.refresh_from_db()
    assert handler.state == UploadHandler.State.EXPIRED
    assert str(handler.pk) not in staged_keys()
