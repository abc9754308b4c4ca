"""A client that stalls in the middle of a chunk holds nothing but its own handler.

The attack (issue 14, finding 1): send 1.5 MiB of a declared 10 MiB chunk and
stop. The server must not hold a database lock or transaction meanwhile:
another user's login and upload go on as fast as without the stall (on
SQLite that lock was the whole database's), and on PostgreSQL no connection
sits "idle in transaction". The stalled handler itself is taken over once
the chunk's lease runs out (CHUNK_LEASE_TIMEOUT, 10 s by default), and the
stalled request, when its bytes do come, appends none of them.
"""

from __future__ import annotations

import os
import time

from .client import crc_hex

OTHER, OTHER_PASSWORD = "slow-other", "slow-other-pass"
DECLARED, SENT = 10 << 20, 3 << 19  # 10 MiB declared, 1.5 MiB sent
LEASE_TIMEOUT = 10  # the demo site's default


def other_user(site) -> None:
    site.manage("shell", "-c", (
        "from django.contrib.auth import get_user_model\n"
        f"U = get_user_model()\n"
        f"U.objects.filter(username={OTHER!r}).exists() or "
        f"U.objects.create_user({OTHER!r}, password={OTHER_PASSWORD!r})"))


def timed(call):
    start = time.monotonic()
    result = call()
    return result, time.monotonic() - start


def another_users_work(client, folder: str) -> float:
    """Log in as another user and upload a small document; the slowest step, seconds."""
    ticket, login = timed(lambda: client.login(OTHER, OTHER_PASSWORD))
    handler, create = timed(lambda: client.create_handler(ticket))
    data = os.urandom(200_000)
    answer, chunk = timed(lambda: client.send_chunk(ticket, handler, data, True, 0))
    assert answer.accepted, answer
    done, finalize = timed(lambda: client.finalize(ticket, handler,
                                                   f"{folder}/{handler}.bin"))
    assert done.ok, done
    return max(login, create, chunk, finalize)


def open_transactions(site) -> list[tuple]:
    return site.database.query(
        "SELECT pid, state, query FROM pg_stat_activity "
        "WHERE datname = current_database() AND pid <> pg_backend_pid() "
        "AND (state LIKE 'idle in transaction%%' OR xact_start IS NOT NULL)")


def test_a_chunk_stalled_mid_body_delays_no_other_user(site, client, ticket, folder):
    other_user(site)
    quiet = another_users_work(client, folder)  # the baseline, same machine, same moment
    handler = client.create_handler(ticket, DECLARED)
    stalled = client.begin_chunk(ticket, handler, DECLARED, "0", False, 0)
    site.send_until_staged(stalled, os.urandom(SENT), handler)
    try:
        time.sleep(0.5)  # the server is now waiting for the rest
        if site.database.is_postgres:
            assert open_transactions(site) == []
        busy = another_users_work(client, folder)
        if site.database.is_postgres:
            assert open_transactions(site) == []
    finally:
        stalled.hang_up(send_rest=False)
    # Against the slower of two quiet runs: a busy machine varies by itself.
    quiet = max(quiet, another_users_work(client, folder))
    assert busy < quiet + 1.0, (quiet, busy)
    site.assert_consistent()


def test_a_stalled_handler_is_taken_over_after_the_lease_timeout(site, client, ticket):
    first, chunk = os.urandom(100_000), os.urandom(2 << 20)
    handler = client.create_handler(ticket)
    assert client.send_chunk(ticket, handler, first, False, 0).accepted
    stalled = client.begin_chunk(ticket, handler, len(chunk), crc_hex(chunk), False,
                                 len(first))
    sent = site.send_until_staged(stalled, chunk, handler)
    started = time.monotonic()

    # The same chunk again (a client retrying): it waits for the lease, no longer.
    answer = client.send_chunk(ticket, handler, chunk, False, len(first))
    waited = time.monotonic() - started
    assert answer.accepted and answer["offset"] == str(len(first + chunk)), answer
    assert waited < LEASE_TIMEOUT + 5, waited

    # The stalled request's bytes come at last: none of them may land.
    stalled.write(b"\xff" * (len(chunk) - sent))
    late = stalled.finish()
    assert late.accepted or late.error == "Offset mismatch.", late
    assert late.accepted is False or late["offset"] == str(len(first + chunk))
    status = client.status(ticket, handler)
    assert (status["offset"], status["chunks"]) == (str(len(first + chunk)), "2")
    assert site.staged_path(handler).read_bytes() == first + chunk
    site.assert_consistent()
