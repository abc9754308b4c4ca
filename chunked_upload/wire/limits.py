"""What one request may make the server read and hold: the limits of every binding.

Each limit is a ``CHUNKED_UPLOAD`` setting, read per request (so
``override_settings`` works) and enforced before the work it bounds is done:

- ``MAX_REQUEST_SIZE``: the declared body, refused from the headers with 413
  before a byte of it is read;
- ``MAX_FIELDS``: fields of a query string, form or multipart body, and
  parameter elements of a SOAP operation, empty and nameless ones included
  (they cost parsing all the same); the parsers stop counting at the limit,
  so a body of millions of empty fields costs no more than the limit's worth;
- ``MAX_PARAMETER_SIZE``: one text parameter, and a chunk that arrives before
  its ticket (it is held in memory as a text parameter would be);
- ``MAX_TEXT_SIZE``: the text parameters of one call together.

Fields that are no parameter of the method are drained as they stream past,
never held, so they count against the field limit but not the text limits.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..conf import get_config
from ..exceptions import InvalidParameter, LimitExceeded
from .answers import RequestRefused


@dataclass(frozen=True)
class Limits:
    """The limits in force for one request."""

    max_request: int
    max_fields: int
    max_parameter: int
    max_text: int

    @classmethod
    def current(cls) -> Limits:
        config = get_config()
        return cls(config["MAX_REQUEST_SIZE"], config["MAX_FIELDS"],
                   config["MAX_PARAMETER_SIZE"], config["MAX_TEXT_SIZE"])

    def check_declared_size(self, meta: Mapping[str, Any]) -> int:
        """The body's declared length; refused from the headers: 400 if it is no
        number, 413 if too large."""
        text = meta.get("CONTENT_LENGTH") or "0"
        # Digits only: int() would also take " 12", "+12" or "1_2", which HTTP does not.
        if not (isinstance(text, str) and text.isascii() and text.isdigit()):
            raise RequestRefused(InvalidParameter("Content-Length"), 400)
        if int(text) > self.max_request:
            # Answered from the headers alone. No "Connection: close": WSGI forbids
            # hop-by-hop headers from the app; the server drains or closes.
            raise RequestRefused(LimitExceeded("request size"), 413)
        return int(text)


class TextBudget:
    """The text a call may still hold; spending past it is ``Limit exceeded: text size.``."""

    def __init__(self, size: int) -> None:
        self.left = size

    def spend(self, size: int) -> None:
        self.left -= size
        if self.left < 0:
            raise LimitExceeded("text size")
