"""What the handler changelist shows of an upload in motion, and its JSON refresh.

The rate comes from the chunk ledger: the bytes of the chunks received in
the last :data:`RATE_WINDOW` seconds, over that time (or the handler's age,
if younger), for a whole page of handlers in one query. A live handler quiet
for longer than ``CHUNKED_UPLOAD["STALLED_AFTER"]`` seconds is marked
*stalled*.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.db.models import Count, Sum
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.timezone import template_localtime

from ..conf import get_config
from ..engine import expiry
from ..models import Chunk, UploadHandler
from ..sizes import iec

RATE_WINDOW = 10  # seconds of ledger a rate is measured over
REFRESH_SECONDS = 3  # how often an open changelist asks for fresh cells
# The cells the changelist refreshes, by their list_display names.
LIVE_FIELDS = ("state_shown", "progress", "rate", "last_activity", "version_link")


def attach_rates(handlers: Iterable[UploadHandler], now: datetime | None = None) -> None:
    """Set ``handler.rate`` (bytes/s) on each, from the ledger, in one query at most."""
    now = now or timezone.now()
    since = now - timedelta(seconds=RATE_WINDOW)
    handlers = list(handlers)
    # Only a handler active within the window can have chunks in it.
    recent = [h.pk for h in handlers if h.last_activity_at >= since]
    sums = {}
    if recent:
        rows = (Chunk.objects.filter(handler_id__in=recent, received_at__gte=since)
                .values("handler_id").annotate(total=Sum("length"), n=Count("id")))
        sums = {row["handler_id"]: row["total"] for row in rows}
    for handler in handlers:
        elapsed = (now - max(since, handler.created_at)).total_seconds()
        handler.rate = sums.get(handler.pk, 0) / max(elapsed, 1.0)


def is_stalled(handler: UploadHandler, now: datetime | None = None) -> bool:
    """A live handler that has heard nothing for longer than STALLED_AFTER."""
    now = now or timezone.now()
    quiet = timedelta(seconds=get_config()["STALLED_AFTER"])
    return handler.state in expiry.LIVE_STATES and now - handler.last_activity_at > quiet


def ago(when: datetime, now: datetime | None = None) -> str:
    """``"12 s ago"``, ``"5 min ago"``, ``"3 h ago"``, ``"2 d ago"``."""
    seconds = max(0, int(((now or timezone.now()) - when).total_seconds()))
    for unit, size, limit in (("s", 1, 120), ("min", 60, 7200), ("h", 3600, 172800)):
        if seconds < limit:
            return f"{seconds // size} {unit} ago"
    return f"{seconds // 86400} d ago"


def timestamp(when: datetime | None) -> str:
    """To the second, in the site's time zone."""
    return "" if when is None else date_format(template_localtime(when), "Y-m-d H:i:s")


def rate_cell(handler: UploadHandler) -> SafeString | str:
    rate = getattr(handler, "rate", None)
    if not rate:
        return "-"
    return format_html('<span title="{} bytes/s over the last {} s">{}/s</span>',
                       f"{rate:,.0f}", RATE_WINDOW, iec(int(rate)))


def activity_cell(handler: UploadHandler, now: datetime | None = None) -> SafeString:
    return format_html('<span class="cu-when">{}</span> <span class="cu-ago">({})</span>',
                       timestamp(handler.last_activity_at), ago(handler.last_activity_at, now))


def state_cell(handler: UploadHandler, now: datetime | None = None) -> SafeString:
    if is_stalled(handler, now):
        return format_html(
            '{} <strong class="cu-stalled" title="Nothing received for over {} s">stalled</strong>',
            handler.get_state_display(), get_config()["STALLED_AFTER"])
    return format_html("{}", handler.get_state_display())


def parse_ids(values: Iterable[str], limit: int = 500) -> list[uuid.UUID]:
    """The well-formed handler ids among ``values`` (others are ignored)."""
    ids = []
    for value in list(values)[:limit]:
        try:
            ids.append(uuid.UUID(value))
        except ValueError:
            continue
    return ids
