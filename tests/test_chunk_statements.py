"""What one UploadFileChunk costs the database.

An accepted chunk needs its ticket, a lease on its handler (one statement,
committed at once: nothing is held while the body arrives), then a ledger row
and the handler's new offset committed together before the answer: four
statements, one transaction. Nothing else may creep in per chunk.
"""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from chunked_upload.engine.prepared import has_returning
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)  # capture the real BEGIN/COMMIT


def statements(srv, ticket, handler, data, **params):
    srv.send_chunk(ticket, handler, data, last=False, **params)  # compiles what it will use
    with CaptureQueriesContext(connection) as queries:
        answer = srv.send_chunk(ticket, handler, data, last=False, **params)
    assert answer.ok, answer
    return [query["sql"].split()[0].upper() for query in queries.captured_queries]


@pytest.mark.skipif(not has_returning("default"),
                    reason="the database has no RETURNING: the lease takes a transaction")
def test_an_accepted_chunk_runs_four_statements_in_one_transaction(srv, user):
    ticket = srv.login(user.username, PASSWORD)
    handler = srv.create_handler(ticket)
    kinds = statements(srv, ticket, handler, b"x" * 1000, binding="multipart")
    work = [kind for kind in kinds if kind not in ("BEGIN", "COMMIT")]
    assert work == ["SELECT", "UPDATE", "INSERT", "UPDATE"]  # ticket, lease, ledger, offset
    assert kinds.count("COMMIT") <= 1
    # The lease is its own statement, before the transaction that commits.
    assert kinds.index("UPDATE") < kinds.index("BEGIN") if "BEGIN" in kinds else True


def test_a_site_with_atomic_requests_still_commits_the_lease_at_once(srv, user, monkeypatch):
    # ATOMIC_REQUESTS would hold one transaction (on SQLite, the write lock)
    # for as long as the chunk's body takes to arrive.
    monkeypatch.setitem(connection.settings_dict, "ATOMIC_REQUESTS", True)
    ticket = srv.login(user.username, PASSWORD)
    handler = srv.create_handler(ticket)
    kinds = statements(srv, ticket, handler, b"x" * 1000, binding="multipart")
    assert kinds[0] == "SELECT"  # the ticket, outside any transaction
    assert "SAVEPOINT" not in kinds  # each transaction of the chunk is its own


def test_the_ledger_is_indexed_by_handler_once():
    # Every index is one more page written for each chunk's ledger row.
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, "chunked_upload_chunk")
    by_handler = [name for name, c in constraints.items()
                  if (c["index"] or c["unique"]) and c["columns"][:1] == ["handler_id"]]
    assert by_handler == ["chunk_unique_index"]
