"""S3 staging (multipart uploads) on a real S3-compatible server (SeaweedFS)."""

import hashlib
import os
import time
import uuid
import zlib
from datetime import timedelta

import hypothesis
import pytest
from botocore.exceptions import ClientError
from django.db import transaction
from django.utils import timezone
from hypothesis import strategies as st

from chunked_upload.documents import document_storage
from chunked_upload.engine import finalize, uploads
from chunked_upload.engine.expiry import expire_all
from chunked_upload.engine.paths import parse_document_path
from chunked_upload.exceptions import OffsetMismatch, UploadHandlerNotFound
from chunked_upload.models import DocumentVersion, S3StagedSegment, S3StagedUpload, UploadHandler
from chunked_upload.staging import get_staging
from chunked_upload.staging.base import StagingFenced
from chunked_upload.staging.s3 import MAX_PARTS, MiB, S3Staging, part_size
from tests.factories import UploadHandlerFactory
from tests.handlers import make_handler
from tests.test_leases import append, in_thread

pytestmark = pytest.mark.django_db(transaction=True)
PART = 5 * MiB
PREFIX = "chunked_upload/staging"


def s3_storage(server, bucket):
    return {"BACKEND": "chunked_upload.contrib.s3.RangedS3Storage",
            "OPTIONS": {"bucket_name": bucket, "endpoint_url": server.endpoint_url,
                        "access_key": server.access_key, "secret_key": server.secret_key,
                        "region_name": "us-east-1", "addressing_style": "path",
                        "file_overwrite": True}}


@pytest.fixture
def bucket(s3_server):
    name = f"stage-{uuid.uuid4().hex[:12]}"
    s3_server.create_bucket(name)
    return name


@pytest.fixture
def s3_staging(s3_server, bucket, settings, config):
    """S3 staging and S3 documents, both in ``bucket`` (finalize completes in place)."""
    settings.STORAGES = {**settings.STORAGES, "documents": s3_storage(s3_server, bucket)}
    config(DOCUMENT_STORAGE="documents", MAX_CHUNK_SIZE=8 * MiB,
           STAGING_BACKEND="chunked_upload.staging.s3.S3Staging",
           STAGING_OPTIONS={"part_size": PART})
    return s3_server.client()


def leftovers(client, bucket):
    """Everything staging may leave in the bucket: uploads, and objects under its prefix."""
    uploads = client.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
    objects = client.list_objects_v2(Bucket=bucket, Prefix=PREFIX).get("Contents", [])
    return [u["Key"] for u in uploads] + [o["Key"] for o in objects]


def test_small_chunks_are_gathered_into_parts_and_assembled_in_place(
        srv, ticket, s3_staging, bucket):
    data = os.urandom(2 * PART + 300_000)
    handler = srv.upload(ticket, data, 1 * MiB, path="/S3/big.bin")
    version = DocumentVersion.objects.get()
    assert version.storage_name.endswith(uuid.UUID(handler).hex)
    stored = s3_staging.get_object(Bucket=bucket, Key=version.storage_name)
    assert stored["Body"].read() == data
    assert stored["ContentLength"] == len(data)
    assert version.sha256 == hashlib.sha256(data).hexdigest()
    assert srv.download(ticket, "/S3/big.bin", chunk_size=1 * MiB) == data
    assert leftovers(s3_staging, bucket) == []
    assert not S3StagedUpload.objects.exists()


def test_parts_are_recorded_with_their_crc_and_tails_hold_the_rest(srv, ticket, s3_staging):
    handler = srv.create_handler(ticket)
    pieces = [os.urandom(2 * MiB) for _ in range(3)]
    for piece in pieces:
        assert srv.send_chunk(ticket, handler, piece, last=False).ok
    rows = list(S3StagedSegment.objects.filter(upload_id=handler).order_by("kind", "offset")
                .values_list("kind", "offset", "size", "number", "crc32"))
    joined = b"".join(pieces)
    assert rows == [("part", 0, PART, 1, zlib.crc32(joined[:PART])),
                    ("tail", PART, len(joined) - PART, None, zlib.crc32(joined[PART:]))]


def test_the_store_refuses_a_part_with_a_wrong_crc(s3_staging, bucket):
    staged = get_staging().open(str(uuid.uuid4()), create=True)
    upload = staged._upload
    with pytest.raises(ClientError) as refused:
        s3_staging.upload_part(Bucket=bucket, Key=upload.object_key, UploadId=upload.upload_id,
                               PartNumber=1, Body=b"x" * 1000, ChecksumAlgorithm="CRC32",
                               ChecksumCRC32="AAAAAA==")
    assert refused.value.response["Error"]["Code"] == "BadDigest"


def test_a_part_acknowledged_by_the_store_but_never_committed_is_never_assembled(
        s3_staging, bucket):
    key = str(uuid.uuid4())
    staging = get_staging()
    staging.open(key, create=True).close()
    good, lost = os.urandom(PART + 10), os.urandom(PART + 10)

    # The store acknowledges part 1 and a tail, then the commit never happens
    # (rows recorded outside a transaction, as a host dying before its commit leaves them).
    staged = staging.open(key, create=False)
    staged.truncate(0)
    staged.write(lost)
    staged.sync()
    staged.close()
    assert S3StagedSegment.objects.filter(upload_id=key).count() == 2

    # The next append (committed size still 0) discards them and overwrites part 1.
    staged = staging.open(key, create=False)
    assert staged.size == len(lost)
    staged.truncate(0)
    assert not S3StagedSegment.objects.filter(upload_id=key).exists()
    with transaction.atomic():
        staged.write(good)
        staged.sync()
    staged.close()

    from django.core.files.storage import storages
    storage = storages["documents"]
    name = staging.hand_over(key, storage, f"chunked_upload/versions/{uuid.UUID(key).hex}")
    assert s3_staging.get_object(Bucket=bucket, Key=name)["Body"].read() == good


def test_a_rolled_back_append_leaves_the_recorded_parts_as_they_were(s3_staging):
    key = str(uuid.uuid4())
    staging = get_staging()
    staging.open(key, create=True).close()
    first = os.urandom(3 * MiB)
    with transaction.atomic():
        staged = staging.open(key, create=False)
        staged.truncate(0)
        staged.write(first)
        staged.sync()
        staged.close()
    with pytest.raises(RuntimeError), transaction.atomic():
        staged = staging.open(key, create=False)
        staged.truncate(len(first))
        staged.write(os.urandom(3 * MiB))  # fills part 1 with the first tail
        staged.sync()
        staged.truncate(len(first))  # the engine's cut back after a failed commit
        raise RuntimeError("commit failed")
    staged = staging.open(key, create=False)
    assert staged.size == len(first)
    staged.truncate(len(first))
    assert list(S3StagedSegment.objects.values_list("kind", "offset")) == [("tail", 0)]


def test_finalize_can_be_repeated_after_the_upload_was_completed(s3_staging, bucket):
    from django.core.files.storage import storages
    key, data = str(uuid.uuid4()), os.urandom(PART + 1234)
    staging = get_staging()
    with transaction.atomic():
        staged = staging.open(key, create=True)
        staged.truncate(0)
        staged.write(data)
        staged.sync()
    name = f"chunked_upload/versions/{uuid.UUID(key).hex}"
    storage = storages["documents"]
    assert staging.hand_over(key, storage, name) == name
    staging.discard_hand_over(key, storage, name)  # the finalize's commit failed
    assert staging.hand_over(key, storage, name) == name  # the retry finds it assembled
    assert s3_staging.get_object(Bucket=bucket, Key=name)["Body"].read() == data


def test_documents_in_another_bucket_are_copied_inside_the_store(
        srv, ticket, s3_staging, s3_server, bucket, settings):
    documents = f"docs-{uuid.uuid4().hex[:12]}"
    s3_server.create_bucket(documents)
    settings.STORAGES = {**settings.STORAGES, "documents": s3_storage(s3_server, documents)}
    data = os.urandom(PART + 5)
    srv.upload(ticket, data, 1 * MiB, path="/S3/copied.bin")
    version = DocumentVersion.objects.get()
    assert s3_staging.get_object(Bucket=documents, Key=version.storage_name)["Body"].read() == data
    assert leftovers(s3_staging, bucket) == []


def test_local_documents_receive_the_assembled_file(srv, ticket, s3_staging, config, bucket):
    config(DOCUMENT_STORAGE="default", STAGING_OPTIONS={
        "part_size": PART, "bucket_name": bucket,
        "endpoint_url": s3_staging.meta.endpoint_url, "access_key": "testkey",
        "secret_key": "testsecret", "region_name": "us-east-1", "addressing_style": "path"})
    data = os.urandom(300_000)
    srv.upload(ticket, data, 256 * 1024, path="/S3/local.bin")
    assert srv.download(ticket, "/S3/local.bin") == data
    assert leftovers(s3_staging, bucket) == []


def test_an_empty_file(srv, ticket, s3_staging, bucket):
    srv.upload(ticket, b"", 1024, path="/S3/empty.bin")
    assert srv.download(ticket, "/S3/empty.bin") == b""
    assert leftovers(s3_staging, bucket) == []


def test_deleting_a_handler_aborts_its_upload_and_removes_its_tails(
        srv, ticket, s3_staging, bucket):
    handler = srv.create_handler(ticket)
    assert srv.send_chunk(ticket, handler, os.urandom(PART + 100), last=False).ok
    assert leftovers(s3_staging, bucket)
    answer = srv.call("DeleteUploadHandler", authenticationTicket=ticket, uploadHandler=handler)
    assert answer.ok, answer
    assert leftovers(s3_staging, bucket) == []
    assert not S3StagedUpload.objects.exists()


def test_expiry_aborts_expired_uploads_and_unowned_ones_after_the_grace_time(
        srv, ticket, s3_staging, bucket):
    handler = srv.create_handler(ticket)
    assert srv.send_chunk(ticket, handler, os.urandom(1000), last=False).ok
    # An upload whose handler never committed (a host died while creating it).
    s3_staging.create_multipart_upload(Bucket=bucket, Key=f"{PREFIX}/{uuid.uuid4()}")
    expire_all()
    assert len(leftovers(s3_staging, bucket)) == 3  # all young or live
    report = expire_all(now=timezone.now() + timedelta(days=30))
    assert report.expired_handlers == 1 and report.orphan_files == 1
    assert leftovers(s3_staging, bucket) == []
    assert not UploadHandler.objects.filter(state="open").exists()


def test_ten_thousand_parts_hold_more_than_s3s_largest_object():
    assert sum(part_size(n) for n in range(1, MAX_PARTS + 1)) >= 5 << 40
    assert part_size(1) == part_size(1000) == 8 * MiB
    assert part_size(1001) == 16 * MiB
    assert part_size(1, base=1) == 5 * MiB  # never under S3's minimum


def test_documents_on_s3_are_staged_on_s3_unless_configured_otherwise(
        s3_server, bucket, settings, config, srv, ticket):
    from django.core.checks import run_checks

    from chunked_upload.staging.local import LocalStaging
    from chunked_upload.staging.s3 import S3Staging

    assert isinstance(get_staging(), LocalStaging)  # documents on local disk
    settings.STORAGES = {**settings.STORAGES, "documents": s3_storage(s3_server, bucket)}
    config(DOCUMENT_STORAGE="documents")
    staging = get_staging()
    assert isinstance(staging, S3Staging) and staging.bucket == bucket
    assert [m.id for m in run_checks(tags=["chunked_upload"])] == []
    # Local staging chosen with S3 documents: finalize would upload inside the request.
    config(STAGING_BACKEND="chunked_upload.staging.local.LocalStaging")
    assert [m.id for m in run_checks(tags=["chunked_upload"])] == ["chunked_upload.W010"]
    data = os.urandom(300_000)  # which still works, through the Storage API
    srv.upload(ticket, data, 256 * 1024, path="/S3/local-staged.bin")
    assert srv.download(ticket, "/S3/local-staged.bin") == data


class _Rollback(Exception):
    pass


@hypothesis.settings(max_examples=6, deadline=None,
                     suppress_health_check=[hypothesis.HealthCheck.function_scoped_fixture],
                     # Each example costs seconds on a real store: no long shrinking.
                     phases=[hypothesis.Phase.explicit, hypothesis.Phase.reuse,
                             hypothesis.Phase.generate])
@hypothesis.given(appends=st.lists(
    st.tuples(st.integers(0, 3 * MiB), st.sampled_from(["commit", "rollback", "lost"])),
    min_size=1, max_size=8))
def test_whatever_appends_commit_or_fail_the_file_is_exactly_the_committed_bytes(
        s3_staging, bucket, appends):
    """Appends of any size, some committed, some rolled back with their rows, some
    lost after their rows were written (a host dying before its commit)."""
    from django.core.files.storage import storages
    handler = UploadHandlerFactory()
    key, staging, committed = str(handler.pk), get_staging(), b""
    staging.open(key, create=True).close()
    for length, fate in appends:
        data = os.urandom(length)
        staged = staging.open(key, create=False)
        assert staged.size >= len(committed)
        staged.truncate(len(committed))
        if fate == "lost":  # rows written outside the (never committed) transaction
            staged.write(data)
            staged.sync()
        else:
            try:
                with transaction.atomic():
                    staged.write(data)
                    staged.sync()
                    if fate == "rollback":
                        raise _Rollback
                    committed += data
                    handler.committed_size = len(committed)
                    handler.save(update_fields=["committed_size"])
            except _Rollback:
                staged.truncate(len(committed))
        staged.close()
    name = f"chunked_upload/versions/{uuid.UUID(key).hex}"
    assert staging.hand_over(key, storages["documents"], name) == name
    assert s3_staging.get_object(Bucket=bucket, Key=name)["Body"].read() == committed
    staging.delete(key)
    assert leftovers(s3_staging, bucket) == []


def test_an_unreachable_store_refuses_the_chunk_and_loses_nothing(
        srv, ticket, s3_staging, bucket, s3_server, config):
    data = os.urandom(PART + 2 * MiB)
    handler = srv.create_handler(ticket)
    assert srv.send_chunk(ticket, handler, data[:2 * MiB], last=False).ok
    reachable = {"part_size": PART, "bucket_name": bucket, "access_key": "testkey",
                 "secret_key": "testsecret", "region_name": "us-east-1",
                 "addressing_style": "path", "endpoint_url": s3_server.endpoint_url}
    config(STAGING_OPTIONS={**reachable, "endpoint_url": "http://127.0.0.1:9"})  # discard port
    answer = srv.send_chunk(ticket, handler, data[2 * MiB:], last=True)
    assert answer.get("success") == "false" and answer.get("errorCode") == "5000", answer
    config(STAGING_OPTIONS=reachable)
    status = srv.call("GetUploadHandlerStatus", authenticationTicket=ticket, uploadHandler=handler)
    assert status["offset"] == str(2 * MiB), status
    assert srv.send_chunk(ticket, handler, data[2 * MiB:], last=True).ok
    assert srv.call("UploadDocumentWithHandler", authenticationTicket=ticket,
                    path="/S3/unreachable.bin", uploadHandler=handler).ok
    assert srv.download(ticket, "/S3/unreachable.bin") == data


def test_a_tail_changed_in_the_store_is_refused_not_assembled(srv, ticket, s3_staging, bucket):
    handler = srv.create_handler(ticket)
    first = os.urandom(1 * MiB)
    assert srv.send_chunk(ticket, handler, first, last=False).ok
    (tail,) = [o["Key"] for o in s3_staging.list_objects_v2(
        Bucket=bucket, Prefix=f"{PREFIX}/{handler}.tails/")["Contents"]]
    s3_staging.put_object(Bucket=bucket, Key=tail, Body=os.urandom(1 * MiB))
    answer = srv.send_chunk(ticket, handler, os.urandom(PART), last=True)
    assert answer.get("success") == "false" and answer.get("errorCode") == "5000", answer
    status = srv.call("GetUploadHandlerStatus", authenticationTicket=ticket, uploadHandler=handler)
    assert status["offset"] == str(len(first))


# Fencing: a request whose lease was taken over changes nothing ---------------

def stored_state(client, bucket, key):
    """What a writer could change: the rows, the tail objects, the parts in the store."""
    upload = S3StagedUpload.objects.get(pk=key)
    parts = client.list_parts(Bucket=bucket, Key=upload.object_key, UploadId=upload.upload_id)
    return (list(S3StagedSegment.objects.filter(upload_id=key).values_list(
                "kind", "offset", "size", "number", "etag", "crc32")),
            [(o["Key"], o["ETag"]) for o in client.list_objects_v2(
                Bucket=bucket, Prefix=f"{PREFIX}/{key}.tails/").get("Contents", [])],
            [(p["PartNumber"], p["ETag"]) for p in parts.get("Parts", [])])


def handed_over(staging, key, size):
    """The bytes finalize would store for ``key`` with ``size`` bytes committed."""
    from django.core.files.storage import storages
    handler = UploadHandlerFactory(id=uuid.UUID(key), committed_size=size)
    name = f"chunked_upload/versions/{handler.pk.hex}"
    with storages["documents"].open(staging.hand_over(key, storages["documents"], name)) as f:
        return f.read()


def test_opening_with_an_older_fence_is_refused_and_an_equal_one_allowed(s3_staging):
    key, staging = str(uuid.uuid4()), get_staging()
    staging.open(key, create=True).close()
    staging.open(key, create=False, fence=2).close()
    with pytest.raises(StagingFenced):
        staging.open(key, create=False, fence=1)
    staging.open(key, create=False, fence=2).close()
    assert S3StagedUpload.objects.get(pk=key).fence == 2


def stale_and_current_writer(staging):
    """A staged upload whose first writer (fence 1, 1000 bytes written and not
    synced) has been taken over by a second (fence 2, cut back to 0)."""
    key = str(uuid.uuid4())
    staging.open(key, create=True).close()
    old = staging.open(key, create=False, fence=1)
    old.truncate(0)
    old.write(os.urandom(1000))
    new = staging.open(key, create=False, fence=2)
    new.truncate(0)
    return key, old, new


def test_a_stale_writer_is_refused_and_changes_nothing(s3_staging, bucket):
    staging = get_staging()
    key, old, new = stale_and_current_writer(staging)
    data = os.urandom(PART + 1000)
    with transaction.atomic():
        new.write(data)
        new.sync()
    new.close()
    before = stored_state(s3_staging, bucket, key)
    with pytest.raises(StagingFenced):
        old.write(os.urandom(PART))  # would upload a part
    with pytest.raises(StagingFenced):
        old.sync()  # would record its bytes (as a tail)
    with pytest.raises(StagingFenced):
        old.truncate(0)  # would discard the rows past 0
    old.close()
    assert stored_state(s3_staging, bucket, key) == before
    assert handed_over(staging, key, len(data)) == data


def test_a_stale_tail_never_replaces_the_new_writers_tail(s3_staging, bucket):
    staging = get_staging()
    key, old, new = stale_and_current_writer(staging)
    data = os.urandom(1000)  # the same offset and size as the stale tail
    with transaction.atomic():
        new.write(data)
        new.sync()
    before = stored_state(s3_staging, bucket, key)
    with pytest.raises(StagingFenced):
        old.sync()  # its tail reaches the store after the new one, under its own name
    assert stored_state(s3_staging, bucket, key) == before  # and is removed again
    assert handed_over(staging, key, len(data)) == data


def test_a_stale_part_in_flight_during_a_take_over_cannot_replace_the_new_writers_part(
        s3_staging, bucket, monkeypatch):
    """The stale writer passed its fence check and got its part number; its upload
    reaches the store only after another writer has taken over and recorded the part
    at the same offset. Numbers are never handed out twice: nothing is replaced."""
    key, staging = str(uuid.uuid4()), get_staging()
    staging.open(key, create=True).close()
    old = staging.open(key, create=False, fence=1)
    old.truncate(0)
    data = os.urandom(PART + 1000)
    take_number = old._staging.next_part

    def number_then_taken_over(upload, fence):
        number = take_number(upload, fence)
        new = S3Staging().open(key, create=False, fence=2)
        new.truncate(0)
        with transaction.atomic():
            new.write(data)
            new.sync()
        new.close()
        return number

    monkeypatch.setattr(old._staging, "next_part", number_then_taken_over)
    old.write(os.urandom(PART))  # part uploaded after the new writer's
    monkeypatch.undo()
    with pytest.raises(StagingFenced):
        old.sync()
    old.close()
    # Checked on the store's own terms (S3 keeps the last upload of a number,
    # SeaweedFS every one): the stale part has a number of its own.
    rows, _tails, listed = stored_state(s3_staging, bucket, key)
    recorded = {(number, etag) for _kind, _offset, _size, number, etag, _crc in rows if number}
    assert recorded < set(listed) and len({n for n, _etag in listed}) == len(listed)
    assert handed_over(staging, key, len(data)) == data


@pytest.fixture
def short_leases(config):
    config(CHUNK_LEASE_TIMEOUT=1)


def test_finalize_fences_out_a_stale_writer_on_s3(s3_staging, bucket, short_leases):
    handler = make_handler(b"", last=False)
    stalled = uploads.ChunkAppend(handler.ticket, handler.pk)
    stalled.__enter__()  # an empty handler: finalize may take it
    time.sleep(1.1)
    finalize.finalize(handler.ticket, handler.pk, parse_document_path("/S3/empty.txt"),
                      finalize.VersionOptions())
    stalled.write(os.urandom(PART))  # refused: must not reach the assembled empty file
    with pytest.raises(UploadHandlerNotFound):
        stalled.commit(zlib.crc32(b""), last_chunk=True, chunk_offset=0)
    stalled.__exit__(None, None, None)
    handler.refresh_from_db()
    assert handler.state == UploadHandler.State.FINALIZED and handler.version.size == 0
    with document_storage().open(handler.version.storage_name) as stored:
        assert stored.read() == b""
    assert leftovers(s3_staging, bucket) == []


def test_a_chunk_taken_over_on_s3_leaves_a_byte_identical_document(
        s3_staging, bucket, short_leases):
    first, second, third = os.urandom(3 * MiB), os.urandom(PART + 2 * MiB), os.urandom(MiB)
    handler = make_handler(first)
    stalled = uploads.ChunkAppend(handler.ticket, handler.pk)
    stalled.__enter__()
    stalled.write(os.urandom(PART))  # reads the tail into part 1 and uploads it
    thread, result = in_thread(lambda: append(handler, second, offset=len(first)))
    thread.join(20)
    assert result["value"].offset == len(first) + len(second), result
    stalled.write(os.urandom(2 * MiB))  # fills part 2: refused by the fence
    with pytest.raises(OffsetMismatch):
        stalled.commit(0, last_chunk=False, chunk_offset=len(first))
    stalled.__exit__(None, None, None)
    assert append(handler, third, offset=len(first) + len(second), last=True).complete
    finalize.finalize(handler.ticket, handler.pk, parse_document_path("/S3/taken-over.bin"),
                      finalize.VersionOptions())
    version = DocumentVersion.objects.get()
    stored = s3_staging.get_object(Bucket=bucket, Key=version.storage_name)["Body"].read()
    assert stored == first + second + third
    assert version.sha256 == hashlib.sha256(first + second + third).hexdigest()
    assert leftovers(s3_staging, bucket) == []
