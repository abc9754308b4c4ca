"""Quotas: what one user may hold open, and how much the staging area holds.

Every rule answers ``Limit exceeded: …`` (4130) before the work it guards:
a handler is refused before its row exists, a chunk before its bytes are
written. Each limit is a ``CHUNKED_UPLOAD`` key; ``None`` turns it off.

- ``MAX_OPEN_UPLOADS_PER_USER``: live (open or complete) upload handlers of a user;
- ``MAX_STAGED_BYTES_PER_USER``: committed bytes in a user's live handlers;
- ``MAX_STAGED_BYTES``: committed bytes in all open or complete handlers (timed
  out or not: their bytes are on the disk until the sweep);
- ``MAX_CHUNKS_PER_HANDLER``: ledger rows of one handler;
- ``MAX_EMPTY_CHUNKS_PER_HANDLER``: zero-length chunks of one handler (rows, no bytes);
- ``MAX_DOWNLOADS_PER_USER``: unexpired download handlers of a user.

Counting and creating are not one atomic step, so concurrent requests of one
user may overshoot a count by their number; the quotas bound what a client
can hold, they are not an exact ledger. Staged bytes are summed from the
database at most once per ``STAGED_REFRESH`` seconds per process (and key),
and each accepted chunk is added to that figure meanwhile: an accepted chunk
costs no extra statement, and a user spreading uploads over several server
processes may overshoot by what the others accept within that time.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from django.core.signals import setting_changed
from django.db.models import Sum
from django.utils import timezone

from ..conf import get_config
from ..exceptions import LimitExceeded
from ..models import DownloadHandler, UploadHandler
from ..models.handlers import Lifetimes

#: Seconds a staged-bytes sum is used before it is read from the database again.
STAGED_REFRESH = 5.0


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
    live = DownloadHandler.objects.filter(owner_id=user_id).live(timezone.now())
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
        held = _STAGED.get(handler.owner_id)
        room = _tighter(room, Room(max(per_user - held, 0), "staged bytes per user"))
    total = config["MAX_STAGED_BYTES"]
    if total is not None:
        room = _tighter(room, Room(max(total - _STAGED.get(None), 0), "staged bytes"))
    return room


def check_chunk(handler: UploadHandler, length: int) -> None:
    """Before a chunk is recorded: zero-length chunks are rows without bytes, so few.

    A chunk that passes is counted in the staged sums at once (should its
    transaction fail after all, the sums are a little high until re-read).
    """
    if length:
        _STAGED.add(handler.owner_id, length)
        return
    most = get_config()["MAX_EMPTY_CHUNKS_PER_HANDLER"]
    if most is not None and handler.chunks.filter(length=0).count() >= most:
        raise LimitExceeded("empty chunks")


def _live_uploads(user_id: int):
    """The user's handlers that hold staging space and have not timed out."""
    return UploadHandler.objects.filter(owner_id=user_id).within_lifetime(
        Lifetimes.from_config(), timezone.now())


def _sum(handlers) -> int:
    return handlers.aggregate(n=Sum("committed_size"))["n"] or 0


def _tighter(a: Room, b: Room) -> Room:
    if a.bytes is None:
        return b
    return a if b.bytes is None or a.bytes <= b.bytes else b


class _StagedSums:
    """Staged bytes per user (key: user id) and in all (key: None), read at most
    every STAGED_REFRESH seconds and advanced by the chunks accepted here."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sums: dict[int | None, tuple[int, float]] = {}

    def get(self, user_id: int | None) -> int:
        with self._lock:
            cached = self._sums.get(user_id)
        if cached is not None and time.monotonic() - cached[1] < STAGED_REFRESH:
            return cached[0]
        read_at = time.monotonic()
        if user_id is None:
            value = _sum(UploadHandler.objects.live())
        else:  # timed-out handlers do not count against their user: the sweep frees them
            value = _sum(_live_uploads(user_id))
        with self._lock:
            if len(self._sums) > 10_000:  # users come and go: forget the idle ones
                self._sums.clear()
            self._sums[user_id] = (value, read_at)
        return value

    def add(self, user_id: int, length: int) -> None:
        with self._lock:
            for key in (user_id, None):
                if key in self._sums:
                    value, read_at = self._sums[key]
                    self._sums[key] = (value + length, read_at)

    def forget(self) -> None:
        with self._lock:
            self._sums.clear()


_STAGED = _StagedSums()


def forget_staged_sums() -> None:
    """Read the staged sums afresh on the next chunk (after bulk changes, in tests)."""
    _STAGED.forget()


def _forget_sums(*, setting: str, **kwargs: object) -> None:
    if setting == "CHUNKED_UPLOAD":
        forget_staged_sums()


setting_changed.connect(_forget_sums)
