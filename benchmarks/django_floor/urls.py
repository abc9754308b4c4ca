"""``POST /<name>``: append the body to ``$FLOOR_DIR/<name>``, as the raw floor does."""

from __future__ import annotations

import os

from django.http import HttpResponse
from django.urls import re_path
from rest_framework.request import Request
from rest_framework.views import APIView

from ..floor import append_body


class AppendView(APIView):
    """The body streamed into the file and fsynced; the answer is its size."""

    authentication_classes = ()
    permission_classes = ()
    parser_classes = ()

    def post(self, request: Request, name: str) -> HttpResponse:
        # DRF's Request hands read() on to Django's (parser_classes is empty: nothing
        # else reads the body).
        size = append_body(request, int(request.META.get("CONTENT_LENGTH") or 0),
                           os.path.join(os.environ["FLOOR_DIR"], name))
        return HttpResponse(b"%d\n" % size, content_type="text/plain")


urlpatterns = [re_path(r"^(?P<name>[A-Za-z0-9_.-]{1,100})$", AppendView.as_view())]
