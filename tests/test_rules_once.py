"""Each rule is stated once: every place that applies it gives the same answer.

A second copy of a rule that drifted (the admin's filter, the expiry sweep,
the engine's own checks) fails here, over a grid of ages around each limit.
"""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from chunked_upload.engine import downloads, expiry, handlers
from chunked_upload.engine import tickets as engine_tickets
from chunked_upload.engine.finalize import MP_VERSION_BOUNDS, VersionOptions
from chunked_upload.exceptions import ChunkedUploadError, DownloadHandlerNotFound
from chunked_upload.models import (
    Document,
    DocumentVersion,
    DownloadHandler,
    Folder,
    Ticket,
    UploadHandler,
)
from chunked_upload.models.handlers import Lifetimes
from tests.factories import DownloadHandlerFactory, TicketFactory, UploadHandlerFactory

pytestmark = pytest.mark.django_db(transaction=True)
State = UploadHandler.State
CHANGELIST = reverse("admin:chunked_upload_uploadhandler_changelist")
IDLE, MAX_AGE, RETENTION = 3600, 86400, 7200
# Ages a minute either side of each limit: the tests' own clock drift never matters.
IDLE_AGES = (0, IDLE - 60, IDLE + 60)
CREATED_AGES = (IDLE + 120, MAX_AGE - 60, MAX_AGE + 60)
FINALIZED_AGES = (RETENTION - 60, RETENTION + 60)


@pytest.fixture
def grid(config):
    """Handlers in every state, active, created and finalized at every age."""
    config(HANDLER_IDLE_TIMEOUT=IDLE, HANDLER_MAX_AGE=MAX_AGE, FINALIZED_RETENTION=RETENTION)
    now = timezone.now()
    made = []
    for state, idle, created, finalized in itertools.product(
        list(State), IDLE_AGES, CREATED_AGES, FINALIZED_AGES
    ):
        if state != State.FINALIZED and finalized != FINALIZED_AGES[0]:
            continue  # finalized_at matters only to finalized handlers
        handler = UploadHandlerFactory(state=state)
        UploadHandler.objects.filter(pk=handler.pk).update(
            last_activity_at=now - timedelta(seconds=idle),
            created_at=now - timedelta(seconds=created),
            finalized_at=now - timedelta(seconds=finalized) if state == State.FINALIZED else None,
        )
        made.append(handler.pk)
    return list(UploadHandler.objects.filter(pk__in=made))


def admin_shows(client, state: str) -> set:
    response = client.get(CHANGELIST, {"state": state})
    assert response.status_code == 200
    return {h.pk for h in response.context["cl"].result_list}


def test_the_admin_due_filter_and_the_expiry_sweep_select_the_same_handlers(admin_client, grid):
    due_in_admin = admin_shows(admin_client, "due")
    expected = {h.pk for h in grid if h.verdict(Lifetimes.from_config(), timezone.now())}
    assert due_in_admin == expected
    assert 0 < len(expected) < len(grid)  # the grid has both sides of every limit

    dry = expiry.expire_all(dry_run=True)
    assert dry.expired_handlers + dry.retired_handlers == len(due_in_admin)

    report = expiry.expire_all()
    assert report.expired_handlers + report.retired_handlers == len(due_in_admin)
    removed = {h.pk for h in grid} - set(UploadHandler.objects.values_list("pk", flat=True))
    assert removed == due_in_admin


def test_the_engine_the_filters_and_the_sweep_agree_on_every_handler(grid):
    lifetimes, now = Lifetimes.from_config(), timezone.now()
    rows = UploadHandler.objects.all()
    overdue = set(rows.overdue(lifetimes, now).values_list("pk", flat=True))
    retired = set(rows.retired(lifetimes, now).values_list("pk", flat=True))
    within = set(rows.within_lifetime(lifetimes, now).values_list("pk", flat=True))
    for handler in grid:
        verdict = handler.verdict(lifetimes, now)
        row = tuple(getattr(handler, f) for f in UploadHandler.LIFETIME_FIELDS)
        assert UploadHandler.verdict_of(row, lifetimes, now) == verdict
        assert (verdict == "expire") == (handler.pk in overdue)
        assert (verdict == "retire") == (handler.pk in retired)
        assert (handler.is_live and verdict is None) == (handler.pk in within)
        # What a client's request finds: an expired or retired handler is gone.
        assert handlers.is_expired(handler, now) == (verdict is not None)
        if handler.is_live:
            assert handlers.expires_at(handler) == handler.due_at(lifetimes)



# Tickets -------------------------------------------------------------------

TICKETS = reverse("admin:chunked_upload_ticket_changelist")


@pytest.fixture
def tickets(config):
    """Tickets live and ended in every way the engine knows, with their keys."""
    config(TICKET_MAX_AGE=86400)
    now = timezone.now()
    made = {
        "live": TicketFactory(),
        "slid past": TicketFactory(expires_at=now - timedelta(seconds=1)),
        "revoked": TicketFactory(revoked_at=now),
        "too old": TicketFactory(),
        "user inactive": TicketFactory(),
        "password changed": TicketFactory(),
        "issued before credentials": TicketFactory(auth_hash=""),
    }
    Ticket.objects.filter(pk=made["too old"].pk).update(created_at=now - timedelta(days=2))
    made["user inactive"].user.is_active = False
    made["user inactive"].user.save()
    made["password changed"].user.set_password("another")
    made["password changed"].user.save()
    return {name: (Ticket.objects.get(pk=t.pk), t.key) for name, t in made.items()}


def test_the_admin_and_the_engine_agree_on_which_tickets_are_live(admin_client, tickets):
    def listed(status: str) -> set:
        response = admin_client.get(TICKETS, {"status": status})
        return {t.pk for t in response.context["cl"].result_list}

    live_in_admin, expired_in_admin = listed("live"), listed("expired")
    model_admin = admin_client.get(TICKETS).context["cl"].model_admin
    assert live_in_admin == {tickets["live"][0].pk}
    for name, (ticket, key) in tickets.items():
        try:
            engine_tickets.check(key, renew=False)
            live = True
        except ChunkedUploadError:
            live = False
        assert live == (name == "live"), name
        assert ticket.is_live() == live, name
        assert model_admin.live(ticket) == live, name
        assert (ticket.pk in live_in_admin) == live, name
        assert (ticket.pk in expired_in_admin) == (not live and name != "revoked"), name


# Folder walking ------------------------------------------------------------

def test_finalize_and_download_walk_folders_by_the_same_rule(srv, ticket):
    srv.upload(ticket, b"v1", 2, path="/Reports/2024/Q1.txt")
    srv.upload(ticket, b"v2", 2, path="/reports/2024/q1.TXT")  # the same document
    srv.upload(ticket, b"x", 1, path="/REPORTS/other.txt")
    assert Folder.objects.count() == 2
    document = Document.objects.get(name="Q1.txt")
    assert Folder.objects.walk(["rEPORTS", "2024"]) == document.folder
    assert Document.objects.named(document.folder, "q1.txt").get() == document
    for path in ("/Reports/2024/Q1.txt", "/REPORTS/2024/q1.txt"):
        assert srv.download(ticket, path) == b"v2"
    with pytest.raises(Folder.DoesNotExist):
        Folder.objects.walk(["Reports", "2025"])
    answer = srv.call("GetDownloadHandler", AuthenticationTicket=ticket,
                      Path="/Reports/2025/Q1.txt", PreferedChunkSize="0")
    assert not answer.ok


# MP version bounds -----------------------------------------------------------

MP_CASES = [(part, value) for part, (low, high) in MP_VERSION_BOUNDS.items()
            for value in (low - 1, low, high, high + 1)]


@pytest.mark.parametrize("part, value", MP_CASES)
def test_both_mp_version_bindings_and_the_engine_apply_the_same_bounds(srv, ticket, part, value):
    version = {"Major": 1, "Minor": 0, "Revision": 0, part: value}
    try:
        VersionOptions(mp_version=tuple(version.values()))
        engine_accepts = True
    except ValueError:
        engine_accepts = False
    low, high = MP_VERSION_BOUNDS[part]
    assert engine_accepts == (low <= value <= high)

    as_params = srv.call(
        "UploadDocumentWithHandler2", authenticationTicket=ticket, path=f"/p{part}{value}.txt",
        uploadHandler=srv.upload(ticket, b"x", 1), versionComments="",
        **{f"mpVersion{name}": str(number) for name, number in version.items()})
    items = "".join(f'<item NAME="MPVERSION{name.upper()}" VALUE="{number}"/>'
                    for name, number in version.items())
    as_xml = srv.call(
        "UploadDocumentWithHandler3", authenticationTicket=ticket, path=f"/x{part}{value}.txt",
        uploadHandler=srv.upload(ticket, b"x", 1),
        xmlParameters=f"<xmlparameters>{items}</xmlparameters>")
    assert as_params.ok == as_xml.ok == engine_accepts, (as_params, as_xml)


# Document storage ------------------------------------------------------------

def test_the_admin_reads_versions_from_the_storage_finalize_wrote_to(
        admin_client, srv, ticket, settings, config, tmp_path):
    settings.STORAGES = {**settings.STORAGES, "documents": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(tmp_path)}}}
    config(DOCUMENT_STORAGE="documents")
    srv.upload(ticket, b"kept elsewhere", 4, path="/Docs/elsewhere.txt")
    version = DocumentVersion.objects.get()
    assert (tmp_path / version.storage_name).read_bytes() == b"kept elsewhere"
    url = reverse("admin:chunked_upload_documentversion_download", args=[version.pk])
    response = admin_client.get(url)
    assert b"".join(response.streaming_content) == b"kept elsewhere"
    assert srv.download(ticket, "/Docs/elsewhere.txt") == b"kept elsewhere"


# Download handlers ------------------------------------------------------------

def test_a_download_handler_is_usable_exactly_until_the_sweep_would_remove_it():
    now = timezone.now()
    made = [DownloadHandlerFactory(expires_at=now + timedelta(seconds=offset))
            for offset in (-3600, -60, 60, 3600)]
    live = {h.pk for h in DownloadHandler.objects.live(timezone.now())}
    assert live == {h.pk for h in made if h.is_live(timezone.now())} == {made[2].pk, made[3].pk}
    assert expiry.expire_all(dry_run=True).download_handlers == len(made) - len(live)
    for handler in made:
        try:
            downloads.delete_download(handler.ticket, handler.pk)
            usable = True
        except DownloadHandlerNotFound:
            usable = False
        assert usable == (handler.pk in live)
