"""Demo sites whose documents and staging are on S3 (SeaweedFS): what tests look at.

A site given an :class:`S3Place` keeps nothing of an upload on its own disk;
the helpers of :class:`~tests.integrity.site.DemoSite` that look at staged
and stored bytes then look in the bucket and in the staging rows instead.
"""

from __future__ import annotations

import hashlib
import os
import uuid
import zlib
from dataclasses import dataclass, field
from typing import Any

from tests.s3server import S3Server

PART_SIZE = 5 << 20  # the smallest S3 allows: small test files still span parts
STAGING_PREFIX = "chunked_upload/staging"
VERSIONS_PREFIX = "chunked_upload/versions"


def s3_mode() -> bool:
    """Does this run put the integrity suite's sites on S3 (``INTEGRITY_STAGING=s3``)?"""
    return os.environ.get("INTEGRITY_STAGING", "local") == "s3"


@dataclass
class S3Place:
    """A bucket on the test S3 server holding a site's documents and staging."""

    server: S3Server
    bucket: str = field(default_factory=lambda: f"site-{uuid.uuid4().hex[:12]}")

    def __post_init__(self) -> None:
        self.server.create_bucket(self.bucket)
        self.client = self.server.client()

    def env(self) -> dict[str, str]:
        return {"DOCUMENTS_S3_BUCKET": self.bucket,
                "DOCUMENTS_S3_ENDPOINT_URL": self.server.endpoint_url,
                "DOCUMENTS_S3_ACCESS_KEY": self.server.access_key,
                "DOCUMENTS_S3_SECRET_KEY": self.server.secret_key,
                "STAGING_S3_PART_SIZE": str(PART_SIZE)}

    # The store ---------------------------------------------------------------
    def uploads(self) -> list[dict[str, Any]]:
        """Multipart uploads in progress."""
        return self.client.list_multipart_uploads(Bucket=self.bucket).get("Uploads", [])

    def objects(self, prefix: str) -> list[str]:
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=prefix)
        return [item["Key"] for page in pages for item in page.get("Contents", [])]

    def leftovers(self) -> list[str]:
        """What staging may leave behind: uploads, parts, tails (nothing, when clean)."""
        return [f"upload {u['Key']}" for u in self.uploads()] + self.objects(STAGING_PREFIX)

    def stored_files(self) -> dict[str, str]:
        """Every document object with its SHA-256."""
        return {key: hashlib.sha256(self.client.get_object(
                    Bucket=self.bucket, Key=key)["Body"].read()).hexdigest()
                for key in self.objects(VERSIONS_PREFIX)}

    def listed_parts(self, object_key: str, upload_id: str) -> dict[int, int]:
        """Part number -> size, as the store lists the parts of an upload."""
        answer = self.client.list_parts(Bucket=self.bucket, Key=object_key, UploadId=upload_id)
        return {part["PartNumber"]: part["Size"] for part in answer.get("Parts", [])}

    # The staging rows ----------------------------------------------------------
    def staged_files(self, database) -> dict[str, int]:
        """Every staged handler (by key) with the extent of its recorded bytes."""
        rows = database.query(
            "SELECT u.key, COALESCE(MAX(s.offset + s.size), 0) FROM chunked_upload_s3stagedupload u"
            " LEFT JOIN chunked_upload_s3stagedsegment s ON s.upload_id = u.key GROUP BY u.key")
        return dict(rows)

    def assert_owned(self, database, live: set[str]) -> None:
        """Every upload and tail in the store belongs to a live handler."""
        recorded = dict(database.query(
            "SELECT upload_id, key FROM chunked_upload_s3stagedupload"))
        for upload in self.uploads():
            owner = recorded.get(upload["UploadId"])
            assert owner and database.handler_key(owner) in live, f"an orphan upload: {upload}"
        for key in self.objects(STAGING_PREFIX):
            owner = key[len(STAGING_PREFIX) + 1:].split("/", 1)[0].removesuffix(".tails")
            assert database.handler_key(owner) in live, f"an orphan staging object: {key}"

    def staged(self, database, handler: str) -> StagedOnS3:
        return StagedOnS3(self, database, str(uuid.UUID(str(handler))))


class StagedOnS3:
    """A handler's staged bytes on S3, answering what tests ask of a staged file.

    The parts of an upload in progress cannot be read back, so the content is
    compared by length and CRC-32: the store checked each part's CRC when it
    took it, and these are the CRCs recorded for them.
    """

    def __init__(self, place: S3Place, database, key: str) -> None:
        self.place, self.database, self.key = place, database, key

    def _upload(self) -> tuple[str, str] | None:
        rows = self.database.query("SELECT object_key, upload_id FROM "
                                   "chunked_upload_s3stagedupload WHERE key = %s", (self.key,))
        return rows[0] if rows else None

    def _segments(self) -> list[tuple[str, int, int, int]]:
        return self.database.query(
            "SELECT kind, s.offset, size, crc32 FROM chunked_upload_s3stagedsegment s "
            "WHERE upload_id = %s ORDER BY s.offset, kind", (self.key,))

    def exists(self) -> bool:
        return self._upload() is not None

    def stat(self) -> os.stat_result:
        """Only ``st_size``: recorded bytes, or more if the store took parts or tails
        beyond them (the rows of a chunk are visible only once it commits)."""
        upload = self._upload()
        if upload is None:
            raise FileNotFoundError(self.key)
        parts = [s for s in self._segments() if s[0] == "part"]
        size = max((s[1] + s[2] for s in self._segments()), default=0)
        listed = self.place.listed_parts(*upload)
        size = max(size, sum(parts_size for number, parts_size in listed.items()
                             if number > len(parts)) + sum(p[2] for p in parts))
        tails = self.place.client.list_objects_v2(
            Bucket=self.place.bucket, Prefix=f"{STAGING_PREFIX}/{self.key}.tails/")
        for item in tails.get("Contents", []):
            size = max(size, int(item["Key"].rsplit("/", 1)[1]) + item["Size"])
        return os.stat_result((0, 0, 0, 0, 0, 0, size, 0, 0, 0))

    def read_bytes(self) -> SameBytes:
        value, size, end = 0, 0, 0
        parts_end = max((s[1] + s[2] for s in self._segments() if s[0] == "part"), default=0)
        for kind, offset, length, crc in self._segments():
            if (kind == "tail" and offset < parts_end) or offset != end:
                continue  # a tail read into a part already
            value = _combine(value, crc, length)
            size, end = size + length, offset + length
        return SameBytes(size, value)


class SameBytes:
    """Equal to the bytes of that length and CRC-32."""

    def __init__(self, size: int, crc: int) -> None:
        self.size, self.crc = size, crc

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, bytes | bytearray) and len(other) == self.size
                and zlib.crc32(other) == self.crc)

    def __repr__(self) -> str:
        return f"<staged bytes: {self.size} with CRC-32 {self.crc:08X}>"


def _combine(crc1: int, crc2: int, length2: int) -> int:
    """crc32(A + B) from crc32(A), crc32(B) and len(B): zlib's crc32_combine, written
    here independently of the app's own."""
    def times(matrix: list[int], vector: int) -> int:
        total, index = 0, 0
        while vector:
            if vector & 1:
                total ^= matrix[index]
            vector >>= 1
            index += 1
        return total

    def square(matrix: list[int]) -> list[int]:
        return [times(matrix, matrix[n]) for n in range(32)]

    if length2 == 0:
        return crc1
    odd = [0xEDB88320] + [1 << n for n in range(31)]
    even = square(odd)
    odd = square(even)
    while True:
        even = square(odd)
        if length2 & 1:
            crc1 = times(even, crc1)
        length2 >>= 1
        if not length2:
            break
        odd = square(even)
        if length2 & 1:
            crc1 = times(odd, crc1)
        length2 >>= 1
        if not length2:
            break
    return crc1 ^ crc2
