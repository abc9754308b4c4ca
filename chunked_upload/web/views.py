"""The ticket endpoint: a logged-in browser session gets its web-service ticket."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect

from ..engine.uploads import clamp_chunk_size
from .sessions import session_ticket


@method_decorator([csrf_protect, never_cache], name="dispatch")
class SessionTicketView(View):
    """``POST`` (CSRF token required) → ``{"ticket": GUID, "expireOn": …, "chunkSize": N}``.

    Only ``POST``: the ticket must never travel in a URL or be cached, and a
    cross-site page can neither send the CSRF token nor read the answer.
    Anonymous requests get 403, never a redirect to a log-in page.
    """

    http_method_names = ["post"]

    def post(self, request: HttpRequest) -> JsonResponse:
        if not request.user.is_authenticated or not request.user.is_active:
            return JsonResponse({"error": "Log in to upload."}, status=403)
        key, ticket = session_ticket(request)
        return JsonResponse({
            "ticket": str(key),
            "expireOn": ticket.expires_at.isoformat(),
            "chunkSize": clamp_chunk_size(None),
        })
