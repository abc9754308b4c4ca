"""The SOAP tests log in and create their handler over SOAP too."""

import pytest

from tests.factories import PASSWORD

from .envelopes import call


@pytest.fixture
def ticket(client, user):
    return call(client, "AuthenticateUser", UID=user.username, PWD=PASSWORD).get("ticket")


@pytest.fixture
def handler(client, ticket):
    return call(client, "CreateUploadHandler", AuthenticationTicket=ticket,
                PreferedChunkSize="0").get("UploadHandler")
