"""The admin in a real browser: Debian's Chromium driven by Playwright.

An admin logs in, opens the pending upload handlers, sees one's progress,
expires it, then opens another's chunk ledger; the pages are saved in
``tests/artifacts/`` (``admin-pending.png``, ``admin-expired.png``, ``admin-detail.png``).
No browser is downloaded: Playwright drives ``/usr/bin/chromium``
(``apt-get install chromium``, which ``.ci/run`` does).
"""

from __future__ import annotations

from chunked_upload.models import UploadHandler
from tests.browser.pages import ARTIFACTS
from tests.factories import PASSWORD, UserFactory
from tests.handlers import make_handler, staged_keys


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
    assert "120.6 KiB" in row.inner_text()
    assert row.locator('[title="123,456 bytes"]').count() == 1  # exact bytes on hover
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
