"""Two hosts, no shared disk: one upload's chunks go to either, one host dies mid-chunk.

Two demo servers (gunicorn), each with its own data directory, share only a
PostgreSQL database, a SeaweedFS bucket (the documents and the staged bytes:
S3 staging) and their settings, the secret key included. Nothing of an upload
is on either host's disk.
"""

from __future__ import annotations

import http.client
import os
import secrets
from collections.abc import Iterator

import pytest

from .client import crc_hex
from .s3 import VERSIONS_PREFIX, S3Place
from .site import DemoSite

pytestmark = pytest.mark.skipif(
    not os.environ.get("DATABASE_URL"),
    reason="two hosts share one PostgreSQL server: runs in the PostgreSQL pass (DATABASE_URL)")

MiB = 1 << 20
CUT_OFF = (OSError, http.client.HTTPException)
# Chunk sizes in turn: smaller than a part (5 MiB here), so parts gather
# chunks received by both hosts, and larger, so chunks span parts.
SIZES = (1 * MiB, 3 * MiB + 17, 2 * MiB, 7 * MiB)


@pytest.fixture(scope="module")
def hosts(database_server, s3_server, tmp_path_factory) -> Iterator[tuple[DemoSite, DemoSite]]:
    place = S3Place(s3_server)
    database = database_server.new_database("multihost", tmp_path_factory.mktemp("multihost"))
    sites = tuple(DemoSite(tmp_path_factory.mktemp(f"host-{name}"), database, workers=2,
                           threads=2, s3=place) for name in "ab")
    secret = secrets.token_urlsafe(50)  # shared, as a deployment shares it: tickets are keyed
    for site in sites:
        site.env["DJANGO_SECRET_KEY"] = secret
    try:
        for site in sites:
            site.start()
        yield sites
    finally:
        for site in sites:
            site.stop()


def pieces(data: bytes, start: int = 0) -> Iterator[tuple[int, bytes]]:
    offset, turn = start, 0
    while offset < len(data):
        piece = data[offset:offset + SIZES[turn % len(SIZES)]]
        yield offset, piece
        offset, turn = offset + len(piece), turn + 1


def test_chunks_on_alternate_hosts_one_killed_mid_chunk_finalized_on_the_other(hosts):
    a, b = hosts
    place = a.s3
    ticket = a.login()  # one database: the ticket is good on both hosts
    data = os.urandom(40 * MiB + 12345)
    handler = a.client.create_handler(ticket, 8 * MiB)
    middle = 18 * MiB + 5

    for index, (offset, piece) in enumerate(pieces(data[:middle])):
        host = (a, b)[index % 2]
        assert host.client.send_chunk(ticket, handler, piece, False, offset).accepted

    # Host A dies in the middle of a chunk, after the store took a part of it.
    chunk = data[middle:middle + 8 * MiB]
    request = a.client.begin_chunk(ticket, handler, len(chunk), crc_hex(chunk), False, middle)
    sent = a.send_until_staged(request, chunk, handler)
    a.crash()
    with pytest.raises(CUT_OFF):
        request.write(chunk[sent:])
        request.finish()

    # Host B carries on from what was committed.
    status = b.client.status(ticket, handler)
    assert (status["offset"], status["complete"]) == (str(middle), "false")
    later = list(pieces(data, middle))
    for offset, piece in later[:2]:
        assert b.client.send_chunk(ticket, handler, piece, False, offset).accepted
    a.start()
    for index, (offset, piece) in enumerate(later[2:], start=2):
        host = (a, b)[index % 2]
        last = offset + len(piece) == len(data)
        assert host.client.send_chunk(ticket, handler, piece, last, offset).accepted

    answer = b.client.finalize(ticket, handler, "/multihost/data.bin")
    assert answer.ok, answer
    assert a.client.download(ticket, "/multihost/data.bin") == data
    # The assembled upload is the version itself (a multipart ETag: not copied).
    (key,) = place.objects(VERSIONS_PREFIX)
    stored = place.client.get_object(Bucket=place.bucket, Key=key)
    assert stored["Body"].read() == data
    assert "-" in stored["ETag"]
    assert place.leftovers() == []
    for host in (a, b):
        assert not list((host.data_dir / "staging").rglob("*.part"))  # nothing on either disk


def test_expiry_on_either_host_leaves_nothing_in_the_store(hosts):
    a, b = hosts
    place = a.s3
    ticket = b.login()
    data = os.urandom(13 * MiB)
    handlers = [b.client.create_handler(ticket, 8 * MiB) for _ in range(2)]
    for handler in handlers:  # parts and tails, sent to both hosts
        for index, (offset, piece) in enumerate(pieces(data)):
            host = (a, b)[index % 2]
            assert host.client.send_chunk(ticket, handler, piece, False, offset).accepted
    assert len(place.uploads()) == 2 and place.objects("chunked_upload/staging")

    report = a.manage("expire_upload_handlers", "--idle-timeout", "0")
    assert "Upload handlers expired" in report, report
    assert place.leftovers() == []
    b.manage("expire_upload_handlers", "--idle-timeout", "0")  # the other host: nothing left
    assert place.leftovers() == []
    assert a.database.count("s3stagedupload") == 0
    assert a.database.count("s3stagedsegment") == 0
