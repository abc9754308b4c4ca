"""Staging on an S3-compatible object store: one multipart upload per handler.

No shared disk: any host can append to any handler, because every staged
byte is in the store and every accepted part is recorded in the database
(:mod:`chunked_upload.models.staging`) in the chunk's own transaction.

- Bytes are gathered in memory, one part at a time; a full part is uploaded
  with its CRC-32 (``ChecksumCRC32``), which the store checks itself.
- Bytes that do not fill a part when a chunk ends become a *tail object*
  (``<prefix>/<key>.tails/<offset>``), one per chunk, never rewritten. When a
  later chunk fills the part, the tail objects are read back into it. So a
  small chunk costs one PUT of its own bytes, and each byte is written twice
  at most, whatever the ratio of part to chunk size.
- Part *n* holds ``part_size << ((n - 1) // 1000)`` bytes: 1,000 parts of
  8 MiB, then 1,000 of 16 MiB, ... so 10,000 parts reach beyond S3's 5 TiB
  object limit while a file under 8 GiB needs only one 8 MiB buffer.
- Rows for bytes past the committed size (an append cut off between the
  store's answer and the commit) are discarded by the next append, and the
  part number is uploaded again: completion names exactly the recorded ETags.
- Finalize is CompleteMultipartUpload. When documents are in the same bucket
  the upload was started at the document's own key, so the assembled object
  *is* the version; otherwise it is copied inside the store.
"""

from __future__ import annotations

import base64
import errno
import functools
import os
import uuid
import zlib
from collections.abc import Iterator
from datetime import datetime
from typing import Any, BinaryIO

from django.core.exceptions import ImproperlyConfigured
from django.core.files.storage import Storage
from django.db import router, transaction

from ..conf import get_config
from ..documents import document_storage, version_name
from ..exceptions import ChunkedUploadError
from ..models import S3StagedSegment, S3StagedUpload
from .base import StagedFile, StagingBackend, StagingError

try:
    import boto3
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError
    from storages.backends.s3 import S3Storage
    from storages.utils import clean_name
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ChunkedUploadError(
        "S3Staging needs django-storages with boto3: "
        "pip install 'django-srvasmx-chunked-upload[s3]'"
    ) from exc

try:
    from isal.isal_zlib import crc32
except ImportError:  # pragma: no cover - depends on the environment
    crc32 = zlib.crc32

MiB = 1 << 20
#: S3's smallest part (but the last) and largest part, and most parts per upload.
MIN_PART_SIZE, MAX_PART_SIZE, MAX_PARTS = 5 * MiB, 5 << 30, 10_000
#: Parts of one size before the size doubles.
PARTS_PER_STEP = 1000

#: The keys of ``CHUNKED_UPLOAD["STAGING_OPTIONS"]`` and their defaults.
S3_DEFAULTS: dict[str, Any] = {
    # None: the bucket, endpoint and credentials of the document storage
    # (which must then be an S3Storage).
    "bucket_name": None,
    "endpoint_url": None,
    "access_key": None,
    "secret_key": None,
    "region_name": None,
    "addressing_style": None,
    # Where staging keys and tail objects live in the bucket.
    "prefix": "chunked_upload/staging",
    # Size of the first 1,000 parts (at least 5 MiB); memory per append.
    "part_size": 8 * MiB,
    # Start each upload at its document's key when documents are in this bucket.
    "in_place": True,
}
Kind = S3StagedSegment.Kind
TAILS = ".tails"  # tail objects of key K: "<prefix>/K.tails/<offset>"
_MISSING = ("NoSuchUpload", "NoSuchKey", "404")


def part_size(number: int, base: int = S3_DEFAULTS["part_size"]) -> int:
    """How many bytes part ``number`` (from 1) holds: ``base``, doubling every 1,000 parts."""
    return min(max(base, MIN_PART_SIZE) << ((number - 1) // PARTS_PER_STEP), MAX_PART_SIZE)


def _checksum(value: int) -> str:
    """A CRC-32 as S3's ``ChecksumCRC32`` header carries it (Base64, big-endian)."""
    return base64.b64encode(value.to_bytes(4, "big")).decode("ascii")


@functools.lru_cache(maxsize=8)
def _client(pid: int, *args: Any) -> Any:
    # One client per process and connection: building one costs milliseconds,
    # and a client made before a fork must not share its sockets with the child.
    endpoint_url, access_key, secret_key, region_name, addressing_style = args
    return boto3.session.Session().client(
        "s3", endpoint_url=endpoint_url, aws_access_key_id=access_key,
        aws_secret_access_key=secret_key, region_name=region_name,
        config=Config(s3={"addressing_style": addressing_style}, max_pool_connections=32,
                      retries={"mode": "standard"}),
    )


class StagedBytesMissing(StagingError):
    """The store has no such upload or object (any more)."""


def _failure(action: str, exc: Exception) -> StagingError:
    if isinstance(exc, ClientError) and exc.response["Error"]["Code"] in _MISSING:
        return StagedBytesMissing(f"staged bytes are missing ({action})")
    return StagingError(f"S3 staging cannot {action}: {exc}")


def _missing(exc: ClientError) -> bool:
    return exc.response["Error"]["Code"] in _MISSING


class S3StagedFile(StagedFile):
    """The staged bytes of one handler: recorded parts and tails, plus this request's bytes."""

    def __init__(self, staging: S3Staging, upload: S3StagedUpload,
                 segments: list[S3StagedSegment]) -> None:
        self._staging = staging
        self._upload = upload
        self._parts = sorted((s for s in segments if s.kind == Kind.PART), key=_offset)
        self._tails = sorted((s for s in segments if s.kind == Kind.TAIL), key=_offset)
        self._settled = False  # stale and consumed rows not yet discarded
        self._synced: set[int] = set()  # rows this request recorded (ids of the objects)
        self._before: tuple[list[S3StagedSegment], list[S3StagedSegment]] | None = None
        self._base = -1  # the size of the last truncate
        self._restart(max((s.end for s in segments), default=0))

    def _restart(self, start: int) -> None:
        """Forget this request's bytes: nothing pending, nothing uploaded."""
        self._buffer = bytearray()
        self._start = start  # the file offset of the buffer's first byte
        self._tails_in_buffer = False
        self._new: list[S3StagedSegment] = []

    @property
    def size(self) -> int:
        return self._start + len(self._buffer)

    def _recorded_end(self) -> int:
        return max((s.end for s in (*self._parts, *self._tails)), default=0)

    def truncate(self, size: int) -> None:
        if self._before is not None and size == self._base:
            # Cut back after a sync whose commit failed: the rows this request
            # recorded roll back with it (or the next append discards them).
            self._parts, self._tails = self._before
            self._before = None
        self._restart(self._recorded_end())
        if self._settled and size == self.size:
            return  # the usual case: back to what is recorded
        keep_parts = [p for p in self._parts if p.end <= size]
        parts_end = keep_parts[-1].end if keep_parts else 0
        keep_tails = [t for t in self._tails if parts_end < t.end <= size]
        expected, offsets = 0, []
        for number, segment in enumerate((*keep_parts, *keep_tails), start=1):
            if segment.offset != expected or (segment.kind == Kind.PART and
                                              segment.number != number):
                raise StagingError(f"staged bytes are missing at offset {expected}")
            expected = segment.end
            offsets.append(segment.offset)
        if expected != size:
            raise StagingError(f"staged bytes are missing beyond offset {expected}")
        # Rows past ``size`` are an interrupted append's; tails inside a part
        # were read into it. Neither is ever read again.
        kept = {id(s) for s in (*keep_parts, *keep_tails)} | self._synced
        dropped = [s for s in (*self._parts, *self._tails) if id(s) not in kept]
        self._parts, self._tails = keep_parts, keep_tails
        if dropped:
            self._staging.discard(self._upload, dropped)
        self._settled = True
        self._base = size
        self._restart(size)

    def write(self, data: bytes | memoryview) -> None:
        view = memoryview(data)
        while view:
            number = len(self._parts) + len(self._new) + 1
            target = part_size(number, self._staging.part_size)
            pending = 0 if self._tails_in_buffer else sum(t.size for t in self._tails)
            room = max(target - pending - len(self._buffer), 0)
            self._buffer += view[:room]
            view = view[room:]
            if len(self._buffer) + pending >= target:
                self._cut_part(number)

    def _cut_part(self, number: int) -> None:
        if number > MAX_PARTS:
            raise StagingError("the file is larger than an S3 multipart upload can hold",
                               errno.ENOSPC)
        if not self._tails_in_buffer:
            # The part begins with the tails recorded before this request.
            if self._tails:
                self._buffer[:0] = self._staging.read_tails(self._upload, self._tails)
                self._start = self._tails[0].offset
            self._tails_in_buffer = True
        self._new.append(self._staging.upload_part(self._upload, number, self._start,
                                                   self._buffer))
        self._start += len(self._buffer)
        self._buffer = bytearray()

    def sync(self) -> None:
        if self._buffer:
            self._new.append(self._staging.put_tail(self._upload, self._start, self._buffer))
            self._start += len(self._buffer)
            self._buffer = bytearray()
        if not self._new:
            return
        self._staging.record(self._new)
        self._synced.update(id(s) for s in self._new)
        self._before = (self._parts, self._tails)
        # A part cut in this request began with every tail recorded before it.
        consumed = self._tails if self._tails_in_buffer else []
        self._parts = self._parts + [s for s in self._new if s.kind == Kind.PART]
        self._tails = [] if consumed else list(self._tails)
        self._tails += [s for s in self._new if s.kind == Kind.TAIL]
        if consumed:
            self._staging.discard_after_commit(self._upload, consumed)
        self._restart(self._recorded_end())

    def close(self) -> None:
        self._buffer = bytearray()


def _offset(segment: S3StagedSegment) -> int:
    return segment.offset


class S3Staging(StagingBackend):
    """Staged bytes as S3 multipart uploads; options in ``STAGING_OPTIONS``."""

    def __init__(self, **options: Any) -> None:
        config = get_config()
        options = {**S3_DEFAULTS, **config["STAGING_OPTIONS"], **options}
        unknown = set(options) - set(S3_DEFAULTS)
        if unknown:
            raise ImproperlyConfigured(f"unknown S3 staging options: {sorted(unknown)}")
        self.prefix = options["prefix"].strip("/")
        self.part_size = max(int(options["part_size"]), MIN_PART_SIZE)
        self.in_place = bool(options["in_place"])
        self._storage: Any = None
        if options["bucket_name"]:
            self.bucket = options["bucket_name"]
            self.endpoint_url = options["endpoint_url"]
            self._connection = (options["endpoint_url"], options["access_key"],
                                options["secret_key"], options["region_name"],
                                options["addressing_style"])
        else:
            storage = document_storage()
            if not isinstance(storage, S3Storage):
                raise ImproperlyConfigured(
                    "S3 staging without a bucket_name borrows the document storage's, "
                    "which is not an S3Storage")
            self._storage = storage
            self.bucket, self.endpoint_url = storage.bucket_name, storage.endpoint_url
        self._alias = router.db_for_write(S3StagedUpload)
        self._seen: dict[str, datetime] = {}

    @property
    def client(self) -> Any:
        if self._storage is not None:
            return self._storage.connection.meta.client  # thread-safe, unlike its resource
        return _client(os.getpid(), *self._connection)

    # Where things live ------------------------------------------------------
    def _same_bucket(self, storage: Storage) -> bool:
        return (isinstance(storage, S3Storage) and storage.bucket_name == self.bucket
                and storage.endpoint_url == self.endpoint_url)

    def _document_key(self, key: str) -> str | None:
        """The document's own key for this handler, if finalize may complete there."""
        if not self.in_place:
            return None
        try:
            handler_id = uuid.UUID(key)
        except ValueError:
            return None
        storage = document_storage()
        if not self._same_bucket(storage):
            return None
        return storage_key(storage, version_name(handler_id))

    def _staging_key(self, key: str) -> str:
        return f"{self.prefix}/{key}"

    def _tail_key(self, key: str, offset: int) -> str:
        # Not under "<prefix>/<key>/": on a filer-backed store (SeaweedFS) a
        # key cannot be both an object (the assembled upload) and a folder.
        return f"{self._tails_prefix(key)}{offset:020d}"

    def _tails_prefix(self, key: str) -> str:
        return f"{self.prefix}/{key}{TAILS}/"

    # The StagingBackend interface -------------------------------------------
    def open(self, key: str, *, create: bool) -> S3StagedFile | None:
        upload = S3StagedUpload.objects.using(self._alias).filter(pk=key).first()
        if upload is None:
            return self._create(key) if create else None
        return S3StagedFile(self, upload, list(upload.segments.all()))

    def _create(self, key: str) -> S3StagedFile:
        object_key = self._document_key(key) or self._staging_key(key)
        try:
            upload_id = self.client.create_multipart_upload(
                Bucket=self.bucket, Key=object_key, ChecksumAlgorithm="CRC32")["UploadId"]
        except (BotoCoreError, ClientError) as exc:
            raise _failure("start an upload", exc) from exc
        # In the handler's transaction: if it rolls back, the upload has no
        # row and the expiry sweep aborts it after ORPHAN_GRACE.
        upload = S3StagedUpload.objects.using(self._alias).create(
            key=key, bucket=self.bucket, object_key=object_key, upload_id=upload_id)
        return S3StagedFile(self, upload, [])

    def open_read(self, key: str) -> BinaryIO:
        raise StagingError("S3 staged bytes are read only by finalize")

    def hand_over(self, key: str, storage: Storage, name: str) -> str:
        from .s3_finalize import hand_over

        return hand_over(self, key, storage, name)

    def discard_hand_over(self, key: str, storage: Storage, name: str) -> None:
        upload = S3StagedUpload.objects.using(self._alias).filter(pk=key).first()
        if upload is not None and self._same_bucket(storage) and \
                upload.object_key == storage_key(storage, name):
            return  # the assembled object is the staged bytes: keep it for a retry
        storage.delete(name)

    def delete(self, key: str) -> int:
        from .s3_finalize import delete

        return delete(self, key)

    def keys(self) -> Iterator[tuple[str, int]]:
        from .s3_finalize import keys

        return keys(self)

    def modified_at(self, key: str) -> datetime | None:
        if key in self._seen:
            return self._seen[key]
        upload = S3StagedUpload.objects.using(self._alias).filter(pk=key).first()
        return upload.created_at if upload is not None else None

    # Store and row operations for S3StagedFile ------------------------------
    def upload_part(self, upload: S3StagedUpload, number: int, offset: int,
                    body: bytearray) -> S3StagedSegment:
        value = crc32(body)
        try:
            answer = self.client.upload_part(
                Bucket=upload.bucket, Key=upload.object_key, UploadId=upload.upload_id,
                PartNumber=number, Body=body, ChecksumAlgorithm="CRC32",
                ChecksumCRC32=_checksum(value))
        except (BotoCoreError, ClientError) as exc:
            raise _failure(f"upload part {number}", exc) from exc
        return S3StagedSegment(upload=upload, kind=Kind.PART, offset=offset, size=len(body),
                               number=number, etag=answer["ETag"], crc32=value)

    def put_tail(self, upload: S3StagedUpload, offset: int, body: bytearray) -> S3StagedSegment:
        value = crc32(body)
        try:
            self.client.put_object(Bucket=upload.bucket, Key=self._tail_key(upload.key, offset),
                                   Body=body, ChecksumAlgorithm="CRC32",
                                   ChecksumCRC32=_checksum(value))
        except (BotoCoreError, ClientError) as exc:
            raise _failure("store a tail", exc) from exc
        return S3StagedSegment(upload=upload, kind=Kind.TAIL, offset=offset, size=len(body),
                               crc32=value)

    def read_tails(self, upload: S3StagedUpload, tails: list[S3StagedSegment]) -> bytearray:
        joined = bytearray()
        for tail in tails:
            try:
                body = self.client.get_object(Bucket=upload.bucket,
                                              Key=self._tail_key(upload.key, tail.offset))["Body"]
                data = body.read()
            except (BotoCoreError, ClientError) as exc:
                raise _failure(f"read the tail at {tail.offset}", exc) from exc
            if len(data) != tail.size or crc32(data) != tail.crc32:
                raise StagingError(f"the tail at offset {tail.offset} is not what was stored")
            joined += data
        return joined

    def record(self, segments: list[S3StagedSegment]) -> None:
        S3StagedSegment.objects.using(self._alias).bulk_create(segments)

    def discard(self, upload: S3StagedUpload, segments: list[S3StagedSegment]) -> None:
        """Forget rows no longer part of the file, and remove their tail objects."""
        S3StagedSegment.objects.using(self._alias).filter(
            pk__in=[s.pk for s in segments if s.pk is not None]).delete()
        self.delete_objects([self._tail_key(upload.key, s.offset)
                             for s in segments if s.kind == Kind.TAIL])

    def discard_after_commit(self, upload: S3StagedUpload,
                             segments: list[S3StagedSegment]) -> None:
        connection = transaction.get_connection(self._alias)
        if connection.in_atomic_block:
            transaction.on_commit(lambda: self.discard(upload, segments), using=self._alias,
                                  robust=True)
        # Else the commit is still to come: the next append discards them.

    def delete_objects(self, keys: list[str]) -> None:
        for start in range(0, len(keys), 1000):  # DeleteObjects takes 1,000 at most
            batch = [{"Key": k} for k in keys[start:start + 1000]]
            try:
                self.client.delete_objects(Bucket=self.bucket,
                                           Delete={"Objects": batch, "Quiet": True})
            except (BotoCoreError, ClientError) as exc:
                raise _failure("delete tails", exc) from exc


def storage_key(storage: S3Storage, name: str) -> str:
    """The object key under which an S3Storage keeps ``name`` (as its ``_open`` names it)."""
    return storage._normalize_name(clean_name(name))


__all__ = ["S3StagedFile", "S3Staging", "part_size", "storage_key"]
