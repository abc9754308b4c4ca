"""``manage.py expire_upload_handlers``: what it removes, what it never touches."""

from __future__ import annotations

import io
import os
import threading
import uuid
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from chunked_upload import signals
from chunked_upload.engine import expiry
from chunked_upload.models import Document, DocumentVersion, DownloadHandler, Ticket, UploadHandler
from chunked_upload.staging import get_staging
from tests.factories import DownloadHandlerFactory, TicketFactory
from tests.handlers import hold_chunk_open, make_handler, staged_keys

pytestmark = pytest.mark.django_db(transaction=True)
HOUR = timedelta(hours=1)


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("expire_upload_handlers", *args, stdout=out)
    return out.getvalue()


def make_orphan(size: int, *, age: timedelta = 2 * HOUR) -> str:
    staging, key = get_staging(), str(uuid.uuid4())
    with staging.open(key, create=True) as staged:
        staged.write(b"o" * size)
    then = (timezone.now() - age).timestamp()
    os.utime(staging.path(key), (then, then))
    return key


def test_idle_handler_is_removed_with_its_staged_bytes():
    handler = make_handler(b"x" * 300, idle=25 * HOUR)
    output = run()
    assert not UploadHandler.objects.filter(pk=handler.pk).exists()
    assert str(handler.pk) not in staged_keys()
    assert "Upload handlers expired: 1 (300 staged bytes)" in output


def test_recently_active_handler_is_kept_with_its_bytes():
    handler = make_handler(b"x" * 300, idle=23 * HOUR, age=6 * 24 * HOUR)
    run()
    assert UploadHandler.objects.get(pk=handler.pk).state == UploadHandler.State.OPEN
    assert staged_keys()[str(handler.pk)] == 300


def test_max_age_expires_even_an_active_handler():
    handler = make_handler(b"x", idle=timedelta(0), age=7 * 24 * HOUR + HOUR)
    run()
    assert not UploadHandler.objects.filter(pk=handler.pk).exists()


def test_a_complete_but_never_finalized_handler_expires_too():
    handler = make_handler(b"done", idle=25 * HOUR, last=True)
    assert handler.state == UploadHandler.State.COMPLETE
    run()
    assert not UploadHandler.objects.filter(pk=handler.pk).exists()
    assert str(handler.pk) not in staged_keys()


def test_idle_timeout_option_overrides_the_setting_for_one_run():
    handler = make_handler(b"x", idle=2 * HOUR)
    run()
    assert UploadHandler.objects.filter(pk=handler.pk).exists()
    run("--idle-timeout", "3600")
    assert not UploadHandler.objects.filter(pk=handler.pk).exists()


def test_max_age_option_overrides_the_setting_for_one_run():
    handler = make_handler(b"x", age=2 * 24 * HOUR)
    run()
    assert UploadHandler.objects.filter(pk=handler.pk).exists()
    run("--max-age", str(24 * 3600))
    assert not UploadHandler.objects.filter(pk=handler.pk).exists()


def test_finalized_records_go_after_retention_and_their_documents_stay(srv, ticket, config):
    config(FINALIZED_RETENTION=3600)
    srv.upload(ticket, b"content", 1 << 20, path="/Reports/a.txt")
    handler = UploadHandler.objects.get()
    version = DocumentVersion.objects.get()
    run()
    assert UploadHandler.objects.filter(pk=handler.pk).exists()  # replays still work

    UploadHandler.objects.update(finalized_at=timezone.now() - 2 * HOUR)
    output = run()
    assert not UploadHandler.objects.exists()
    assert Document.objects.get().versions.get() == version
    assert srv.download(ticket, "/Reports/a.txt") == b"content"
    assert "Expired or finalized handler records removed: 1" in output


def test_records_of_already_expired_handlers_are_removed():
    handler = make_handler(b"x")
    expiry.expire_handlers([handler.pk])
    run()
    assert not UploadHandler.objects.filter(pk=handler.pk).exists()


def test_staged_files_that_no_handler_owns_are_removed():
    orphan = make_orphan(1234)
    output = run()
    assert orphan not in staged_keys()
    assert "Leftover staged files removed: 1 (1,234 bytes)" in output


def test_a_staged_file_younger_than_the_grace_period_is_left_alone():
    # Its handler's row may still be uncommitted in another transaction.
    orphan = make_orphan(10, age=timedelta(minutes=5))
    run()
    assert orphan in staged_keys()


def test_a_finalized_handlers_leftover_staged_file_goes_at_once(srv, ticket):
    # A crash between a finalize's commit and its staged-file removal leaves one.
    srv.upload(ticket, b"content", 1 << 20, path="/a.txt")
    key = str(UploadHandler.objects.get().pk)
    with get_staging().open(key, create=True) as staged:
        staged.write(b"content")
    output = run()
    assert key not in staged_keys()
    assert "Leftover staged files removed: 1 (7 bytes)" in output
    assert srv.download(ticket, "/a.txt") == b"content"


def test_an_open_handlers_old_staged_file_is_not_an_orphan():
    handler = make_handler(b"x" * 10, idle=HOUR)
    then = (timezone.now() - 48 * HOUR).timestamp()
    os.utime(get_staging().path(str(handler.pk)), (then, then))
    run()
    assert staged_keys()[str(handler.pk)] == 10


def test_expired_download_handlers_and_tickets_are_removed_live_ones_kept():
    old = timezone.now() - HOUR
    DownloadHandlerFactory(expires_at=old)
    live_download = DownloadHandlerFactory()
    expired_ticket = TicketFactory(expires_at=old)
    revoked_live = TicketFactory(revoked_at=old)
    handler = make_handler(b"x", ticket=expired_ticket)
    output = run()
    assert list(DownloadHandler.objects.all()) == [live_download]
    assert not Ticket.objects.filter(pk=expired_ticket.pk).exists()
    assert Ticket.objects.filter(pk=revoked_live.pk).exists()  # kept until its lifetime ends
    # The handler outlives its ticket's row (it is only unbound from it).
    assert UploadHandler.objects.get(pk=handler.pk).ticket is None
    assert "Expired download handlers removed: 1" in output
    assert "Expired tickets removed: 1" in output


def test_dry_run_reports_and_changes_nothing(srv, ticket, config):
    config(FINALIZED_RETENTION=0)
    srv.upload(ticket, b"kept", 1 << 20, path="/a.txt")
    make_handler(b"x" * 40, idle=25 * HOUR)
    make_orphan(7)
    DownloadHandlerFactory(expires_at=timezone.now() - HOUR)
    TicketFactory(expires_at=timezone.now() - HOUR)

    def snapshot():
        return [list(model.objects.order_by("pk").values())
                for model in (UploadHandler, DownloadHandler, Ticket, Document, DocumentVersion)]

    before, files_before = snapshot(), staged_keys()
    output = run("--dry-run")
    assert snapshot() == before
    assert staged_keys() == files_before
    assert output.splitlines() == [
        "Dry run: nothing was changed.",
        "Upload handlers to expire: 1 (40 committed bytes)",
        "Expired or finalized handler records to remove: 1",
        "Leftover staged files to remove: 1 (7 bytes)",
        "Expired download handlers to remove: 1",
        "Expired tickets to remove: 1",
    ]


def test_works_through_more_rows_than_one_batch_a_batch_at_a_time():
    ids = {make_handler(b"x", idle=25 * HOUR).pk for _ in range(5)}
    with CaptureQueriesContext(connection) as queries:
        output = run("--batch-size", "2")
    assert not UploadHandler.objects.filter(pk__in=ids).exists()
    assert "Upload handlers expired: 5 (5 staged bytes)" in output
    pages = [q["sql"] for q in queries.captured_queries
             if q["sql"].startswith('SELECT "chunked_upload_uploadhandler"."id"')
             and "LIMIT" in q["sql"]]
    assert len(pages) == 4  # 2 + 2 + 1 + the empty page that ends it
    assert all("LIMIT 2" in sql for sql in pages)


def test_a_handler_receiving_a_chunk_during_the_run_is_not_expired():
    # Idle for 2 hours: usable by clients (24 h), due for this run (1 h).
    handler = make_handler(b"a" * 10, idle=2 * HOUR)
    rules = expiry.ExpiryRules.from_config(idle_timeout=3600)
    locked, release = threading.Event(), threading.Event()
    reports = []

    def sweep():
        try:
            reports.append(expiry.expire_all(rules))
        finally:
            connection.close()

    upload = threading.Thread(target=hold_chunk_open, args=(handler, locked, release))
    upload.start()
    assert locked.wait(10)
    sweeper = threading.Thread(target=sweep)
    sweeper.start()
    sweeper.join(0.5)  # PostgreSQL: skips the locked row; SQLite: waits for the write lock
    release.set()
    upload.join(10)
    sweeper.join(30)
    assert reports[0].expired_handlers == 0
    assert reports[0].skipped_handlers == 1
    handler.refresh_from_db()
    assert (handler.state, handler.committed_size) == (UploadHandler.State.OPEN, 15)
    assert staged_keys()[str(handler.pk)] == 15


def test_two_runs_at_once_expire_each_handler_exactly_once():
    ids = {make_handler(b"x", idle=25 * HOUR).pk for _ in range(6)}
    expired, reports = [], []

    def on_expired(handler, **kwargs):
        expired.append(handler.pk)

    def sweep():
        try:
            reports.append(expiry.expire_all(batch_size=2))
        finally:
            connection.close()

    signals.handler_expired.connect(on_expired)
    try:
        runs = [threading.Thread(target=sweep) for _ in range(2)]
        for thread in runs:
            thread.start()
        for thread in runs:
            thread.join(30)
    finally:
        signals.handler_expired.disconnect(on_expired)
    assert sorted(expired) == sorted(ids)
    assert sum(report.expired_handlers for report in reports) == 6
    assert not UploadHandler.objects.exists()


@pytest.mark.parametrize("args", [
    ["--batch-size", "0"], ["--idle-timeout", "-1"], ["--max-age", "soon"],
])
def test_bad_options_are_refused(args):
    with pytest.raises(CommandError):
        run(*args)


def test_a_failure_exits_with_an_error_and_keeps_what_it_could_not_remove(tmp_path, config):
    handler = make_handler(b"x" * 3, idle=25 * HOUR)
    blocker = tmp_path / "not-a-directory"
    blocker.write_bytes(b"")
    config(STAGING_DIR=blocker)  # every staging call now fails
    with pytest.raises(CommandError, match="expiry failed"):
        run()
    # The record is gone; the bytes stay where they were, for the next run.
    assert not UploadHandler.objects.filter(pk=handler.pk).exists()
    config(STAGING_DIR=tmp_path / "staging")
    assert staged_keys()[str(handler.pk)] == 3
