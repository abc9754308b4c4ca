"""Finalize stores a version through the Storage API's contract.

A hard link of the staged file stands in for ``storage.save()`` only where
it stores exactly the same: Django's own ``FileSystemStorage`` (with its
permission settings applied) or a storage that declares it. A subclass's
``_save`` and ``get_available_name`` are always honoured.
"""

import os
import stat

import pytest
from django.core.files.storage import FileSystemStorage, storages

from chunked_upload.models import DocumentVersion
from chunked_upload.staging import get_staging

pytestmark = pytest.mark.django_db(transaction=True)
SAVED: list[str] = []


class RenamingStorage(FileSystemStorage):
    """A subclass with its own naming and saving: both must be used."""

    def get_available_name(self, name, max_length=None):
        return super().get_available_name(f"{name}.renamed", max_length)

    def _save(self, name, content):
        SAVED.append(name)
        return super()._save(name, content)


class DeclaredLinkStorage(FileSystemStorage):
    """A subclass that promises its save() is FileSystemStorage's."""

    chunked_upload_hard_links = True


@pytest.fixture
def docs(settings, config, tmp_path):
    """Use STORAGES["docs"] of ``backend`` (with ``options``) as document storage."""

    def use(backend="django.core.files.storage.FileSystemStorage", **options):
        settings.STORAGES = {**settings.STORAGES, "docs": {
            "BACKEND": backend, "OPTIONS": {"location": str(tmp_path / "docs"), **options}}}
        config(DOCUMENT_STORAGE="docs")
        return storages["docs"]

    return use


def finalize(srv, ticket, data=b"version bytes"):
    handler = srv.upload(ticket, data, len(data))
    inode = get_staging().path(handler).stat().st_ino
    answer = srv.call("UploadDocumentWithHandler", authenticationTicket=ticket,
                      path="/Reports/r.bin", uploadHandler=handler)
    assert answer.ok, answer
    return DocumentVersion.objects.get(pk=answer["VersionId"]), inode


def current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_filesystem_storage_links_with_its_permission_modes(srv, ticket, docs):
    storage = docs(file_permissions_mode=0o644, directory_permissions_mode=0o751)
    version, inode = finalize(srv, ticket)
    path = storage.path(version.storage_name)
    assert os.stat(path).st_ino == inode  # linked, not copied
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o644  # not the staged file's 0600
    assert stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode) == 0o751
    assert srv.download(ticket, "/Reports/r.bin") == b"version bytes"


def test_without_a_mode_a_link_gets_what_save_would_give(srv, ticket, docs):
    storage = docs()
    version, _ = finalize(srv, ticket)
    mode = stat.S_IMODE(os.stat(storage.path(version.storage_name)).st_mode)
    assert mode == 0o666 & ~current_umask()


def test_a_subclass_saves_through_its_own_save_and_names(srv, ticket, docs):
    SAVED.clear()
    storage = docs(f"{__name__}.RenamingStorage", file_permissions_mode=0o640)
    version, inode = finalize(srv, ticket)
    assert version.storage_name.endswith(".renamed")
    assert [version.storage_name] == SAVED
    path = storage.path(version.storage_name)
    assert os.stat(path).st_ino != inode
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o640
    assert srv.download(ticket, "/Reports/r.bin") == b"version bytes"


def test_a_storage_that_declares_links_equivalent_is_linked(srv, ticket, docs):
    storage = docs(f"{__name__}.DeclaredLinkStorage", file_permissions_mode=0o604)
    version, inode = finalize(srv, ticket)
    path = storage.path(version.storage_name)
    assert os.stat(path).st_ino == inode
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o604
