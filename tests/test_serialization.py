"""Appends for one handler are serialized: no interleaving, no double append."""

import threading
import zlib

import pytest
from django.db import connection

from chunked_upload.engine import uploads
from chunked_upload.exceptions import OffsetMismatch
from chunked_upload.models import Chunk
from chunked_upload.staging import get_staging
from tests.factories import TicketFactory

pytestmark = pytest.mark.django_db(transaction=True)
THREADS = 8


def run_in_threads(work):
    barrier = threading.Barrier(THREADS)
    results, errors = [None] * THREADS, []

    def target(i):
        try:
            barrier.wait()
            results[i] = work(i)
        except Exception as exc:  # collected and asserted on below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=target, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results, errors


def append(ticket, handler_id, chunk, offset=None):
    with uploads.ChunkAppend(ticket, handler_id) as chunk_append:
        # Several writes per chunk, so that an unserialized pair would interleave.
        for i in range(0, len(chunk), 4096):
            chunk_append.write(chunk[i:i + 4096])
        return chunk_append.commit(zlib.crc32(chunk), False, offset)


def test_the_same_chunk_from_many_clients_is_appended_once():
    ticket = TicketFactory()
    handler = uploads.create_handler(ticket, 0)
    chunk = bytes(range(256)) * 256
    results, errors = run_in_threads(lambda i: append(ticket, handler.id, chunk, offset=0))
    assert not [e for e in errors if not isinstance(e, OffsetMismatch)]
    assert all(r.offset == len(chunk) for r in results if r)
    assert get_staging().path(str(handler.id)).read_bytes() == chunk
    assert Chunk.objects.filter(handler=handler).count() == 1


def test_different_chunks_at_once_are_appended_whole():
    ticket = TicketFactory()
    handler = uploads.create_handler(ticket, 0)
    chunks = [bytes([i]) * 50_000 for i in range(THREADS)]
    results, errors = run_in_threads(lambda i: append(ticket, handler.id, chunks[i]))
    assert not errors
    staged = get_staging().path(str(handler.id)).read_bytes()
    pieces = [staged[i:i + 50_000] for i in range(0, len(staged), 50_000)]
    assert sorted(pieces) == sorted(chunks)
    assert sorted(r.offset for r in results) == [50_000 * (i + 1) for i in range(THREADS)]
