"""Authentication tickets: the bearer GUIDs that AuthenticateUser hands out."""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.crypto import constant_time_compare

from ..conf import get_config


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


class TicketQuerySet(models.QuerySet):
    """Tickets, with the liveness rule (:meth:`Ticket.is_live`) as filters."""

    def unexpired(self, now: datetime | None = None) -> TicketQuerySet:
        """The part of the rule a database can check: not revoked, inside the
        sliding expiry and the maximum age."""
        now = now or timezone.now()
        rows = self.filter(revoked_at__isnull=True, expires_at__gt=now)
        max_age = get_config()["TICKET_MAX_AGE"]
        if max_age is not None:
            rows = rows.filter(created_at__gt=now - timedelta(seconds=max_age))
        return rows

    def live(self, now: datetime | None = None) -> TicketQuerySet:
        """Tickets that :meth:`Ticket.is_live`: the :meth:`unexpired` ones,
        checked here for the rest (a custom user model's ``is_active`` need
        not be a column; the credentials are a digest)."""
        now = now or timezone.now()
        candidates = self.unexpired(now).select_related("user")
        return self.filter(pk__in=[t.pk for t in candidates if t.is_live(now)])


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

    objects = TicketQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"ticket #{self.pk} of {self.user}"

    def is_live(self, now: datetime | None = None) -> bool:
        """Does this ticket still authenticate calls? (docs/security.md)

        Not logged out, inside its sliding expiry and ``TICKET_MAX_AGE``, its
        user active and with the credentials it was issued under.
        """
        now = now or timezone.now()
        max_age = get_config()["TICKET_MAX_AGE"]
        return (
            self.revoked_at is None
            and self.expires_at > now
            and (max_age is None or self.created_at + timedelta(seconds=max_age) > now)
            and self.user.is_active
            and self.credentials_current()
        )

    def credentials_current(self) -> bool:
        """Are its user's credentials those the ticket was issued under?"""
        # Empty for tickets issued before credentials were recorded: ended.
        return constant_time_compare(self.auth_hash, user_auth_hash(self.user))
