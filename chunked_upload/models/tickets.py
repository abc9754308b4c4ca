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


def user_auth_hash(user) -> str:
    """What a ticket remembers of its user's credentials.

    A digest of :meth:`~django.contrib.auth.base_user.AbstractBaseUser.get_session_auth_hash`,
    the value Django's sessions compare to end themselves when the password
    changes (and which a custom user model may extend). Digesting it again
    keeps the column one width whatever a user model returns.
    """
    return hashlib.sha256(user.get_session_auth_hash().encode()).hexdigest()


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
    # The user's credentials when the ticket was issued (see user_auth_hash):
    # a password change ends the ticket, as it ends the user's sessions.
    # Empty for tickets issued before this column existed: those are ended.
    auth_hash = models.CharField(max_length=64, blank=True, default="", editable=False)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"ticket #{self.pk} of {self.user}"
