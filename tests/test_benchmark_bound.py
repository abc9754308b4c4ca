"""The benchmarks' bound does the work its figures stand for: each chunk's CRC-32, the
SHA-256 resumed across chunks, and the new state committed (benchmarks/django_floor)."""

import hashlib
import os
import zlib

import pytest

from benchmarks.django_floor import bound
from chunked_upload.engine.checksums import Sha256State


@pytest.fixture
def bound_site(settings, tmp_path, monkeypatch):
    settings.ROOT_URLCONF = "benchmarks.django_floor.bound"
    monkeypatch.setenv("FLOOR_DIR", str(tmp_path))
    bound._create_table.cache_clear()  # the table goes with each test's transaction
    yield tmp_path
    bound._create_table.cache_clear()


def test_the_bound_appends_and_commits_the_resumed_state(db, client, bound_site):
    first, second = os.urandom(70_000), os.urandom(1_000)
    for piece, size in ((first, 70_000), (second, 71_000)):
        answer = client.post("/upload-1", piece, content_type="application/octet-stream")
        assert answer.content == b"%d\n" % size

    assert (bound_site / "upload-1").read_bytes() == first + second
    with bound.connection.cursor() as cursor:
        cursor.execute(f"SELECT size, crc, sha FROM {bound.TABLE} WHERE name = %s",
                       ["upload-1"])
        size, crc, sha = cursor.fetchone()
    assert (size, crc) == (71_000, zlib.crc32(second))
    assert Sha256State(bytes.fromhex(sha)).hexdigest() == hashlib.sha256(
        first + second).hexdigest()
