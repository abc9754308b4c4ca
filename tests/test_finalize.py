"""The finalizers: documents, versions, options, folders, replays, atomicity."""

import hashlib
import os
import zlib

import pytest
from django.contrib.auth.models import Permission
from django.core.files.storage import storages

from chunked_upload.models import Document, DocumentVersion, Folder, UploadHandler
from chunked_upload.staging import get_staging
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)
NOT_FOUND = "Upload handler not found or expired."


def finalize(srv, ticket, handler, path="/Finance/Q1.pdf", method="UploadDocumentWithHandler",
             **extra):
    return srv.call(method, authenticationTicket=ticket, path=path, uploadHandler=handler,
                    **extra)


def stored_bytes(version: DocumentVersion) -> bytes:
    with storages["default"].open(version.storage_name, "rb") as f:
        return f.read()


def test_finalize_creates_folders_document_and_version(srv, ticket, user):
    data = os.urandom(300_000)
    handler = srv.upload(ticket, data, 100_000)
    answer = finalize(srv, ticket, handler)
    assert list(answer.element.attrib) == ["success", "DocumentId", "VersionId"]
    version = DocumentVersion.objects.get(pk=answer["VersionId"])
    document = version.document
    assert str(document.pk) == answer["DocumentId"]
    assert (document.name, document.folder.name, document.folder.parent) == ("Q1.pdf", "Finance",
                                                                            None)
    assert document.owner == user
    assert (version.number, version.size) == (1, len(data))
    assert version.crc32 == zlib.crc32(data)
    assert version.sha256 == hashlib.sha256(data).hexdigest()
    assert version.content_type == "application/pdf"
    assert stored_bytes(version) == data
    assert UploadHandler.objects.get(pk=handler).state == UploadHandler.State.FINALIZED
    assert not get_staging().path(handler).exists()


def test_same_filesystem_finalize_links_instead_of_copying(srv, ticket):
    handler = srv.upload(ticket, b"x" * 1000, 1000)
    inode = get_staging().path(handler).stat().st_ino
    version = DocumentVersion.objects.get(pk=finalize(srv, ticket, handler)["VersionId"])
    assert os.stat(storages["default"].path(version.storage_name)).st_ino == inode


def test_other_storages_receive_a_streamed_save(srv, ticket, settings, config):
    settings.STORAGES = {**settings.STORAGES, "docs": {
        "BACKEND": "django.core.files.storage.InMemoryStorage"}}
    config(DOCUMENT_STORAGE="docs")
    handler = srv.upload(ticket, b"in memory", 4)
    version = DocumentVersion.objects.get(pk=finalize(srv, ticket, handler)["VersionId"])
    with storages["docs"].open(version.storage_name) as f:
        assert f.read() == b"in memory"
    assert srv.download(ticket, "/Finance/Q1.pdf") == b"in memory"


def test_storage_keys_never_derive_from_names(srv, ticket):
    handler = srv.upload(ticket, b"x", 1)
    version = DocumentVersion.objects.get(
        pk=finalize(srv, ticket, handler, path="/Secret/x.txt")["VersionId"])
    assert "Secret" not in version.storage_name and "x.txt" not in version.storage_name


def test_an_existing_path_gets_a_new_version(srv, ticket):
    first = finalize(srv, ticket, srv.upload(ticket, b"v1", 2))
    second = finalize(srv, ticket, srv.upload(ticket, b"v2", 2), path="/finance/q1.PDF")
    assert second["DocumentId"] == first["DocumentId"]
    assert second["VersionId"] != first["VersionId"]
    numbers = DocumentVersion.objects.order_by("number").values_list("number", flat=True)
    assert list(numbers) == [1, 2]
    assert srv.download(ticket, "/FINANCE/Q1.pdf") == b"v2"
    assert Document.objects.get().name == "Q1.pdf"  # names keep their first case


def test_finalize_with_comment(srv, ticket):
    answer = finalize(srv, ticket, srv.upload(ticket, b"x", 1),
                      method="UploadDocumentWithHandler1", versionComments="Revised")
    assert DocumentVersion.objects.get(pk=answer["VersionId"]).comment == "Revised"


def test_finalize_with_manual_version_number(srv, ticket):
    answer = finalize(srv, ticket, srv.upload(ticket, b"x", 1),
                      method="UploadDocumentWithHandler2", versionComments="",
                      mpVersionMajor="2", mpVersionMinor="0", mpVersionRevision="1")
    version = DocumentVersion.objects.get(pk=answer["VersionId"])
    assert (version.mp_version_major, version.mp_version_minor,
            version.mp_version_revision) == (2, 0, 1)


@pytest.mark.parametrize("name, value", [("mpVersionMajor", "0"), ("mpVersionMajor", "2401"),
                                         ("mpVersionMinor", "1000"), ("mpVersionRevision", "-1"),
                                         ("mpVersionMinor", "x")])
def test_manual_version_numbers_out_of_range(srv, ticket, name, value):
    handler = srv.upload(ticket, b"x", 1)
    params = {"mpVersionMajor": "1", "mpVersionMinor": "0", "mpVersionRevision": "0", name: value}
    answer = finalize(srv, ticket, handler, method="UploadDocumentWithHandler2", **params)
    assert answer.error == f"Invalid parameter: {name}."
    assert UploadHandler.objects.get(pk=handler).state == UploadHandler.State.COMPLETE


def test_finalize_with_xml_parameters(srv, ticket):
    xml = ('<xmlparameters><item NAME="DESCRIPTION" VALUE="Quarterly &amp; more"/>'
           '<item name="keywords" VALUE="finance, q1"/><item NAME="VERSIONCOMMENT">Updated</item>'
           '<item NAME="MPVERSIONMAJOR" VALUE="3"/>'
           '<item NAME="MODIFICATIONDATE" VALUE="2024-03-31"/>'
           '<item NAME="PUBLISHOPTION" VALUE="Publish"/><item NAME="NOSUCHKEY" VALUE="?"/>'
           '</xmlparameters>')
    answer = finalize(srv, ticket, srv.upload(ticket, b"x", 1),
                      method="UploadDocumentWithHandler3", xmlParameters=xml)
    version = DocumentVersion.objects.get(pk=answer["VersionId"])
    assert version.document.description == "Quarterly & more"
    assert version.document.keywords == "finance, q1"
    assert version.comment == "Updated"
    assert (version.mp_version_major, version.mp_version_minor) == (3, 0)
    assert version.modified_at.date().isoformat() == "2024-03-31"


def test_empty_xml_parameters_mean_none(srv, ticket):
    assert finalize(srv, ticket, srv.upload(ticket, b"x", 1),
                    method="UploadDocumentWithHandler3", xmlParameters="").ok


@pytest.mark.parametrize("xml", [
    "<xmlparameters><item", "<other/>",
    '<xmlparameters><item NAME="CHECKOUT" VALUE="maybe"/></xmlparameters>',
    '<xmlparameters><item NAME="MODIFICATIONDATE" VALUE="yesterday"/></xmlparameters>',
    '<!DOCTYPE x [<!ENTITY e "boom">]><xmlparameters><item NAME="DESCRIPTION" VALUE="&e;"/>'
    "</xmlparameters>",
    '<!DOCTYPE x SYSTEM "file:///etc/passwd"><xmlparameters/>',
])
def test_bad_xml_parameters_are_refused_and_the_handler_kept(srv, ticket, xml):
    handler = srv.upload(ticket, b"x", 1)
    answer = finalize(srv, ticket, handler, method="UploadDocumentWithHandler3", xmlParameters=xml)
    assert answer.error == "Invalid parameter: xmlParameters."
    assert finalize(srv, ticket, handler).ok


def test_upload_new_document_never_versions(srv, ticket):
    params = dict(authenticationTicket=ticket, folderPath="/Reports", documentName="a.txt",
                  xmlParameters="")
    answer = srv.call("UploadNewDocumentWidthHandler", uploadHandler=srv.upload(ticket, b"1", 1),
                      **params)
    assert answer.ok
    handler = srv.upload(ticket, b"2", 1)
    answer = srv.call("UploadNewDocumentWidthHandler", uploadHandler=handler,
                      **{**params, "documentName": "A.TXT"})
    assert answer.error == "A document with this name already exists."
    assert answer["errorCode"] == "4090"
    assert UploadHandler.objects.get(pk=handler).state == UploadHandler.State.COMPLETE


@pytest.mark.parametrize("name", ["", "a/b", "..", "bad\x00name", "x" * 256])
def test_upload_new_document_validates_the_name(srv, ticket, name):
    answer = srv.call("UploadNewDocumentWidthHandler", authenticationTicket=ticket,
                      folderPath="/", documentName=name, uploadHandler=srv.upload(ticket, b"", 1),
                      xmlParameters="")
    assert answer.error in ("Invalid parameter: documentName.", "Missing parameter: documentName.")


def test_documents_may_sit_at_the_root(srv, ticket):
    assert finalize(srv, ticket, srv.upload(ticket, b"root", 4), path="/x.txt").ok
    assert Document.objects.get().folder is None
    assert srv.download(ticket, "/X.TXT") == b"root"


@pytest.mark.parametrize("path", ["", "/", "/a//b.txt", "/a/", "/a/../b.txt", "/./b.txt",
                                  "/a\\b.txt", "/a/b\x07.txt", "/" + "n" * 256, "/a/\x7f.txt"])
def test_bad_paths_are_invalid_parameter(srv, ticket, path):
    handler = srv.upload(ticket, b"x", 1)
    answer = finalize(srv, ticket, handler, path=path)
    assert answer.error in ("Invalid parameter: path.", "Missing parameter: path."), answer
    assert not Folder.objects.exists()


def test_unicode_names_are_fine(srv, ticket):
    assert finalize(srv, ticket, srv.upload(ticket, b"x", 1), path="/Übersicht/Ñandú 📄.txt").ok
    assert srv.download(ticket, "/übersicht/ñandú 📄.TXT") == b"x"


def test_folders_are_not_created_when_the_site_says_so(srv, ticket, config):
    config(AUTO_CREATE_FOLDERS=False)
    handler = srv.upload(ticket, b"x", 1)
    answer = finalize(srv, ticket, handler)
    assert (answer.error, answer["errorCode"]) == ("Folder not found.", "4041")
    Folder.objects.create(name="finance")
    assert finalize(srv, ticket, handler).ok


def test_finalize_before_the_last_chunk(srv, ticket):
    handler = srv.create_handler(ticket)
    srv.send_chunk(ticket, handler, b"part", last=False)
    assert finalize(srv, ticket, handler).error == "Upload is not complete."


def test_a_handler_without_chunks_finalizes_as_an_empty_document(srv, ticket):
    answer = finalize(srv, ticket, srv.create_handler(ticket))
    version = DocumentVersion.objects.get(pk=answer["VersionId"])
    assert (version.size, version.crc32) == (0, 0)
    assert version.sha256 == hashlib.sha256(b"").hexdigest()
    assert srv.download(ticket, "/Finance/Q1.pdf") == b""


def test_repeating_a_finalize_answers_the_same_ids(srv, ticket):
    handler = srv.upload(ticket, b"once", 4)
    first = finalize(srv, ticket, handler)
    again = finalize(srv, ticket, handler, path="/FINANCE/q1.pdf")
    assert again.element.attrib == first.element.attrib
    assert DocumentVersion.objects.count() == 1


@pytest.mark.parametrize("method, params", [
    ("UploadDocumentWithHandler", {"path": "/Elsewhere/Q1.pdf"}),
    ("UploadNewDocumentWidthHandler", {"folderPath": "/Finance", "documentName": "Q1.pdf",
                                       "xmlParameters": ""}),
])
def test_a_consumed_handler_with_another_destination_is_not_found(srv, ticket, method, params):
    handler = srv.upload(ticket, b"once", 4)
    finalize(srv, ticket, handler)
    answer = srv.call(method, authenticationTicket=ticket, uploadHandler=handler, **params)
    assert answer.error == NOT_FOUND


def test_another_users_document_needs_the_change_permission(srv, ticket):
    finalize(srv, ticket, srv.upload(ticket, b"mine", 4))
    other = UserFactory()
    other_ticket = srv.login(other.username, PASSWORD)
    handler = srv.upload(other_ticket, b"theirs", 6)
    answer = finalize(srv, other_ticket, handler)
    assert (answer.error, answer["errorCode"]) == ("Access denied.", "4030")
    assert UploadHandler.objects.get(pk=handler).state == UploadHandler.State.COMPLETE
    other.user_permissions.add(Permission.objects.get(codename="change_document"))
    assert finalize(srv, other_ticket, handler).ok
    assert DocumentVersion.objects.count() == 2


def test_the_permission_policy_is_replaceable(srv, ticket, config):
    config(PERMISSION_POLICY="tests.policies.NobodyMayCreate")
    handler = srv.upload(ticket, b"x", 1)
    assert finalize(srv, ticket, handler).error == "Access denied."
    assert not Folder.objects.exists()


def test_storage_failure_leaves_nothing_and_the_handler_retryable(srv, ticket, monkeypatch):
    handler = srv.upload(ticket, b"precious", 4)

    def broken_create(*args, **kwargs):
        raise OSError("database went away")

    with monkeypatch.context() as patch:
        patch.setattr(DocumentVersion.objects, "create", broken_create)
        answer = finalize(srv, ticket, handler)
    assert answer.error.startswith("SystemError: internal error (ref ")
    assert not Document.objects.exists() and not Folder.objects.exists()
    assert UploadHandler.objects.get(pk=handler).state == UploadHandler.State.COMPLETE
    storage_root = storages["default"].path("chunked_upload")
    assert not any(files for _, _, files in os.walk(storage_root))
    assert finalize(srv, ticket, handler).ok
    assert srv.download(ticket, "/Finance/Q1.pdf") == b"precious"
