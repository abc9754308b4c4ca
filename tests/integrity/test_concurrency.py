"""Concurrency: requests for one handler never interleave, across worker processes.

Every test sends its requests from many client threads released together,
to a gunicorn server with several worker processes and threads, so the only
thing serialising them is the handler's row lock in the database.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from .client import Answer, crc_hex

CLIENTS = 16
NOT_FOUND = "Upload handler not found or expired."
T = TypeVar("T")


def at_once(calls: list[Callable[[], T]]) -> list[T]:
    """Run every call in its own thread, all released together; their results."""
    barrier = threading.Barrier(len(calls))

    def run(call: Callable[[], T]) -> T:
        barrier.wait()
        return call()

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


def test_the_same_chunk_from_16_clients_with_offsets_is_appended_once(site, client, ticket, folder):
    first, second = os.urandom(100_000), os.urandom(300_000)
    handler = client.create_handler(ticket)
    assert client.send_chunk(ticket, handler, first, False, 0).accepted

    answers = at_once([lambda: client.send_chunk(ticket, handler, second, True, len(first))]
                      * CLIENTS)

    size = str(len(first + second))
    assert {(a.accepted, a["offset"], a["filehexcrc"]) for a in answers} == {
        (True, size, crc_hex(first + second))}
    assert site.database.handler(handler)["chunk_count"] == 2
    assert client.finalize(ticket, handler, f"{folder}/same.bin").ok
    assert client.download(ticket, f"{folder}/same.bin") == first + second
    site.assert_consistent()


def test_16_different_chunks_without_offsets_end_up_whole(site, client, ticket, folder):
    chunks = [bytes([i]) * 1000 + os.urandom(64_000) for i in range(CLIENTS)]
    handler = client.create_handler(ticket)

    answers = at_once([lambda c=c: client.send_chunk(ticket, handler, c, False) for c in chunks])

    assert all(a.accepted for a in answers), answers
    ends = sorted(int(a["offset"]) for a in answers)
    assert ends == [len(chunks[0]) * (i + 1) for i in range(CLIENTS)]
    assert client.send_chunk(ticket, handler, b"", True).accepted
    assert client.finalize(ticket, handler, f"{folder}/different.bin").ok
    stored = client.download(ticket, f"{folder}/different.bin")
    # Each chunk lies, whole, exactly where its own answer said it ended.
    for chunk, answer in zip(chunks, answers, strict=True):
        end = int(answer["offset"])
        assert stored[end - len(chunk):end] == chunk
    assert len(stored) == sum(map(len, chunks))
    site.assert_consistent()


def _assert_gone(site, client, ticket, handler: str) -> None:
    assert client.status(ticket, handler).error == NOT_FOUND
    assert not site.staged_path(handler).exists()
    assert site.database.count("chunk", "handler_id = %s",
                               (site.database.handler_key(handler),)) == 0


def test_a_chunk_racing_a_delete_leaves_nothing_half_deleted(site, client, ticket):
    first, last = os.urandom(50_000), os.urandom(1_000_000)
    for _ in range(6):
        handler = client.create_handler(ticket)
        assert client.send_chunk(ticket, handler, first, False, 0).accepted

        chunk, deleted = at_once([
            lambda h=handler: client.send_chunk(ticket, h, last, True, len(first)),
            lambda h=handler: client.delete_handler(ticket, h),
        ])

        assert chunk.accepted or chunk.error == NOT_FOUND, chunk
        assert deleted.ok, deleted
        _assert_gone(site, client, ticket, handler)
    site.assert_consistent()


def test_a_chunk_racing_an_expiry_run_leaves_a_complete_handler_or_nothing(
    site, client, ticket, folder
):
    first, last = os.urandom(50_000), os.urandom(3 << 20)
    handlers = [client.create_handler(ticket) for _ in range(8)]
    for handler in handlers:
        assert client.send_chunk(ticket, handler, first, False, 0).accepted

    def send_last(index: int, handler: str) -> Answer:
        # Spread over the run: before it looks, while it locks, after it is done.
        time.sleep(index * 0.4)
        request = client.begin_chunk(ticket, handler, len(last), crc_hex(last), True, len(first))
        request.write(last[:2 << 20])
        time.sleep(0.3)  # the server has begun the chunk and holds the handler meanwhile
        request.write(last[2 << 20:])
        return request.finish()

    def expire() -> str:
        return site.manage("expire_upload_handlers", "--idle-timeout", "0")

    *answers, report = at_once([lambda i=i, h=h: send_last(i, h)
                                for i, h in enumerate(handlers)] + [expire])

    for handler, answer in zip(handlers, answers, strict=True):
        assert answer.accepted or answer.error == NOT_FOUND, answer
        row = site.database.handler(handler)
        if row is None:
            _assert_gone(site, client, ticket, handler)
            continue
        assert answer.accepted
        assert (row["state"], row["committed_size"], row["chunk_count"]) == (
            "complete", len(first + last), 2)
        assert site.staged_path(handler).read_bytes() == first + last
        assert client.finalize(ticket, handler, f"{folder}/expiry-{handler}.bin").ok
        assert client.download(ticket, f"{folder}/expiry-{handler}.bin") == first + last
    assert "Upload handlers expired" in report
    site.assert_consistent()


def test_two_racing_finalizes_create_one_version(site, client, ticket, folder):
    data = os.urandom(200_000)
    for round_ in range(4):
        handler = client.create_handler(ticket)
        client.upload(ticket, handler, [data[:100_000], data[100_000:]])

        answers = at_once([lambda h=handler: client.finalize(ticket, h, f"{folder}/final.bin")]
                          * 2)

        assert all(a.ok for a in answers), answers
        assert answers[0]["VersionId"] == answers[1]["VersionId"]
        assert answers[0]["DocumentId"] == answers[1]["DocumentId"]
        document = answers[0]["DocumentId"]
        assert site.database.count("documentversion", "document_id = %s",
                                   (int(document),)) == round_ + 1
    assert client.download(ticket, f"{folder}/final.bin") == data
    site.assert_consistent()


def test_two_handlers_finalizing_to_one_new_path_make_two_versions(site, client, ticket, folder):
    datas = [os.urandom(10_000), os.urandom(20_000)]
    for round_ in range(3):
        path = f"{folder}/new-{round_}.bin"  # in a folder that exists: only the name races
        handlers = [client.create_handler(ticket) for _ in datas]
        for handler, data in zip(handlers, datas, strict=True):
            client.upload(ticket, handler, [data])

        answers = at_once([lambda h=h, p=path: client.finalize(ticket, h, p) for h in handlers])

        assert all(a.ok for a in answers), answers
        assert answers[0]["DocumentId"] == answers[1]["DocumentId"]
        assert answers[0]["VersionId"] != answers[1]["VersionId"]
        latest = max(zip(answers, datas, strict=True), key=lambda ad: int(ad[0]["VersionId"]))
        assert client.download(ticket, path) == latest[1]
    site.assert_consistent()
