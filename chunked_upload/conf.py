"""The app's settings: one namespaced dict, ``settings.CHUNKED_UPLOAD``.

Every key has a default in :data:`CONFIG_DEFAULTS`; a site overrides only the
keys it cares about. :func:`get_config` merges the two once and caches the
result; the cache is dropped when ``CHUNKED_UPLOAD`` changes (tests use
``override_settings``), so nothing is ever read at import time.
"""

from __future__ import annotations

import functools
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

MiB = 1 << 20
GiB = 1 << 30
DAY = 24 * 3600

CONFIG_DEFAULTS: dict[str, Any] = {
    # Chunk sizes negotiated by CreateUploadHandler / GetDownloadHandler.
    "DEFAULT_CHUNK_SIZE": 1 * MiB,
    "MIN_CHUNK_SIZE": 256 * 1024,
    "MAX_CHUNK_SIZE": 32 * MiB,
    # Largest file one handler may accumulate (None: no limit).
    "MAX_FILE_SIZE": None,
    # Largest request body accepted (None: what MAX_CHUNK_SIZE needs in
    # Base64 plus 64 KiB of form overhead). Refused with 413 before reading.
    "MAX_REQUEST_SIZE": None,
    # What one request may carry besides its chunk (see chunked_upload.wire.limits),
    # each refused with "Limit exceeded: ..." before the work is done: fields of
    # a query string, form or SOAP operation (empty ones too), one text
    # parameter (and a chunk sent before its ticket), all text parameters together.
    "MAX_FIELDS": 1000,
    "MAX_PARAMETER_SIZE": 1 * MiB,
    "MAX_TEXT_SIZE": 2 * MiB,
    # DRF throttle classes (or dotted paths) for every srv.asmx request; None:
    # DRF's DEFAULT_THROTTLE_CLASSES. The views' throttle_scope is "chunked_upload".
    "THROTTLE_CLASSES": None,
    # Lifetimes, in seconds.
    "TICKET_LIFETIME": 30 * DAY,
    "HANDLER_IDLE_TIMEOUT": 1 * DAY,
    "HANDLER_MAX_AGE": 7 * DAY,
    # How long finalized handlers are kept for finalize replays (None: max age).
    "FINALIZED_RETENTION": None,
    # How long one UploadFileChunk (or finalize) keeps its handler from other
    # requests without finishing; after that another request may take the
    # handler over, and the slow one is refused (see engine/leases.py).
    "CHUNK_LEASE_TIMEOUT": 10,
    "DOWNLOAD_HANDLER_LIFETIME": 1 * DAY,
    # Where the bytes of open handlers live. None: S3 multipart uploads
    # (staging.s3.S3Staging) when the document storage is an S3Storage, else
    # local files (staging.local.LocalStaging) under STAGING_DIR (None:
    # "<MEDIA_ROOT>/chunked_upload_staging").
    "STAGING_BACKEND": None,
    "STAGING_DIR": None,
    # Keyword options of the staging backend (S3Staging: see docs/scale-out.md).
    "STAGING_OPTIONS": {},
    # The django.core.files.storage.storages alias holding document versions.
    "DOCUMENT_STORAGE": "default",
    "DOCUMENT_STORAGE_PREFIX": "chunked_upload/versions",
    # "seed": <root success="true" tryagain="true"/> (the seed page);
    # "strict": success="false" tryagain="true" (newer vendor builds).
    "CRC_MISMATCH_RESPONSE": "seed",
    # "user": a handler is usable with any ticket of its owner, so a client
    # that crashed and logged in again resumes its own upload (as an S3 upload
    # id or a tus URL does); "ticket": only with the ticket that created it.
    "HANDLER_SCOPE": "user",
    # Create missing destination folders (with parents) on finalize.
    "AUTO_CREATE_FOLDERS": True,
    # Dotted path to the permission policy class.
    "PERMISSION_POLICY": "chunked_upload.engine.permissions.DefaultPermissionPolicy",
    # Sliding ticket expiry is written at most this often (seconds), so a
    # stream of chunks does not cost a database write each.
    "TICKET_RENEW_INTERVAL": 60,
    # Security (see docs/security.md). A ticket ends this long after it was
    # issued, however often it is renewed (None: only the sliding expiry).
    "TICKET_MAX_AGE": 90 * DAY,
    # Paths: folder levels (the name included) and characters of the whole
    # path as names match (casefolded); names are also held to their columns.
    "MAX_PATH_DEPTH": 64,
    "MAX_PATH_LENGTH": 2048,
    "MAX_NAME_LENGTH": 255,
    # Quotas, each refused with "Limit exceeded: …" before any work (None: no limit).
    "MAX_OPEN_UPLOADS_PER_USER": 100,
    "MAX_STAGED_BYTES_PER_USER": 20 * GiB,
    "MAX_STAGED_BYTES": 200 * GiB,
    "MAX_CHUNKS_PER_HANDLER": 100_000,
    "MAX_EMPTY_CHUNKS_PER_HANDLER": 64,
    "MAX_DOWNLOADS_PER_USER": 100,
    # False: a document the user may not read is answered "Document not found."
    # like a missing one, so a stranger learns nothing about which paths exist.
    # True: "Access denied." as the vendor answers (tells existence apart).
    "REVEAL_UNREADABLE_DOCUMENTS": False,
    # The admin marks a pending handler "stalled" after this many quiet seconds.
    "STALLED_AFTER": 60,
}


@functools.cache
def get_config() -> dict[str, Any]:
    """The effective configuration: defaults overlaid with the site's dict."""
    config = dict(CONFIG_DEFAULTS)
    config.update(getattr(settings, "CHUNKED_UPLOAD", {}))
    if config["FINALIZED_RETENTION"] is None:
        config["FINALIZED_RETENTION"] = config["HANDLER_MAX_AGE"]
    if config["MAX_REQUEST_SIZE"] is None:
        config["MAX_REQUEST_SIZE"] = base64_request_size(config["MAX_CHUNK_SIZE"])
    return config


def base64_request_size(chunk_size: int) -> int:
    """Body size needed to send ``chunk_size`` bytes Base64-encoded in a form."""
    # Base64 is 4/3 of the data; percent-encoding of "+", "/" and "=" in an
    # urlencoded form can triple those characters, so allow for the worst case
    # of a generous 1.5x on top, plus room for the other fields.
    return (chunk_size + 2) // 3 * 4 * 3 // 2 + 64 * 1024


@receiver(setting_changed)
def _reset_config(*, setting: str, **kwargs: Any) -> None:
    if setting == "CHUNKED_UPLOAD":
        get_config.cache_clear()
