"""Issue 14, finding 9: look-alike names.

NFC and NFD spellings are one name; bidi controls and other invisible
characters are refused in names and folders, by every finalizer and reader.
"""

import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chunked_upload.engine.paths import is_valid_name, parse_document_path
from chunked_upload.models import Document, Folder

pytestmark = pytest.mark.django_db(transaction=True)
NFC, NFD = "caf\u00e9.txt", "cafe\u0301.txt"
INVISIBLE = ["\u202e", "\u202d", "\u2066", "\u200b", "\u200d", "\u00ad", "\ufeff", "\u2028",
             "\u061c"]


def finalize(srv, ticket, handler, path, method="UploadDocumentWithHandler", **extra):
    return srv.call(method, authenticationTicket=ticket, path=path, uploadHandler=handler,
                    **extra)


def test_nfc_and_nfd_spellings_are_one_document(srv, ticket):
    first = finalize(srv, ticket, srv.upload(ticket, b"one", 3), f"/Caf\u00e9/{NFC}")
    second = finalize(srv, ticket, srv.upload(ticket, b"two", 3), f"/Cafe\u0301/{NFD}")
    assert first["DocumentId"] == second["DocumentId"]
    assert Document.objects.get().name == NFC and Folder.objects.get().name == "Caf\u00e9"
    assert srv.download(ticket, f"/cafe\u0301/{NFD}") == b"two"


def test_upload_new_document_normalizes_too(srv, ticket):
    finalize(srv, ticket, srv.upload(ticket, b"one", 3), f"/{NFC}")
    answer = srv.call("UploadNewDocumentWidthHandler", authenticationTicket=ticket,
                      folderPath="/", documentName=NFD, uploadHandler=srv.upload(ticket, b"2", 1),
                      xmlParameters="")
    assert answer.error == "A document with this name already exists."


@pytest.mark.parametrize("char", INVISIBLE)
def test_invisible_and_bidi_characters_are_refused_everywhere(srv, ticket, char):
    handler = srv.upload(ticket, b"x", 1)
    name = f"invoice{char}fdp.exe"
    for method in ("UploadDocumentWithHandler", "UploadDocumentWithHandler1"):
        assert finalize(srv, ticket, handler, f"/{name}", method).error == \
            "Invalid parameter: path."
        assert finalize(srv, ticket, handler, f"/Fold{char}er/x.txt", method).error == \
            "Invalid parameter: path."
    answer = srv.call("UploadNewDocumentWidthHandler", authenticationTicket=ticket,
                      folderPath="/", documentName=name, uploadHandler=handler, xmlParameters="")
    assert answer.error == "Invalid parameter: documentName."
    answer = srv.call("UploadNewDocumentWidthHandler", authenticationTicket=ticket,
                      folderPath=f"/a{char}", documentName="x", uploadHandler=handler,
                      xmlParameters="")
    assert answer.error == "Invalid parameter: folderPath."
    answer = srv.call("GetDownloadHandler", AuthenticationTicket=ticket, Path=f"/{name}")
    assert answer.error == "Invalid parameter: Path."
    assert not Document.objects.exists() and not Folder.objects.exists()


def test_visible_unicode_names_are_kept(srv, ticket):
    for name in ("\u65e5\u672c\u8a9e.txt", "\u05e9\u05dc\u05d5\u05dd.doc", "emoji-\U0001f600.png",
                 "Stra\u00dfe.pdf", "\u0627\u0644\u0639\u0631\u0628\u064a\u0629.txt"):
        assert finalize(srv, ticket, srv.upload(ticket, b"x", 1), f"/{name}").ok, name


@settings(max_examples=200, deadline=None)
@given(st.text(min_size=1, max_size=40))
def test_a_valid_name_is_one_form_and_shows_every_character(name):
    if is_valid_name(name):
        normalized = parse_document_path(f"/{name}").name
        assert normalized == unicodedata.normalize("NFC", name)
        assert not any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in normalized)


def test_the_engine_refuses_a_bad_path_that_no_parser_saw(srv, ticket):
    # Code calling the engine directly (another front end, a script) meets the same rules.
    from chunked_upload.engine import finalize
    from chunked_upload.engine.paths import DocumentPath
    from chunked_upload.exceptions import InvalidParameter, LimitExceeded
    from chunked_upload.models import Ticket, UploadHandler

    handler = UploadHandler.objects.get(pk=srv.upload(ticket, b"x", 1))
    owner_ticket = Ticket.objects.get(pk=handler.ticket_id)
    for path, error in ((DocumentPath(name="a\u202eb.txt"), InvalidParameter),
                        (DocumentPath(folders=("x",) * 100, name="y"), LimitExceeded),
                        (DocumentPath(name="\u00df" * 128), InvalidParameter)):
        with pytest.raises(error):
            finalize.finalize(owner_ticket, handler.id, path, finalize.VersionOptions())
    assert not Document.objects.exists()
