"""Folders, documents and versions, read-only; versions download their content."""

from __future__ import annotations

from django.contrib import admin
from django.core.files.storage import storages
from django.db.models import Count
from django.http import FileResponse, Http404, HttpRequest
from django.urls import path, reverse
from django.utils.html import format_html

from ..conf import get_config
from ..engine.checksums import format_crc
from ..models import Document, DocumentVersion, Folder
from ..sizes import sized
from .base import ViewOnlyAdmin, user_search_field


@admin.register(Folder)
class FolderAdmin(ViewOnlyAdmin):
    list_display = ("name", "parent", "owner", "created_at")
    list_select_related = ("parent", "owner")
    search_fields = ("name",)


class VersionInline(admin.TabularInline):
    """The document's versions, compact enough to fit the page: sizes in IEC
    units (exact bytes on hover), the SHA-256 shortened (whole on hover)."""

    model = DocumentVersion
    fields = ("number", "size_shown", "crc", "sha256_short", "created_by", "created_at",
              "comment", "download")
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

    @admin.display(description="size", ordering="size")
    def size_shown(self, version: DocumentVersion) -> str:
        return sized(version.size)

    @admin.display(description="SHA-256")
    def sha256_short(self, version: DocumentVersion) -> str:
        return format_html('<code title="{}">{}…</code>', version.sha256, version.sha256[:12])

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

    def get_search_fields(self, request: HttpRequest) -> tuple[str, ...]:
        return ("name", user_search_field("owner"))

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
    list_display = ("__str__", "size_shown", "crc", "created_by", "created_at", "download")
    list_select_related = ("document", "created_by")
    search_fields = ("document__name", "=sha256")
    fields = ("document", "number", "size_shown", "crc", "sha256", "content_type", "comment",
              "mp_version_major", "mp_version_minor", "mp_version_revision", "created_by",
              "created_at", "modified_at", "download")
    readonly_fields = fields

    crc = VersionInline.crc
    size_shown = VersionInline.size_shown

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
