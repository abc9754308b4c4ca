"""Offsets past 4 GiB: an upload of more than 4 GiB completes with the right size and CRC.

The content is generated chunk by chunk while it is sent (never held whole,
never stored on the client side), and read back only where it matters: past
the 32-bit boundaries. Slow (minutes) and disk-hungry, so it runs in CI's
PostgreSQL pass and locally only with ``RUN_HUGE=1``.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import zlib
from collections.abc import Iterator

import pytest

from .client import crc_hex
from .conftest import make_site
from .site import DemoSite

# Once per CI run is enough: in its PostgreSQL pass, the production database.
WANTED = os.environ.get("RUN_HUGE") == "1" or (
    os.environ.get("CI") == "true" and bool(os.environ.get("DATABASE_URL")))
pytestmark = [
    pytest.mark.huge,
    pytest.mark.skipif(not WANTED, reason="over 4 GiB: runs in CI's PostgreSQL pass "
                       "(CI=true, DATABASE_URL set) or with RUN_HUGE=1"),
]

CHUNK = 32 << 20
SIZE = (4 << 30) + (3 << 20) + 12_345
BASE = os.urandom(CHUNK)


def content(offset: int, length: int) -> bytes:
    """The bytes of the upload at [offset, offset + length): BASE, stamped per chunk."""
    out = bytearray()
    while length:
        index, within = divmod(offset, CHUNK)
        piece = bytearray(BASE)
        piece[:8] = index.to_bytes(8, "big")  # no two chunks alike
        take = min(length, CHUNK - within)
        out += piece[within:within + take]
        offset, length = offset + take, length - take
    return bytes(out)


@pytest.fixture(scope="module")
def huge_site(database_server, tmp_path_factory) -> Iterator[DemoSite]:
    data_dir = tmp_path_factory.mktemp("huge")
    free = shutil.disk_usage(data_dir).free
    assert free > SIZE + (1 << 30), f"the huge upload needs {SIZE:,} bytes free, {free:,} are"
    try:
        with make_site(database_server, data_dir, "huge").running() as site:
            yield site
    finally:
        shutil.rmtree(data_dir)  # four gigabytes are not worth keeping


def test_an_upload_past_4_gib_has_the_right_size_crc_and_bytes(huge_site):
    site, client = huge_site, huge_site.client
    ticket = site.login()
    handler = client.create_handler(ticket, CHUNK)
    crc, sha = 0, hashlib.sha256()

    for offset in range(0, SIZE, CHUNK):
        chunk = content(offset, min(CHUNK, SIZE - offset))
        crc = zlib.crc32(chunk, crc)
        sha.update(chunk)
        answer = client.send_chunk(ticket, handler, chunk, offset + len(chunk) == SIZE, offset)
        assert (answer.accepted, answer["offset"]) == (True, str(offset + len(chunk))), answer

    assert answer["filehexcrc"] == format(crc, "X")
    finalized = client.finalize(ticket, handler, "/huge/past-4-gib.bin")
    assert finalized.ok, finalized
    stored = client.call("GetDownloadHandler", AuthenticationTicket=ticket,
                         Path="/huge/past-4-gib.bin", PreferedChunkSize=1 << 20)
    assert (stored["Size"], stored["CRC32"]) == (str(SIZE), format(crc, "X"))
    assert site.database.query(
        "SELECT size, sha256 FROM chunked_upload_documentversion WHERE id = %s",
        (int(finalized["VersionId"]),)) == [(SIZE, sha.hexdigest())]
    for start in (1 << 31, (1 << 32) - 10, 1 << 32, SIZE - 1000):
        piece = client.call("DownloadFileChunk", authenticationTicket=ticket,
                            DownloadHandler=stored["downloadhandler"], StartOffset=start,
                            ChunkSize=1 << 20)
        data = base64.b64decode(piece.element.text or "")
        assert data == content(start, min(1 << 20, SIZE - start)), start
        assert piece["chunkCRC32"] == crc_hex(data)
