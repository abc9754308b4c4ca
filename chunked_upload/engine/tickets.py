"""Tickets: log in, check, renew and log out."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import timedelta

from django.contrib.auth import authenticate
from django.contrib.auth.models import AbstractBaseUser
from django.db import router
from django.http import HttpRequest
from django.utils import timezone

from ..conf import get_config
from ..exceptions import AuthenticationFailed, TicketExpired
from ..models import Ticket
from ..models.tickets import hash_ticket
from .prepared import PreparedGet

logger = logging.getLogger("chunked_upload")


@dataclass(frozen=True)
class IssuedTicket:
    """A ticket with its GUID, which exists only in this answer."""

    key: uuid.UUID
    ticket: Ticket


def log_in(request: HttpRequest | None, uid: str, pwd: str) -> IssuedTicket:
    """AuthenticateUser: check the credentials and issue a new ticket."""
    return _issue(_authenticate(request, uid, pwd))


def issue_for(user: AbstractBaseUser) -> IssuedTicket:
    """A new ticket for a user the site has authenticated already (a browser session)."""
    if not user.is_active:
        raise AuthenticationFailed
    return _issue(user)


def renew(request: HttpRequest | None, uid: str, pwd: str, old: uuid.UUID | None) -> IssuedTicket:
    """RenewTicket: the credentials are always checked; ``old`` is extended
    when it is still valid and belongs to that user, else a new ticket is issued."""
    user = _authenticate(request, uid, pwd)
    if old is not None:
        ticket = _find(old)
        if ticket is not None and ticket.user_id == user.pk and _is_live(ticket):
            _touch(ticket, force=True)
            return IssuedTicket(old, ticket)
    return _issue(user)


def check(key: uuid.UUID | None, *, renew: bool = True) -> Ticket:
    """The live ticket for ``key``; a successful call slides its expiry."""
    if key is None:
        raise AuthenticationFailed
    ticket = _find(key)
    if ticket is None or not _is_live(ticket) or not ticket.user.is_active:
        raise TicketExpired
    if renew:
        _touch(ticket)
    return ticket


def log_out(ticket: Ticket) -> None:
    """LogOut: end a (checked) ticket at once."""
    ticket.revoked_at = timezone.now()
    ticket.save(update_fields=["revoked_at"])
    logger.info("ticket %s of user %s logged out", ticket.pk, ticket.user_id)


def _authenticate(request: HttpRequest | None, uid: str, pwd: str) -> AbstractBaseUser:
    user = authenticate(request, username=uid, password=pwd)
    if user is None or not user.is_active:
        raise AuthenticationFailed
    return user


def _issue(user: AbstractBaseUser) -> IssuedTicket:
    key = uuid.uuid4()
    now = timezone.now()
    ticket = Ticket.objects.create(
        key_hash=hash_ticket(key), user=user, last_used_at=now, expires_at=now + _lifetime()
    )
    logger.info("ticket %s issued to user %s", ticket.pk, user.pk)
    return IssuedTicket(key, ticket)


def _find(key: uuid.UUID) -> Ticket | None:
    return _BY_HASH.get(hash_ticket(key), router.db_for_read(Ticket))


# Compiled once: every call of every method looks its ticket up (see .prepared).
_BY_HASH = PreparedGet(Ticket, "key_hash", "0" * 64, related=("user",))


def _is_live(ticket: Ticket) -> bool:
    return ticket.revoked_at is None and ticket.expires_at > timezone.now()


def _touch(ticket: Ticket, *, force: bool = False) -> None:
    """Slide the expiry, but write at most once per TICKET_RENEW_INTERVAL."""
    now = timezone.now()
    interval = timedelta(seconds=get_config()["TICKET_RENEW_INTERVAL"])
    if force or now - ticket.last_used_at >= interval:
        ticket.last_used_at = now
        ticket.expires_at = now + _lifetime()
        Ticket.objects.filter(pk=ticket.pk).update(
            last_used_at=ticket.last_used_at, expires_at=ticket.expires_at
        )


def _lifetime() -> timedelta:
    return timedelta(seconds=get_config()["TICKET_LIFETIME"])
