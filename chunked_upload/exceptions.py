"""Errors of the upload protocol.

:class:`ChunkedUploadError` is the root of everything this app raises on
purpose. :class:`ProtocolError` and its subclasses are the rows of the error
table in the wire contract: the wire layer turns any of them into
``<root success="false" error="…" errorCode="…"/>`` without knowing which one
it was. Texts are the vendor's and are part of the contract.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ImproperlyConfigured


class ChunkedUploadError(Exception):
    """Root of the app's exceptions."""


class MissingExtra(ChunkedUploadError, ImproperlyConfigured, ImportError):
    """An optional dependency is not installed; the message names the extra
    that installs it. Raised on import of the module that needs it."""

    def __init__(self, needed_by: str, package: str, extra: str) -> None:
        self.package, self.extra = package, extra
        super().__init__(f"{needed_by} needs {package}, which is not installed: "
                         f"pip install 'django-srvasmx-chunked-upload[{extra}]'", name=package)


class ProtocolError(ChunkedUploadError):
    """An error answered to the client as a ``success="false"`` node."""

    text: str = "SystemError: internal error"
    code: int = 5000

    def __init__(self, text: str | None = None, **attributes: Any) -> None:
        self.text = text or self.text
        #: Extra attributes of the error node (e.g. ``offset`` for 4090).
        self.attributes = attributes
        super().__init__(self.text)


class AuthenticationFailed(ProtocolError):
    text, code = "[900] Authentication failed", 4010


class TicketExpired(ProtocolError):
    text, code = "[901] Session expired or Invalid ticket", 4010


class InvalidUploadHandler(ProtocolError):
    text, code = "Invalid upload handler.", 4000


class UploadHandlerNotFound(ProtocolError):
    text, code = "Upload handler not found or expired.", 4000


class UploadAlreadyComplete(ProtocolError):
    text, code = "Upload handler is already complete.", 4000


class UploadNotComplete(ProtocolError):
    text, code = "Upload is not complete.", 4000


class MissingParameter(ProtocolError):
    code = 4000

    def __init__(self, name: str) -> None:
        super().__init__(f"Missing parameter: {name}.")


class InvalidParameter(ProtocolError):
    code = 4000

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"Invalid parameter: {name}.")


class LimitExceeded(ProtocolError):
    code = 4130

    def __init__(self, what: str) -> None:
        super().__init__(f"Limit exceeded: {what}.")


class OffsetMismatch(ProtocolError):
    code = 4090

    def __init__(self, committed: int) -> None:
        super().__init__("Offset mismatch.", offset=committed)


class AccessDenied(ProtocolError):
    text, code = "Access denied.", 4030


class DocumentNotFound(ProtocolError):
    text, code = "Document not found.", 4041


class InvalidDownloadHandler(ProtocolError):
    text, code = "Invalid download handler.", 4000


class DownloadHandlerNotFound(ProtocolError):
    text, code = "Download handler not found or expired.", 4000


class FolderNotFound(ProtocolError):
    text, code = "Folder not found.", 4041


class DocumentExists(ProtocolError):
    text, code = "A document with this name already exists.", 4090


class UnknownMethod(ProtocolError):
    """A method name we do not implement (HTTP 404)."""

    text, code = "Unknown web method.", 4040


class HttpMethodNotAllowed(ProtocolError):
    """An HTTP method other than GET or POST (HTTP 405)."""

    text, code = "HTTP method not allowed.", 4050


class InternalError(ProtocolError):
    """Anything unexpected; the text carries only a reference to the log."""

    code = 5000

    def __init__(self, ref: str) -> None:
        super().__init__(f"SystemError: internal error (ref {ref})")
