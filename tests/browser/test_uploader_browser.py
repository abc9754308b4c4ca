"""The uploader on the demo's ``/`` in a real browser.

Three files at once (0 B, 1 KiB, 50 MiB), pause and resume, a reload in the
middle and the same file picked again, cancel, drag and drop, a refused
destination; every document downloaded back and compared byte for byte.
Screenshots: ``uploader-*.png`` in ``tests/artifacts/``.
"""

from __future__ import annotations

import time

from chunked_upload.models import Document, UploadHandler
from tests.browser.pages import item, make_file, screenshot, sha256, slow_chunks, wait_state
from tests.handlers import staged_keys

MiB = 1 << 20
State = UploadHandler.State


def progress(page, name: str) -> float:
    bar = item(page, name).locator("progress")
    return float(bar.get_attribute("value") or 0) / float(bar.get_attribute("max"))


def wait_progress(page, name: str, fraction: float) -> None:
    deadline = time.monotonic() + 60
    while progress(page, name) < fraction:
        assert time.monotonic() < deadline, f"{name} stuck at {progress(page, name):.0%}"
        page.wait_for_timeout(50)


def downloaded(page, base_url: str, path: str) -> bytes:
    """The document's latest version, through the demo's download link (the session's cookies)."""
    folder, name = path.rsplit("/", 1)
    document = Document.objects.get(name=name, folder__name=folder.rsplit("/", 1)[-1])
    version = document.versions.order_by("-number").first()
    answer = page.request.get(f"{base_url}/versions/{version.pk}/download")
    assert answer.ok, answer.status
    return answer.body()


def test_three_files_at_once_with_pause_and_resume(page, demo_site, tmp_path):
    files = [make_file(tmp_path, "empty.txt", 0), make_file(tmp_path, "one-k.bin", 1024),
             make_file(tmp_path, "fifty.bin", 50 * MiB)]
    slow_chunks(page)
    page.set_input_files(".cu-picker", [str(f) for f in files])
    wait_state(page, "empty.txt", "done")
    wait_state(page, "one-k.bin", "done")
    wait_progress(page, "fifty.bin", 0.1)
    assert "MiB/s" in item(page, "fifty.bin").inner_text()  # a rate, and a time left
    assert " left" in item(page, "fifty.bin").inner_text()
    screenshot(page, "uploader-uploading.png")

    item(page, "fifty.bin").get_by_role("button", name="Pause fifty.bin").click()
    wait_state(page, "fifty.bin", "paused")
    page.wait_for_timeout(500)  # an aborted chunk may still land: let it
    handler = UploadHandler.objects.get(state=State.OPEN)
    stood = handler.committed_size
    page.wait_for_timeout(1000)
    handler.refresh_from_db()
    assert handler.committed_size == stood < 50 * MiB  # nothing moves while paused
    screenshot(page, "uploader-paused.png")

    item(page, "fifty.bin").get_by_role("button", name="Resume fifty.bin").click()
    wait_state(page, "fifty.bin", "done", timeout=120_000)
    page.wait_for_selector("#documents td:has-text('fifty.bin')")  # the list refreshed
    screenshot(page, "uploader-done.png")

    for source in files:
        assert sha256(downloaded(page, demo_site.url, f"/Uploads/{source.name}")) == sha256(
            source.read_bytes())
    assert UploadHandler.objects.filter(state=State.FINALIZED).count() == 3
    assert not staged_keys()
    assert "Uploads" in page.inner_text("#documents")


def test_a_reload_in_the_middle_resumes_where_the_server_stands(page, demo_site, tmp_path):
    # Three files dropped at once, the page reloaded half-way, the files picked again.
    sources = [make_file(tmp_path, f"reloaded-{n}.bin", n * 10 * MiB) for n in (2, 3, 4)]
    slow_chunks(page)
    page.set_input_files(".cu-picker", [str(f) for f in sources])
    for source in sources:
        wait_progress(page, source.name, 0.05)
    page.reload()
    page.wait_for_selector("[data-chunked-uploader].cu-ready")
    remembered = page.locator(".cu-remembered")
    assert remembered.is_visible()
    for source in sources:
        assert source.name in remembered.inner_text()
    screenshot(page, "uploader-remembered.png")
    handlers = list(UploadHandler.objects.filter(state=State.OPEN))
    assert len(handlers) == 3
    stood = {h.pk: h.committed_size for h in handlers}
    assert all(stood.values())

    page.unroute("**/srv.asmx/UploadFileChunk")
    page.set_input_files(".cu-picker", [str(f) for f in sources])
    for source in sources:
        wait_state(page, source.name, "done", timeout=120_000)
        assert "resumed at" in item(page, source.name).inner_text()
    screenshot(page, "uploader-resumed.png")
    assert not page.locator(".cu-remembered").is_visible()

    # The same handlers went on from where the server stood; none was made anew.
    assert UploadHandler.objects.count() == 3
    for handler in handlers:
        handler.refresh_from_db()
        assert handler.state == State.FINALIZED
        assert handler.chunks.filter(offset=stood[handler.pk]).count() == 1
    for source in sources:
        assert downloaded(page, demo_site.url, f"/Uploads/{source.name}") == source.read_bytes()


def test_cancel_deletes_the_handler_and_its_bytes(page, tmp_path):
    source = make_file(tmp_path, "cancelled.bin", 20 * MiB)
    slow_chunks(page)
    page.set_input_files(".cu-picker", str(source))
    wait_progress(page, "cancelled.bin", 0.1)
    item(page, "cancelled.bin").get_by_role("button", name="Cancel cancelled.bin").click()
    wait_state(page, "cancelled.bin", "cancelled")
    deadline = time.monotonic() + 10
    while UploadHandler.objects.exists():
        assert time.monotonic() < deadline, "DeleteUploadHandler never arrived"
        time.sleep(0.1)
    assert not staged_keys()
    assert not Document.objects.exists()
    screenshot(page, "uploader-cancelled.png")
    page.click(".cu-clear")
    assert page.locator(".cu-item").count() == 0


def test_files_dropped_on_the_page_upload(page, demo_site):
    page.evaluate("""() => {
        const data = new DataTransfer();
        const bytes = new Uint8Array(300000).map((_, i) => (i * 31) & 255);
        data.items.add(new File([bytes], "dropped.bin"));
        const zone = document.querySelector(".cu-drop");
        zone.dispatchEvent(new DragEvent("dragover", { dataTransfer: data, bubbles: true }));
        zone.dispatchEvent(new DragEvent("drop", { dataTransfer: data, bubbles: true }));
    }""")
    wait_state(page, "dropped.bin", "done")
    expected = bytes((i * 31) & 255 for i in range(300000))
    assert downloaded(page, demo_site.url, "/Uploads/dropped.bin") == expected


def test_the_chosen_folder_is_used_and_a_refused_one_is_a_clear_error(page, demo_site,
                                                                       tmp_path):
    source = make_file(tmp_path, "report.txt", 2000)
    page.fill("#folder", "/Team/Reports")
    page.set_input_files(".cu-picker", str(source))
    wait_state(page, "report.txt", "done")
    assert downloaded(page, demo_site.url, "/Team/Reports/report.txt") == source.read_bytes()

    page.fill("#folder", "/bad//folder")
    page.set_input_files(".cu-picker", str(source))
    wait_state(page, "report.txt", "error")
    failed = page.locator('.cu-item[data-state="error"]')
    assert "Invalid parameter: path." in failed.inner_text()
    assert failed.get_by_role("button", name="Retry report.txt").is_visible()
    screenshot(page, "uploader-error.png")
    page.fill("#folder", "/Fixed")  # the complete upload is finalized again, elsewhere
    failed.get_by_role("button", name="Retry report.txt").click()
    page.wait_for_selector('.cu-item[data-state="done"]:has-text("saved as /Fixed/report.txt")')
    assert downloaded(page, demo_site.url, "/Fixed/report.txt") == source.read_bytes()


def test_keyboard_labels_and_live_region(page, tmp_path):
    picker = page.get_by_label("choose files")
    assert picker.count() == 1
    picker.focus()
    assert page.evaluate("document.activeElement.classList.contains('cu-picker')")
    page.set_input_files(".cu-picker", str(make_file(tmp_path, "spoken.txt", 10)))
    wait_state(page, "spoken.txt", "done")
    live = page.locator('.cu-live[aria-live="polite"]')
    page.wait_for_function(
        "document.querySelector('.cu-live').textContent.includes('spoken.txt')")
    assert "spoken.txt" in live.text_content()
    assert page.get_by_role("progressbar", name="Upload of spoken.txt").count() == 1


def test_usable_at_phone_width(page, tmp_path):
    page.set_viewport_size({"width": 375, "height": 740})
    source = make_file(tmp_path, "a-rather-long-file-name-from-a-phone-camera-0001.jpg", 400_000)
    page.set_input_files(".cu-picker", str(source))
    wait_state(page, source.name, "done")
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    screenshot(page, "uploader-phone.png")


def test_tryagain_network_errors_and_5xx_are_retried(page, demo_site, tmp_path):
    source = make_file(tmp_path, "bumpy.bin", 3 * MiB)
    faults = ["tryagain", "500", "abort"]
    seen = []

    def flaky(route):
        if faults and route.request.url.endswith("/UploadFileChunk"):
            fault = faults.pop(0)
            seen.append(fault)
            if fault == "tryagain":  # as the server answers a CRC mismatch
                route.fulfill(status=200, content_type="text/xml; charset=utf-8",
                              body='<?xml version="1.0"?><root success="true" tryagain="true"/>')
            elif fault == "500":
                route.fulfill(status=500, body="Internal Server Error")
            else:
                route.abort("connectionreset")
            return
        route.continue_()

    page.route("**/srv.asmx/UploadFileChunk", flaky)
    page.set_input_files(".cu-picker", str(source))
    wait_state(page, "bumpy.bin", "done")
    assert seen == ["tryagain", "500", "abort"]
    assert downloaded(page, demo_site.url, "/Uploads/bumpy.bin") == source.read_bytes()
