"""A browser session's web-service ticket: one per session, ended at log-out.

The ticket's GUID is kept in the session (server-side with Django's default
session engines), so a reload or a second tab gets the same ticket and an
upload begun before the reload can go on under it. Logging out of the site
logs the ticket out of the web service too.
"""

from __future__ import annotations

import uuid

from django.contrib.auth.signals import user_logged_out
from django.dispatch import receiver
from django.http import HttpRequest

from ..engine import tickets
from ..exceptions import ProtocolError
from ..models import Ticket

SESSION_KEY = "_chunked_upload_ticket"


def session_ticket(request: HttpRequest) -> tuple[uuid.UUID, Ticket]:
    """The session's live ticket for its user, issued now if there is none."""
    found = _live(request)
    if found is not None:
        return found
    issued = tickets.issue_for(request.user)
    request.session[SESSION_KEY] = str(issued.key)
    return issued.key, issued.ticket


def end_session_ticket(request: HttpRequest | None) -> None:
    """Log the session's ticket out, if it has one that is still live."""
    if request is None or not hasattr(request, "session"):
        return
    found = _live(request, any_user=True)
    request.session.pop(SESSION_KEY, None)
    if found is not None:
        tickets.log_out(found[1])


def _live(request: HttpRequest, *, any_user: bool = False) -> tuple[uuid.UUID, Ticket] | None:
    try:
        key = uuid.UUID(request.session.get(SESSION_KEY, ""))
        ticket = tickets.check(key, renew=False)
    except (ValueError, ProtocolError):
        return None
    if not any_user and ticket.user_id != request.user.pk:
        return None
    return key, ticket


@receiver(user_logged_out, dispatch_uid="chunked_upload.web.sessions")
def _log_out_ticket(sender, request: HttpRequest | None = None, **kwargs) -> None:
    # Sent by django.contrib.auth.logout() before it flushes the session.
    end_session_ticket(request)
