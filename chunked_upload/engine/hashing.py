"""SHA-256 of a chunk computed beside its arrival, on another core.

SHA-256 is the largest per-byte cost of the chunk path, several times that
of CRC-32 (docs/performance.md, "What limits each figure"). A large piece is
hashed on a helper thread while the request's own thread reads and writes
the next one. The rehashes backend holds the GIL while it hashes (hashlib
would not, but cannot save its state), so the overlap is with what the
request thread does outside the GIL: receiving the next piece from the
socket, writing it, the fsync. At most one piece is in flight per chunk:
memory stays bounded by one read of the request body, and the pieces are
hashed in order.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import Future, ThreadPoolExecutor

from .checksums import SHA256_BACKEND, BytesLike, Sha256State

# Pieces smaller than this are hashed in line: the hand-over (a Future, a lock,
# waking a thread, then the GIL handed back) costs CPU that is only worth spending
# when the piece is large. Profiled on the chunk path (benchmarks/profile.py):
# at 256 KiB the hand-over took more worker CPU (about 0.3 ms) than hashing the
# piece in line (about 0.2 ms); a 1 MiB chunk's piece still goes to the helper,
# where its hashing overlaps the write and the fsync.
HAND_OVER_SIZE = 512 * 1024

_executor: ThreadPoolExecutor | None = None
_executor_lock = threading.Lock()


def _pool() -> ThreadPoolExecutor:
    global _executor
    with _executor_lock:
        if _executor is None:
            # One helper per core: hashing is CPU work, and more threads than
            # cores could not run at once.
            _executor = ThreadPoolExecutor(max_workers=os.cpu_count() or 2,
                                           thread_name_prefix="chunked_upload-sha256")
        return _executor


def _forget_pool() -> None:
    # A forked child (a pre-forking server's worker) has none of the parent's threads.
    global _executor
    _executor = None


if hasattr(os, "register_at_fork"):  # POSIX; elsewhere there is no fork to survive
    os.register_at_fork(after_in_child=_forget_pool)


class PipelinedSha256:
    """A :class:`Sha256State` fed in order, large pieces hashed on a helper thread.

    Call :meth:`state` (which waits for the piece in flight) before reading the
    result. A piece handed over is kept referenced until it is hashed, so the
    caller may drop its own reference; it must not change it meanwhile (the
    request body's pieces are immutable ``bytes`` or views of them).
    """

    def __init__(self, state: Sha256State) -> None:
        self._state = state
        self._in_flight: Future[None] | None = None
        # Python's fallback holds the GIL while hashing: nothing to gain there.
        self._hand_over = SHA256_BACKEND != "python"

    def update(self, data: BytesLike) -> None:
        """Hash ``data`` after everything fed before it."""
        self._wait()
        if self._hand_over and len(data) >= HAND_OVER_SIZE:
            self._in_flight = _pool().submit(self._state.update, data)
        else:
            self._state.update(data)

    def state(self) -> Sha256State:
        """The state once every piece fed so far is hashed."""
        self._wait()
        return self._state

    def _wait(self) -> None:
        if self._in_flight is not None:
            in_flight, self._in_flight = self._in_flight, None
            in_flight.result()  # re-raises whatever the hashing raised
