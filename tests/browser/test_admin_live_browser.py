"""The handler admin refreshing itself in a real browser while an upload runs.

One page uploads 50 MiB through the demo's uploader; the admin's changelist,
open beside it at 1366 px, shows the handler's progress and rate moving
without a reload, a stalled handler marked, then the finished upload linked
to its document version. Screenshots: ``admin-live.png``,
``admin-finalized.png``, ``admin-document.png``.
"""

from __future__ import annotations

import time
from datetime import timedelta

from chunked_upload.models import UploadHandler
from tests.browser.pages import make_file, screenshot, slow_chunks, wait_state
from tests.factories import PASSWORD, TicketFactory, UserFactory
from tests.handlers import make_handler

MiB = 1 << 20
WIDTH = 1366


def admin_page(browser, base_url: str):
    page = browser.new_page(viewport={"width": WIDTH, "height": 768})
    page.goto(f"{base_url}/admin/login/?next=/admin/chunked_upload/uploadhandler/")
    page.fill("#id_username", "uploader")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_selector("#result_list")
    return page


def cell(page, handler_id, field: str) -> str:
    row = page.locator("#result_list tbody tr",
                       has=page.locator(f'[data-handler-id="{handler_id}"]'))
    return row.locator(f"td.field-{field}").inner_text()


def fits(page) -> bool:
    """Nothing cut off: neither the page nor the admin's scrollable results overflow."""
    return page.evaluate(f"""() => document.documentElement.scrollWidth <= {WIDTH}
        && [...document.querySelectorAll(".results, .tabular")].every(
            (box) => box.scrollWidth <= box.clientWidth)""")


def test_the_changelist_follows_an_upload_without_a_reload(page, browser, demo_site, tmp_path,
                                                           config):
    config(STALLED_AFTER=60)
    stalled = make_handler(b"s" * 5000, idle=timedelta(minutes=3),
                           ticket=TicketFactory(user=UserFactory(username="quiet-user")))
    source = make_file(tmp_path, "watched.bin", 50 * MiB)
    slow_chunks(page, 0.3)
    page.set_input_files(".cu-picker", str(source))
    deadline = time.monotonic() + 30
    while not UploadHandler.objects.filter(committed_size__gt=0).exclude(pk=stalled.pk).exists():
        assert time.monotonic() < deadline
        page.wait_for_timeout(100)  # (a sleep would hold the routed chunks too)
    handler = UploadHandler.objects.exclude(pk=stalled.pk).get()

    admin = admin_page(browser, demo_site.url)
    first = cell(admin, handler.pk, "progress")
    assert "stalled" in cell(admin, stalled.pk, "state_shown").lower()
    assert "stalled" not in cell(admin, handler.pk, "state_shown").lower()
    assert "s ago" in cell(admin, handler.pk, "last_activity")
    refreshed = admin.evaluate("document.body.dataset.cuRefreshed || ''")
    admin.wait_for_function(f"(document.body.dataset.cuRefreshed || '') !== '{refreshed}'",
                            timeout=20_000)
    admin.wait_for_function(
        """([id, first]) => {
            const span = document.querySelector(`[data-handler-id="${id}"]`);
            return span.closest("tr").querySelector("td.field-progress").innerText !== first;
        }""", arg=[str(handler.pk), first], timeout=20_000)
    assert "/s" in cell(admin, handler.pk, "rate")  # a transfer rate from the ledger
    assert fits(admin)
    screenshot(admin, "admin-live.png")

    page.unroute("**/srv.asmx/UploadFileChunk")
    wait_state(page, "watched.bin", "done", timeout=120_000)
    admin.wait_for_function(
        """(id) => {
            const span = document.querySelector(`[data-handler-id="${id}"]`);
            return !!span.closest("tr").querySelector("td.field-version_link a");
        }""", arg=str(handler.pk), timeout=20_000)
    assert "finalized" in cell(admin, handler.pk, "state_shown")
    assert "50.0 MiB" in cell(admin, handler.pk, "progress")
    assert fits(admin)
    screenshot(admin, "admin-finalized.png")

    row = admin.locator("#result_list tbody tr",
                        has=admin.locator(f'[data-handler-id="{handler.pk}"]'))
    row.locator("td.field-version_link a").click()
    admin.wait_for_selector("text=watched.bin v1")
    admin.click("a:has-text('watched.bin')")  # the version's document, with its versions inline
    admin.wait_for_selector(".inline-group")
    assert "50.0 MiB" in admin.inner_text(".inline-group")
    assert fits(admin)
    screenshot(admin, "admin-document.png")
