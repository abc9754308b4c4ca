"""The admin: uploads in flight, and the tickets, folders and documents around them.

Everything is read-only: the admin never edits offsets, names or contents.
Upload handlers can be expired or deleted, always through the engine under
the handler's row lock, so a chunk being written finishes first and its
staged bytes go after the commit. Tickets can be revoked. The handler
changelist makes a fixed number of queries whatever the number of rows
(``benchmarks/expiry.py`` counts them at 100,000 handlers).
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from django.contrib import admin, messages
from django.core.files.storage import storages
from django.db.models import Count, QuerySet
from django.http import FileResponse, Http404, HttpRequest
from django.template.defaultfilters import filesizeformat
from django.template.loader import render_to_string
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import localize
from django.utils.html import format_html
from django.utils.timezone import template_localtime

from .conf import get_config
from .engine import expiry, handlers, tickets
from .engine.checksums import format_crc
from .models import Chunk, Document, DocumentVersion, Folder, Ticket, UploadHandler

State = UploadHandler.State
LEDGER_ROWS = 200


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows are made by the web service; the admin only looks."""

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


class ViewOnlyAdmin(ReadOnlyAdmin):
    """Read-only and not deletable: stored content must not be orphaned from here."""

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


# Upload handlers ------------------------------------------------------------

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


@admin.register(UploadHandler)
class UploadHandlerAdmin(ReadOnlyAdmin):
    """What is in flight: pending handlers, their progress, owner and expiry."""

    list_display = ("guid", "owner", "state", "progress", "chunks", "chunk_size_shown",
                    "created_at", "last_activity_at", "expires")
    list_filter = (StateFilter, ("owner", admin.RelatedOnlyFieldListFilter), AgeFilter,
                   IdleFilter)
    list_select_related = ("owner",)
    search_fields = ("owner__username",)
    search_help_text = "An upload handler's GUID, or part of an owner's username."
    show_full_result_count = False  # no COUNT(*) over the whole table
    show_facets = admin.ShowFacets.NEVER
    actions = ("expire_selected",)
    fields = ("id", "owner", "ticket", "state", "progress", "committed_size", "chunk_count",
              "chunk_size", "file_crc", "created_at", "last_activity_at", "completed_at",
              "finalized_at", "expires", "version", "ledger")
    readonly_fields = fields

    def get_search_results(self, request, queryset, search_term):
        try:
            handler_id = uuid.UUID(search_term.strip())
        except ValueError:
            return super().get_search_results(request, queryset, search_term)
        return queryset.filter(pk=handler_id), False

    @admin.display(description="upload handler", ordering="id")
    def guid(self, handler: UploadHandler) -> str:
        # The first 8 digits tell handlers apart on a page; the title has all 32.
        return format_html('<span title="{}">{}…</span>', handler.id, str(handler.id)[:8])

    @admin.display(description="chunks", ordering="chunk_count")
    def chunks(self, handler: UploadHandler) -> int:
        return handler.chunk_count

    @admin.display(description="progress", ordering="committed_size")
    def progress(self, handler: UploadHandler) -> str:
        # The protocol never tells the server a file's size before its last
        # chunk, so only a complete upload has a known total to draw a bar for.
        size = handler.committed_size
        label = f"{filesizeformat(size)} ({size:,} bytes)"
        if handler.state in (State.COMPLETE, State.FINALIZED):
            return format_html('<progress value="{}" max="{}"></progress> {}',
                               size, size or 1, label)
        return label

    @admin.display(description="chunk size", ordering="chunk_size")
    def chunk_size_shown(self, handler: UploadHandler) -> str:
        return filesizeformat(handler.chunk_size)

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
        latest = handler.chunks.order_by("-index")[:LEDGER_ROWS]
        return render_to_string("admin/chunked_upload/uploadhandler/ledger.html", {
            "chunks": [(c, format_crc(c.crc32)) for c in reversed(latest)],
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


# Tickets ----------------------------------------------------------------------

class TicketStatusFilter(admin.SimpleListFilter):
    title, parameter_name = "status", "status"

    def lookups(self, request, model_admin):
        return [("live", "live"), ("expired", "expired"), ("revoked", "revoked")]

    def queryset(self, request, queryset):
        now = timezone.now()
        return {
            "live": queryset.filter(revoked_at__isnull=True, expires_at__gt=now),
            "expired": queryset.filter(revoked_at__isnull=True, expires_at__lte=now),
            "revoked": queryset.filter(revoked_at__isnull=False),
        }.get(self.value(), queryset)


@admin.register(Ticket)
class TicketAdmin(ReadOnlyAdmin):
    """Web-service log-ins; the ticket GUID is never stored, its hash never shown."""

    list_display = ("__str__", "user", "created_at", "last_used_at", "expires_at",
                    "revoked_at", "live")
    list_filter = (TicketStatusFilter,)
    list_select_related = ("user",)
    search_fields = ("user__username",)
    fields = ("user", "created_at", "last_used_at", "expires_at", "revoked_at", "live")
    readonly_fields = fields
    actions = ("revoke_selected",)

    @admin.display(description="live", boolean=True)
    def live(self, ticket: Ticket) -> bool:
        return ticket.revoked_at is None and ticket.expires_at > timezone.now()

    def has_revoke_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(f"{self.opts.app_label}.change_{self.opts.model_name}")

    @admin.action(description="Revoke selected tickets", permissions=["revoke"])
    def revoke_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        live = queryset.filter(revoked_at__isnull=True)
        count = 0
        for ticket in live.iterator():
            tickets.log_out(ticket)
            count += 1
        self.message_user(request, f"{count} ticket(s) revoked.", messages.SUCCESS)


# Folders, documents, versions ---------------------------------------------------

@admin.register(Folder)
class FolderAdmin(ViewOnlyAdmin):
    list_display = ("name", "parent", "owner", "created_at")
    list_select_related = ("parent", "owner")
    search_fields = ("name",)


class VersionInline(admin.TabularInline):
    model = DocumentVersion
    fields = ("number", "size", "crc", "sha256", "created_by", "created_at", "comment",
              "download")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("created_by", "document")

    @admin.display(description="CRC-32")
    def crc(self, version: DocumentVersion) -> str:
        return format_crc(version.crc32)

    @admin.display(description="content")
    def download(self, version: DocumentVersion) -> str:
        return download_link(version)


def download_link(version: DocumentVersion) -> str:
    url = reverse("admin:chunked_upload_documentversion_download", args=[version.pk])
    return format_html('<a href="{}">download</a>', url)


@admin.register(Document)
class DocumentAdmin(ViewOnlyAdmin):
    list_display = ("name", "folder", "owner", "version_count", "updated_at")
    list_select_related = ("folder", "owner")
    search_fields = ("name", "owner__username")
    fields = ("name", "folder", "owner", "description", "keywords", "created_at",
              "updated_at")
    inlines = (VersionInline,)

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(num_versions=Count("versions"))

    @admin.display(description="versions", ordering="num_versions")
    def version_count(self, document: Document) -> int:
        return document.num_versions


@admin.register(DocumentVersion)
class DocumentVersionAdmin(ViewOnlyAdmin):
    list_display = ("__str__", "size", "crc", "created_by", "created_at", "download")
    list_select_related = ("document", "created_by")
    search_fields = ("document__name", "=sha256")
    fields = ("document", "number", "size", "crc", "sha256", "content_type", "comment",
              "mp_version_major", "mp_version_minor", "mp_version_revision", "created_by",
              "created_at", "modified_at", "download")
    readonly_fields = fields

    crc = VersionInline.crc

    @admin.display(description="content")
    def download(self, version: DocumentVersion) -> str:
        return download_link(version)

    def get_urls(self):
        download = self.admin_site.admin_view(self.download_view)
        return [path("<path:object_id>/download/", download,
                     name="chunked_upload_documentversion_download"), *super().get_urls()]

    def download_view(self, request: HttpRequest, object_id: str) -> FileResponse:
        """The version's content, read through the document storage's API."""
        version = self.get_object(request, object_id)
        if version is None or not self.has_view_permission(request, version):
            raise Http404("No such version.")
        storage = storages[get_config()["DOCUMENT_STORAGE"]]
        try:
            content = storage.open(version.storage_name, "rb")
        except FileNotFoundError:
            raise Http404("The version's content is missing from storage.") from None
        return FileResponse(content, as_attachment=True, filename=version.document.name,
                            content_type=version.content_type or "application/octet-stream")
