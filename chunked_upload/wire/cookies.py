"""The ``ticket`` cookie: read only on requests the site's own pages make.

isValidTicket and LogOut fall back to a ``ticket`` cookie when the ticket
parameter is absent, for the vendor's browser pages that keep it there. A
browser attaches that cookie to any request for the site, including one
another site triggers (a link, an image, a form): a stranger's page could
then log the user out. So the cookie is ignored when the browser says the
request comes from elsewhere:

- ``Sec-Fetch-Site`` (every current browser sends it): only ``same-origin``
  and ``none`` (typed in, bookmarked) count as the site's own;
- else ``Origin`` or ``Referer``: present and naming another host → ignored;
- neither header: not a browser (scripts, SOAP proxies), or an old one that
  sends nothing to judge by; the cookie is used, as before.

A ticket passed as a parameter is never affected: a stranger cannot know it.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from django.http import HttpRequest

COOKIE = "ticket"
_OWN_SITE = ("same-origin", "none")


def cookie_ticket(request: HttpRequest) -> str | None:
    """The ``ticket`` cookie's value, or None when absent or sent cross-site."""
    value = request.COOKIES.get(COOKIE)
    if value is None or is_cross_site(request):
        return None
    return value


def is_cross_site(request: HttpRequest) -> bool:
    """Does the browser say this request was made by another site's page?"""
    fetch_site = request.META.get("HTTP_SEC_FETCH_SITE")
    if fetch_site is not None:
        return fetch_site.strip().lower() not in _OWN_SITE
    source = request.META.get("HTTP_ORIGIN") or request.META.get("HTTP_REFERER")
    if not source:
        return False
    return urlsplit(source).netloc.lower() != request.get_host().lower()
