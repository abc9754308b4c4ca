"""Upload handlers: what is in flight, its progress, owner and expiry."""

from __future__ import annotations

import uuid
from datetime import timedelta

from django.contrib import admin, messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ChangeList
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, JsonResponse
from django.template.loader import render_to_string
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import localize
from django.utils.html import format_html
from django.utils.timezone import template_localtime

from ..conf import get_config
from ..engine import expiry, handlers
from ..engine.checksums import format_crc
from ..models import Chunk, UploadHandler
from ..sizes import sized
from . import live
from .base import ReadOnlyAdmin, user_search_field

State = UploadHandler.State
LEDGER_ROWS = 200


class StateFilter(admin.SimpleListFilter):
    """By state; pending (open or complete) unless a search names a handler."""

    title = "state"
    parameter_name = "state"
    PENDING = "pending"

    def lookups(self, request, model_admin):
        return [(self.PENDING, "pending (open or complete)"), *State.choices, ("all", "all")]

    def _current(self, request: HttpRequest) -> str:
        default = "all" if request.GET.get(admin.views.main.SEARCH_VAR) else self.PENDING
        return self.value() or default

    def queryset(self, request, queryset):
        current = self._current(request)
        if current == self.PENDING:
            return queryset.filter(state__in=expiry.LIVE_STATES)
        return queryset if current == "all" else queryset.filter(state=current)

    def choices(self, changelist):
        current = self._current(self.request)
        for value, label in self.lookup_choices:
            yield {
                "selected": current == value,
                "query_string": changelist.get_query_string({self.parameter_name: value}),
                "display": label,
            }


class OwnerFilter(admin.SimpleListFilter):
    """By owner: the owners with handlers while they fit in a short list.

    Past that, only the chosen owner is shown: choose one by clicking an
    owner in the list, or search by username.
    """

    title = parameter_name = "owner"
    LIMIT = 50

    def lookups(self, request, model_admin):
        users = get_user_model()._default_manager.order_by(get_user_model().USERNAME_FIELD)
        owners = users.filter(pk__in=model_admin.get_queryset(request).values("owner"))
        listed = list(owners[: self.LIMIT + 1])
        if len(listed) > self.LIMIT:
            try:
                listed = list(users.filter(pk=self.value())) if self.value() else []
            except (ValueError, ValidationError):
                listed = []  # a malformed id: queryset() below reports it
        return [(str(user.pk), str(user)) for user in listed]

    def has_output(self) -> bool:
        # A chosen owner filters even when no choice is listed for it.
        return bool(self.lookup_choices) or self.value() is not None

    def queryset(self, request, queryset):
        if self.value() is None:
            return queryset
        try:
            return queryset.filter(owner__pk=self.value())
        except (ValueError, ValidationError) as exc:
            raise IncorrectLookupParameters(exc) from exc


class SinceFilter(admin.SimpleListFilter):
    """By time elapsed since ``field``: under an hour, over an hour, a day, a week."""

    field = ""
    SPANS = {"lt1h": ("under 1 hour", 1), "gt1h": ("over 1 hour", 1),
             "gt1d": ("over 1 day", 24), "gt7d": ("over 7 days", 168)}

    def lookups(self, request, model_admin):
        return [(value, label) for value, (label, _) in self.SPANS.items()]

    def queryset(self, request, queryset):
        if self.value() not in self.SPANS:
            return queryset
        cutoff = timezone.now() - timedelta(hours=self.SPANS[self.value()][1])
        op = "gt" if self.value().startswith("lt") else "lte"
        return queryset.filter(**{f"{self.field}__{op}": cutoff})


class AgeFilter(SinceFilter):
    title, parameter_name, field = "age", "age", "created_at"


class IdleFilter(SinceFilter):
    title, parameter_name, field = "idle for", "idle", "last_activity_at"


class LiveChangeList(ChangeList):
    """The changelist, with each shown handler's transfer rate (one query per page)."""

    def get_results(self, request: HttpRequest) -> None:
        super().get_results(request)
        live.attach_rates(self.result_list)


@admin.register(UploadHandler)
class UploadHandlerAdmin(ReadOnlyAdmin):
    """What is in flight: pending handlers, their progress, rate, owner and expiry.

    The state, progress, rate, activity and document cells refresh every few
    seconds from :meth:`live_view` (``admin-live.js``, no third-party code).
    """

    list_display = ("guid", "owner_link", "state_shown", "progress", "rate",
                    "last_activity", "expires", "version_link")
    list_filter = (StateFilter, OwnerFilter, AgeFilter, IdleFilter)

    def get_search_fields(self, request: HttpRequest) -> tuple[str, ...]:
        return (user_search_field("owner"),)

    search_help_text = "An upload handler's GUID, or part of an owner's user name."
    show_full_result_count = False  # no COUNT(*) over the whole table
    show_facets = admin.ShowFacets.NEVER
    actions = ("expire_selected",)
    fields = ("id", "owner", "ticket", "state_shown", "progress", "rate", "committed_size",
              "chunk_count", "chunk_size_shown", "file_crc", "created_at", "last_activity",
              "completed_at", "finalized_at", "expires", "version_link", "ledger")
    readonly_fields = fields

    # Newest activity first: served by the index on last_activity_at, where
    # ordering by creation would sort every pending row for each page.
    ordering = ("-last_activity_at",)

    class Media:
        css = {"all": ["chunked_upload/admin.css"]}
        js = ["chunked_upload/admin-live.js"]

    def get_queryset(self, request):
        # Owners (and finalized handlers' documents) come in one query per
        # page: joined in, they make SQLite sort every pending row instead of
        # reading the newest from the index.
        # The SHA-256 state and the finalize destination are never shown.
        return (super().get_queryset(request).prefetch_related("owner", "version__document")
                .defer("sha256_state", "destination"))

    def get_changelist(self, request, **kwargs):
        return LiveChangeList

    def get_object(self, request, object_id, from_field=None):
        handler = super().get_object(request, object_id, from_field)
        if handler is not None:
            live.attach_rates([handler])
        return handler

    def get_urls(self):
        view = self.admin_site.admin_view(self.live_view)
        return [path("live/", view, name="chunked_upload_uploadhandler_live"),
                *super().get_urls()]

    def live_view(self, request: HttpRequest) -> JsonResponse:
        """``?id=…&id=…`` → the live cells of those handlers, as the changelist draws them.

        The changelist's own checks: the admin site's staff check, then the
        view permission, then the same queryset.
        """
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        ids = live.parse_ids(request.GET.getlist("id"))
        handlers_ = list(self.get_queryset(request).filter(pk__in=ids))
        now = timezone.now()
        live.attach_rates(handlers_, now)
        rows = {str(h.pk): {name: str(getattr(self, name)(h)) for name in live.LIVE_FIELDS}
                for h in handlers_}
        return JsonResponse({"rows": rows, "refresh": live.REFRESH_SECONDS})

    def get_search_results(self, request, queryset, search_term):
        try:
            handler_id = uuid.UUID(search_term.strip())
        except ValueError:
            return super().get_search_results(request, queryset, search_term)
        return queryset.filter(pk=handler_id), False

    @admin.display(description="upload handler", ordering="id")
    def guid(self, handler: UploadHandler) -> str:
        # The first 8 digits tell handlers apart on a page; the title has all 32.
        return format_html('<span title="{}" data-handler-id="{}">{}…</span>',
                           handler.id, handler.id, str(handler.id)[:8])

    @admin.display(description="state", ordering="state")
    def state_shown(self, handler: UploadHandler) -> str:
        return live.state_cell(handler)

    @admin.display(description="rate")
    def rate(self, handler: UploadHandler) -> str:
        return live.rate_cell(handler)

    @admin.display(description="last activity at", ordering="last_activity_at")
    def last_activity(self, handler: UploadHandler) -> str:
        return live.activity_cell(handler)

    @admin.display(description="document")
    def version_link(self, handler: UploadHandler) -> str:
        version = handler.version
        if version is None:
            return "-"
        url = reverse("admin:chunked_upload_documentversion_change", args=[version.pk])
        return format_html('<a href="{}">{}</a>', url, version)

    @admin.display(description="owner", ordering="owner")
    def owner_link(self, handler: UploadHandler) -> str:
        return format_html('<a href="?{}={}" title="Only this owner\'s handlers">{}</a>',
                           OwnerFilter.parameter_name, handler.owner_id, handler.owner)

    @admin.display(description="chunks", ordering="chunk_count")
    def chunks(self, handler: UploadHandler) -> int:
        return handler.chunk_count

    @admin.display(description="progress", ordering="committed_size")
    def progress(self, handler: UploadHandler) -> str:
        # The protocol never tells the server a file's size before its last
        # chunk, so only a complete upload has a known total to draw a bar for.
        size = handler.committed_size
        if handler.state in (State.COMPLETE, State.FINALIZED):
            return format_html('<progress value="{}" max="{}"></progress> {}',
                               size, size or 1, sized(size))
        return sized(size)

    @admin.display(description="chunk size", ordering="chunk_size")
    def chunk_size_shown(self, handler: UploadHandler) -> str:
        return sized(handler.chunk_size)

    @admin.display(description="file CRC-32")
    def file_crc(self, handler: UploadHandler) -> str:
        return format_crc(handler.crc32)

    @admin.display(description="expires at")
    def expires(self, handler: UploadHandler) -> str | None:
        if handler.state in expiry.LIVE_STATES:
            when = handlers.expires_at(handler)
        elif handler.state == State.FINALIZED and handler.finalized_at:
            retention = timedelta(seconds=get_config()["FINALIZED_RETENTION"])
            when = handler.finalized_at + retention  # the record's end, for replays
        else:
            return None  # expired: the record goes at the next expiry run
        # Formatted here: the detail page would print a computed datetime raw.
        return localize(template_localtime(when))

    @admin.display(description="chunk ledger")
    def ledger(self, handler: UploadHandler) -> str:
        latest = list(handler.chunks.order_by("-index")[:LEDGER_ROWS])[::-1]
        return render_to_string("admin/chunked_upload/uploadhandler/ledger.html", {
            "chunks": [(chunk, format_crc(chunk.crc32)) for chunk in latest],
            "total": handler.chunk_count,
            "shown": min(handler.chunk_count, LEDGER_ROWS),
        })

    def has_expire_permission(self, request: HttpRequest) -> bool:
        opts = self.opts
        return request.user.has_perm(f"{opts.app_label}.change_{opts.model_name}")

    @admin.action(description="Expire selected upload handlers", permissions=["expire"])
    def expire_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        ids = queryset.filter(state__in=expiry.LIVE_STATES).values_list("pk", flat=True)
        done = expiry.expire_handlers(list(ids))
        self.message_user(request, f"{len(done)} upload handler(s) expired, "
                                   f"{sum(r.staged_bytes for r in done):,} staged bytes removed.",
                          messages.SUCCESS)

    def delete_model(self, request: HttpRequest, obj: UploadHandler) -> None:
        expiry.delete_handlers([obj.pk])

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        expiry.delete_handlers(list(queryset.values_list("pk", flat=True)))

    def get_deleted_objects(self, objs, request):
        # Django's version lists every chunk row: thousands per large upload.
        objs = list(objs)
        summary = [f"{h} ({h.owner}, {h.get_state_display()}, {h.committed_size:,} bytes)"
                   for h in objs]
        counts = {UploadHandler._meta.verbose_name_plural: len(objs),
                  Chunk._meta.verbose_name_plural: sum(h.chunk_count for h in objs)}
        denied = set() if self.has_delete_permission(request) else {self.opts.verbose_name}
        return summary, counts, denied, []
