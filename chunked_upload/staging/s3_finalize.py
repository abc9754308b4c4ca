"""The S3 staging backend's whole-upload operations: hand-over, delete, listing.

Kept apart from :mod:`.s3`, which holds the per-chunk path.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError
from django.core.files import File
from django.core.files.storage import Storage
from django.db.models import Sum
from storages.backends.s3 import S3Storage

from ..conf import get_config
from ..documents import document_storage
from ..models import S3StagedSegment, S3StagedUpload, UploadHandler
from .base import StagingError
from .s3 import TAILS, S3StagedFile, StagedBytesMissing, _checksum, _failure, _missing, storage_key

if TYPE_CHECKING:
    from .s3 import S3Staging

Kind = S3StagedSegment.Kind


def hand_over(staging: S3Staging, key: str, storage: Storage, name: str) -> str:
    """CompleteMultipartUpload, then (only if needed) a copy inside the store."""
    upload = S3StagedUpload.objects.using(staging._alias).filter(pk=key).first()
    if upload is None:
        raise StagingError("staged bytes are missing")
    staged = S3StagedFile(staging, upload, list(upload.segments.all()))
    size = _committed_size(staging, key)
    # Rows past the committed size are an interrupted append's (an empty
    # handler may be finalized right after one): they go, and the rest must
    # cover the file in order.
    staged.truncate(staged.size if size is None else size)
    size = staged.size
    parts = list(staged._parts)
    client = staging.client
    try:
        if staged._tails or not parts:
            # The tails (less than a part) are the last part, which may be
            # short; an empty file is one empty part.
            data = staging.read_tails(upload, staged._tails) if staged._tails else bytearray()
            parts.append(staging.upload_part(upload, len(parts) + 1, size - len(data), data))
        client.complete_multipart_upload(
            Bucket=upload.bucket, Key=upload.object_key, UploadId=upload.upload_id,
            MultipartUpload={"Parts": [
                {"PartNumber": p.number, "ETag": p.etag, "ChecksumCRC32": _checksum(p.crc32)}
                for p in parts]})
    except StagedBytesMissing:
        _assembled_already(staging, upload, size)  # an earlier attempt completed it
    except (BotoCoreError, ClientError) as exc:
        if not (isinstance(exc, ClientError) and _missing(exc)):
            raise _failure("complete the upload", exc) from exc
        _assembled_already(staging, upload, size)
    return _deliver(staging, upload, storage, name)


def _committed_size(staging: S3Staging, key: str) -> int | None:
    """What the handler ``key`` has committed (None: no such handler row)."""
    try:
        handler_id = uuid.UUID(key)
    except ValueError:
        return None
    return (UploadHandler.objects.using(staging._alias).filter(pk=handler_id)
            .values_list("committed_size", flat=True).first())


def _assembled_already(staging: S3Staging, upload: S3StagedUpload, size: int) -> None:
    try:
        found = staging.client.head_object(Bucket=upload.bucket, Key=upload.object_key)
    except (BotoCoreError, ClientError) as exc:
        raise _failure("find the assembled upload", exc) from exc
    if found["ContentLength"] != size:
        raise StagingError("staged bytes are missing")


def _deliver(staging: S3Staging, upload: S3StagedUpload, storage: Storage, name: str) -> str:
    """Put the assembled object where ``storage`` keeps ``name``; never through this host."""
    if isinstance(storage, S3Storage) and storage.endpoint_url == staging.endpoint_url:
        target = storage_key(storage, name)
        if storage.bucket_name == upload.bucket and target == upload.object_key:
            return name  # assembled in place: the version itself
        try:
            # Managed copy: CopyObject, or UploadPartCopy parts past 5 GiB.
            staging.client.copy({"Bucket": upload.bucket, "Key": upload.object_key},
                                storage.bucket_name, target)
        except (BotoCoreError, ClientError) as exc:
            raise _failure("copy the assembled upload", exc) from exc
        return name
    # Another store: the bytes must pass through (see docs/scale-out.md).
    body = staging.client.get_object(Bucket=upload.bucket, Key=upload.object_key)["Body"]
    try:
        if storage.exists(name):  # left by an interrupted earlier attempt
            storage.delete(name)
        return storage.save(name, File(body, name=name))
    finally:
        body.close()


def delete(staging: S3Staging, key: str) -> int:
    """Abort the upload, remove the tails (and an assembled staging copy), forget the rows."""
    upload = S3StagedUpload.objects.using(staging._alias).filter(pk=key).first()
    client = staging.client
    size = 0
    targets = {staging._staging_key(key)}
    if upload is not None:
        size = upload.segments.aggregate(n=Sum("size"))["n"] or 0
        targets.add(upload.object_key)
        _abort(client, upload.bucket, upload.object_key, upload.upload_id)
    elif document_key := staging._document_key(key):
        targets.add(document_key)
    # Uploads without a row: started by a handler whose creation rolled back.
    for target in targets:
        for found in _uploads(client, staging.bucket, target):
            if found["Key"] == target:
                _abort(client, staging.bucket, target, found["UploadId"])
    tails = [item["Key"] for item in _objects(client, staging.bucket, staging._tails_prefix(key))]
    # An assembled copy under the staging prefix (never a document's own key).
    staging.delete_objects([*tails, staging._staging_key(key)])
    if upload is not None:
        upload.delete()
    return size


def _abort(client: Any, bucket: str, key: str, upload_id: str) -> None:
    try:
        client.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
    except ClientError as exc:
        if not _missing(exc):
            raise _failure("abort the upload", exc) from exc
    except BotoCoreError as exc:
        raise _failure("abort the upload", exc) from exc


def _uploads(client: Any, bucket: str, prefix: str) -> Iterator[dict[str, Any]]:
    return _listing(client, "list_multipart_uploads", "Uploads", bucket, prefix)


def _objects(client: Any, bucket: str, prefix: str) -> Iterator[dict[str, Any]]:
    return _listing(client, "list_objects_v2", "Contents", bucket, prefix)


def _listing(client: Any, operation: str, field: str, bucket: str,
             prefix: str) -> Iterator[dict[str, Any]]:
    try:
        for page in client.get_paginator(operation).paginate(Bucket=bucket, Prefix=prefix):
            yield from page.get(field, [])
    except (BotoCoreError, ClientError) as exc:
        raise _failure(f"list {prefix}", exc) from exc


def keys(staging: S3Staging) -> Iterator[tuple[str, int]]:
    """Every key with a row, an in-progress upload or objects under the staging prefix."""
    seen: set[str] = set()
    rows = S3StagedUpload.objects.using(staging._alias).annotate(n=Sum("segments__size"))
    for key, size in rows.values_list("key", "n").iterator():
        seen.add(key)
        yield key, size or 0
    client, prefix = staging.client, staging.prefix
    found: list[tuple[str, Any]] = []
    for upload in _uploads(client, staging.bucket, f"{prefix}/"):
        found.append((upload["Key"][len(prefix) + 1:], upload["Initiated"]))
    storage = document_storage()
    if staging.in_place and staging._same_bucket(storage):
        versions = storage_key(storage, get_config()["DOCUMENT_STORAGE_PREFIX"])
        for upload in _uploads(client, staging.bucket, f"{versions}/"):
            found.append((_handler_key(upload["Key"]), upload["Initiated"]))
    # Every object, not folders: a filer-backed store lists emptied folders.
    for item in _objects(client, staging.bucket, f"{prefix}/"):
        name = item["Key"][len(prefix) + 1:].split("/", 1)[0].removesuffix(TAILS)
        found.append((name, item.get("LastModified")))
    for key, when in found:
        if key and "/" not in key and key not in seen:
            seen.add(key)
            if when is not None:
                staging._seen[key] = when
            yield key, 0


def _handler_key(object_key: str) -> str:
    """The handler key of a document key (its last part is the handler id in hex)."""
    try:
        return str(uuid.UUID(object_key.rsplit("/", 1)[-1]))
    except ValueError:
        return ""
