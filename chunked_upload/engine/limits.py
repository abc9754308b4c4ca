"""Quotas: what one user may hold open, and how much the staging area holds.

Every rule answers ``Limit exceeded: …`` (4130) before the work it guards:
a handler is refused before its row exists, a chunk before its bytes are
written. Each limit is a ``CHUNKED_UPLOAD`` key; ``None`` turns it off.

- ``MAX_OPEN_UPLOADS_PER_USER``: live (open or complete) upload handlers of a user;
- ``MAX_STAGED_BYTES_PER_USER``: committed bytes in a user's open or complete handlers;
- ``MAX_STAGED_BYTES``: committed bytes in all open or complete handlers;
- ``MAX_CHUNKS_PER_HANDLER``: ledger rows of one handler;
- ``MAX_EMPTY_CHUNKS_PER_HANDLER``: zero-length chunks of one handler (rows, no bytes);
- ``MAX_DOWNLOADS_PER_USER``: unexpired download handlers of a user.

Counting and creating are not one atomic step, so concurrent requests of one
user may overshoot a count by their number; the quotas bound what a client
can hold, they are not an exact ledger. The all-users total is read at most
once per ``TOTAL_REFRESH`` seconds per process, so it may be overshot by
what arrives meanwhile.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import timedelta

from django.core.signals import setting_changed
from django.db.models import Sum
from django.utils import timezone

from ..conf import get_config
from ..exceptions import LimitExceeded
from ..models import DownloadHandler, UploadHandler

State = UploadHandler.State
#: Handlers whose staged bytes are still on the staging disk.
HOLDING = (State.OPEN, State.COMPLETE)
#: Seconds the all-users staged total may be stale.
TOTAL_REFRESH = 2.0


def check_new_upload(user_id: int) -> None:
    """CreateUploadHandler: refuse a handler over the user's open-handler limit."""
    limit = get_config()["MAX_OPEN_UPLOADS_PER_USER"]
    if limit is not None and _live_uploads(user_id).count() >= limit:
        raise LimitExceeded("open upload handlers")


def check_new_download(user_id: int) -> None:
    """GetDownloadHandler: refuse a handler over the user's download-handler limit."""
    limit = get_config()["MAX_DOWNLOADS_PER_USER"]
    if limit is None:
        return
    live = DownloadHandler.objects.filter(owner_id=user_id, expires_at__gt=timezone.now())
    if live.count() >= limit:
        raise LimitExceeded("download handlers")


@dataclass(frozen=True)
class Room:
    """How many bytes the next chunk of a handler may bring, and which limit says so."""

    bytes: int | None
    what: str = ""

    def check(self, length: int) -> None:
        """Raise when ``length`` bytes do not fit."""
        if not self.fits(length):
            raise self.error()

    def fits(self, length: int) -> bool:
        return self.bytes is None or length <= self.bytes

    def error(self) -> LimitExceeded:
        return LimitExceeded(self.what)


def chunk_room(handler: UploadHandler) -> Room:
    """Before a chunk's bytes are read: refuse one chunk too many, else the room left.

    Called with the handler locked (or leased), for an open handler.
    """
    config = get_config()
    most = config["MAX_CHUNKS_PER_HANDLER"]
    if most is not None and handler.chunk_count >= most:
        raise LimitExceeded("chunks per handler")
    room = Room(None)
    per_user = config["MAX_STAGED_BYTES_PER_USER"]
    if per_user is not None:
        held = _sum(UploadHandler.objects.filter(owner_id=handler.owner_id, state__in=HOLDING))
        room = _tighter(room, Room(max(per_user - held, 0), "staged bytes per user"))
    total = config["MAX_STAGED_BYTES"]
    if total is not None:
        room = _tighter(room, Room(max(total - _TOTAL.get(), 0), "staged bytes"))
    return room


def check_chunk(handler: UploadHandler, length: int) -> None:
    """Before a chunk is recorded: zero-length chunks are rows without bytes, so few."""
    most = get_config()["MAX_EMPTY_CHUNKS_PER_HANDLER"]
    if length or most is None:
        return
    if handler.chunks.filter(length=0).count() >= most:
        raise LimitExceeded("empty chunks")


def _live_uploads(user_id: int):
    """The user's handlers that hold staging space and have not timed out."""
    config = get_config()
    now = timezone.now()
    return UploadHandler.objects.filter(
        owner_id=user_id, state__in=HOLDING,
        last_activity_at__gt=now - timedelta(seconds=config["HANDLER_IDLE_TIMEOUT"]),
        created_at__gt=now - timedelta(seconds=config["HANDLER_MAX_AGE"]),
    )


def _sum(handlers) -> int:
    return handlers.aggregate(n=Sum("committed_size"))["n"] or 0


def _tighter(a: Room, b: Room) -> Room:
    if a.bytes is None:
        return b
    return a if b.bytes is None or a.bytes <= b.bytes else b


class _StagedTotal:
    """The all-users staged total, re-read at most every TOTAL_REFRESH seconds."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._value = 0
        self._read_at = float("-inf")

    def get(self) -> int:
        with self._lock:
            if time.monotonic() - self._read_at >= TOTAL_REFRESH:
                self._value = _sum(UploadHandler.objects.filter(state__in=HOLDING))
                self._read_at = time.monotonic()
            return self._value

    def forget(self) -> None:
        """Re-read on the next call (tests change the handlers under it)."""
        with self._lock:
            self._read_at = float("-inf")


_TOTAL = _StagedTotal()


def forget_staged_total() -> None:
    """Read the all-users total afresh on the next chunk (after bulk changes, in tests)."""
    _TOTAL.forget()


def _forget_total(*, setting: str, **kwargs: object) -> None:
    if setting == "CHUNKED_UPLOAD":
        forget_staged_total()


setting_changed.connect(_forget_total)
