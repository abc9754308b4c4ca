"""A chunk holds a lease on its handler, never a lock or a transaction, while
its bytes arrive; a lease that runs out is taken over, and the stale request
can change nothing any more."""

import hashlib
import threading
import time
import zlib

import pytest
from django.db import connection
from django.test import override_settings

from chunked_upload.documents import document_storage
from chunked_upload.engine import finalize, leases, tickets, uploads
from chunked_upload.engine.paths import parse_document_path
from chunked_upload.exceptions import OffsetMismatch
from chunked_upload.models import UploadHandler
from chunked_upload.staging import get_staging
from chunked_upload.staging.base import StagingFenced
from tests.factories import PASSWORD, UserFactory
from tests.handlers import make_handler

pytestmark = pytest.mark.django_db(transaction=True)
SHORT = override_settings(CHUNKED_UPLOAD={"CHUNK_LEASE_TIMEOUT": 1})


def in_thread(call):
    """Run ``call`` on a thread of its own (own database connection); its future result."""
    result = {}

    def run():
        try:
            result["value"] = call()
        except Exception as exc:  # handed to the test
            result["error"] = exc
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, result


def append(handler, data, offset=None, last=False):
    with uploads.ChunkAppend(handler.ticket, handler.pk) as chunk:
        chunk.write(data)
        return chunk.commit(zlib.crc32(data), last_chunk=last, chunk_offset=offset)


def test_no_transaction_is_open_while_a_chunk_waits_for_its_bytes():
    handler = make_handler(b"a" * 10)
    with uploads.ChunkAppend(handler.ticket, handler.pk) as chunk:
        assert not connection.in_atomic_block
        chunk.write(b"b" * 5)
        assert not connection.in_atomic_block
        # Another user logs in and uploads meanwhile, on another connection.
        user = UserFactory()
        thread, result = in_thread(lambda: append(
            make_handler(ticket=tickets.log_in(None, user.username, PASSWORD).ticket),
            b"other"))
        thread.join(10)
        assert result.get("value") and result["value"].accepted, result
        chunk.commit(zlib.crc32(b"b" * 5), last_chunk=False, chunk_offset=None)
    handler.refresh_from_db()
    assert (handler.committed_size, handler.lease_expires_at) == (15, None)


def test_a_second_chunk_waits_for_the_first_and_appends_after_it():
    handler = make_handler(b"a" * 10)
    with uploads.ChunkAppend(handler.ticket, handler.pk) as first:
        first.write(b"b" * 5)
        thread, result = in_thread(lambda: append(handler, b"c" * 3))
        time.sleep(0.3)
        assert thread.is_alive()  # waiting for the lease
        first.commit(zlib.crc32(b"b" * 5), last_chunk=False, chunk_offset=None)
    thread.join(10)
    assert result["value"].offset == 18
    assert get_staging().path(str(handler.pk)).read_bytes() == b"a" * 10 + b"b" * 5 + b"c" * 3


@SHORT
def test_a_stalled_chunk_is_taken_over_after_the_timeout_and_writes_nothing_more():
    handler = make_handler(b"a" * 10)
    stalled = uploads.ChunkAppend(handler.ticket, handler.pk)
    stalled.__enter__()
    stalled.write(b"s" * 4)
    started = time.monotonic()
    thread, result = in_thread(lambda: append(handler, b"n" * 6, offset=10))
    thread.join(10)
    assert 0.5 < time.monotonic() - started < 5
    assert result["value"].offset == 16, result
    stalled.write(b"s" * 4)  # its client wakes up: refused by the fence
    with pytest.raises(OffsetMismatch):
        stalled.commit(zlib.crc32(b"s" * 8), last_chunk=False, chunk_offset=10)
    stalled.__exit__(None, None, None)
    handler.refresh_from_db()
    assert (handler.committed_size, handler.chunk_count) == (16, 2)
    assert get_staging().path(str(handler.pk)).read_bytes() == b"a" * 10 + b"n" * 6


@SHORT
def test_finalize_fences_out_a_stale_writer():
    handler = make_handler(b"", last=False)
    stalled = uploads.ChunkAppend(handler.ticket, handler.pk)
    stalled.__enter__()  # an empty handler: finalize may take it
    time.sleep(1.1)
    result = finalize.finalize(handler.ticket, handler.pk, parse_document_path("/empty.txt"),
                               finalize.VersionOptions())
    stalled.write(b"late")  # must not reach the stored (hard-linked) empty file
    stalled.__exit__(None, None, None)
    handler.refresh_from_db()
    assert handler.state == UploadHandler.State.FINALIZED
    assert handler.version.size == 0
    with document_storage().open(handler.version.storage_name) as stored:
        assert stored.read() == b""
    assert result.version_id == handler.version_id


def test_a_handler_under_a_running_lease_is_held():
    handler = make_handler(b"a")
    with uploads.ChunkAppend(handler.ticket, handler.pk):
        handler.refresh_from_db()
        assert leases.is_held(handler)
    handler.refresh_from_db()
    assert not leases.is_held(handler)  # ended with the request, not left to run out


def test_the_staging_fence_refuses_an_older_writer():
    staging, key = get_staging(), str(make_handler().pk)
    old = staging.open(key, create=False, fence=1)
    old.write(b"old")
    new = staging.open(key, create=False, fence=2)
    new.truncate(0)
    with pytest.raises(StagingFenced):
        old.write(b"stale")
    with pytest.raises(StagingFenced):
        old.truncate(0)
    with pytest.raises(StagingFenced):
        staging.open(key, create=False, fence=1)
    new.write(b"new")
    old.close()
    new.close()
    assert staging.path(key).read_bytes() == b"new"


#: What the database forgets of a handler when it loses its last commits.
UNDONE = ("committed_size", "chunk_count", "crc32", "sha256_state", "lease_generation",
          "lease_expires_at", "last_activity_at", "state")


@SHORT
def test_commits_the_database_lost_are_resent_and_the_document_comes_out_exact():
    # A power cut can undo the last commits of a database that does not sync each one
    # (SQLite's synchronous=NORMAL) or a restore from a backup can, while the staged
    # bytes and the fence, on another disk, stay ahead of it.
    a, b, c, d = b"a" * 10, b"b" * 7, b"c" * 5, b"d" * 3
    handler = make_handler()
    append(handler, a, offset=0)
    kept = UploadHandler.objects.filter(pk=handler.pk).values(*UNDONE).get()
    append(handler, b, offset=10)
    append(handler, c, offset=17)  # two lease grants and two commits to lose
    UploadHandler.objects.filter(pk=handler.pk).update(**kept)
    handler.chunks.filter(index__gte=1).delete()

    with pytest.raises(OffsetMismatch) as refused:
        append(handler, d, offset=22)  # the client goes on where it was
    assert refused.value.attributes == {"offset": 10}  # told where the database stands
    assert append(handler, b, offset=10).offset == 17  # held off for one lease timeout at most
    assert append(handler, c, offset=17).offset == 22
    assert append(handler, d, offset=22, last=True).complete

    result = finalize.finalize(handler.ticket, handler.pk, parse_document_path("/healed.bin"),
                               finalize.VersionOptions())
    handler.refresh_from_db()
    assert handler.version_id == result.version_id
    with document_storage().open(handler.version.storage_name) as stored:
        assert stored.read() == a + b + c + d
    assert handler.version.sha256 == hashlib.sha256(a + b + c + d).hexdigest()
    assert list(handler.chunks.order_by("index").values_list("offset", "length")) == [
        (0, 10), (10, 7), (17, 5), (22, 3)]
