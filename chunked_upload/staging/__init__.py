"""Staging: where the bytes of open upload handlers live until finalize."""

from __future__ import annotations

from django.core.files.storage import InvalidStorageError
from django.utils.module_loading import import_string

from ..conf import get_config
from ..documents import document_storage
from .base import StagedFile, StagingBackend, StagingError

__all__ = ["StagedFile", "StagingBackend", "StagingError", "get_staging", "staging_backend_path"]


LOCAL = "chunked_upload.staging.local.LocalStaging"
S3 = "chunked_upload.staging.s3.S3Staging"


def get_staging() -> StagingBackend:
    """The configured staging backend (built from the current settings)."""
    return import_string(staging_backend_path())()


def staging_backend_path() -> str:
    """``STAGING_BACKEND``, or when unset the backend that suits the document storage.

    Documents on S3 are staged on S3, so that finalize assembles them in the
    store instead of uploading a whole file inside the request.
    """
    path = get_config()["STAGING_BACKEND"]
    if path:
        return path
    try:
        from storages.backends.s3 import S3Storage
    except ImportError:  # no S3 support installed: no S3 documents either
        return LOCAL
    try:
        storage = document_storage()
    except InvalidStorageError:  # system check E003 says so
        return LOCAL
    return S3 if isinstance(storage, S3Storage) else LOCAL
