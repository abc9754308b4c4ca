"""``{% load chunked_upload %}{% chunked_uploader %}``: the uploader in any template.

Options (all optional): ``folder`` (where files go, default ``/``),
``folder_input`` (a CSS selector of an input holding the folder, read when a
file is added), ``parallel`` (uploads at once, default 2), ``chunk_size``
(bytes, 0 = the server's default). The template needs ``request`` in its
context (``django.template.context_processors.request``).
"""

from __future__ import annotations

from django import template
from django.middleware.csrf import get_token
from django.urls import reverse

from .. import sizes

register = template.Library()


def endpoints(request) -> dict[str, str]:
    """What the browser modules need to reach the app: service, ticket, CSRF token."""
    return {
        "endpoint": reverse("chunked_upload:soap"),
        "ticket_url": reverse("chunked_upload:session-ticket"),
        "csrf_token": get_token(request),
    }


@register.inclusion_tag("chunked_upload/uploader.html", takes_context=True)
def chunked_uploader(context, folder: str = "/", folder_input: str = "", parallel: int = 2,
                     chunk_size: int = 0) -> dict:
    """Render the drop zone, file picker, queue and live region."""
    request = context["request"]
    urls = endpoints(request)
    user_id = getattr(getattr(request, "user", None), "pk", None)
    return {
        **urls,
        # Unfinished uploads are remembered per user: another user of the
        # same browser is not shown this one's file names.
        "scope": f"{urls['endpoint']}#{user_id or ''}",
        "folder": folder,
        "folder_input": folder_input,
        "parallel": parallel,
        "chunk_size": chunk_size,
    }


@register.filter
def iec_size(size: int | None) -> str:
    """``{{ version.size|iec_size }}``: IEC units, the exact byte count on hover."""
    return "" if size is None else sizes.sized(int(size))
