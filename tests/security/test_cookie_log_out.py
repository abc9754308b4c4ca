"""Issue 14, finding 12: a cross-site GET to LogOut with the ``ticket`` cookie
must not end the ticket; the vendor's same-site browser pages keep working.
"""

import pytest

from chunked_upload.models import Ticket
from tests.srv import Answer

pytestmark = pytest.mark.django_db(transaction=True)
AUTH_FAILED = "[900] Authentication failed"


def log_out(srv, headers, **params):
    """LogOut by GET, as a link or an image of some page makes the browser send it."""
    return Answer(srv.client.get("/srv.asmx/LogOut", params, headers=headers))


def live(ticket: str) -> bool:
    """Is the test's only ticket still unrevoked?"""
    return Ticket.objects.get().revoked_at is None


@pytest.mark.parametrize("headers", [
    {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "no-cors", "Sec-Fetch-Dest": "image"},
    {"Sec-Fetch-Site": "same-site"},
    {"Referer": "https://evil.example/page.html"},
    {"Origin": "https://evil.example"},
    {"Origin": "null"},
], ids=["fetch-metadata", "sibling-subdomain", "old-browser-referer", "origin", "sandboxed"])
def test_a_page_of_another_site_cannot_log_the_user_out(srv, ticket, headers):
    srv.client.cookies["ticket"] = ticket
    answer = log_out(srv, headers)
    assert answer.error == AUTH_FAILED  # as if no cookie had come
    assert live(ticket)
    assert srv.call("isValidTicket", AuthenticationTicket=ticket).ok


@pytest.mark.parametrize("headers", [
    {"Sec-Fetch-Site": "same-origin", "Sec-Fetch-Mode": "cors"},
    {"Sec-Fetch-Site": "none"},
    {"Referer": "http://testserver/app/upload.html"},
    {},
], ids=["own-page", "typed-in", "old-browser-own-page", "no-browser"])
def test_the_sites_own_pages_and_scripts_still_log_out_by_cookie(srv, ticket, headers):
    srv.client.cookies["ticket"] = ticket
    assert log_out(srv, headers).ok
    assert not live(ticket)


def test_a_ticket_given_as_a_parameter_is_never_second_guessed(srv, ticket):
    # Only the cookie comes along by itself; a stranger cannot know the ticket.
    answer = log_out(srv, {"Sec-Fetch-Site": "cross-site"}, AuthenticationTicket=ticket)
    assert answer.ok and not live(ticket)
