"""The session-ticket endpoint: a logged-in browser gets a ticket, by POST with a CSRF token."""

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from chunked_upload.models import Ticket
from chunked_upload.web.sessions import SESSION_KEY
from tests.factories import PASSWORD, UserFactory
from tests.srv import Srv

pytestmark = pytest.mark.django_db
URL = "/chunked-upload/session-ticket"


@pytest.fixture
def browser(user):
    """A logged-in session that enforces CSRF as a real browser request would."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    client.get("/admin/login/")  # any page that sets the CSRF cookie
    return client


def post(client, **extra):
    token = client.cookies["csrftoken"].value if "csrftoken" in client.cookies else ""
    return client.post(URL, HTTP_X_CSRFTOKEN=token, **extra)


def test_the_url_is_the_apps():
    assert reverse("chunked_upload:session-ticket") == URL


def test_a_logged_in_user_gets_a_working_ticket(browser, user):
    answer = post(browser)
    assert answer.status_code == 200
    assert answer["Cache-Control"].startswith("max-age=0")
    ticket = answer.json()["ticket"]
    valid = Srv().call("isValidTicket", AuthenticationTicket=ticket)
    assert valid.ok, valid
    assert Ticket.objects.get().user == user


def test_the_same_session_keeps_its_ticket(browser):
    assert post(browser).json()["ticket"] == post(browser).json()["ticket"]
    assert Ticket.objects.count() == 1


def test_another_session_of_the_user_gets_another_ticket(browser, user):
    other = Client()
    other.force_login(user)
    assert other.post(URL).json()["ticket"] != post(browser).json()["ticket"]


def test_without_the_csrf_token_nothing_is_issued(browser):
    assert browser.post(URL).status_code == 403
    assert not Ticket.objects.exists()


def test_anonymous_requests_are_refused_without_a_redirect():
    answer = Client().post(URL)
    assert answer.status_code == 403
    assert answer.json() == {"error": "Log in to upload."}


def test_only_post(browser):
    assert browser.get(URL).status_code == 405


def test_an_inactive_user_gets_nothing(browser, user):
    get_user_model().objects.filter(pk=user.pk).update(is_active=False)
    assert post(browser).status_code in (302, 403)  # the session itself may be refused
    assert not Ticket.objects.exists()


def test_logging_out_of_the_site_logs_the_ticket_out(browser):
    ticket = post(browser).json()["ticket"]
    browser.logout()  # django.contrib.auth.logout(): sends user_logged_out
    answer = Srv().call("isValidTicket", AuthenticationTicket=ticket)
    assert answer.error == "[901] Session expired or Invalid ticket"


def test_a_ticket_logged_out_elsewhere_is_replaced(browser):
    ticket = post(browser).json()["ticket"]
    Srv().call("LogOut", AuthenticationTicket=ticket)
    fresh = post(browser).json()["ticket"]
    assert fresh != ticket
    assert Srv().call("isValidTicket", AuthenticationTicket=fresh).ok


def test_the_ticket_is_never_put_in_a_page(browser, user, rf):
    from django.template import Context, Template

    ticket = post(browser).json()["ticket"]
    request = rf.get("/")
    request.user = user
    request.session = browser.session
    html = Template("{% load chunked_upload %}{% chunked_uploader %}").render(
        Context({"request": request}))
    assert ticket not in html
    assert browser.session[SESSION_KEY] == ticket


def test_a_session_of_another_user_does_not_reuse_the_ticket(browser, user):
    ticket = post(browser).json()["ticket"]
    other = UserFactory()
    session = browser.session
    session["_auth_user_id"] = str(other.pk)
    session.save()
    answer = post(browser)
    if answer.status_code == 200:  # the session hash check may log it out instead
        assert answer.json()["ticket"] != ticket


def test_password_is_never_needed(browser, user):
    user.set_unusable_password()
    user.save()
    browser.force_login(user)
    browser.get("/admin/login/")
    assert post(browser).status_code == 200
    assert PASSWORD  # (the factory's password is not used by this endpoint)
