"""Crashes: the server SIGKILLed mid-chunk and mid-finalize loses nothing committed.

After each crash the client does what a resuming client does: asks
GetUploadHandlerStatus where the server stands, sends the rest from there,
and compares the stored document with what it meant to send. Then the
expiry command runs and no orphan row or file may be left.
"""

from __future__ import annotations

import http.client
import os
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

import pytest

from .client import crc_hex

CUT_OFF = (OSError, http.client.HTTPException)
CHUNK = 8 << 20  # big enough that the server writes some before the rest is sent
NOT_FOUND = "Upload handler not found or expired."


def in_background(call: Callable[[], object]) -> Future:
    pool = ThreadPoolExecutor(1)
    future = pool.submit(call)
    pool.shutdown(wait=False)
    return future


def resume(client, ticket, handler, data: bytes, chunk: int) -> None:
    """Send ``data`` from wherever the server says the upload stands."""
    status = client.status(ticket, handler)
    assert status.ok, status
    start = int(status["offset"])
    pieces = [data[i:i + chunk] for i in range(start, len(data), chunk)]
    client.upload(ticket, handler, pieces, start=start)


def sweep_and_check(site) -> None:
    site.manage("expire_upload_handlers")
    site.assert_consistent()


def test_a_server_killed_while_a_chunk_streams_in_keeps_what_was_committed(
    site, client, ticket, folder
):
    data = os.urandom(3 * CHUNK)
    handler = client.create_handler(ticket, CHUNK)
    assert client.send_chunk(ticket, handler, data[:CHUNK], False, 0).accepted
    chunk = data[CHUNK:2 * CHUNK]
    request = client.begin_chunk(ticket, handler, len(chunk), crc_hex(chunk), False, CHUNK)
    sent = site.send_until_staged(request, chunk, handler)

    site.crash()

    with pytest.raises(CUT_OFF):
        request.write(chunk[sent:])
        request.finish()
    site.start()
    status = client.status(ticket, handler)
    assert (status["offset"], status["chunks"], status["complete"]) == (str(CHUNK), "1", "false")
    resume(client, ticket, handler, data, CHUNK)
    assert client.finalize(ticket, handler, f"{folder}/streaming.bin").ok
    assert client.download(ticket, f"{folder}/streaming.bin") == data
    sweep_and_check(site)


def test_a_worker_killed_between_writing_and_committing_a_chunk_loses_nothing(
    site, client, ticket, folder
):
    data = os.urandom(600_000)
    handler = client.create_handler(ticket)
    assert client.send_chunk(ticket, handler, data[:200_000], False, 0).accepted
    site.faults.arm("chunk-recorded")
    sent = in_background(
        lambda: client.send_chunk(ticket, handler, data[200_000:400_000], False, 200_000))
    worker = site.faults.wait_reached("chunk-recorded")
    # Written and fsynced, ledger row inserted: only the commit is missing.
    assert site.staged_path(handler).stat().st_size == 400_000

    site.kill_worker(worker)
    site.faults.disarm("chunk-recorded")

    with pytest.raises(CUT_OFF):
        sent.result(timeout=30)
    status = client.status(ticket, handler)
    assert (status["offset"], status["chunks"]) == ("200000", "1")
    resume(client, ticket, handler, data, 200_000)
    assert site.database.handler(handler)["chunk_count"] == 3
    assert client.finalize(ticket, handler, f"{folder}/recorded.bin").ok
    assert client.download(ticket, f"{folder}/recorded.bin") == data
    sweep_and_check(site)


def crash_during_finalize(site, client, ticket, point: str, path: str) -> tuple[str, bytes]:
    """A complete handler whose finalize was cut off by a crash at ``point``."""
    data = os.urandom(500_000)
    handler = client.create_handler(ticket)
    client.upload(ticket, handler, [data[:250_000], data[250_000:]])
    site.faults.arm(point)
    finalizing = in_background(lambda: client.finalize(ticket, handler, path))
    site.faults.wait_reached(point)
    site.crash()
    with pytest.raises(CUT_OFF):
        finalizing.result(timeout=30)
    site.restart()
    return handler, data


def test_a_server_killed_while_a_finalize_runs_can_finalize_again(site, client, ticket, folder):
    handler, data = crash_during_finalize(site, client, ticket, "version-created",
                                          f"{folder}/finalize.bin")

    status = client.status(ticket, handler)
    assert (status["complete"], status["offset"]) == ("true", str(len(data)))
    answers = [client.finalize(ticket, handler, f"{folder}/finalize.bin") for _ in range(2)]
    assert answers[0].ok and answers[0]["VersionId"] == answers[1]["VersionId"], answers
    document = int(answers[0]["DocumentId"])
    assert site.database.count("documentversion", "document_id = %s", (document,)) == 1
    assert client.download(ticket, f"{folder}/finalize.bin") == data
    sweep_and_check(site)


def test_a_finalize_cut_off_by_a_crash_then_abandoned_leaves_no_stored_orphan(
    site, client, ticket, folder
):
    handler, _ = crash_during_finalize(site, client, ticket, "version-created",
                                       f"{folder}/abandoned.bin")

    assert client.delete_handler(ticket, handler).ok

    sweep_and_check(site)


def test_a_server_killed_after_a_finalize_committed_leaves_no_orphan(site, client, ticket, folder):
    handler, data = crash_during_finalize(site, client, ticket, "staged-removal",
                                          f"{folder}/committed.bin")

    # The commit happened: a resent finalize is a replay, and the leftover
    # staged bytes of the finalized handler go with the next sweep.
    assert client.status(ticket, handler).error == NOT_FOUND
    assert client.finalize(ticket, handler, f"{folder}/committed.bin").ok
    assert client.download(ticket, f"{folder}/committed.bin") == data
    assert site.staged_path(handler).exists()
    sweep_and_check(site)
