"""``{% chunked_uploader %}`` renders the uploader with what its modules need."""

import pytest
from django.template import Context, Template
from django.test import RequestFactory

from chunked_upload.sizes import iec, sized


def render(text: str, **context) -> str:
    request = RequestFactory().get("/")
    return Template("{% load chunked_upload %}" + text).render(
        Context({"request": request, **context}))


def test_the_uploader_carries_endpoint_ticket_url_csrf_and_options():
    html = render('{% chunked_uploader folder="/Inbox" folder_input="#f" parallel=4 %}')
    assert 'data-endpoint="/srv.asmx"' in html
    assert 'data-ticket-url="/chunked-upload/session-ticket"' in html
    assert 'data-csrf-token="' in html
    assert 'data-folder="/Inbox"' in html and 'data-folder-input="#f"' in html
    assert 'data-parallel="4"' in html
    assert 'data-scope="/srv.asmx#"' in html  # an anonymous request: no user id
    assert '<script type="module" src="/static/chunked_upload/uploader.js">' in html
    assert 'aria-live="polite"' in html
    assert 'type="file" multiple' in html


def test_options_are_escaped():
    html = render("{% chunked_uploader folder=name %}", name='"><script>')
    assert "<script>\"" not in html and "&quot;&gt;&lt;script&gt;" in html


@pytest.mark.parametrize(("size", "text"), [
    (0, "0 bytes"), (1, "1 byte"), (1023, "1023 bytes"), (1024, "1.0 KiB"),
    (1536, "1.5 KiB"), (50 << 20, "50.0 MiB"), (1 << 30, "1.0 GiB"), (3 << 40, "3.0 TiB"),
])
def test_sizes_are_iec(size, text):
    assert iec(size) == text


def test_the_size_filter_keeps_exact_bytes_on_hover():
    assert sized(123_456) == '<span class="cu-bytes" title="123,456 bytes">120.6 KiB</span>'
    assert render("{{ n|iec_size }}", n=123_456) == sized(123_456)
