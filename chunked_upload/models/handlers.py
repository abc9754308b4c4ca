"""Upload handlers with their chunk ledger, and download handlers."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models


class UploadHandler(models.Model):
    """One file being uploaded in chunks.

    ``committed_size`` is the offset clients see: every staged byte below it
    was acknowledged; bytes beyond it are leftovers of an interrupted append
    and are cut off by the next request that leases the handler.
    """

    class State(models.TextChoices):
        OPEN = "open", "open"
        COMPLETE = "complete", "complete"
        FINALIZED = "finalized", "finalized"
        EXPIRED = "expired", "expired"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="upload_handlers"
    )
    ticket = models.ForeignKey(
        "chunked_upload.Ticket", on_delete=models.SET_NULL, null=True, blank=True,
        related_name="upload_handlers",
    )
    state = models.CharField(max_length=10, choices=State.choices, default=State.OPEN)
    chunk_size = models.PositiveIntegerField()
    committed_size = models.BigIntegerField(default=0)
    chunk_count = models.PositiveIntegerField(default=0)
    crc32 = models.BigIntegerField(default=0)
    sha256_state = models.BinaryField(default=b"", editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_activity_at = models.DateTimeField(db_index=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    finalized_at = models.DateTimeField(null=True, blank=True)
    # The lease of the request that has the staged bytes (engine/leases.py):
    # the generation fences out every earlier holder; the expiry lets another
    # request take the handler over from one that stalled or vanished.
    lease_generation = models.BigIntegerField(default=0, editable=False)
    lease_expires_at = models.DateTimeField(null=True, blank=True, editable=False)
    # What a finalize produced, so that repeating it answers the same ids.
    destination = models.CharField(max_length=4200, blank=True, editable=False)
    version = models.ForeignKey(
        "chunked_upload.DocumentVersion", on_delete=models.SET_NULL, null=True, blank=True,
        related_name="+",
    )

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["state", "last_activity_at"])]

    def __str__(self) -> str:
        return str(self.id)


class Chunk(models.Model):
    """The ledger: one row per accepted chunk, in order."""

    handler = models.ForeignKey(UploadHandler, on_delete=models.CASCADE, related_name="chunks")
    index = models.PositiveIntegerField()
    offset = models.BigIntegerField()
    length = models.PositiveIntegerField()
    crc32 = models.BigIntegerField()
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["handler", "index"]
        constraints = [
            models.UniqueConstraint(fields=["handler", "index"], name="chunk_unique_index"),
        ]

    def __str__(self) -> str:
        return f"chunk {self.index} of {self.handler_id}"


class DownloadHandler(models.Model):
    """A document version opened for reading in chunks."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="download_handlers"
    )
    ticket = models.ForeignKey(
        "chunked_upload.Ticket", on_delete=models.SET_NULL, null=True, blank=True,
        related_name="download_handlers",
    )
    version = models.ForeignKey(
        "chunked_upload.DocumentVersion", on_delete=models.CASCADE, related_name="download_handlers"
    )
    chunk_size = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return str(self.id)
