"""The interface between the upload engine and wherever staged bytes live.

The engine holds no database lock while a chunk's bytes arrive: it holds a
*lease* on the handler (see :mod:`chunked_upload.engine.leases`), recorded in
the database with a generation number that grows with every lease. It passes
that generation to :meth:`StagingBackend.open` as the ``fence``, and a backend
must honour it: once a key has been opened with a fence, every change
(``truncate``, ``write``) through a file opened with a lower fence raises
:class:`StagingFenced` and changes nothing, and opening with a lower fence
than the highest seen raises it too. That is what guarantees that a request
whose lease was taken over (it stalled past the lease timeout, yet its worker
still runs) can never write into bytes that another request commits. The
engine checks the generation again in the transaction that commits, so a
backend need not fence ``sync`` or reads.

Interface changes in this version (for backend authors): ``open`` takes
``fence``; :class:`StagingFenced` is new; a :class:`StagedFile` no longer
implies a lock held while it is open (the local backend locks per write);
``open_read`` is gone (nothing read staged bytes through it).
"""

from __future__ import annotations

import abc
from collections.abc import Iterator
from datetime import datetime

from django.core.files.storage import Storage

from ..exceptions import ChunkedUploadError


class StagingError(ChunkedUploadError):
    """The staging area failed (disk full, I/O error, bytes missing)."""

    def __init__(self, message: str, errno: int | None = None) -> None:
        super().__init__(message)
        #: The operating system's error number, when there is one.
        self.errno = errno


class StagingFenced(StagingError):
    """A newer lease holder has opened the key: this file may change nothing more."""


class StagedFile(abc.ABC):
    """The open staged bytes of one handler, as one lease holder sees them."""

    @property
    @abc.abstractmethod
    def size(self) -> int:
        """Bytes currently staged (may exceed the committed size after a crash)."""

    @abc.abstractmethod
    def truncate(self, size: int) -> None:
        """Cut the staged bytes back to ``size`` and position writes there."""

    @abc.abstractmethod
    def write(self, data: bytes | memoryview) -> None:
        """Append ``data`` at the current position."""

    def start_sync(self) -> None:
        """Start making what was written durable, without waiting (a hint).

        The engine calls it once a chunk's last byte is written and then does
        its database work before :meth:`sync`, so the disk writes meanwhile.
        A backend without such a hint leaves everything to :meth:`sync`.
        """
        return

    @abc.abstractmethod
    def sync(self) -> None:
        """Make everything written so far durable."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release the file."""

    def __enter__(self) -> StagedFile:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class StagingBackend(abc.ABC):
    """Where upload handlers keep their bytes; one key per handler."""

    @abc.abstractmethod
    def open(self, key: str, *, create: bool, fence: int | None = None) -> StagedFile | None:
        """Open the staged bytes of ``key``; None if absent and not ``create``.

        With ``fence`` (the caller's lease generation), the caller becomes the
        key's writer: raises :class:`StagingFenced` if the key was opened with
        a higher fence, and from now on refuses changes through files opened
        with a lower one. Without it (creating a key), nothing is fenced.
        """

    @abc.abstractmethod
    def delete(self, key: str) -> int:
        """Remove the staged bytes of ``key``; return how many there were."""

    @abc.abstractmethod
    def hand_over(self, key: str, storage: Storage, name: str) -> str:
        """Put the staged bytes into ``storage`` as ``name``; return the stored name.

        The staged bytes stay in place until :meth:`delete`, so a failed
        finalize can be retried. Calling it again for the same key and name
        (after a crash) must succeed and give the same content.
        """

    def discard_hand_over(self, key: str, storage: Storage, name: str) -> None:
        """Undo :meth:`hand_over` for a finalize that failed after it.

        By default the stored copy is deleted: the staged bytes are still in
        place for a retry. A backend whose hand-over turned the staged bytes
        into the stored object itself (no copy) keeps that object instead, and
        its next :meth:`hand_over` for the same key finds it there.
        """
        storage.delete(name)

    @abc.abstractmethod
    def keys(self) -> Iterator[tuple[str, int]]:
        """Every staged key with its size, for sweeping leftovers."""

    def modified_at(self, key: str) -> datetime | None:
        """When the staged bytes of ``key`` last changed; None if unknown or absent.

        The expiry sweep leaves recently changed files alone: a handler being
        created has its staged file before its row is committed. A backend
        that cannot tell (None) has its unowned files swept at once.
        """
        return None
