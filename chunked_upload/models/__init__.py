"""The app's models, one module per part of the domain."""

from .documents import Document, DocumentVersion, Folder
from .handlers import Chunk, DownloadHandler, UploadHandler
from .staging import S3StagedSegment, S3StagedUpload
from .tickets import Ticket

__all__ = [
    "Chunk",
    "Document",
    "DocumentVersion",
    "DownloadHandler",
    "Folder",
    "S3StagedSegment",
    "S3StagedUpload",
    "Ticket",
    "UploadHandler",
]
