"""Property tests: arbitrary bytes in arbitrary chunkings come back exactly."""

import base64
import hashlib
import itertools
import zlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chunked_upload.engine import downloads, finalize, uploads
from chunked_upload.engine.paths import parse_document_path
from chunked_upload.models import DocumentVersion
from chunked_upload.wire.params import parse_bool
from tests.factories import TicketFactory
from tests.srv import crc

pytestmark = pytest.mark.django_db
fixture_ok = settings(suppress_health_check=[HealthCheck.function_scoped_fixture],
                      deadline=None, max_examples=60)


def chunkings(max_size=20_000):
    """Bytes with a list of cut points."""
    return st.binary(max_size=max_size).flatmap(
        lambda data: st.tuples(st.just(data), st.lists(st.integers(0, len(data)), max_size=12)))


def append(ticket, handler_id, chunk: bytes, last: bool, pieces: int = 1):
    with uploads.ChunkAppend(ticket, handler_id) as chunk_append:
        step = max(1, len(chunk) // pieces)
        for i in range(0, len(chunk), step):
            chunk_append.write(memoryview(chunk)[i:i + step])
        return chunk_append.commit(zlib.crc32(chunk), last, None)


@fixture_ok
@given(case=chunkings(), pieces=st.integers(1, 5))
def test_any_chunking_of_any_bytes_round_trips(case, pieces):
    data, cuts = case
    ticket = TicketFactory()
    handler = uploads.create_handler(ticket, 0)
    bounds = [0, *sorted(cuts), len(data)]
    for i, (start, end) in enumerate(itertools.pairwise(bounds)):
        result = append(ticket, handler.id, data[start:end], i == len(bounds) - 2, pieces)
        assert result.accepted and result.offset == end
    assert result.file_crc == zlib.crc32(data)
    path = parse_document_path(f"/p/{handler.id}.bin")
    stored = finalize.finalize(ticket, handler.id, path, finalize.VersionOptions())
    version = DocumentVersion.objects.get(pk=stored.version_id)
    assert (version.size, version.crc32) == (len(data), zlib.crc32(data))
    assert version.sha256 == hashlib.sha256(data).hexdigest()
    download = downloads.open_download(ticket, path, 0)
    read, offset = b"", 0
    while True:
        chunk = downloads.read_chunk(ticket, download.id, offset, 262144)
        read += chunk.data
        offset += len(chunk.data)
        if chunk.last:
            break
    assert read == data


@fixture_ok
@given(good=st.binary(max_size=5000), bad=st.binary(min_size=1, max_size=5000))
def test_a_refused_chunk_leaves_no_trace(good, bad):
    ticket = TicketFactory()
    handler = uploads.create_handler(ticket, 0)
    append(ticket, handler.id, good, False)
    with uploads.ChunkAppend(ticket, handler.id) as chunk_append:
        chunk_append.write(bad)
        result = chunk_append.commit(zlib.crc32(bad) ^ 1, True, None)
    assert not result.accepted
    assert uploads.status(ticket, handler.id).offset == len(good)
    assert append(ticket, handler.id, b"", True).file_crc == zlib.crc32(good)


@pytest.mark.django_db(transaction=True)
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None,
          max_examples=25)
@given(data=st.binary(max_size=3000), wrap=st.integers(1, 80))
def test_base64_chunks_in_any_layout_are_decoded_exactly(srv, ticket, data, wrap):
    text = base64.b64encode(data).decode()
    wrapped = "\r\n".join(text[i:i + wrap] for i in range(0, len(text), wrap))
    handler = srv.create_handler(ticket)
    answer = srv.call("UploadFileChunk", authenticationTicket=ticket, uploadHandler=handler,
                      fileChunk=wrapped, chunkHEXCRC=crc(data), lastChunk="true")
    assert answer["filehexcrc"] == crc(data), answer


@given(st.text(max_size=10))
def test_booleans_parse_like_dotnet(text):
    if text.strip().lower() in ("true", "false"):
        assert parse_bool(text) is (text.strip().lower() == "true")
    else:
        with pytest.raises(ValueError):
            parse_bool(text)
