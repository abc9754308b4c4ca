"""Round trips through the library over real HTTP: the bytes come back identical."""

from __future__ import annotations

import io
import os
import threading

import pytest

from chunked_upload.client import Finalizer, RateMeter, ServerError, download, upload

from .helpers import CHUNK, MiB, assert_ledger_contiguous, make_file, sha256, stored_sha256


@pytest.mark.parametrize("size", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 17])
def test_a_file_comes_back_byte_identical(site, session, store, folder, tmp_path, size):
    source = tmp_path / "source.bin"
    digest = make_file(source, size)
    seen = []

    done = upload(session, source, f"{folder}/file.bin", chunk_size=CHUNK, state=store,
                  progress=lambda sent, total: seen.append((sent, total)))
    back = download(session, f"{folder}/file.bin", tmp_path / "back.bin", chunk_size=CHUNK)

    assert (done.size, back.size) == (size, size)
    assert stored_sha256(site, done.version_id) == digest
    assert sha256(tmp_path / "back.bin") == digest
    assert seen[-1] == (size, size)
    assert store.all() == []  # finalized: nothing left to resume
    assert_ledger_contiguous(site, done.handler, size)


def test_the_chunk_size_is_the_one_the_server_grants(session, folder, tmp_path):
    source = tmp_path / "source.bin"
    make_file(source, 5 * CHUNK)
    done = upload(session, source, f"{folder}/f.bin", chunk_size=1, state=False)
    assert done.size == 5 * CHUNK  # the server clamped 1 byte to its minimum


def test_a_file_object_and_a_pipe_upload_too(site, session, folder, tmp_path):
    data = os.urandom(2 * CHUNK + 5)
    as_object = upload(session, io.BytesIO(data), f"{folder}/object.bin", chunk_size=CHUNK)
    read, write = os.pipe()
    os.write(write, data[: 1 << 16])  # the rest arrives while the upload reads
    with os.fdopen(read, "rb", buffering=0) as pipe:
        feeder = threading.Thread(target=lambda: (os.write(write, data[1 << 16:]),
                                                  os.close(write)))
        feeder.start()
        as_pipe = upload(session, pipe, f"{folder}/pipe.bin", chunk_size=CHUNK)
        feeder.join()
    for done in (as_object, as_pipe):
        assert done.size == len(data)
        download(session, done.path, tmp_path / "back.bin", chunk_size=CHUNK)
        assert (tmp_path / "back.bin").read_bytes() == data


def test_finalizers_versions_and_download_by_id(session, folder, tmp_path):
    one, two = tmp_path / "one.txt", tmp_path / "two.txt"
    one.write_bytes(b"first")
    two.write_bytes(b"second version")
    first = upload(session, one, f"{folder}/doc.txt", finalizer=Finalizer(new_document=True,
                   description="a test", keywords="x y"), state=False)
    second = upload(session, two, f"{folder}/doc.txt", finalizer=Finalizer(comment="v2"),
                    state=False)
    third = upload(session, one, f"{folder}/doc.txt",
                   finalizer=Finalizer(comment="v3", description="again"), state=False)
    assert first.document_id == second.document_id == third.document_id
    assert len({first.version_id, second.version_id, third.version_id}) == 3
    with pytest.raises(ServerError, match="already exists"):
        upload(session, two, f"{folder}/doc.txt", finalizer=Finalizer(new_document=True),
               state=False)

    latest = download(session, first.document_id, tmp_path / "latest.txt")
    old = download(session, f"{folder}/doc.txt", tmp_path / "v2.txt", version=2)
    assert (tmp_path / "latest.txt").read_bytes() == b"first"
    assert (tmp_path / "v2.txt").read_bytes() == b"second version"
    assert (latest.version, old.version) == (None, 2)


def test_a_partial_download_is_continued(session, folder, tmp_path):
    source = tmp_path / "source.bin"
    digest = make_file(source, 4 * CHUNK + 3)
    upload(session, source, f"{folder}/f.bin", chunk_size=CHUNK, state=False)

    class Stop(Exception):
        pass

    def stop_half_way(done, total):
        if done >= 2 * CHUNK:
            raise Stop

    with pytest.raises(Stop):
        download(session, f"{folder}/f.bin", tmp_path / "back.bin", chunk_size=CHUNK,
                 progress=stop_half_way)
    assert (tmp_path / "back.bin.part").stat().st_size == 2 * CHUNK
    meter = RateMeter()
    again = download(session, f"{folder}/f.bin", tmp_path / "back.bin", chunk_size=CHUNK,
                     progress=meter)
    assert again.resumed_at == 2 * CHUNK
    assert sha256(tmp_path / "back.bin") == digest
    assert not (tmp_path / "back.bin.part").exists()
    assert meter.done == again.size


@pytest.mark.slow
def test_a_few_hundred_mib_round_trip(site, session, store, folder, tmp_path):
    source = tmp_path / "big.bin"
    size = 200 * MiB + 12_345
    digest = make_file(source, size)
    done = upload(session, source, f"{folder}/big.bin", state=store)
    source.unlink()  # the disk is shared: one copy at a time
    download(session, done.path, tmp_path / "back.bin")
    assert stored_sha256(site, done.version_id) == digest
    assert sha256(tmp_path / "back.bin") == digest
    assert_ledger_contiguous(site, done.handler, size)
