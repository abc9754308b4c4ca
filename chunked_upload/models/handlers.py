"""Upload handlers with their chunk ledger, and download handlers."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q

from ..conf import get_config


@dataclass(frozen=True)
class Lifetimes:
    """How long upload handlers live, in seconds.

    The one statement of the lifetime rule is :meth:`UploadHandler.due_at`
    (for a row in hand) and :meth:`UploadHandlerQuerySet.due` (as a filter);
    the engine, the expiry sweep and the admin all ask them.
    """

    idle_timeout: int
    max_age: int
    finalized_retention: int

    @classmethod
    def from_config(cls, idle_timeout: int | None = None, max_age: int | None = None
                    ) -> Lifetimes:
        """The configured lifetimes, with these overrides (the expiry command's options)."""
        config = get_config()
        return cls(
            idle_timeout=config["HANDLER_IDLE_TIMEOUT"] if idle_timeout is None else idle_timeout,
            max_age=config["HANDLER_MAX_AGE"] if max_age is None else max_age,
            finalized_retention=config["FINALIZED_RETENTION"],
        )

    def cutoffs(self, now: datetime) -> tuple[datetime, datetime]:
        """``(idle_since, born_since)``: a live handler is past its lifetime at
        ``now`` once its last activity is at or before the first, or its
        creation at or before the second."""
        return (now - timedelta(seconds=self.idle_timeout),
                now - timedelta(seconds=self.max_age))


#: What a handler's row is due for: "expire" (a live handler past its
#: lifetime) or "retire" (the record of one expired, or finalized longer ago
#: than the retention time, is dropped).
EXPIRE, RETIRE = "expire", "retire"


class UploadHandlerQuerySet(models.QuerySet):
    """Upload handlers, with the lifetime rule as filters."""

    def live(self) -> UploadHandlerQuerySet:
        """Open or complete: bytes staged, a finalize still possible."""
        return self.filter(state__in=UploadHandler.LIVE_STATES)

    def within_lifetime(self, lifetimes: Lifetimes, now: datetime) -> UploadHandlerQuerySet:
        """Live handlers not past their idle timeout or maximum age."""
        idle_since, born_since = lifetimes.cutoffs(now)
        return self.live().filter(last_activity_at__gt=idle_since, created_at__gt=born_since)

    def overdue(self, lifetimes: Lifetimes, now: datetime) -> UploadHandlerQuerySet:
        """Live handlers past their idle timeout or maximum age."""
        return self.filter(_overdue(lifetimes, now))

    def retired(self, lifetimes: Lifetimes, now: datetime) -> UploadHandlerQuerySet:
        """Records to drop: expired, or finalized longer ago than the retention."""
        return self.filter(_retired(lifetimes, now))

    def due(self, lifetimes: Lifetimes, now: datetime) -> UploadHandlerQuerySet:
        """Everything the next expiry run removes: :meth:`overdue` and :meth:`retired`."""
        return self.filter(_overdue(lifetimes, now) | _retired(lifetimes, now))


# The filters say what UploadHandler.due_at() says, in SQL; a test holds them
# to the same answers over a grid of ages (tests/test_rules_once.py).
def _overdue(lifetimes: Lifetimes, now: datetime) -> Q:
    idle_since, born_since = lifetimes.cutoffs(now)
    return Q(state__in=UploadHandler.LIVE_STATES) & (
        Q(last_activity_at__lte=idle_since) | Q(created_at__lte=born_since)
    )


def _retired(lifetimes: Lifetimes, now: datetime) -> Q:
    return Q(state=UploadHandler.State.EXPIRED) | Q(
        state=UploadHandler.State.FINALIZED,
        finalized_at__lte=now - timedelta(seconds=lifetimes.finalized_retention),
    )


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

    objects = UploadHandlerQuerySet.as_manager()

    #: The states in which a handler holds staged bytes and may still finalize.
    LIVE_STATES = (State.OPEN, State.COMPLETE)
    #: The fields :meth:`verdict_of` reads, in its order.
    LIFETIME_FIELDS = ("state", "last_activity_at", "created_at", "finalized_at")

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["state", "last_activity_at"])]

    def __str__(self) -> str:
        return str(self.id)

    @property
    def is_live(self) -> bool:
        return self.state in self.LIVE_STATES

    def due_at(self, lifetimes: Lifetimes) -> datetime | None:
        """When this row is due: a live handler expires then (idle timeout or
        maximum age, the earlier); a finalized one's record goes (it answers
        replays until then). None for an expired handler: its record is due now."""
        return _due_at(lifetimes, *(getattr(self, f) for f in self.LIFETIME_FIELDS))

    def verdict(self, lifetimes: Lifetimes, now: datetime) -> str | None:
        """:data:`EXPIRE`, :data:`RETIRE` or None (keep), as of ``now``."""
        return self.verdict_of(tuple(getattr(self, f) for f in self.LIFETIME_FIELDS),
                               lifetimes, now)

    @classmethod
    def verdict_of(cls, row: tuple, lifetimes: Lifetimes, now: datetime) -> str | None:
        """:meth:`verdict` for a row of :data:`LIFETIME_FIELDS` (the sweep reads
        values, not instances, a page at a time)."""
        state = row[0]
        if state == cls.State.EXPIRED:
            return RETIRE
        deadline = _due_at(lifetimes, *row)
        if deadline is None or deadline > now:
            return None
        return EXPIRE if state in cls.LIVE_STATES else RETIRE


def _due_at(lifetimes: Lifetimes, state: str, last_activity_at: datetime,
            created_at: datetime, finalized_at: datetime | None) -> datetime | None:
    if state in UploadHandler.LIVE_STATES:
        return min(last_activity_at + timedelta(seconds=lifetimes.idle_timeout),
                   created_at + timedelta(seconds=lifetimes.max_age))
    if state == UploadHandler.State.FINALIZED and finalized_at is not None:
        return finalized_at + timedelta(seconds=lifetimes.finalized_retention)
    return None


class Chunk(models.Model):
    """The ledger: one row per accepted chunk, in order."""

    # No index of its own: the unique (handler, index) index serves every
    # lookup by handler, and one index fewer is one page fewer written per chunk.
    handler = models.ForeignKey(UploadHandler, on_delete=models.CASCADE, related_name="chunks",
                                db_index=False)
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


class DownloadHandlerQuerySet(models.QuerySet):
    """Download handlers, with their lifetime (:meth:`DownloadHandler.is_live`) as filters."""

    def live(self, now: datetime) -> DownloadHandlerQuerySet:
        return self.filter(expires_at__gt=now)

    def expired(self, now: datetime) -> DownloadHandlerQuerySet:
        return self.filter(expires_at__lte=now)


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

    objects = DownloadHandlerQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return str(self.id)

    def is_live(self, now: datetime) -> bool:
        """Until ``expires_at`` (DOWNLOAD_HANDLER_LIFETIME after it was opened)."""
        return self.expires_at > now
