"""Lost answers: the server commits, the client never hears, and asks again.

The client here sends a whole request and hangs up before the answer, then
waits until the server has visibly committed (GetUploadHandlerStatus) and
sends the same request again, as a client that timed out would.
"""

from __future__ import annotations

import os

from .client import crc_hex

NOT_FOUND = "Upload handler not found or expired."


def send_and_hang_up(client, ticket, handler, data: bytes, last: bool, offset: int | None):
    request = client.begin_chunk(ticket, handler, len(data), crc_hex(data), last, offset)
    request.write(data)
    request.hang_up()


def wait_for_offset(site, ticket, handler, offset: int):
    return site.wait_for(
        lambda: (answer := site.client.status(ticket, handler)).ok
        and int(answer["offset"]) == offset and answer,
        what=f"offset {offset}",
    )


def test_a_chunk_resent_with_its_offset_after_a_lost_answer_is_not_appended_twice(
    site, client, ticket, folder
):
    a, b, c = os.urandom(70_000), os.urandom(80_000), os.urandom(90_000)
    handler = client.create_handler(ticket)
    assert client.send_chunk(ticket, handler, a, False, 0).accepted
    send_and_hang_up(client, ticket, handler, b, False, len(a))
    wait_for_offset(site, ticket, handler, len(a + b))

    again = client.send_chunk(ticket, handler, b, False, len(a))

    assert (again.accepted, again["offset"]) == (True, str(len(a + b)))
    assert site.database.handler(handler)["chunk_count"] == 2
    assert client.send_chunk(ticket, handler, c, True, len(a + b)).accepted
    assert client.finalize(ticket, handler, f"{folder}/chunk.bin").ok
    assert client.download(ticket, f"{folder}/chunk.bin") == a + b + c
    site.assert_consistent()


def test_a_resent_final_chunk_replays_the_final_answer(site, client, ticket, folder):
    a, b = os.urandom(70_000), os.urandom(30_000)
    handler = client.create_handler(ticket)
    assert client.send_chunk(ticket, handler, a, False, 0).accepted
    send_and_hang_up(client, ticket, handler, b, True, len(a))
    assert wait_for_offset(site, ticket, handler, len(a + b))["complete"] == "true"

    for offset in (len(a), None):  # with chunkOffset, and as a legacy client resends
        again = client.send_chunk(ticket, handler, b, True, offset)
        assert (again.accepted, again["offset"], again["filehexcrc"]) == (
            True, str(len(a + b)), crc_hex(a + b))
    assert site.database.handler(handler)["chunk_count"] == 2
    assert client.finalize(ticket, handler, f"{folder}/final.bin").ok
    assert client.download(ticket, f"{folder}/final.bin") == a + b


def test_a_repeated_finalize_returns_the_same_ids(site, client, ticket, folder):
    data = os.urandom(50_000)
    handler = client.create_handler(ticket)
    client.upload(ticket, handler, [data])
    client.call_and_hang_up("UploadDocumentWithHandler", authenticationTicket=ticket,
                            path=f"{folder}/finalized.bin", uploadHandler=handler)
    site.wait_for(lambda: client.status(ticket, handler).error == NOT_FOUND,
                  what="the finalize to commit")

    again = f"{folder.upper()}/FINALIZED.bin"  # names match case-insensitively
    answers = [client.finalize(ticket, handler, again) for _ in range(2)]

    assert all(a.ok for a in answers), answers
    assert answers[0]["VersionId"] == answers[1]["VersionId"]
    document = int(answers[0]["DocumentId"])
    assert site.database.count("documentversion", "document_id = %s", (document,)) == 1
    assert client.download(ticket, f"{folder}/finalized.bin") == data
    site.assert_consistent()


def test_a_client_hanging_up_mid_chunk_commits_none_of_it(site, client, ticket):
    a, b = os.urandom(70_000), os.urandom(500_000)
    handler = client.create_handler(ticket)
    assert client.send_chunk(ticket, handler, a, False, 0).accepted
    request = client.begin_chunk(ticket, handler, len(b), crc_hex(b), True, len(a))
    request.write(b[:200_000])
    request.hang_up(send_rest=False)

    # The status call waits for the interrupted request's lock, then sees it undone.
    status = client.status(ticket, handler)
    assert (status["offset"], status["complete"]) == (str(len(a)), "false")
    assert client.send_chunk(ticket, handler, b, True, len(a)).accepted
    assert site.staged_path(handler).read_bytes() == a + b
    site.assert_consistent()
