"""Log-in throttling with django-axes (``pip install django-srvasmx-chunked-upload[axes]``).

Nothing here is needed for axes to work: AuthenticateUser and RenewTicket
call ``django.contrib.auth.authenticate()`` with the request, so axes'
backend counts their failures and refuses a locked-out client, which gets
``Limit exceeded: login attempts.`` (see :mod:`chunked_upload.engine.tickets`).
This module only tells whether a site's axes settings throttle the way the
web service needs: per user name *and* per client address, each on its own.
"""

from __future__ import annotations

from django.conf import settings

from ..exceptions import MissingExtra

try:
    import axes  # noqa: F401 - only to say which extra is missing
except ImportError as exc:
    raise MissingExtra("chunked_upload.contrib.axes", "django-axes", "axes") from exc

#: What each lock-out needs, on its own: a user name under attack from many
#: addresses, and an address trying many user names.
NEEDED_PARAMETERS = ("username", "ip_address")


def missing_lockout_parameters() -> list[str]:
    """The parameters of :data:`NEEDED_PARAMETERS` that no lock-out uses alone."""
    # Read with axes' own defaults, at call time (axes fills them in on import).
    if not getattr(settings, "AXES_ENABLED", True):
        return list(NEEDED_PARAMETERS)
    parameters = getattr(settings, "AXES_LOCKOUT_PARAMETERS", None) or ["ip_address"]
    if callable(parameters) or isinstance(parameters, str):
        return []  # decided per request by the site's own callable
    alone = {p for p in parameters if isinstance(p, str)}
    return [p for p in NEEDED_PARAMETERS if p not in alone]
