"""Calling a method: parameters checked in the contract's order, errors as answers.

Order: every other parameter present and well-formed, then the ticket, then
whatever the operation looks up (handlers, documents). Anything unexpected
becomes ``SystemError: internal error (ref …)``, the traceback logged under
that ref and never shown.
"""

from __future__ import annotations

import logging
import secrets

from django.http import HttpRequest

from ..engine import tickets
from ..exceptions import (
    AuthenticationFailed,
    InternalError,
    InvalidParameter,
    LimitExceeded,
    ProtocolError,
)
from ..models import Ticket
from .answers import Answer
from .bodies import BodyError, FieldTooLarge
from .cookies import cookie_ticket
from .methods import Method
from .operations import Call
from .params import Raw, parse_all, parse_guid

logger = logging.getLogger("chunked_upload")


def invoke(method: Method, raw: Raw, request: HttpRequest | None) -> Answer:
    """Run ``method`` with raw parameter values and answer, whatever happens."""
    try:
        values = parse_all(method.params, raw)
        ticket = check_ticket(method, raw, request)
        result = method.operation(Call(request, values, ticket))
        attributes, text = result if isinstance(result, tuple) else (result, None)
        return Answer.success(method.root, attributes, text)
    except Exception as exc:  # every failure must become an answer
        return failure(method.root, exc)


def failure(root: str, exc: Exception) -> Answer:
    """The answer for an exception: its own text if it is a protocol error."""
    if isinstance(exc, ProtocolError):
        return Answer.failure(root, exc)
    if isinstance(exc, FieldTooLarge):
        return Answer.failure(root, LimitExceeded("parameter size"))
    if isinstance(exc, BodyError):  # the body itself is malformed or cut short
        return Answer.failure(root, InvalidParameter("request body"))
    ref = secrets.token_hex(4).upper()
    logger.error("internal error, ref %s", ref, exc_info=exc)
    return Answer.failure(root, InternalError(ref))


def check_ticket(method: Method, raw: Raw, request: HttpRequest | None) -> Ticket | None:
    """The live ticket the call carries; [900] when absent or not a GUID."""
    if method.ticket is None:
        return None
    text = raw.find(method.ticket.name)
    if text is None and method.ticket_cookie and request is not None:
        text = cookie_ticket(request)  # never on a cross-site request (see .cookies)
    try:
        key = parse_guid(text) if text else None
    except ValueError:
        raise AuthenticationFailed from None
    return tickets.check(key, renew=method.renews_ticket)
