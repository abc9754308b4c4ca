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

from .answers import Answer, Base64Text

XML_DECLARATION = b'<?xml version="1.0" encoding="utf-8"?>\n'


def iter_answer(answer: Answer) -> Iterator[bytes]:
    """The serialized answer, in pieces."""
    buffer = io.BytesIO()
    # A Base64 text is written without the serializer, so the start tag must be
    # closed at once: ``<root …/>`` only for an answer without content.
    xml = XMLGenerator(buffer, encoding="utf-8", short_empty_elements=not answer.text)

    def flush() -> bytes:
        data = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return data

    buffer.write(XML_DECLARATION)
    xml.startElement(answer.root, answer.attributes)
    if isinstance(answer.text, Base64Text):
        # Bytes of the Base64 alphabet: nothing to escape, nothing to decode.
        yield flush()
        yield from answer.text
    elif answer.text:
        xml.characters(answer.text)
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
