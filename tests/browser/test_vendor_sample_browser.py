"""The vendor's own browser sample, unchanged, against us in a real browser.

``uploadWithChunks`` from the vendor's UploadDocumentWithHandler3 page (read
from ``../shared/reference`` at test time, never copied into the project):
urlencoded calls, multipart chunks, its own CRC-32, the file CRC compared,
UploadDocumentWithHandler3, then DeleteUploadHandler.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from chunked_upload.models import Document
from tests.factories import PASSWORD, UserFactory
from tests.srv import Srv

SAMPLE_PAGE = (Path(__file__).resolve().parents[3]
               / "shared/reference/inforouter/UploadDocumentWithHandler3.md")


@pytest.fixture
def vendor_sample() -> str:
    if not SAMPLE_PAGE.exists():
        if os.environ.get("CI"):
            pytest.fail(f"the vendor's sample page is missing: {SAMPLE_PAGE}")
        pytest.skip(f"the vendor's sample page is not at {SAMPLE_PAGE}")
    match = re.search(r"```javascript\n(.*?)```", SAMPLE_PAGE.read_text(), re.S)
    assert match, "no JavaScript block in the vendor's page"
    return match.group(1)


@pytest.mark.parametrize("size", [0, 1000, 1_300_000])
def test_the_vendors_sample_uploads_a_document(live_server, browser, async_unsafe_allowed,
                                               vendor_sample, size):
    user = UserFactory(username="vendor-sample")
    srv = Srv()
    ticket = srv.login(user.username, PASSWORD)
    page = browser.new_page()
    page.goto(f"{live_server.url}/admin/login/")  # any HTML page of the origin
    page.add_script_tag(content=vendor_sample)
    result = page.evaluate("""async ([ticket, size]) => {
        const bytes = new Uint8Array(size).map((_, i) => (i * 7 + (i >> 10)) & 255);
        const file = new File([bytes], "sample.bin");
        return await uploadWithChunks(location.origin, ticket, file, "/Vendor/sample.bin", "");
    }""", [ticket, size])
    document = Document.objects.get(pk=int(result["documentId"]))
    assert document.versions.get().pk == int(result["versionId"])
    expected = bytes((i * 7 + (i >> 10)) & 255 for i in range(size))
    assert srv.download(ticket, "/Vendor/sample.bin") == expected
