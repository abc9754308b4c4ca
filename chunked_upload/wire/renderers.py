"""The XML renderer: an :class:`Answer` as ``<?xml …?><root a="…"/>``.

Values are escaped by a real XML serializer (``XMLGenerator``), never by
string formatting. A Base64 text is written piece by piece, so a download
chunk streams out without its encoded form ever being held whole.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any
from xml.sax.saxutils import XMLGenerator

from rest_framework.renderers import BaseRenderer

from .answers import Answer

XML_DECLARATION = b'<?xml version="1.0" encoding="utf-8"?>\n'


def iter_answer(answer: Answer) -> Iterator[bytes]:
    """The serialized answer, in pieces."""
    buffer = io.BytesIO()
    xml = XMLGenerator(buffer, encoding="utf-8", short_empty_elements=True)

    def flush() -> bytes:
        data = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return data

    buffer.write(XML_DECLARATION)
    xml.startElement(answer.root, answer.attributes)
    if answer.text is not None:
        yield flush()
        for piece in [answer.text] if isinstance(answer.text, str) else answer.text:
            xml.characters(piece)
            yield flush()
    xml.endElement(answer.root)
    yield flush()


def render_answer(answer: Answer) -> bytes:
    """The serialized answer, whole."""
    return b"".join(iter_answer(answer))


class AnswerXMLRenderer(BaseRenderer):
    """DRF renderer for :class:`Answer` data, ``text/xml; charset=utf-8``."""

    media_type = "text/xml"
    format = "xml"
    charset = "utf-8"

    def render(self, data: Any, accepted_media_type: str | None = None,
               renderer_context: dict[str, Any] | None = None) -> bytes:
        return render_answer(data)
