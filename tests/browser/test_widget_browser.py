"""The form field's widget in a real browser, end to end, on the demo's form page.

The file uploads as soon as it is chosen; the description is typed meanwhile;
a submit before the upload ends waits for it; the form sends only the
reference, and the saved document holds the file's bytes.
Screenshots: ``widget-uploading.png``, ``widget-saved.png``, ``widget-refused.png``.
"""

from __future__ import annotations

from chunked_upload.models import Document, UploadHandler
from tests.browser.pages import make_file, screenshot, slow_chunks

MiB = 1 << 20


def open_form(page, base_url: str) -> None:
    page.goto(f"{base_url}/documents/new/")
    page.wait_for_selector("[data-chunked-upload-field].cu-ready")


def test_the_file_uploads_while_the_form_is_filled_in(page, demo_site, tmp_path):
    source = make_file(tmp_path, "contract.pdf", 12 * MiB)
    open_form(page, demo_site.url)
    slow_chunks(page, 0.1)
    requests = []
    page.on("request", lambda r: requests.append(r) if r.url.endswith("/documents/new/")
            and r.method == "POST" else None)
    page.get_by_label("File").set_input_files(str(source))
    page.wait_for_selector('.cu-field .cu-item[data-state="uploading"]')
    page.fill("#id_description", "Signed contract")
    page.fill("#id_keywords", "legal")
    page.fill("#id_folder", "/Contracts")
    screenshot(page, "widget-uploading.png")
    page.click("input[type=submit]")  # before the upload ends: the form waits for it
    page.wait_for_url("**/?saved=*", timeout=120_000)
    screenshot(page, "widget-saved.png")

    document = Document.objects.get(name="contract.pdf")
    assert (document.folder.name, document.description, document.keywords) == (
        "Contracts", "Signed contract", "legal")
    version = document.versions.get()
    answer = page.request.get(f"{demo_site.url}/versions/{version.pk}/download")
    assert answer.body() == source.read_bytes()
    assert UploadHandler.objects.get().state == UploadHandler.State.FINALIZED
    # The form carried the reference, never the file.
    assert len(requests) == 1
    body = requests[0].post_data_buffer or b""
    assert len(body) < 4096 and b"contract.pdf" in body


def test_a_forged_reference_is_refused_with_the_form(page, demo_site, tmp_path):
    open_form(page, demo_site.url)
    page.evaluate("""() => {
        document.querySelector("input.cu-reference").value = "00000000-0000-4000-8000-000000000000";
        document.querySelector(".cu-field input[type=file]").required = false;
    }""")
    page.fill("#id_description", "forged")
    page.click("input[type=submit]")
    page.wait_for_selector(".errorlist")
    assert "does not exist, has expired, or is not yours" in page.inner_text(".errorlist")
    assert not Document.objects.exists()
    screenshot(page, "widget-refused.png")
