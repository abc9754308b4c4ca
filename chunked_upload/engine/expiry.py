"""The expiry sweep: what ``manage.py expire_upload_handlers`` does.

It removes, in this order:

1. upload handlers past their idle timeout or maximum age (their staged bytes
   go after the commit, ``handler_expired`` is sent for each), and the rows of
   handlers already expired or finalized longer ago than the retention time;
2. staged files that no open or complete handler owns (crash leftovers);
3. download handlers and tickets past their lifetime.

Documents and versions are never touched. Work is done in batches of
``batch_size`` rows, each in its own transaction, so memory stays bounded
and a failure keeps the batches already done. Each handler row is locked
(``SELECT … FOR UPDATE SKIP LOCKED`` where the database has it) and its
expiry checked again under the lock: a handler that a request holds right
now (locked, or leased for a chunk), or that received a chunk since the run
began, is left alone, and two
hosts running the sweep at once never handle the same row twice.
"""

from __future__ import annotations

import itertools
import logging
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from django.db import connections, transaction
from django.db.models import Count, F, Q, QuerySet, Sum
from django.utils import timezone

from ..conf import get_config
from ..models import DownloadHandler, Ticket, UploadHandler
from ..staging import get_staging
from . import handlers, leases

logger = logging.getLogger("chunked_upload")
State = UploadHandler.State
LIVE_STATES = (State.OPEN, State.COMPLETE)

#: A staged file changed more recently than this is never swept as a leftover:
#: its handler's row may not be committed yet.
ORPHAN_GRACE = timedelta(hours=1)

T = TypeVar("T")


@dataclass(frozen=True)
class ExpiryRules:
    """The lifetimes one run applies, in seconds."""

    idle_timeout: int
    max_age: int
    finalized_retention: int

    @classmethod
    def from_config(cls, idle_timeout: int | None = None, max_age: int | None = None
                    ) -> ExpiryRules:
        """The configured lifetimes, with this run's overrides."""
        config = get_config()
        return cls(
            idle_timeout=config["HANDLER_IDLE_TIMEOUT"] if idle_timeout is None else idle_timeout,
            max_age=config["HANDLER_MAX_AGE"] if max_age is None else max_age,
            finalized_retention=config["FINALIZED_RETENTION"],
        )


@dataclass
class ExpiryReport:
    """What one run removed (or, in a dry run, would remove)."""

    dry_run: bool = False
    expired_handlers: int = 0
    expired_bytes: int = 0
    retired_handlers: int = 0  # rows of handlers already expired or finalized
    orphan_files: int = 0
    orphan_bytes: int = 0
    download_handlers: int = 0
    tickets: int = 0
    skipped_handlers: int = 0  # held by a request, or active again under the lock


def expire_all(
    rules: ExpiryRules | None = None,
    *,
    batch_size: int = 1000,
    dry_run: bool = False,
    now: datetime | None = None,
) -> ExpiryReport:
    """Run the whole sweep; see the module docstring."""
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    rules = rules or ExpiryRules.from_config()
    now = now or timezone.now()
    report = ExpiryReport(dry_run=dry_run)
    _sweep_upload_handlers(report, rules, now, batch_size)
    _sweep_orphans(report, now, batch_size)
    report.download_handlers = _sweep_rows(
        DownloadHandler.objects.filter(expires_at__lte=now), batch_size, dry_run,
    )
    report.tickets = _sweep_rows(Ticket.objects.filter(expires_at__lte=now), batch_size, dry_run)
    logger.info(
        "expiry%s: %d upload handlers expired (%d staged bytes), %d handler records removed, "
        "%d leftover staged files (%d bytes), %d download handlers, %d tickets",
        " (dry run)" if dry_run else "", report.expired_handlers, report.expired_bytes,
        report.retired_handlers, report.orphan_files, report.orphan_bytes,
        report.download_handlers, report.tickets,
    )
    return report


# One handler at a time (the admin's actions) -----------------------------

def expire_handlers(handler_ids: Iterable[uuid.UUID]) -> list[handlers.Removal]:
    """Expire these handlers now, those still open or complete.

    Each is locked in turn, waiting for a request that has it: a chunk being
    written is committed first (or its lease runs out), then the handler
    expires and its staged bytes go after that commit. The removals'
    ``staged_bytes`` are filled on commit.
    """
    removals = []
    for handler_id in handler_ids:
        with leases.exclusively(handler_id) as handler:
            if handler is not None and handler.state in LIVE_STATES:
                removals.append(handlers.expire(handler))
    return removals


def delete_handlers(handler_ids: Iterable[uuid.UUID]) -> list[handlers.Removal]:
    """Delete these handlers with their ledgers and staged bytes, as
    DeleteUploadHandler does; locked one at a time like :func:`expire_handlers`."""
    removals = []
    for handler_id in handler_ids:
        with leases.exclusively(handler_id) as handler:
            if handler is not None:
                removals.append(handlers.delete(handler))
    return removals


# The sweep: upload handlers ----------------------------------------------

def _due(rules: ExpiryRules, now: datetime) -> tuple[Q, Q]:
    """(past their lifetime, records to drop) as filters; mirrors :func:`_verdict`."""
    overdue = Q(state__in=LIVE_STATES) & (
        Q(last_activity_at__lte=now - timedelta(seconds=rules.idle_timeout))
        | Q(created_at__lte=now - timedelta(seconds=rules.max_age))
    )
    retired = Q(state=State.EXPIRED) | Q(
        state=State.FINALIZED,
        finalized_at__lte=now - timedelta(seconds=rules.finalized_retention),
    )
    return overdue, retired


#: The fields a verdict is made of, in :func:`_verdict`'s order.
VERDICT_FIELDS = ("state", "last_activity_at", "created_at", "finalized_at")


def _verdict(row: tuple, rules: ExpiryRules, now: datetime) -> str | None:
    """``"expire"``, ``"retire"`` or None (keep) for a row of :data:`VERDICT_FIELDS`."""
    state, last_activity_at, created_at, finalized_at = row
    if state in LIVE_STATES:
        deadline = min(last_activity_at + timedelta(seconds=rules.idle_timeout),
                       created_at + timedelta(seconds=rules.max_age))
        return "expire" if deadline <= now else None
    if state == State.EXPIRED:
        return "retire"
    retention = timedelta(seconds=rules.finalized_retention)
    return "retire" if finalized_at + retention <= now else None


def _sweep_upload_handlers(
    report: ExpiryReport, rules: ExpiryRules, now: datetime, batch_size: int
) -> None:
    if report.dry_run:
        overdue, retired = _due(rules, now)
        totals = UploadHandler.objects.aggregate(
            expired=Count("pk", filter=overdue),
            committed=Sum("committed_size", filter=overdue),
            retired=Count("pk", filter=retired),
        )
        report.expired_handlers = totals["expired"]
        report.expired_bytes = totals["committed"] or 0
        report.retired_handlers = totals["retired"]
        return
    # The whole table in primary-key pages, judged here: a page query that
    # filtered on the rules would make some databases sort every candidate
    # for every page (a million rows, a thousand times).
    for page in _pages(UploadHandler.objects.all(), batch_size, *VERDICT_FIELDS):
        due = [row[0] for row in page if _verdict(row[1:], rules, now)]
        if due:
            _expire_batch(report, due, rules, now)


def _expire_batch(
    report: ExpiryReport, ids: list[uuid.UUID], rules: ExpiryRules, now: datetime
) -> None:
    alias = handlers.db_alias()
    with transaction.atomic(using=alias):
        rows = _lock(UploadHandler.objects.using(alias).filter(pk__in=ids), "state")
        # Judged again under the lock: a chunk may have arrived since the page.
        verdicts = [
            (handler, _verdict(tuple(getattr(handler, f) for f in VERDICT_FIELDS), rules, now))
            for handler in rows
        ]
        # A handler leased right now is receiving a chunk: in use, not idle.
        due = [handler for handler, verdict in verdicts
               if verdict == "expire" and not leases.is_held(handler)]
        retired = [str(handler.pk) for handler, verdict in verdicts if verdict == "retire"]
        report.skipped_handlers += len(ids) - len(due) - len(retired)
        # The engine's own expiry, rows deleted with their ledgers (documents
        # are not related): after the commit it removes their staged bytes,
        # logs each and sends handler_expired.
        removals = handlers.expire_many(due, delete_rows=True) if due else []
        if retired:
            # only("pk"): the delete fetches the rows again, and needs no more.
            UploadHandler.objects.using(alias).filter(pk__in=retired).only("pk").delete()
    # Committed: the expired handlers' bytes are gone and their removals filled.
    report.expired_handlers += len(removals)
    report.expired_bytes += sum(removal.staged_bytes for removal in removals)
    report.retired_handlers += len(retired)
    if retired:
        logger.info("expiry: %d expired or finalized upload handler records removed",
                    len(retired))
        # Their bytes were removed when they expired or finalized; a crash in
        # between leaves some, which no handler owns any more.
        staging = get_staging()
        for key in retired:
            if size := staging.delete(key):
                report.orphan_files += 1
                report.orphan_bytes += size


def _lock(queryset: QuerySet[T], noop_field: str) -> list[T]:
    """Lock and fetch the rows of ``queryset``, leaving out rows someone else holds."""
    features = connections[queryset.db].features
    if features.has_select_for_update_skip_locked:
        return list(queryset.select_for_update(skip_locked=True))
    if features.has_select_for_update:
        return list(queryset.select_for_update())
    # SQLite has no row locks: a first write takes the database's write lock,
    # so the rows read after it are current and stay so until the commit.
    queryset.update(**{noop_field: F(noop_field)})
    return list(queryset)


# Staged files -------------------------------------------------------------

def _sweep_orphans(report: ExpiryReport, now: datetime, batch_size: int) -> None:
    """Remove staged files that no open or complete handler owns."""
    staging = get_staging()
    young = now - ORPHAN_GRACE
    for batch in _chunked(staging.keys(), batch_size):
        by_id: dict[uuid.UUID, tuple[str, int]] = {}
        for key, size in batch:
            try:
                by_id[uuid.UUID(key)] = (key, size)
            except ValueError:
                continue  # not a handler's key: not ours to judge
        states = dict(
            UploadHandler.objects.filter(pk__in=list(by_id)).values_list("pk", "state")
        )
        for handler_id, (key, size) in by_id.items():
            state = states.get(handler_id)
            if state in LIVE_STATES:
                continue
            # A handler never comes back to life, so a file found unowned stays
            # unowned; only one with no row at all may be wrong (its handler's
            # row not committed yet), so only those wait out the grace time. A
            # finalized or expired handler's file (a crash after its commit)
            # goes at once.
            modified = staging.modified_at(key) if state is None else None
            if modified is not None and modified > young:
                continue
            if not report.dry_run:
                size = staging.delete(key)
                logger.info("expiry: leftover staged file %s removed, %d bytes", key, size)
            report.orphan_files += 1
            report.orphan_bytes += size


# Download handlers and tickets ---------------------------------------------

def _sweep_rows(candidates: QuerySet, batch_size: int, dry_run: bool) -> int:
    """Delete the rows of ``candidates`` batch by batch; return how many went."""
    if dry_run:
        return candidates.count()
    label, name = candidates.model._meta.label, candidates.model._meta.verbose_name_plural
    total = 0
    while True:
        # Unordered: the index on the expiry serves the first rows it finds, and
        # the rows deleted last time are no longer among them.
        ids = list(candidates.order_by().values_list("pk", flat=True)[:batch_size])
        if not ids:
            return total
        with transaction.atomic(using=candidates.db):
            # The filter again: a row that came back to life is kept.
            deleted = candidates.filter(pk__in=ids).only("pk").delete()[1].get(label, 0)
        if not deleted:
            return total  # only rows kept above are left
        total += deleted
        logger.info("expiry: %d expired %s removed", deleted, name)


# Helpers ------------------------------------------------------------------

def _pages(queryset: QuerySet, batch_size: int, *fields: str) -> Iterator[list[tuple]]:
    """``(pk, *fields)`` of every row, a page at a time, in primary-key order.

    Keyset pagination (each page starts after the previous page's last key)
    served by the primary-key index: every page costs the same, and memory
    holds one page.
    """
    ordered = queryset.order_by("pk").values_list("pk", *fields)
    last = None
    while True:
        page = list((ordered if last is None else ordered.filter(pk__gt=last))[:batch_size])
        if not page:
            return
        yield page
        last = page[-1][0]


def _chunked(items: Iterable[T], size: int) -> Iterator[list[T]]:
    iterator = iter(items)
    while batch := list(itertools.islice(iterator, size)):
        yield batch
