"""The client's exceptions: one root, :class:`ClientError`, and a class per cause.

Every failure the client reports is a :class:`ClientError`, so a script can
catch one class; its ``str()`` is a single line fit for a terminal.
"""

from __future__ import annotations


class ClientError(Exception):
    """Root of everything the client raises on purpose."""


class MissingExtra(ClientError, ImportError):
    """An optional dependency is not installed; the message names the extra."""

    def __init__(self, module: str, extra: str) -> None:
        super().__init__(
            f"{module} is not installed: pip install 'django-srvasmx-chunked-upload[{extra}]'")


class TransportError(ClientError):
    """The server could not be reached or kept failing (retries exhausted)."""


class ServerError(ClientError):
    """The server answered ``success="false"``: the protocol's error text and code."""

    def __init__(self, method: str, error: str, code: int | None = None,
                 attributes: dict[str, str] | None = None) -> None:
        super().__init__(f"{method}: {error}")
        self.method = method
        self.error = error
        self.code = code
        self.attributes = attributes or {}


class AuthenticationFailed(ServerError):
    """``[900]``: wrong user name or password, inactive user, no ticket."""


class TicketExpired(ServerError):
    """``[901]``: the ticket is unknown, expired or logged out."""


class HandlerNotFound(ServerError):
    """The upload handler is unknown to the server for this ticket.

    The message explains the usual causes, the server's ``HANDLER_SCOPE``
    among them: with ``"ticket"`` a handler is visible only to the ticket
    that created it, so a client that logged in again cannot resume it.
    """

    HINT = ("it expired, was finalized or deleted, or the server's "
            "CHUNKED_UPLOAD['HANDLER_SCOPE'] is \"ticket\" (a handler is then usable only "
            "with the ticket that created it; a site that wants uploads resumed after a "
            "new login sets it to \"user\")")

    def __init__(self, method: str, error: str, code: int | None = None,
                 attributes: dict[str, str] | None = None) -> None:
        super().__init__(method, error, code, attributes)
        self.args = (f"{method}: {error} The server does not know this upload handler "
                     f"for this ticket: {self.HINT}.",)


class OffsetMismatch(ServerError):
    """The server stands at another offset than the client (``offset`` attribute)."""

    @property
    def offset(self) -> int:
        return int(self.attributes.get("offset", "-1"))


class IntegrityError(ClientError):
    """Bytes differ from what they should be: a CRC or size that does not match."""


class ResumeError(ClientError):
    """An upload or download cannot be resumed (state missing, file changed)."""
