"""Authentication tickets: the bearer GUIDs that AuthenticateUser hands out."""

from __future__ import annotations

import hashlib
import uuid

from django.conf import settings
from django.db import models


def hash_ticket(key: uuid.UUID) -> str:
    """The stored form of a ticket GUID.

    A GUID carries 122 random bits, so a plain SHA-256 is enough to make a
    leaked table useless; a slow password hash would only cost every call.
    """
    return hashlib.sha256(str(key).encode("ascii")).hexdigest()


class Ticket(models.Model):
    """A login session of the web-service API; the GUID itself is never stored."""

    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="upload_tickets"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField()
    expires_at = models.DateTimeField(db_index=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"ticket #{self.pk} of {self.user}"
