"""The staging backend's system check (registered with the app's, in ``..checks``).

- ``chunked_upload.W010``: local staging with documents stored elsewhere than
  the local filesystem. Finalize then uploads each whole file into document
  storage inside the request, holding the handler's lock: seconds per GiB,
  past a reverse proxy's timeout for large files. Staging on S3 (the default
  when documents are on S3) assembles the file in the store instead.
"""

from __future__ import annotations

from typing import Any

from django.core.checks import CheckMessage, Warning
from django.core.files.storage import FileSystemStorage

from ..conf import get_config
from ..documents import document_storage
from . import get_staging
from .local import LocalStaging


def check_staging_for_documents(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    try:
        staging, storage = get_staging(), document_storage()
    except Exception:  # E003 and E005 report these
        return []
    if not isinstance(staging, LocalStaging) or isinstance(storage, FileSystemStorage):
        return []
    return [Warning(
        f"Local staging with document storage {get_config()['DOCUMENT_STORAGE']!r} "
        f"({type(storage).__name__}): each finalize copies the whole file into it "
        f"inside the request, holding the upload handler's lock.",
        hint="With documents on S3, stage on S3: leave CHUNKED_UPLOAD['STAGING_BACKEND'] "
             "unset or set it to 'chunked_upload.staging.s3.S3Staging' (see "
             "docs/scale-out.md).",
        id="chunked_upload.W010",
    )]


__all__ = ["check_staging_for_documents"]
