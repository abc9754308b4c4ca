"""A Python client for the ``srv.asmx`` chunked-upload service, and its command line.

It needs only an HTTP library (``pip install 'django-srvasmx-chunked-upload[client]'``)
and never imports Django, so it runs on any laptop::

    from chunked_upload.client import Session, download, upload

    with Session("https://dms.example.com/", user="ann", password=password) as session:
        done = upload(session, "scan.tiff", "/Scans/scan.tiff", resume=True)
        download(session, done.document_id, "copy.tiff")

See ``docs/client.md`` for the whole story, and ``chunked-upload --help``.
"""

from .download import DownloadResult, download
from .errors import (
    AuthenticationFailed,
    ClientError,
    HandlerNotFound,
    IntegrityError,
    MissingExtra,
    OffsetMismatch,
    ResumeError,
    ServerError,
    TicketExpired,
    TransportError,
)
from .progress import ProgressCallback, RateMeter
from .session import RetryPolicy, Session
from .state import StateStore, UploadState
from .upload import Finalizer, UploadResult, upload

__all__ = [
    "AuthenticationFailed",
    "ClientError",
    "DownloadResult",
    "Finalizer",
    "HandlerNotFound",
    "IntegrityError",
    "MissingExtra",
    "OffsetMismatch",
    "ProgressCallback",
    "RateMeter",
    "ResumeError",
    "RetryPolicy",
    "ServerError",
    "Session",
    "StateStore",
    "TicketExpired",
    "TransportError",
    "UploadResult",
    "UploadState",
    "download",
    "upload",
]
