"""Web-service tickets: their lifetimes, and revoking them."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from ..engine import tickets
from ..models import Ticket
from .base import ReadOnlyAdmin, user_search_field


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

    def get_search_fields(self, request: HttpRequest) -> tuple[str, ...]:
        return (user_search_field("user"),)

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
