"""Issue 14, finding 5: tickets end with the identity they were issued to.

A password change ends them (as it ends Django's sessions), so does
deactivation, and no amount of renewing carries one past ``TICKET_MAX_AGE``.
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from chunked_upload.models import Ticket
from tests.factories import PASSWORD, TicketFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)
EXPIRED = "[901] Session expired or Invalid ticket"


def test_a_password_change_ends_every_ticket_of_the_user(srv, user):
    ticket = srv.login(user.username, PASSWORD)
    handler = srv.create_handler(ticket)
    user.set_password("a-new-one")
    user.save()
    assert srv.call("isValidTicket", AuthenticationTicket=ticket).error == EXPIRED
    answer = srv.send_chunk(ticket, handler, b"x", last=True)
    assert answer.error == EXPIRED
    # The new password gives a ticket that works.
    assert srv.call("isValidTicket", AuthenticationTicket=srv.login(user.username, "a-new-one")).ok


def test_renew_ticket_does_not_revive_a_ticket_of_the_old_password(srv, user):
    old = srv.login(user.username, PASSWORD)
    user.set_password("a-new-one")
    user.save()
    answer = srv.call("RenewTicket", UID=user.username, PWD="a-new-one", Lang="", OldTicket=old)
    assert answer.ok and answer["ticket"] != old
    assert srv.call("isValidTicket", AuthenticationTicket=old).error == EXPIRED


def test_a_deactivated_user_loses_running_uploads(srv, user):
    ticket = srv.login(user.username, PASSWORD)
    handler = srv.create_handler(ticket)
    user.is_active = False
    user.save()
    assert srv.send_chunk(ticket, handler, b"x", last=True).error == EXPIRED


def test_tickets_from_before_credentials_were_recorded_are_ended(srv):
    ticket = TicketFactory(auth_hash="")
    assert srv.call("isValidTicket", AuthenticationTicket=str(ticket.key)).error == EXPIRED


def test_renewing_never_extends_past_the_maximum_age(srv, user, config):
    config(TICKET_LIFETIME=30 * 86400, TICKET_MAX_AGE=10 * 86400, TICKET_RENEW_INTERVAL=0)
    answer = srv.call("AuthenticateUser", UID=user.username, PWD=PASSWORD)
    ticket = answer["ticket"]
    created = Ticket.objects.get().created_at
    assert Ticket.objects.get().expires_at <= created + timedelta(days=10)
    # Nine days on, use and RenewTicket both stop at the ticket's tenth day...
    Ticket.objects.update(created_at=created - timedelta(days=9))
    assert srv.call("CreateUploadHandler", authenticationTicket=ticket).ok
    renewed = srv.call("RenewTicket", UID=user.username, PWD=PASSWORD, Lang="", OldTicket=ticket)
    assert renewed["ticket"] == ticket
    assert Ticket.objects.get().expires_at <= created + timedelta(days=1, seconds=5)
    assert renewed["expireOn"] <= (created + timedelta(days=1, seconds=5)).strftime(
        "%Y-%m-%dT%H:%M:%SZ")
    # ...and past it the ticket is over, however recently it was used.
    Ticket.objects.update(created_at=created - timedelta(days=10, seconds=1),
                          expires_at=timezone.now() + timedelta(days=20))
    assert srv.call("isValidTicket", AuthenticationTicket=ticket).error == EXPIRED
    renewed = srv.call("RenewTicket", UID=user.username, PWD=PASSWORD, Lang="", OldTicket=ticket)
    assert renewed.ok and renewed["ticket"] != ticket  # a new log-in, not a revival


def test_a_ticket_of_another_user_is_never_renewed(srv):
    mine, theirs = UserFactory(), UserFactory()
    their_ticket = srv.login(theirs.username, PASSWORD)
    answer = srv.call("RenewTicket", UID=mine.username, PWD=PASSWORD, Lang="",
                      OldTicket=their_ticket)
    assert answer.ok and answer["ticket"] != their_ticket


def test_failed_log_ins_are_logged_without_the_password(srv, user, caplog):
    caplog.set_level("WARNING", logger="chunked_upload")
    srv.call("AuthenticateUser", UID=user.username, PWD="hunter2-wrong")
    srv.call("AuthenticateUser", UID="x" * 100_000, PWD="hunter3-wrong")
    lines = [r.getMessage() for r in caplog.records]
    assert f"log-in failed: user name {user.username!r} from 127.0.0.1" in lines
    assert not any("hunter" in line for line in lines)
    assert max(len(line) for line in lines) < 300
