"""Local staging: writeback started early changes nothing about what is staged."""

import os

import pytest

from chunked_upload.staging.local import WRITE_BEHIND, LocalStaging


@pytest.fixture
def staged(tmp_path):
    staging = LocalStaging(tmp_path)
    with staging.open("ab" * 16, create=True) as staged:
        yield staging, staged


def content(staging):
    return staging.path("ab" * 16).read_bytes()


def test_bytes_written_past_the_writeback_threshold_are_all_staged(staged):
    staging, file = staged
    pieces = [bytes([n]) * (WRITE_BEHIND // 2 + 1) for n in range(5)]
    for piece in pieces:
        file.write(memoryview(piece))
    file.sync()
    assert content(staging) == b"".join(pieces)


def test_cut_back_after_writeback_started_keeps_only_the_committed_bytes(staged):
    staging, file = staged
    file.write(b"a" * 10)
    file.sync()
    file.write(b"b" * (3 * WRITE_BEHIND))  # writeback starts for some of these
    file.truncate(10)
    file.write(b"c")
    file.sync()
    assert content(staging) == b"a" * 10 + b"c"


def test_cut_back_to_the_current_size_leaves_the_file_untouched(staged):
    staging, file = staged
    file.write(b"abc")
    file.sync()
    path = staging.path("ab" * 16)
    os.utime(path, ns=(0, 0))
    file.truncate(3)
    assert path.stat().st_mtime_ns == 0  # no inode change for fsync to write
    file.write(b"d")
    assert content(staging) == b"abcd"
