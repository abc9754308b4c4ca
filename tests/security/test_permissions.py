"""Issue 14, findings 6 and 12: who reads which document, and what a refusal tells.

``is_staff`` means "may log into the admin", nothing more; reading another
user's document takes ``view_document``; a revoked permission stops a
download handler at its next chunk; "not there" and "not yours" look alike.
"""

import os

import pytest
from django.contrib.auth.models import Permission

from chunked_upload.models import Document
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)
DATA = os.urandom(600_000)
PATH = "/Private/salaries.xlsx"
NOT_FOUND = ("Document not found.", "4041")


@pytest.fixture
def document(srv, ticket):
    srv.upload(ticket, DATA, 300_000, path=PATH)
    return Document.objects.get()


def open_download(srv, ticket, path=PATH):
    return srv.call("GetDownloadHandler", AuthenticationTicket=ticket, Path=path,
                    PreferedChunkSize="262144")


def read(srv, ticket, handler, offset=0):
    return srv.call("DownloadFileChunk", authenticationTicket=ticket, DownloadHandler=handler,
                    StartOffset=str(offset), ChunkSize="0")


def grant_view(user):
    user.user_permissions.add(Permission.objects.get(codename="view_document"))


def test_staff_without_the_permission_cannot_download_a_private_document(srv, document):
    staff = UserFactory(is_staff=True)
    ticket = srv.login(staff.username, PASSWORD)
    answer = open_download(srv, ticket)
    assert (answer.error, answer["errorCode"]) == NOT_FOUND
    assert (open_download(srv, ticket, f"~D{document.pk}").error, ) == (NOT_FOUND[0], )


def test_the_model_permission_grants_reading(srv, document):
    reader = UserFactory(is_staff=True)
    grant_view(reader)
    assert open_download(srv, srv.login(reader.username, PASSWORD)).ok


def test_an_unreadable_document_is_answered_as_a_missing_one(srv, document):
    stranger = srv.login(UserFactory().username, PASSWORD)
    there = open_download(srv, stranger)
    missing = open_download(srv, stranger, "/Private/no-such-file.xlsx")
    no_folder = open_download(srv, stranger, "/NoSuchFolder/salaries.xlsx")
    by_id = open_download(srv, stranger, f"~D{document.pk}")
    no_id = open_download(srv, stranger, f"~D{document.pk + 1000}")
    answers = {(a.error, a["errorCode"], a.tag) for a in (there, missing, no_folder, by_id, no_id)}
    assert answers == {(*NOT_FOUND, "response")}


def test_a_site_may_choose_the_vendor_answer(srv, document, config):
    config(REVEAL_UNREADABLE_DOCUMENTS=True)
    stranger = srv.login(UserFactory().username, PASSWORD)
    assert open_download(srv, stranger).error == "Access denied."
    assert open_download(srv, stranger, "/Private/nope").error == "Document not found."


def test_a_download_handler_stops_when_the_permission_is_revoked(srv, document):
    reader = UserFactory()
    grant_view(reader)
    ticket = srv.login(reader.username, PASSWORD)
    handler = open_download(srv, ticket)["downloadhandler"]
    assert read(srv, ticket, handler).ok
    reader.user_permissions.clear()
    answer = read(srv, ticket, handler, 262144)
    assert (answer.error, answer["errorCode"]) == ("Access denied.", "4030")
    assert not answer.text


def test_the_owner_reads_and_a_superuser_reads(srv, ticket, document):
    assert srv.download(ticket, PATH) == DATA
    boss = UserFactory(is_superuser=True)
    assert srv.download(srv.login(boss.username, PASSWORD), PATH) == DATA
