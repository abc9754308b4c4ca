"""AuthenticateUser, isValidTicket, LogOut, RenewTicket and ticket lifetimes."""

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from chunked_upload.models import Ticket
from chunked_upload.models.tickets import hash_ticket
from tests.factories import PASSWORD, TicketFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

AUTH_FAILED = "[900] Authentication failed"
EXPIRED = "[901] Session expired or Invalid ticket"


def test_authenticate_user_answers_the_ticket_and_profile(srv):
    user = UserFactory(username="jsmith", first_name="John", last_name="Smith",
                       email="jsmith@example.com")
    answer = srv.call("AuthenticateUser", UID="jsmith", PWD=PASSWORD)
    assert answer.tag == "root"
    assert list(answer.element.attrib) == [
        "success", "ticket", "userid", "username", "firstName", "lastName", "fullname",
        "email", "expireOn", "isAuthenticated",
    ]
    assert answer["success"] == "true"
    assert uuid.UUID(answer["ticket"])
    assert answer["userid"] == str(user.pk)
    assert answer["fullname"] == "John Smith"
    assert answer["isAuthenticated"] == "True"
    assert answer["expireOn"].endswith("Z")


def test_the_ticket_is_stored_only_as_a_hash(srv, user):
    key = srv.login(user.username, PASSWORD)
    ticket = Ticket.objects.get()
    assert ticket.key_hash == hash_ticket(uuid.UUID(key))
    assert key not in str(Ticket.objects.values().get())


@pytest.mark.parametrize("uid, pwd", [("user-x", "wrong"), ("nobody", PASSWORD), ("", "")])
def test_bad_credentials_are_900(srv, uid, pwd):
    UserFactory(username="user-x")
    answer = srv.call("AuthenticateUser", UID=uid, PWD=pwd)
    assert not answer.ok
    assert answer.error == AUTH_FAILED
    assert answer["errorCode"] == "4010"


def test_inactive_user_cannot_log_in(srv):
    UserFactory(username="gone", is_active=False)
    assert srv.call("AuthenticateUser", UID="gone", PWD=PASSWORD).error == AUTH_FAILED


def test_missing_credentials_are_missing_parameters(srv):
    assert srv.call("AuthenticateUser", UID="x").error == "Missing parameter: PWD."


@pytest.mark.parametrize("value", [None, "", "not-a-guid", "1234"])
def test_absent_or_malformed_ticket_is_900_never_missing_parameter(srv, value):
    params = {} if value is None else {"authenticationTicket": value}
    answer = srv.call("CreateUploadHandler", PreferedChunkSize="0", **params)
    assert answer.error == AUTH_FAILED
    assert answer.tag == "response"


def test_unknown_ticket_is_901(srv):
    answer = srv.call("CreateUploadHandler", authenticationTicket=str(uuid.uuid4()),
                      PreferedChunkSize="0")
    assert answer.error == EXPIRED
    assert answer["errorCode"] == "4010"


def test_expired_ticket_is_901(srv):
    ticket = TicketFactory(expires_at=timezone.now() - timedelta(seconds=1))
    answer = srv.call("isValidTicket", AuthenticationTicket=str(ticket.key))
    assert answer.error == EXPIRED


def test_ticket_of_deactivated_user_is_901(srv):
    ticket = TicketFactory()
    ticket.user.is_active = False
    ticket.user.save()
    assert srv.call("isValidTicket", AuthenticationTicket=str(ticket.key)).error == EXPIRED


def test_ticket_guid_accepts_braces_and_any_case(srv):
    ticket = TicketFactory()
    answer = srv.call("isValidTicket", AuthenticationTicket=f"{{{str(ticket.key).upper()}}}")
    assert answer.ok


def test_is_valid_ticket_is_passive(srv):
    ticket = TicketFactory(last_used_at=timezone.now() - timedelta(days=1))
    before = Ticket.objects.get().expires_at
    answer = srv.call("isValidTicket", AuthenticationTicket=str(ticket.key))
    assert answer.ok
    assert answer["username"] == ticket.user.username
    assert "ticket" not in answer.element.attrib
    assert Ticket.objects.get().expires_at == before


def test_successful_calls_slide_the_expiry(srv, config):
    config(TICKET_RENEW_INTERVAL=0)
    ticket = TicketFactory(expires_at=timezone.now() + timedelta(hours=1))
    assert srv.call("CreateUploadHandler", authenticationTicket=str(ticket.key)).ok
    assert Ticket.objects.get().expires_at > timezone.now() + timedelta(days=29)


def test_expiry_is_written_at_most_once_per_interval(srv, config):
    config(TICKET_RENEW_INTERVAL=3600)
    ticket = TicketFactory(expires_at=timezone.now() + timedelta(hours=1))
    assert srv.call("CreateUploadHandler", authenticationTicket=str(ticket.key)).ok
    assert Ticket.objects.get().expires_at < timezone.now() + timedelta(hours=2)


def test_ticket_lifetime_is_configurable(srv, user, config):
    config(TICKET_LIFETIME=60)
    srv.login(user.username, PASSWORD)
    assert Ticket.objects.get().expires_at < timezone.now() + timedelta(seconds=61)


def test_log_out_ends_the_ticket_at_once(srv, ticket):
    assert srv.call("LogOut", AuthenticationTicket=ticket).ok
    assert srv.call("isValidTicket", AuthenticationTicket=ticket).error == EXPIRED
    assert srv.call("LogOut", AuthenticationTicket=ticket).error == EXPIRED


@pytest.mark.parametrize("method", ["isValidTicket", "LogOut"])
def test_ticket_cookie_is_the_fallback(srv, ticket, method):
    srv.client.cookies["ticket"] = ticket
    assert srv.call(method).ok


def test_without_ticket_or_cookie_is_900(srv):
    assert srv.call("isValidTicket").error == AUTH_FAILED


def test_renew_ticket_extends_a_live_ticket(srv, user, ticket):
    answer = srv.call("RenewTicket", UID=user.username, PWD=PASSWORD, Lang="en", OldTicket=ticket)
    assert answer.ok
    assert answer["ticket"] == ticket
    assert Ticket.objects.count() == 1


def test_renew_ticket_without_old_ticket_issues_a_new_one(srv, user, ticket):
    answer = srv.call("RenewTicket", UID=user.username, PWD=PASSWORD, Lang="", OldTicket="")
    assert answer.ok
    assert answer["ticket"] != ticket
    assert Ticket.objects.count() == 2


def test_renew_ticket_of_a_logged_out_ticket_issues_a_new_one(srv, user, ticket):
    srv.call("LogOut", AuthenticationTicket=ticket)
    answer = srv.call("RenewTicket", UID=user.username, PWD=PASSWORD, OldTicket=ticket)
    assert answer.ok and answer["ticket"] != ticket


def test_renew_ticket_checks_the_credentials(srv, user, ticket):
    answer = srv.call("RenewTicket", UID=user.username, PWD="wrong", OldTicket=ticket)
    assert answer.error == AUTH_FAILED


def test_renew_ticket_refuses_a_malformed_old_ticket(srv, user):
    answer = srv.call("RenewTicket", UID=user.username, PWD=PASSWORD, OldTicket="zzz")
    assert answer.error == "Invalid parameter: OldTicket."


def test_renew_ticket_never_extends_another_users_ticket(srv, user):
    other = TicketFactory()
    answer = srv.call("RenewTicket", UID=user.username, PWD=PASSWORD, OldTicket=str(other.key))
    assert answer.ok and answer["ticket"] != str(other.key)
