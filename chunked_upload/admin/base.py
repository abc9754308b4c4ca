"""What every admin of the app shares."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.http import HttpRequest


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


def user_search_field(relation: str) -> str:
    """Search a user relation by the user model's ``USERNAME_FIELD`` (not ``username``,
    which a custom user model need not have)."""
    return f"{relation}__{get_user_model().USERNAME_FIELD}"
