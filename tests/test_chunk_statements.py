"""What one UploadFileChunk costs the database.

An accepted chunk needs its ticket, its handler's row lock, a ledger row and
the handler's new offset, committed together before the answer: four
statements and one transaction. Nothing else may creep in per chunk.
"""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)  # capture the real BEGIN/COMMIT


def statements(srv, ticket, handler, data, **params):
    srv.send_chunk(ticket, handler, data, last=False, **params)  # compiles what it will use
    with CaptureQueriesContext(connection) as queries:
        answer = srv.send_chunk(ticket, handler, data, last=False, **params)
    assert answer.ok, answer
    return [query["sql"].split()[0].upper() for query in queries.captured_queries]


def test_an_accepted_chunk_runs_four_statements_in_one_transaction(srv, user):
    ticket = srv.login(user.username, PASSWORD)
    handler = srv.create_handler(ticket)
    kinds = statements(srv, ticket, handler, b"x" * 1000, binding="multipart")
    work = [kind for kind in kinds if kind not in ("BEGIN", "COMMIT")]
    assert work == ["SELECT", "SELECT", "INSERT", "UPDATE"]  # ticket, lock, ledger, offset
    assert kinds.count("COMMIT") <= 1
