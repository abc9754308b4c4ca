"""SHA-256 of a chunk on a helper thread, while the request thread moves its bytes.

Hashing costs about as much CPU as everything else a chunk's byte goes
through (SHA-256 runs at 1.5-2 GB/s with SHA extensions). The request thread
spends most of its time in ``recv``, ``write`` and ``fsync``, which release
the GIL, and OpenSSL's ``SHA256_Update`` releases it too, so on a second core
the hash keeps up with the bytes instead of adding to each chunk's time.
"""

from __future__ import annotations

import os
import threading
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor

from .checksums import BytesLike, Sha256State

# Pieces handed over but not hashed yet; each is at most a read of the request
# body (1 MiB), so this bounds what the hashing keeps alive.
MAX_PENDING = 2

_lock = threading.Lock()
_executor: ThreadPoolExecutor | None = None
_executor_pid = 0


def _shared_executor() -> ThreadPoolExecutor:
    """One hashing thread per process (a forked worker starts its own)."""
    global _executor, _executor_pid
    with _lock:
        if _executor is None or _executor_pid != os.getpid():
            _executor = ThreadPoolExecutor(1, thread_name_prefix="chunked-upload-sha256")
            _executor_pid = os.getpid()
        return _executor


class HashBehind:
    """A :class:`Sha256State` fed in order by the helper thread.

    ``update`` returns at once for immutable data (``bytes`` or a view of it);
    anything else, which its owner might change, is hashed on the spot.
    ``to_bytes`` waits for the pieces handed over so far.
    """

    def __init__(self, state: Sha256State) -> None:
        self._state = state
        self._pending: deque[Future[None]] = deque()

    def update(self, data: BytesLike) -> None:
        if not _is_immutable(data):
            self._wait()
            self._state.update(data)
            return
        while len(self._pending) >= MAX_PENDING:
            self._pending.popleft().result()
        # One thread runs the tasks in order, so the pieces are hashed in order.
        self._pending.append(_shared_executor().submit(self._state.update, data))

    def to_bytes(self) -> bytes:
        """The serialised state once every piece so far is hashed."""
        self._wait()
        return self._state.to_bytes()

    def _wait(self) -> None:
        while self._pending:
            self._pending.popleft().result()


def _is_immutable(data: BytesLike) -> bool:
    if type(data) is bytes:
        return True
    return type(data) is memoryview and data.readonly and type(data.obj) is bytes
