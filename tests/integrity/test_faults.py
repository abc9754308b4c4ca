"""Faults: full disks and an unreachable database answer errors and lose nothing.

The full disks are real: a site whose staging area and document storage are
two small tmpfs mounts (this needs root, as on CI), filled with a ballast
file and emptied again. The unreachable database is real too: PostgreSQL
refusing new connections with the open ones cut.
"""

from __future__ import annotations

import errno
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.requirements import missing, require_root

from .client import Answer, crc_hex
from .conftest import make_site
from .site import DemoSite

SMALL_DISK = "8m"


def system_error(answer: Answer) -> bool:
    return (answer.get("success"), answer.get("errorCode")) == ("false", "5000") and (
        answer.error.startswith("SystemError: internal error (ref "))


@contextmanager
def full(directory: Path, leave: int) -> Iterator[None]:
    """The filesystem of ``directory`` full but for about ``leave`` bytes."""
    ballast = directory / "ballast"
    fd = os.open(ballast, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        piece = bytes(1 << 16)
        while True:
            try:
                os.write(fd, piece)
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
                break
        os.ftruncate(fd, max(0, os.fstat(fd).st_size - leave))
        yield
    finally:
        os.close(fd)
        ballast.unlink()


@pytest.fixture(scope="module")
def small_disks(database_server, tmp_path_factory) -> Iterator[DemoSite]:
    """A site whose staging area and document storage are small filesystems."""
    require_root("mounting small filesystems")
    data_dir = tmp_path_factory.mktemp("small-disks")
    mounted: list[Path] = []
    try:
        for name in ("staging", "media"):
            target = data_dir / name
            target.mkdir()
            done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={SMALL_DISK}", "tmpfs",
                                   str(target)], capture_output=True, text=True)
            if done.returncode:
                missing(f"a tmpfs mount ({done.stderr.strip()})",
                        "run as root where mount -t tmpfs is allowed")
            mounted.append(target)
        with make_site(database_server, data_dir, "small_disks").running() as site:
            yield site
    finally:
        for target in reversed(mounted):
            subprocess.run(["umount", str(target)], check=True)


def resume(client, ticket, handler, data: bytes, chunk: int) -> None:
    start = int(client.status(ticket, handler)["offset"])
    client.upload(ticket, handler, [data[i:i + chunk] for i in range(start, len(data), chunk)],
                  start=start)


def test_a_full_staging_area_refuses_the_chunk_and_keeps_what_was_committed(small_disks, folder):
    site, client = small_disks, small_disks.client
    ticket = site.login()
    data = os.urandom(1_500_000)
    handler = client.create_handler(ticket)
    assert client.send_chunk(ticket, handler, data[:500_000], False, 0).accepted

    with full(site.data_dir / "staging", leave=200_000):
        answer = client.send_chunk(ticket, handler, data[500_000:1_000_000], False, 500_000)
        assert (answer["success"], answer.error, answer["errorCode"]) == (
            "false", "Limit exceeded: staging space.", "4130")
        assert client.status(ticket, handler)["offset"] == "500000"
        assert site.staged_path(handler).read_bytes() == data[:500_000]

    resume(client, ticket, handler, data, 500_000)
    assert client.finalize(ticket, handler, f"{folder}/staging.bin").ok
    assert client.download(ticket, f"{folder}/staging.bin") == data
    site.assert_consistent()


def test_failing_document_storage_leaves_the_handler_complete_and_retryable(small_disks, folder):
    site, client = small_disks, small_disks.client
    ticket = site.login()
    data = os.urandom(1_000_000)
    handler = client.create_handler(ticket)
    client.upload(ticket, handler, [data[:500_000], data[500_000:]])

    with full(site.data_dir / "media", leave=100_000):
        assert system_error(client.finalize(ticket, handler, f"{folder}/storage.bin"))
        status = client.status(ticket, handler)
        assert (status["complete"], status["offset"]) == ("true", str(len(data)))
        assert site.staged_path(handler).read_bytes() == data
        site.assert_consistent()  # no version row, no partly stored file

    assert client.finalize(ticket, handler, f"{folder}/storage.bin").ok
    assert client.download(ticket, f"{folder}/storage.bin") == data
    site.assert_consistent()


@pytest.mark.skipif(not os.environ.get("DATABASE_URL"),
                    reason="needs a database server that can become unreachable")
def test_an_unreachable_database_answers_system_error_and_loses_nothing(
    site, client, ticket, folder
):
    chunk_size = 8 << 20  # big enough that the server writes some before the rest is sent
    data = os.urandom(3 * chunk_size)
    handler = client.create_handler(ticket, chunk_size)
    assert client.send_chunk(ticket, handler, data[:chunk_size], False, 0).accepted
    chunk = data[chunk_size:2 * chunk_size]
    request = client.begin_chunk(ticket, handler, len(chunk), crc_hex(chunk), False, chunk_size)
    sent = site.send_until_staged(request, chunk, handler)

    site.database.block()
    try:
        request.write(chunk[sent:])
        assert system_error(request.finish())
        assert system_error(client.status(ticket, handler))
        assert system_error(client.call("CreateUploadHandler", authenticationTicket=ticket,
                                        PreferedChunkSize=0))
    finally:
        site.database.unblock()

    # Back at once, in every worker thread: no stale connection is reused.
    statuses = [client.status(ticket, handler) for _ in range(2 * site.workers * site.threads)]
    assert all(s.ok and s["offset"] == str(chunk_size) for s in statuses), statuses
    resume(client, ticket, handler, data, chunk_size)
    assert client.finalize(ticket, handler, f"{folder}/db.bin").ok
    assert client.download(ticket, f"{folder}/db.bin") == data
    site.assert_consistent()
