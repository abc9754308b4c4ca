"""``manage.py expire_upload_handlers``: the expiry sweep, for cron.

Thin: parses the options, calls :func:`chunked_upload.engine.expiry.expire_all`
and prints its report. Any failure exits non-zero (``CommandError``).
"""

from __future__ import annotations

import argparse
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from ...engine.expiry import FAILURES, ExpiryReport, ExpiryRules, expire_all


def _count(minimum: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}")
        return value

    return parse


class Command(BaseCommand):
    help = (
        "Remove upload handlers past their idle timeout or maximum age with their staged "
        "bytes, staged files no handler owns, finalized-handler records past retention, "
        "and expired download handlers and tickets. Never touches documents."
    )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true",
            help="Report what would be removed; change nothing.",
        )
        parser.add_argument(
            "--idle-timeout", type=_count(0), metavar="SECONDS",
            help="Idle time after which a handler expires (default: HANDLER_IDLE_TIMEOUT).",
        )
        parser.add_argument(
            "--max-age", type=_count(0), metavar="SECONDS",
            help="Age after which a handler expires (default: HANDLER_MAX_AGE).",
        )
        parser.add_argument(
            "--batch-size", type=_count(1), default=1000, metavar="N",
            help="Rows handled per transaction (default: 1000).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        rules = ExpiryRules.from_config(options["idle_timeout"], options["max_age"])
        try:
            report = expire_all(rules, batch_size=options["batch_size"],
                                dry_run=options["dry_run"])
        except FAILURES as exc:
            raise CommandError(f"expiry failed: {exc}") from exc
        self.stdout.write(format_report(report))


def format_report(report: ExpiryReport) -> str:
    """The report as printed: one line per kind of thing removed."""
    done = "to remove" if report.dry_run else "removed"
    lines = [
        f"Upload handlers {'to expire' if report.dry_run else 'expired'}: "
        f"{report.expired_handlers:,} "
        f"({report.expired_bytes:,} {'committed' if report.dry_run else 'staged'} bytes)",
        f"Expired or finalized handler records {done}: {report.retired_handlers:,}",
        f"Leftover staged files {done}: {report.orphan_files:,} ({report.orphan_bytes:,} bytes)",
        f"Expired download handlers {done}: {report.download_handlers:,}",
        f"Expired tickets {done}: {report.tickets:,}",
    ]
    if report.skipped_handlers:
        lines.append(f"Upload handlers skipped (in use or active again): "
                     f"{report.skipped_handlers:,}")
    if report.dry_run:
        lines.insert(0, "Dry run: nothing was changed.")
    return "\n".join(lines)
