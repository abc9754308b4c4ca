"""The XML renderer: an :class:`Answer` as ``<?xml …?><root a="…"/>``."""

from __future__ import annotations

from typing import Any
from xml.etree import ElementTree as ET

from rest_framework.renderers import BaseRenderer

from .answers import Answer

XML_DECLARATION = b'<?xml version="1.0" encoding="utf-8"?>\n'


def render_answer(answer: Answer) -> bytes:
    """Serialize with a real XML serializer: every value is escaped by it."""
    return XML_DECLARATION + ET.tostring(answer_element(answer), encoding="utf-8",
                                         xml_declaration=False)


def answer_element(answer: Answer) -> ET.Element:
    element = ET.Element(answer.root, answer.attributes)
    element.text = answer.text
    return element


class AnswerXMLRenderer(BaseRenderer):
    """DRF renderer for :class:`Answer` data, ``text/xml; charset=utf-8``."""

    media_type = "text/xml"
    format = "xml"
    charset = "utf-8"

    def render(self, data: Any, accepted_media_type: str | None = None,
               renderer_context: dict[str, Any] | None = None) -> bytes:
        return render_answer(data)
