"""Finalize: turn a complete upload handler into a stored document version.

Atomic: the staged bytes are handed to document storage under a key made
from the handler's id, then the folder, document and version rows are
written in the transaction that holds the handler's lock and its lease (so
no request that had the handler before can change the bytes any more). If anything fails
the stored copy is removed and the transaction rolls back, so the handler
stays complete and the client can retry. The staged file is removed only
after the commit.
"""

from __future__ import annotations

import logging
import mimetypes
import uuid
from dataclasses import dataclass
from datetime import datetime

from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from .. import signals
from ..conf import get_config
from ..documents import document_storage
from ..exceptions import (
    AccessDenied,
    DocumentExists,
    FolderNotFound,
    UploadHandlerNotFound,
    UploadNotComplete,
)
from ..models import Document, DocumentVersion, Folder, Ticket, UploadHandler
from ..models.documents import name_key
from ..staging import StagingError, get_staging
from . import handlers, leases
from .checksums import Sha256State
from .paths import DocumentPath, check_document_path
from .permissions import get_policy

logger = logging.getLogger("chunked_upload")
State = UploadHandler.State


@dataclass(frozen=True)
class VersionOptions:
    """What the finalizer's extra parameters say about the new version."""

    comment: str = ""
    description: str | None = None
    keywords: str | None = None
    mp_version: tuple[int, int, int] | None = None
    modified_at: datetime | None = None


@dataclass(frozen=True)
class FinalizeResult:
    document_id: int
    version_id: int


def finalize(
    ticket: Ticket,
    handler_id: uuid.UUID,
    path: DocumentPath,
    options: VersionOptions,
    *,
    new_document_only: bool = False,
) -> FinalizeResult:
    """Store the handler's bytes as a document (or a new version of one at ``path``).

    ``new_document_only`` is UploadNewDocumentWidthHandler: never a version.
    Repeating a successful finalize with the same destination answers the
    same ids; a different destination finds the handler consumed.
    """
    check_document_path(path)  # the same rules whoever built the path
    family = "new" if new_document_only else "path"
    destination = f"{family}:{path.key}"
    with leases.exclusively(handler_id, ticket, fence=True) as handler:
        if handler.state == State.FINALIZED:
            if handler.destination != destination or handler.version is None:
                raise UploadHandlerNotFound
            return FinalizeResult(handler.version.document_id, handler.version_id)
        if handler.state == State.OPEN and handler.chunk_count:
            raise UploadNotComplete
        return _store(handler, ticket, path, options, destination, new_document_only)


def _store(
    handler: UploadHandler,
    ticket: Ticket,
    path: DocumentPath,
    options: VersionOptions,
    destination: str,
    new_document_only: bool,
) -> FinalizeResult:
    user = ticket.user
    policy = get_policy()
    folder = _resolve_folder(path.folders, user, policy)
    document, created = _lock_document(folder, path.name, user, policy, options,
                                       new_document_only)

    storage = document_storage()
    staging = get_staging()
    name = handlers.stored_name(handler.id)
    stored = name
    try:
        # Inside the try: a hand-over that fails half-way (storage full) must
        # not leave a partial copy behind.
        _fence_out_earlier_writers(handler)
        stored = staging.hand_over(str(handler.id), storage, name)
        version = _create_version(handler, document, user, stored, options)
        handler.state = State.FINALIZED
        handler.finalized_at = timezone.now()
        handler.destination = destination
        handler.version = version
        handler.save(update_fields=["state", "finalized_at", "destination", "version"])
    except BaseException:
        staging.discard_hand_over(str(handler.id), storage, stored)
        raise

    def after_commit() -> None:
        get_staging().delete(str(handler.id))
        logger.info("upload handler %s finalized as document %s version %s (%d bytes)",
                    handler.id, document.pk, version.number, version.size)
        signals.document_finalized.send(
            UploadHandler, handler=handler, document=document, version=version, created=created
        )

    transaction.on_commit(after_commit, using=handlers.db_alias())
    return FinalizeResult(document.pk, version.pk)


def _fence_out_earlier_writers(handler: UploadHandler) -> None:
    """Open the staged bytes with this finalize's lease: no earlier holder may
    change them from now on; cut off what an interrupted append left."""
    staged = get_staging().open(str(handler.id), create=False, fence=handler.lease_generation)
    if staged is None:
        raise StagingError(f"staged bytes of upload handler {handler.id} are missing")
    with staged:
        if staged.size < handler.committed_size:
            raise StagingError(f"staged bytes of upload handler {handler.id} are missing")
        staged.truncate(handler.committed_size)


def _lock_document(folder: Folder | None, name: str, user, policy, options: VersionOptions,
                   new_document_only: bool) -> tuple[Document, bool]:
    """The document ``name`` in ``folder``, row-locked and saved; (document, created).

    Two finalizes creating one name race on its unique constraint: the
    loser's insert waits for the winner's commit and fails, then finds the
    winner's document and adds its version to it, as if it had come second
    (UploadNewDocumentWidthHandler is refused instead: the name now exists).
    """
    for _attempt in range(2):
        document = (
            Document.objects.select_for_update()
            .filter(folder=folder, name_key=name_key(name))
            .first()
        )
        created = document is None
        if created:
            if not policy.can_create(user, folder):
                raise AccessDenied
            document = Document(folder=folder, name=name, owner=user)
        elif new_document_only:
            raise DocumentExists
        elif not policy.can_add_version(user, document):
            raise AccessDenied
        if options.description is not None:
            document.description = options.description
        if options.keywords is not None:
            document.keywords = options.keywords
        try:
            with transaction.atomic(using=handlers.db_alias()):
                document.save()
        except IntegrityError:
            continue  # created by another finalize that committed meanwhile
        return document, created
    raise DocumentExists


def _create_version(handler, document, user, stored: str, options: VersionOptions):
    number = (document.versions.aggregate(n=Max("number"))["n"] or 0) + 1
    major, minor, revision = options.mp_version or (None, None, None)
    content_type, _ = mimetypes.guess_type(document.name)
    return DocumentVersion.objects.create(
        document=document,
        number=number,
        storage_name=stored,
        size=handler.committed_size,
        crc32=handler.crc32,
        sha256=Sha256State(bytes(handler.sha256_state) or None).hexdigest(),
        content_type=content_type or "application/octet-stream",
        comment=options.comment,
        mp_version_major=major,
        mp_version_minor=minor,
        mp_version_revision=revision,
        created_by=user,
        modified_at=options.modified_at or timezone.now(),
    )


def _resolve_folder(names: tuple[str, ...], user, policy) -> Folder | None:
    """The destination folder, created with its parents when allowed."""
    auto_create = get_config()["AUTO_CREATE_FOLDERS"]
    folder = None
    for name in names:
        child = Folder.objects.filter(parent=folder, name_key=name_key(name)).first()
        if child is None:
            if not auto_create:
                raise FolderNotFound
            if not policy.can_create(user, folder):
                raise AccessDenied
            child, _ = Folder.objects.get_or_create(
                parent=folder, name_key=name_key(name), defaults={"name": name, "owner": user}
            )
        folder = child
    return folder
