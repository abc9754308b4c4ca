"""Bookkeeping of the S3 staging backend (:mod:`chunked_upload.staging.s3`).

A handler staged on S3 is one multipart upload plus, for the bytes not yet
filling a part, small "tail" objects. The store cannot be asked which parts
belong to the file (SeaweedFS lists a re-uploaded part twice; S3 keeps the
last one, which may be a crash's leftover), so every part and tail object
is recorded here when its chunk is accepted, in the chunk's transaction.
Rows are keyed by the staging key, not tied to the handler row: a deleted
handler's upload must still be found to be aborted.
"""

from __future__ import annotations

from django.db import models


class S3StagedUpload(models.Model):
    """The multipart upload holding one handler's staged bytes."""

    key = models.CharField(primary_key=True, max_length=64)
    bucket = models.CharField(max_length=255)
    # Where CompleteMultipartUpload puts the file: the document's own key when
    # documents live in the same bucket (no copy at finalize), else a staging key.
    object_key = models.CharField(max_length=1024)
    upload_id = models.CharField(max_length=1024)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"S3 upload of {self.key}"


class S3StagedSegment(models.Model):
    """An accepted range of the file: a multipart part, or a tail object."""

    class Kind(models.TextChoices):
        PART = "part", "part"
        TAIL = "tail", "tail"

    upload = models.ForeignKey(S3StagedUpload, on_delete=models.CASCADE, related_name="segments")
    kind = models.CharField(max_length=4, choices=Kind.choices)
    offset = models.BigIntegerField()
    size = models.BigIntegerField()
    number = models.PositiveIntegerField(null=True, blank=True)  # parts: the part number
    etag = models.CharField(max_length=255, blank=True)
    crc32 = models.BigIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["upload", "kind", "offset"]
        constraints = [
            models.UniqueConstraint(fields=["upload", "kind", "offset"],
                                    name="s3_segment_unique_offset"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.offset}+{self.size} of {self.upload_id}"

    @property
    def end(self) -> int:
        return self.offset + self.size
