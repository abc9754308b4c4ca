"""System checks (``manage.py check``) for the ``CHUNKED_UPLOAD`` settings.

Each catches, at deploy time, a setting that would otherwise fail on the
first upload:

- ``chunked_upload.E001``: chunk sizes not integers with
  0 < MIN_CHUNK_SIZE <= DEFAULT_CHUNK_SIZE <= MAX_CHUNK_SIZE <= 2**31 - 1;
- ``chunked_upload.E002``: the staging directory cannot be written;
- ``chunked_upload.E003``: DOCUMENT_STORAGE names no alias of ``STORAGES``;
- ``chunked_upload.E004``: MAX_REQUEST_SIZE cannot carry a maximum chunk in Base64;
- ``chunked_upload.E005``: STAGING_BACKEND cannot be imported or built;
- ``chunked_upload.W001``: document storage lies under a publicly served MEDIA_ROOT;
- ``chunked_upload.W002``: the staging directory lies under a publicly served MEDIA_ROOT;
- ``chunked_upload.W003`` (``--deploy`` only): AuthenticateUser is not throttled,
  django-axes is not installed;
- ``chunked_upload.W004`` (``--deploy`` only): django-axes does not lock out by
  user name and by client address, each on its own;
- ``chunked_upload.W010``: local staging with non-local document storage
  (see :mod:`chunked_upload.staging.checks`);
- ``chunked_upload.W201``: SHA-256 runs on the slow pure-Python fallback
  (``rehashes`` missing or failing its start-up vectors), with the rate
  measured on this host.

They are registered in :meth:`chunked_upload.apps.ChunkedUploadConfig.ready`
under the ``chunked_upload`` tag (``manage.py check --tag chunked_upload``);
W003 and W004 only with ``--deploy``. docs/security.md says what each means.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning
from django.core.files.storage import FileSystemStorage, storages
from django.urls import get_script_prefix

from .conf import get_config
from .staging import StagingBackend, get_staging
from .staging.checks import check_staging_for_documents

TAG = "chunked_upload"
#: Chunk lengths and sizes are stored in 32-bit integer columns.
LARGEST_CHUNK = 2**31 - 1
#: Room for the other fields of a form or a SOAP envelope around a chunk.
FORM_OVERHEAD = 64 * 1024


def _config() -> dict[str, Any] | None:
    """The settings, or None when they cannot even be merged (E001 says why)."""
    try:
        return get_config()
    except (TypeError, ValueError):  # e.g. a chunk size given as a string
        return None


def check_chunk_sizes(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    try:
        config = get_config()
    except (TypeError, ValueError) as exc:
        return [Error(f"CHUNKED_UPLOAD cannot be read: {exc}.",
                      hint="Chunk sizes and MAX_REQUEST_SIZE are integers (bytes).",
                      id="chunked_upload.E001")]
    names = ("MIN_CHUNK_SIZE", "DEFAULT_CHUNK_SIZE", "MAX_CHUNK_SIZE")
    sizes = [config[name] for name in names]
    if all(isinstance(s, int) and not isinstance(s, bool) for s in sizes):
        smallest, default, largest = sizes
        if 0 < smallest <= default <= largest <= LARGEST_CHUNK:
            return []
    shown = ", ".join(f"{name}={config[name]!r}" for name in names)
    return [Error(
        f"CHUNKED_UPLOAD chunk sizes are inconsistent: {shown}.",
        hint=f"Use integers with 0 < MIN_CHUNK_SIZE <= DEFAULT_CHUNK_SIZE <= MAX_CHUNK_SIZE "
             f"<= {LARGEST_CHUNK}.",
        id="chunked_upload.E001",
    )]


def check_staging_directory(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    config = _config()
    if config is None:
        return []
    try:
        staging = get_staging()
    except Exception as exc:  # any failure to build it is the message
        return [Error(
            f"CHUNKED_UPLOAD STAGING_BACKEND {config['STAGING_BACKEND']!r} cannot be "
            f"used: {exc}",
            hint="Name a StagingBackend subclass by its dotted path.",
            id="chunked_upload.E005",
        )]
    if not isinstance(staging, StagingBackend):
        return [Error(
            f"CHUNKED_UPLOAD STAGING_BACKEND {config['STAGING_BACKEND']!r} is not a "
            f"StagingBackend.",
            id="chunked_upload.E005",
        )]
    directory = getattr(staging, "directory", None)
    if directory is None:
        return []  # not a filesystem backend: nothing to check here
    if _writable(Path(directory)):
        return []
    return [Error(
        f"The staging directory {directory} cannot be written.",
        hint="Set CHUNKED_UPLOAD['STAGING_DIR'] to a directory the server may write "
             "(it is created on demand if its parent is writable).",
        id="chunked_upload.E002",
    )]


def _writable(directory: Path) -> bool:
    # The backend creates missing directories, so the nearest existing
    # ancestor is what must accept new entries.
    probe = directory
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return probe.is_dir() and os.access(probe, os.W_OK | os.X_OK)


def check_document_storage(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    config = _config()
    if config is None or (alias := config["DOCUMENT_STORAGE"]) in storages.backends:
        return []
    return [Error(
        f"CHUNKED_UPLOAD DOCUMENT_STORAGE {alias!r} is not an alias in STORAGES.",
        hint=f"Use one of {sorted(storages.backends)} or add {alias!r} to STORAGES.",
        id="chunked_upload.E003",
    )]


def base64_size(length: int) -> int:
    """Length of ``length`` bytes in Base64 (with padding)."""
    return (length + 2) // 3 * 4


def check_request_size(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    config = _config()
    if config is None or not isinstance(config["MAX_CHUNK_SIZE"], int):
        return []  # E001 says so
    limit, largest = config["MAX_REQUEST_SIZE"], config["MAX_CHUNK_SIZE"]
    needed = base64_size(largest) + FORM_OVERHEAD
    if isinstance(limit, int) and limit >= needed:
        return []
    return [Error(
        f"CHUNKED_UPLOAD MAX_REQUEST_SIZE={limit!r} cannot carry a chunk of MAX_CHUNK_SIZE="
        f"{largest} in Base64 ({needed} bytes with form fields).",
        hint="Leave MAX_REQUEST_SIZE unset (it is then derived from MAX_CHUNK_SIZE) or "
             "raise it; the web server's body limit must allow it too.",
        id="chunked_upload.E004",
    )]


class Messages:
    """The warnings' texts: constant, so that a site can grep its logs for them."""

    DOCUMENTS_PUBLIC = (
        "Document storage lies under MEDIA_ROOT, which MEDIA_URL serves: anyone with a "
        "stored file's URL reads it, past the permission policy."
    )
    STAGING_PUBLIC = (
        "The staging directory lies under MEDIA_ROOT, which MEDIA_URL serves: uploads in "
        "flight can be read by URL."
    )
    NOT_THROTTLED = (
        "AuthenticateUser is not throttled: django-axes is not installed, so passwords can "
        "be guessed as fast as the server answers."
    )
    AXES_PARAMETERS = (
        "django-axes does not lock out by user name and by client address each on its own."
    )


class Hints:
    PUBLIC = ("Store documents and staging outside MEDIA_ROOT (a STORAGES alias with its own "
              "location, CHUNKED_UPLOAD['STAGING_DIR']), or do not serve MEDIA_ROOT.")
    NOT_THROTTLED = ("pip install 'django-srvasmx-chunked-upload[axes]' and configure it "
                     "(docs/security.md).")
    AXES_PARAMETERS = 'Set AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"].'


def _served_media_root() -> Path | None:
    """MEDIA_ROOT when the site serves it (MEDIA_URL set), else None."""
    # An unset MEDIA_URL ("") reads back as the script prefix ("/").
    if settings.MEDIA_URL in ("", get_script_prefix()) or not settings.MEDIA_ROOT:
        return None
    return Path(settings.MEDIA_ROOT).resolve()


def _under(directory: Any, root: Path) -> bool:
    return directory is not None and Path(directory).resolve().is_relative_to(root)


def check_public_media(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    config = _config()
    root = _served_media_root()
    if config is None or root is None:
        return []
    messages: list[CheckMessage] = []
    alias = config["DOCUMENT_STORAGE"]
    storage = storages[alias] if alias in storages.backends else None  # else E003
    # Only a local file-system storage has a place on this disk to compare.
    if isinstance(storage, FileSystemStorage) and _under(storage.location, root):
        messages.append(Warning(Messages.DOCUMENTS_PUBLIC, hint=Hints.PUBLIC,
                                id="chunked_upload.W001"))
    try:
        directory = getattr(get_staging(), "directory", None)
    except Exception:  # E005 says why
        directory = None
    if _under(directory, root):
        messages.append(Warning(Messages.STAGING_PUBLIC, hint=Hints.PUBLIC,
                                id="chunked_upload.W002"))
    return messages


def check_login_throttling(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    if not apps.is_installed("axes"):
        return [Warning(Messages.NOT_THROTTLED, hint=Hints.NOT_THROTTLED,
                        id="chunked_upload.W003")]
    from .contrib.axes import missing_lockout_parameters

    if missing_lockout_parameters():
        return [Warning(Messages.AXES_PARAMETERS, hint=Hints.AXES_PARAMETERS,
                        id="chunked_upload.W004")]
    return []


def check_sha256_backend(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    # The rule and its figure live with the hashing code (engine/checksums.py).
    from .engine import checksums

    if checksums.SHA256_BACKEND != "python":
        return []
    rate = checksums.measure_rate()
    return [Warning(
        "SHA-256 of uploads runs in pure Python: every upload is hashed at a few MB/s.",
        hint=f"Measured here: {rate / 1e6:.2f} MB/s. Install 'rehashes' (a dependency of "
             f"chunked-upload on Linux; elsewhere it needs a Rust toolchain to build).",
        id="chunked_upload.W201")]


ALL_CHECKS = (check_chunk_sizes, check_staging_directory, check_document_storage,
              check_request_size, check_public_media, check_staging_for_documents,
              check_sha256_backend)
#: Registered with ``deploy=True``: they concern production only.
DEPLOY_CHECKS = (check_login_throttling,)
