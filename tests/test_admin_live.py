"""The handler admin, live: seconds and "ago", ledger rate, stalled, links, JSON refresh."""

import json
import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from chunked_upload.admin import live
from chunked_upload.models import Chunk, UploadHandler
from tests.factories import TicketFactory, UserFactory
from tests.handlers import make_handler

pytestmark = pytest.mark.django_db
CHANGELIST = reverse("admin:chunked_upload_uploadhandler_changelist")
LIVE = reverse("admin:chunked_upload_uploadhandler_live")


def test_the_live_view_sits_beside_the_changelist():
    assert LIVE == CHANGELIST + "live/"


def test_last_activity_shows_seconds_and_how_long_ago(admin_client):
    make_handler(b"x", idle=timedelta(seconds=42))
    page = admin_client.get(CHANGELIST).content.decode()
    when = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d"
    assert re.search(when + r'</span> <span class="cu-ago">\(4[2-9] s ago\)', page)


@pytest.mark.parametrize(("seconds", "text"), [
    (0, "0 s ago"), (119, "119 s ago"), (120, "2 min ago"), (7199, "119 min ago"),
    (7200, "2 h ago"), (172800, "2 d ago"),
])
def test_ago(seconds, text):
    now = timezone.now()
    assert live.ago(now - timedelta(seconds=seconds), now) == text


def test_a_quiet_pending_handler_is_marked_stalled(admin_client, config):
    config(STALLED_AFTER=30)
    quiet = make_handler(b"x", idle=timedelta(seconds=31))
    busy = make_handler(b"y")
    page = admin_client.get(CHANGELIST).content.decode()
    assert page.count('class="cu-stalled"') == 1
    row = re.search(rf'{quiet.pk}.*?</tr>', page, re.S).group(0)
    assert "stalled" in row
    assert "stalled" not in re.search(rf'{busy.pk}.*?</tr>', page, re.S).group(0)


def test_finished_handlers_are_never_stalled(config):
    config(STALLED_AFTER=1)
    handler = make_handler(b"x", idle=timedelta(hours=1))
    handler.state = UploadHandler.State.FINALIZED
    assert not live.is_stalled(handler)


def test_the_rate_comes_from_the_ledger_of_the_last_seconds():
    handler = make_handler(b"a" * 1000, age=timedelta(minutes=5))
    handler.last_activity_at = timezone.now()
    Chunk.objects.filter(handler=handler).update(received_at=timezone.now())
    old = make_handler(b"b" * 1000, idle=timedelta(minutes=5))
    live.attach_rates([handler, old])
    assert handler.rate == pytest.approx(1000 / live.RATE_WINDOW, rel=0.05)
    assert old.rate == 0


def test_the_rate_of_a_young_handler_counts_only_its_age():
    handler = make_handler(b"a" * 1000)  # created now: its chunk came within a second
    live.attach_rates([handler])
    assert handler.rate == pytest.approx(1000, rel=0.05)


def test_the_changelist_shows_a_rate(admin_client):
    make_handler(b"z" * 50_000)
    page = admin_client.get(CHANGELIST).content.decode()
    assert re.search(r"bytes/s over the last 10 s\">[\d.]+ KiB/s", page)


def test_sizes_are_iec_with_exact_bytes_on_hover(admin_client):
    make_handler(b"x" * 1536)
    page = admin_client.get(CHANGELIST).content.decode()
    assert '<span class="cu-bytes" title="1,536 bytes">1.5 KiB</span>' in page
    assert " MB" not in page and "KB" not in page


def test_a_finalized_handler_links_to_its_document_version(admin_client, srv, ticket):
    handler = srv.upload(ticket, b"content", 1 << 20, path="/Docs/a.txt")
    version = UploadHandler.objects.get(pk=handler).version
    page = admin_client.get(CHANGELIST, {"state": "all"}).content.decode()
    url = reverse("admin:chunked_upload_documentversion_change", args=[version.pk])
    assert f'<a href="{url}">a.txt v1</a>' in page
    detail = admin_client.get(reverse("admin:chunked_upload_uploadhandler_change",
                                      args=[handler])).content.decode()
    assert url in detail


def test_the_live_view_answers_the_cells_of_the_asked_handlers(admin_client):
    shown, other = make_handler(b"x" * 2048), make_handler(b"y")
    answer = admin_client.get(LIVE, {"id": [str(shown.pk), "junk"]})
    assert answer.status_code == 200
    assert "no-store" in answer["Cache-Control"]  # admin_view's never_cache
    data = json.loads(answer.content)
    assert set(data["rows"]) == {str(shown.pk)}
    cells = data["rows"][str(shown.pk)]
    assert set(cells) == set(live.LIVE_FIELDS)
    assert "2.0 KiB" in cells["progress"] and "s ago" in cells["last_activity"]
    assert str(other.pk) not in answer.content.decode()


def test_the_live_view_needs_the_changelists_permission(db):
    handler = make_handler(b"x")
    staff = UserFactory(is_staff=True)
    client = Client()
    client.force_login(staff)
    assert client.get(LIVE, {"id": str(handler.pk)}).status_code == 403
    staff.user_permissions.add(Permission.objects.get(codename="view_uploadhandler"))
    assert client.get(LIVE, {"id": str(handler.pk)}).status_code == 200


def test_the_live_view_is_for_staff_only(db):
    handler = make_handler(b"x", ticket=TicketFactory())
    client = Client()
    assert client.get(LIVE, {"id": str(handler.pk)}).status_code == 302  # to the log-in
    client.force_login(UserFactory())
    assert client.get(LIVE, {"id": str(handler.pk)}).status_code == 302


def test_the_versions_inline_shows_formatted_sizes(admin_client, srv, ticket):
    handler = srv.upload(ticket, b"v" * 3000, 1 << 20, path="/Docs/b.txt")
    document = UploadHandler.objects.get(pk=handler).version.document
    page = admin_client.get(reverse("admin:chunked_upload_document_change",
                                    args=[document.pk])).content.decode()
    assert '<span class="cu-bytes" title="3,000 bytes">2.9 KiB</span>' in page
    assert '<code title="' in page  # the SHA-256 shortened, whole on hover
