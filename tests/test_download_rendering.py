"""A DownloadFileChunk answer is written as bytes, in large Base64 pieces, exactly."""

import base64
import os
from xml.etree import ElementTree as ET

from hypothesis import given
from hypothesis import strategies as st

from chunked_upload.wire.answers import Answer, Base64Text
from chunked_upload.wire.renderers import iter_answer, render_answer

ATTRIBUTES = {"chunkCRC32": "1F2E", "note": "<&\"'>"}


def test_a_chunk_of_several_pieces_streams_as_bytes_and_decodes_to_the_data():
    data = os.urandom(3 * Base64Text.PIECE + 5)  # three whole pieces and a padded rest
    pieces = list(iter_answer(Answer.success("root", ATTRIBUTES, Base64Text(data))))
    assert all(isinstance(piece, bytes) for piece in pieces)
    # The head, one piece per PIECE bytes of content (never more), the end tag.
    assert len(pieces) == 1 + 4 + 1
    assert max(len(piece) for piece in pieces) == Base64Text.PIECE * 4 // 3
    root = ET.fromstring(b"".join(pieces))
    assert root.attrib == {"success": "true", **ATTRIBUTES}
    assert base64.b64decode(root.text, validate=True) == data


@given(st.binary(max_size=2000))
def test_any_content_renders_as_the_standard_encoding(data):
    answer = Answer.success("root", ATTRIBUTES, Base64Text(data))
    rendered = render_answer(answer)
    root = ET.fromstring(rendered)
    assert (root.text or "") == base64.b64encode(data).decode("ascii")
    assert str(answer.text) == base64.b64encode(data).decode("ascii")


def test_empty_content_is_an_empty_element():
    rendered = render_answer(Answer.success("root", {"a": "1"}, Base64Text(b"")))
    assert rendered.endswith(b'<root success="true" a="1"/>')


def test_text_answers_are_still_escaped():
    rendered = render_answer(Answer.success("root", {"a": "1"}, "x<y&z"))
    assert rendered.endswith(b'<root success="true" a="1">x&lt;y&amp;z</root>')
