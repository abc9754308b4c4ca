"""SHA-256 beside the chunk's arrival: the same digest as hashing in line."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chunked_upload.engine.checksums import SHA256_BACKEND, Sha256State
from chunked_upload.engine.hashing import HAND_OVER_SIZE, PipelinedSha256

# Around the hand-over threshold, so pieces go both ways in one stream.
piece_sizes = st.lists(
    st.sampled_from([0, 1, 63, HAND_OVER_SIZE - 1, HAND_OVER_SIZE, HAND_OVER_SIZE + 17]),
    max_size=8,
)


@settings(max_examples=40, deadline=None)
@given(sizes=piece_sizes, seed=st.binary(min_size=1, max_size=32))
def test_pieces_are_hashed_in_order(sizes, seed):
    data = (seed * (sum(sizes) // len(seed) + 1))[: sum(sizes)]
    hasher, position = PipelinedSha256(Sha256State()), 0
    for size in sizes:
        # Memoryviews of one buffer, as the body parser hands them out.
        hasher.update(memoryview(data)[position:position + size])
        position += size
    assert hasher.state().hexdigest() == hashlib.sha256(data).hexdigest()


@pytest.mark.skipif(SHA256_BACKEND == "python", reason="the fallback hashes in line")
def test_large_pieces_go_to_a_helper_thread_and_small_ones_do_not():
    threads = []

    class Recording(type(Sha256State())):
        __slots__ = ()

        def update(self, data):
            threads.append((len(data), threading.current_thread().name))
            super().update(data)

    hasher = PipelinedSha256(Recording())
    hasher.update(bytes(HAND_OVER_SIZE))
    hasher.update(b"small")
    hasher.state()
    (large, large_thread), (small, small_thread) = threads
    assert (large, small) == (HAND_OVER_SIZE, 5)
    assert large_thread.startswith("chunked_upload-sha256")
    assert small_thread == threading.current_thread().name


def test_a_resumed_state_continues():
    first, second = os.urandom(HAND_OVER_SIZE + 5), os.urandom(2 * HAND_OVER_SIZE)
    hasher = PipelinedSha256(Sha256State())
    hasher.update(first)
    resumed = PipelinedSha256(Sha256State(hasher.state().to_bytes()))
    resumed.update(second)
    assert resumed.state().hexdigest() == hashlib.sha256(first + second).hexdigest()


def test_a_failure_on_the_helper_thread_is_raised_to_the_caller():
    class Broken(Sha256State):
        __slots__ = ()

        def _load(self, *state):
            pass

        def update(self, data):
            raise MemoryError("hashing failed")

    hasher = PipelinedSha256(Broken())
    hasher._hand_over = True
    hasher.update(bytes(HAND_OVER_SIZE))
    with pytest.raises(MemoryError):
        hasher.state()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_worker_starts_its_own_helpers():
    # A pre-forking server loads the app, then forks: the child has no threads.
    script = (
        "import os, hashlib\n"
        "from chunked_upload.engine import hashing\n"
        "from chunked_upload.engine.checksums import Sha256State\n"
        "hashing._pool()\n"
        "pid = os.fork()\n"
        "if pid == 0:\n"
        "    assert hashing._executor is None\n"
        "    h = hashing.PipelinedSha256(Sha256State())\n"
        "    h.update(bytes(hashing.HAND_OVER_SIZE))\n"
        "    ok = h.state().digest() == hashlib.sha256(bytes(hashing.HAND_OVER_SIZE)).digest()\n"
        "    os._exit(0 if ok else 1)\n"
        "_, status = os.waitpid(pid, 0)\n"
        "raise SystemExit(os.waitstatus_to_exitcode(status))\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=60)
