"""Calling a method: the one core behind every binding.

A binding (query string, form, multipart, SOAP) only turns its request into
the method and its fields, in body order (:class:`PartLike`). Here, the same
for all of them: fields matched to parameters by name, case-insensitively;
the first value of a parameter read as text within the limits
(:mod:`.limits`), anything else drained as it streams past; a streamed
parameter (UploadFileChunk's ``fileChunk``) handed to its receiver as it
arrives; then the checks in the contract's order and the operation.

Order: every other parameter present and well-formed, then the ticket, then
whatever the operation looks up (handlers, documents). Failures are raised;
:func:`protocol_error` says what the client is told, and the views'
exception handler answers it. Anything unexpected becomes ``SystemError:
internal error (ref …)``, the traceback logged under that ref and never shown.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterable, Iterator
from contextlib import ExitStack
from typing import TYPE_CHECKING, Any, Protocol

from django.http import HttpRequest

from ..engine import tickets
from ..exceptions import (
    AuthenticationFailed,
    InternalError,
    InvalidParameter,
    LimitExceeded,
    MissingParameter,
    ProtocolError,
)
from ..models import Ticket
from .answers import Answer
from .bodies import BodyError, FieldTooLarge, TooManyFields
from .cookies import cookie_ticket
from .limits import Limits, TextBudget
from .operations import Call
from .params import Raw, parse_guid

if TYPE_CHECKING:
    from .methods import Method

logger = logging.getLogger("chunked_upload")


class PartLike(Protocol):
    """A named value of a request, read whole or streamed, once."""

    name: str

    @property
    def is_file(self) -> bool: ...

    def read_text(self, limit: int) -> str: ...

    def iter_bytes(self) -> Iterator[bytes | memoryview]: ...


class Invocation:
    """One call while its fields are read: values so far, and its ticket, checked once.

    A streamed parameter's receiver may need the ticket before the body has
    ended (to stream into the handler); the core asks again at its turn in the
    contract's order and gets the same outcome, without a second lookup.
    """

    def __init__(self, method: Method, request: HttpRequest | None, stack: ExitStack,
                 limits: Limits) -> None:
        self.method = method
        self.request = request
        self.stack = stack  #: for what must stay open until the call is answered
        self.limits = limits
        self.raw = Raw()
        self._ticket: tuple[Ticket | None, ProtocolError | None] | None = None

    def ticket(self) -> Ticket | None:
        """The live ticket the call carries; raises the same error every time."""
        if self._ticket is None:
            try:
                self._ticket = check_ticket(self.method, self.raw, self.request), None
            except ProtocolError as exc:
                self._ticket = None, exc
        ticket, error = self._ticket
        if error is not None:
            raise error
        return ticket


def invoke(method: Method, parts: Iterable[PartLike], request: HttpRequest | None,
           limits: Limits) -> Answer:
    """Read ``method``'s parameters from ``parts``, run it and answer; raises on failure."""
    with ExitStack() as stack:
        call = Invocation(method, request, stack, limits)
        received: dict[str, Any] = {}
        budget = TextBudget(limits.max_text)
        for part in parts:
            param = method.param_named(part.name)
            if param is None or param.name in received or call.raw.find(param.name) is not None:
                continue  # not ours, or a repeat: drained unread as the parts move on
            if param.receive is not None:
                received[param.name] = param.receive(call, part)
            else:
                text = part.read_text(limits.max_parameter)
                budget.spend(len(text))
                call.raw.add(param.name, text)
        values = {}
        for param in method.params:  # in the contract's order: the first bad one is the error
            if param.receive is None:
                values[param.name] = param.value(call.raw)
            elif param.name not in received:
                raise MissingParameter(param.name)
            elif not received[param.name].valid:
                raise InvalidParameter(param.name)
            else:
                values[param.name] = received[param.name]
        result = method.operation(Call(request, values, call.ticket()))
        attributes, text = result if isinstance(result, tuple) else (result, None)
        return Answer.success(method.root, attributes, text)


def protocol_error(exc: Exception) -> ProtocolError:
    """What the client is told about ``exc``: its own text if it is a protocol error."""
    if isinstance(exc, ProtocolError):
        return exc
    if isinstance(exc, FieldTooLarge):
        return LimitExceeded("parameter size")
    if isinstance(exc, TooManyFields):
        return LimitExceeded("number of fields")
    if isinstance(exc, BodyError):  # the body itself is malformed or cut short
        return InvalidParameter("request body")
    ref = secrets.token_hex(4).upper()
    logger.error("internal error, ref %s", ref, exc_info=exc)
    return InternalError(ref)


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
