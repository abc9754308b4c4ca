"""Attacks on the wire layer, each re-run as its reproduction (issue 14 items 3, 8, 10).

Every request a client controls is bounded before the work is done: the number
of fields and the text they carry, a chunk sent before the ticket (held in
memory, never written to disk), a Content-Length that is no number. Each
refusal is the contract's XML answer, never a 500.
"""

import base64
import io
import os
import tracemalloc
from urllib.parse import urlencode

import pytest
from django.core.cache import cache
from django.test import RequestFactory
from rest_framework.throttling import SimpleRateThrottle

from chunked_upload.wire.views import ServiceMethodView
from tests.srv import Answer, crc

pytestmark = pytest.mark.django_db(transaction=True)

FORM = "application/x-www-form-urlencoded"


class CountingStream(io.BytesIO):
    """A request body that remembers how much of it was read."""

    def read(self, size=-1):
        data = super().read(size)
        self.consumed = self.tell()
        return data


def call_view(method: str, body: bytes, content_type: str = FORM, **meta):
    """POST ``body`` straight to the view, measuring the peak memory of the call."""
    stream = CountingStream(body)
    stream.consumed = 0
    environ = {"CONTENT_TYPE": content_type, "CONTENT_LENGTH": str(len(body)),
               "wsgi.input": stream, **meta}
    request = RequestFactory().generic("POST", f"/srv.asmx/{method}", **environ)
    tracemalloc.start()
    try:
        response = ServiceMethodView.as_view()(request, method_name=method)
        response.render()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return Answer(response), peak, stream.consumed


@pytest.mark.parametrize("field", [b"&", b"a=&", b"=&", b"a&"])
def test_eight_million_empty_fields_are_refused_early_in_bounded_memory(srv, field):
    body = field * 8_000_000
    answer, peak, consumed = call_view("isValidTicket", body)
    assert answer.error == "Limit exceeded: number of fields."
    assert answer["errorCode"] == "4130"
    assert peak < 4 << 20, f"peak {peak} bytes"
    assert consumed < 4 << 20, f"read {consumed} of {len(body)} bytes"


def test_the_field_limit_is_a_setting(srv, config, user):
    config(MAX_FIELDS=3)
    answer = srv.call("AuthenticateUser", UID=user.username, PWD="x", Lang="en", Other="1")
    assert answer.error == "Limit exceeded: number of fields."
    answer = srv.call("AuthenticateUser", "multipart", UID=user.username, PWD="x", A="1", B="2")
    assert answer.error == "Limit exceeded: number of fields."


@pytest.mark.parametrize("binding", ["get", "post", "multipart"])
def test_fields_up_to_the_limit_are_accepted(srv, config, user, binding):
    from tests.factories import PASSWORD

    config(MAX_FIELDS=4)
    answer = srv.call("AuthenticateUser", binding, UID=user.username, PWD=PASSWORD, A="", B="")
    assert answer.ok, answer


def test_more_than_a_thousand_get_fields_is_a_protocol_answer(srv):
    query = "&".join(f"f{i}=x" for i in range(1001))
    answer = Answer(srv.client.get(f"/srv.asmx/isValidTicket?{query}"))
    assert answer.response.status_code == 200
    assert answer.error == "Limit exceeded: number of fields."


@pytest.mark.parametrize("binding", ["get", "post", "multipart", "soap"])
def test_the_text_of_all_fields_together_is_bounded(srv, config, binding):
    config(MAX_TEXT_SIZE=1000)
    if binding == "soap":
        from tests.soap.envelopes import call

        node = call(srv.client, "RenewTicket", UID="u" * 600, PWD="p" * 600)
        assert node.get("error") == "Limit exceeded: text size."
        return
    answer = srv.call("RenewTicket", binding, UID="u" * 600, PWD="p" * 600)
    assert answer.error == "Limit exceeded: text size."
    assert srv.call("RenewTicket", binding, UID="u" * 500, PWD="p" * 500).error == (
        "[900] Authentication failed")


def test_unknown_fields_are_drained_not_held(srv, user):
    # 30 unknown fields of 1 MiB each: neither refused nor held in memory.
    body = "&".join(f"junk{i}={'x' * (1 << 20)}" for i in range(30)).encode()
    answer, peak, _ = call_view("AuthenticateUser", body)
    assert answer.error == "Missing parameter: UID."
    assert peak < 4 << 20, f"peak {peak} bytes"


@pytest.mark.parametrize("value", ["abc", "-5", "1e3", " "])
def test_a_content_length_that_is_no_number_is_a_protocol_answer(value):
    answer, _, _ = call_view("isValidTicket", b"x=1", CONTENT_LENGTH=value)
    assert answer.response.status_code == 400
    assert (answer.tag, answer["errorCode"]) == ("root", "4000")
    assert answer.error == "Invalid parameter: Content-Length."


def test_no_hop_by_hop_header_is_set_by_the_service(srv, config):
    config(MAX_REQUEST_SIZE=10)
    for response in (
        srv.client.post("/srv.asmx/LogOut", "x" * 100, content_type=FORM),
        srv.client.post("/srv.asmx", "x" * 100, content_type="text/xml"),
    ):
        assert response.status_code == 413
        assert "Connection" not in response


# A chunk before its ticket --------------------------------------------------------
class DiskWatch:
    """Records every file the code under test opens for writing."""

    def __init__(self, monkeypatch):
        self.written: list[str] = []
        real_open = os.open

        def watched_open(path, flags, *args, **kwargs):
            if flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):
                self.written.append(os.fsdecode(path))
            return real_open(path, flags, *args, **kwargs)

        monkeypatch.setattr(os, "open", watched_open)


def early_chunk_body(ticket: str, handler: str, data: bytes) -> tuple[bytes, str]:
    boundary = "early"
    fields = [("fileChunk", data, True), ("chunkHEXCRC", crc(data).encode(), False),
              ("lastChunk", b"true", False), ("uploadHandler", handler.encode(), False),
              ("authenticationTicket", ticket.encode(), False)]
    body = b""
    for name, value, is_file in fields:
        filename = '; filename="chunk"' if is_file else ""
        body += (f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"{filename}'
                 "\r\n\r\n").encode() + value + b"\r\n"
    return body + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def test_a_large_chunk_before_any_ticket_is_refused_without_touching_disk(monkeypatch, srv):
    watch = DiskWatch(monkeypatch)
    body, content_type = early_chunk_body("00000000-0000-0000-0000-000000000000",
                                          "00000000-0000-0000-0000-000000000001",
                                          os.urandom(3 << 20))
    answer, peak, _ = call_view("UploadFileChunk", body, content_type)
    assert answer.error == "Limit exceeded: chunk before ticket."
    assert answer["errorCode"] == "4130"
    assert watch.written == []
    assert peak < 4 << 20


def test_a_small_chunk_before_a_bad_ticket_touches_no_disk(monkeypatch, srv, ticket):
    handler = srv.create_handler(ticket)
    watch = DiskWatch(monkeypatch)
    body, content_type = early_chunk_body("6f1c1d4e-0000-0000-0000-000000000000", handler,
                                          b"x" * 1000)
    answer, _, _ = call_view("UploadFileChunk", body, content_type)
    assert answer.error == "[901] Session expired or Invalid ticket"
    assert watch.written == []


def test_a_small_chunk_before_its_ticket_is_appended_once_the_ticket_is_checked(srv, ticket):
    from chunked_upload.staging import get_staging

    handler = srv.create_handler(ticket)
    data = os.urandom(100_000)
    body, content_type = early_chunk_body(ticket, handler, data)
    answer, _, _ = call_view("UploadFileChunk", body, content_type)
    assert answer["offset"] == str(len(data)), answer
    assert get_staging().path(handler).read_bytes() == data


def test_an_early_chunk_is_bounded_as_a_text_parameter_is(srv, ticket, config):
    config(MAX_PARAMETER_SIZE=1000)
    handler = srv.create_handler(ticket)
    body, content_type = early_chunk_body(ticket, handler, b"y" * 1001)
    answer, _, _ = call_view("UploadFileChunk", body, content_type)
    assert answer.error == "Limit exceeded: chunk before ticket."
    body, content_type = early_chunk_body(ticket, handler, b"y" * 1000)
    answer, _, _ = call_view("UploadFileChunk", body, content_type)
    assert answer["offset"] == "1000", answer


def test_a_chunk_after_its_ticket_still_streams_past_the_parameter_size(srv, ticket, config):
    config(MAX_PARAMETER_SIZE=1000)
    handler = srv.create_handler(ticket)
    answer = srv.send_chunk(ticket, handler, b"z" * 300_000, last=True, binding="multipart")
    assert answer["offset"] == "300000", answer
    answer = srv.send_chunk(ticket, srv.create_handler(ticket), b"z" * 3000, last=True,
                            binding="post")
    assert answer["offset"] == "3000", answer


# DRF throttling -----------------------------------------------------------------
class TwoPerMinute(SimpleRateThrottle):
    rate = "2/min"

    def get_cache_key(self, request, view):
        return f"test-throttle-{self.get_ident(request)}"


@pytest.fixture
def throttled(config):
    cache.clear()
    config(THROTTLE_CLASSES=["tests.test_wire_limits.TwoPerMinute"])
    yield
    cache.clear()


@pytest.mark.parametrize("binding", ["get", "post", "multipart", "soap"])
def test_drf_throttling_is_honoured_with_a_protocol_answer(srv, throttled, binding):
    def send():
        if binding == "soap":
            from tests.soap.envelopes import envelope, post

            return post(srv.client, envelope("<tns:LogOut/>"))
        return srv.call("LogOut", binding).response

    assert send().status_code == 200
    assert send().status_code == 200
    response = send()
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    answer = Answer(response)
    assert (answer.tag, answer["errorCode"]) == ("root", "4130")
    assert answer.error == "Limit exceeded: request rate."
    assert answer["retryAfter"] == response["Retry-After"]


def test_a_scoped_rate_from_drf_settings_applies(srv, config, settings):
    from rest_framework.throttling import ScopedRateThrottle

    cache.clear()
    monkey_rates = {"chunked_upload": "1/min"}
    config(THROTTLE_CLASSES=[ScopedRateThrottle])
    old = ScopedRateThrottle.THROTTLE_RATES
    ScopedRateThrottle.THROTTLE_RATES = monkey_rates  # DRF reads these at import time
    try:
        assert srv.call("LogOut").response.status_code == 200
        assert srv.call("LogOut").response.status_code == 429
    finally:
        ScopedRateThrottle.THROTTLE_RATES = old
        cache.clear()


def test_an_urlencoded_chunk_stays_streamed(srv, ticket):
    # Base64 in a form is decoded as it streams (1 MiB reads), whatever its size.
    handler = srv.create_handler(ticket)
    data = os.urandom(8 << 20)
    text = base64.b64encode(data).decode()
    body = urlencode({"authenticationTicket": ticket, "uploadHandler": handler,
                      "fileChunk": text, "chunkHEXCRC": crc(data), "lastChunk": "true"})
    answer, peak, _ = call_view("UploadFileChunk", body.encode())
    assert answer["offset"] == str(len(data)), answer
    assert peak < 6 << 20, f"peak {peak} bytes"


# Under Django's development server (runserver's WSGI stack, as live_server runs it) --
def dev_server_request(live_server, method: str, path: str, headers: dict[str, str],
                       body: bytes = b""):
    """Send a request as written, Content-Length included, and read the answer."""
    import http.client
    from urllib.parse import urlsplit

    url = urlsplit(live_server.url)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    try:
        connection.putrequest(method, path, skip_accept_encoding=True)
        for name, value in headers.items():
            connection.putheader(name, value)
        connection.endheaders(body)
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def dev_server_answer(status_and_headers_and_body, status: int):
    from xml.etree import ElementTree as ET

    status_got, headers, body = status_and_headers_and_body
    assert status_got == status, body
    assert headers["Content-Type"] == "text/xml; charset=utf-8"
    return ET.fromstring(body)


def test_dev_server_answers_a_content_length_that_is_no_number(live_server):
    response = dev_server_request(live_server, "POST", "/srv.asmx/isValidTicket",
                                  {"Content-Type": FORM, "Content-Length": "abc"}, b"x=1")
    assert dev_server_answer(response, 400).get("error") == "Invalid parameter: Content-Length."


@pytest.mark.parametrize("path", ["/srv.asmx", "/srv.asmx/UploadFileChunk"])
def test_dev_server_answers_413_without_a_hop_by_hop_header(live_server, path):
    response = dev_server_request(live_server, "POST", path,
                                  {"Content-Type": "text/xml", "Content-Length": str(1 << 30)},
                                  b"<x/>")
    assert dev_server_answer(response, 413).get("error") == "Limit exceeded: request size."


@pytest.mark.parametrize("path", ["/srv.asmx/isValidTicket", "/srv.asmx"])
def test_dev_server_answers_more_than_a_thousand_get_fields(live_server, path):
    query = "&".join(f"f{i}=x" for i in range(1500))
    response = dev_server_request(live_server, "GET", f"{path}?{query}", {})
    assert dev_server_answer(response, 200).get("error") == "Limit exceeded: number of fields."
