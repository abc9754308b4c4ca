"""Tickets: log in, check, renew and log out.

A ticket lives while all of these hold (see docs/security.md):

- it was not logged out and its sliding expiry (``TICKET_LIFETIME``, renewed
  by use) has not passed;
- it is younger than ``TICKET_MAX_AGE``: renewing never extends past that;
- its user is active and still has the credentials the ticket was issued
  under: a password change ends every ticket, as it ends Django's sessions.

Failed log-ins are logged (user name and address, never the password). A
site throttles them with django-axes (``pip install …[axes]``): its backend
sees every ``authenticate()`` call made here, and a locked-out client is
answered ``Limit exceeded: login attempts.``.
"""

from __future__ import annotations

import copy
import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from django.contrib.auth import authenticate
from django.contrib.auth.models import AbstractBaseUser
from django.contrib.auth.signals import user_logged_in
from django.db import router
from django.utils import timezone
from django.utils.datastructures import MultiValueDict

from ..conf import get_config
from ..exceptions import AuthenticationFailed, LimitExceeded, TicketExpired
from ..models import Ticket
from ..models.tickets import hash_ticket, user_auth_hash
from . import prepared

logger = logging.getLogger("chunked_upload")


class Request(Protocol):
    """What the engine uses of the HTTP request a log-in came with (Django's
    ``HttpRequest``): passed on to ``authenticate()``; the engine itself
    reads only the client's address."""

    META: Mapping[str, Any]
    GET: Any
    POST: Any


@dataclass(frozen=True)
class IssuedTicket:
    """A ticket with its GUID, which exists only in this answer."""

    key: uuid.UUID
    ticket: Ticket


def log_in(request: Request | None, uid: str, pwd: str) -> IssuedTicket:
    """AuthenticateUser: check the credentials and issue a new ticket."""
    return _issue(_authenticate(request, uid, pwd))


def issue_for(user: AbstractBaseUser) -> IssuedTicket:
    """A new ticket for a user the site has authenticated already (a browser session)."""
    if not user.is_active:
        raise AuthenticationFailed
    return _issue(user)


def renew(request: Request | None, uid: str, pwd: str, old: uuid.UUID | None) -> IssuedTicket:
    """RenewTicket: the credentials are always checked; ``old`` is extended
    when it is still valid and belongs to that user, else a new ticket is issued."""
    user = _authenticate(request, uid, pwd)
    if old is not None:
        ticket = _find(old)
        if ticket is not None and ticket.user_id == user.pk and ticket.is_live():
            _touch(ticket, force=True)
            return IssuedTicket(old, ticket)
    return _issue(user)


def check(key: uuid.UUID | None, *, renew: bool = True) -> Ticket:
    """The live ticket for ``key``; a successful call slides its expiry."""
    if key is None:
        raise AuthenticationFailed
    ticket = _find(key)
    if ticket is None or not ticket.is_live():
        raise TicketExpired
    if renew:
        _touch(ticket)
    return ticket


def log_out(ticket: Ticket) -> None:
    """LogOut: end a (checked) ticket at once."""
    ticket.revoked_at = timezone.now()
    ticket.save(update_fields=["revoked_at"])
    logger.info("ticket %s of user %s logged out", ticket.pk, ticket.user_id)


def _authenticate(request: Request | None, uid: str, pwd: str) -> AbstractBaseUser:
    seen = _without_credentials(request)
    user = authenticate(seen, username=uid, password=pwd)
    if user is not None and user.is_active:
        if seen is not None:
            # A ticket is a log-in: last_login is updated, and django-axes
            # clears the failures of a user who got it right.
            user_logged_in.send(sender=user.__class__, request=seen, user=user)
        return user
    address = request.META.get("REMOTE_ADDR", "-") if request is not None else "-"
    shown = uid[:150]  # as long as a Django user name: a megabyte of UID stays out of the log
    if getattr(seen, "axes_locked_out", False):  # django-axes refused (or just locked) it
        logger.warning("log-in refused, locked out: user name %r from %s", shown, address)
        raise LimitExceeded("login attempts")
    logger.warning("log-in failed: user name %r from %s", shown, address)
    raise AuthenticationFailed


def _without_credentials(request: Request | None) -> Request | None:
    """The request as authentication backends see it: credentials only as arguments.

    UID and PWD may arrive in the query string or a form; backends and
    ``user_login_failed`` receivers keep request data (django-axes stores GET
    and POST with each failure, masking only fields named like its password
    field, case-sensitively), so they get a shallow copy without it.
    """
    if request is None:
        return None
    seen = copy.copy(request)
    # Empty multi-value dictionaries, as QueryDict is one (the engine imports no
    # HTTP code). Never read from the request: reading GET parses the query string.
    seen.GET = MultiValueDict()
    seen.POST = MultiValueDict()
    return seen


def _issue(user: AbstractBaseUser) -> IssuedTicket:
    key = uuid.uuid4()
    now = timezone.now()
    ticket = Ticket.objects.create(
        key_hash=hash_ticket(key), user=user, last_used_at=now,
        expires_at=_expiry(now, created_at=now), auth_hash=user_auth_hash(user),
    )
    logger.info("ticket %s issued to user %s", ticket.pk, user.pk)
    return IssuedTicket(key, ticket)


def _find(key: uuid.UUID) -> Ticket | None:
    # Every call of every method looks its ticket up: one plain statement (see .prepared).
    return prepared.ticket_with_user(hash_ticket(key), router.db_for_read(Ticket))


def _touch(ticket: Ticket, *, force: bool = False) -> None:
    """Slide the expiry, but write at most once per TICKET_RENEW_INTERVAL."""
    now = timezone.now()
    interval = timedelta(seconds=get_config()["TICKET_RENEW_INTERVAL"])
    if force or now - ticket.last_used_at >= interval:
        ticket.last_used_at = now
        ticket.expires_at = _expiry(now, created_at=ticket.created_at)
        Ticket.objects.filter(pk=ticket.pk).update(
            last_used_at=ticket.last_used_at, expires_at=ticket.expires_at
        )


def _expiry(now: datetime, *, created_at: datetime) -> datetime:
    """The sliding expiry from ``now``, never past the ticket's maximum age."""
    config = get_config()
    expiry = now + timedelta(seconds=config["TICKET_LIFETIME"])
    if config["TICKET_MAX_AGE"] is not None:
        expiry = min(expiry, created_at + timedelta(seconds=config["TICKET_MAX_AGE"]))
    return expiry
