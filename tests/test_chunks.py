"""UploadFileChunk: the append rule, CRCs, limits, chunkOffset, replays and parsing."""

import base64
import zlib

import pytest

from chunked_upload.models import Chunk, UploadHandler
from chunked_upload.staging import get_staging
from tests.srv import BINDINGS, crc

pytestmark = pytest.mark.django_db(transaction=True)


def staged(handler: str) -> bytes:
    return get_staging().path(handler).read_bytes()


@pytest.fixture
def handler(srv, ticket):
    return srv.create_handler(ticket)


@pytest.mark.parametrize("binding", BINDINGS)
def test_a_chunk_with_the_right_crc_is_appended(srv, ticket, handler, binding):
    answer = srv.send_chunk(ticket, handler, b"hello ", last=False, binding=binding)
    assert list(answer.element.attrib) == ["success", "tryagain", "offset"]
    assert (answer["success"], answer["tryagain"], answer["offset"]) == ("true", "false", "6")
    answer = srv.send_chunk(ticket, handler, b"world", last=True, binding=binding)
    assert answer["offset"] == "11"
    assert answer["filehexcrc"] == crc(b"hello world")
    assert staged(handler) == b"hello world"
    ledger = list(Chunk.objects.filter(handler=handler).values_list("offset", "length", "crc32"))
    assert ledger == [(0, 6, zlib.crc32(b"hello ")), (6, 5, zlib.crc32(b"world"))]


def test_crc_mismatch_appends_nothing_and_answers_the_seed_form(srv, ticket, handler):
    srv.send_chunk(ticket, handler, b"keep", last=False)
    answer = srv.call("UploadFileChunk", authenticationTicket=ticket, uploadHandler=handler,
                      fileChunk=base64.b64encode(b"junk").decode(), chunkHEXCRC="1234",
                      lastChunk="false")
    assert answer.element.attrib == {"success": "true", "tryagain": "true"}
    assert staged(handler) == b"keep"
    assert UploadHandler.objects.get(pk=handler).committed_size == 4


def test_crc_mismatch_answer_form_is_configurable(srv, ticket, handler, config):
    config(CRC_MISMATCH_RESPONSE="strict")
    answer = srv.call("UploadFileChunk", authenticationTicket=ticket, uploadHandler=handler,
                      fileChunk="", chunkHEXCRC="1", lastChunk="false")
    assert (answer["success"], answer["tryagain"]) == ("false", "true")


# Data whose CRC has a leading zero nibble, to send it with and without the zero.
SHORT_CRC_DATA = next(bytes([i]) * 3 for i in range(256) if zlib.crc32(bytes([i]) * 3) < 1 << 28)


@pytest.mark.parametrize("form", ["{:X}", "{:08X}", "{:08x}", " {:x} "])
def test_crcs_compare_as_numbers(srv, ticket, handler, form):
    text = form.format(zlib.crc32(SHORT_CRC_DATA))
    answer = srv.call("UploadFileChunk", authenticationTicket=ticket, uploadHandler=handler,
                      fileChunk=base64.b64encode(SHORT_CRC_DATA).decode(), chunkHEXCRC=text,
                      lastChunk="false")
    assert answer["tryagain"] == "false", answer


@pytest.mark.parametrize("text", ["", "xyz", "123456789", "-1"])
def test_malformed_crc_is_invalid_parameter(srv, ticket, handler, text):
    answer = srv.call("UploadFileChunk", authenticationTicket=ticket, uploadHandler=handler,
                      fileChunk="", chunkHEXCRC=text, lastChunk="false")
    assert answer.error == "Invalid parameter: chunkHEXCRC."


def test_filehexcrc_has_no_leading_zeros():
    from chunked_upload.engine.checksums import format_crc

    assert format_crc(0x0ABC) == "ABC"
    assert format_crc(0) == "0"


@pytest.mark.parametrize("text, last", [("true", True), ("False", False), (" TRUE ", True)])
def test_last_chunk_parses_like_dotnet_boolean(srv, ticket, handler, text, last):
    answer = srv.call("UploadFileChunk", authenticationTicket=ticket, uploadHandler=handler,
                      fileChunk="", chunkHEXCRC="0", lastChunk=text)
    assert answer.ok
    assert ("filehexcrc" in answer.element.attrib) is last


@pytest.mark.parametrize("text", ["yes", "1", ""])
def test_malformed_last_chunk_is_invalid_parameter(srv, ticket, handler, text):
    answer = srv.call("UploadFileChunk", authenticationTicket=ticket, uploadHandler=handler,
                      fileChunk="", chunkHEXCRC="0", lastChunk=text)
    assert answer.error == "Invalid parameter: lastChunk."


@pytest.mark.parametrize("missing", ["uploadHandler", "fileChunk", "chunkHEXCRC", "lastChunk"])
def test_missing_parameters_are_named(srv, ticket, handler, missing):
    params = dict(authenticationTicket=ticket, uploadHandler=handler, fileChunk="",
                  chunkHEXCRC="0", lastChunk="false")
    del params[missing]
    assert srv.call("UploadFileChunk", **params).error == f"Missing parameter: {missing}."


@pytest.mark.parametrize("binding", ["get", "post"])
def test_malformed_base64_is_invalid_parameter_and_appends_nothing(srv, ticket, handler, binding):
    srv.send_chunk(ticket, handler, b"keep", last=False)
    answer = srv.call("UploadFileChunk", binding, authenticationTicket=ticket,
                      uploadHandler=handler, fileChunk="AAAA!!!!" * 1000, chunkHEXCRC="0",
                      lastChunk="false")
    assert answer.error == "Invalid parameter: fileChunk."
    assert staged(handler) == b"keep"


def test_base64_whitespace_is_ignored(srv, ticket, handler):
    text = base64.encodebytes(b"a" * 300).decode()  # wrapped at 76 columns
    answer = srv.call("UploadFileChunk", authenticationTicket=ticket, uploadHandler=handler,
                      fileChunk=" " + text, chunkHEXCRC=crc(b"a" * 300), lastChunk="false")
    assert answer["offset"] == "300"


def test_parameter_names_are_case_insensitive(srv, ticket, handler):
    answer = srv.call("UploadFileChunk", "multipart", AUTHENTICATIONTICKET=ticket,
                      UploadHandler=handler, FileChunk=b"abc", ChunkHEXCRC=crc(b"abc"),
                      LASTCHUNK="true")
    assert answer["offset"] == "3"


def test_parameter_errors_come_before_ticket_errors(srv, handler):
    answer = srv.call("UploadFileChunk", authenticationTicket="bad", uploadHandler=handler,
                      fileChunk="@@@", chunkHEXCRC="0", lastChunk="false")
    assert answer.error == "Invalid parameter: fileChunk."
    answer = srv.call("UploadFileChunk", authenticationTicket="bad", uploadHandler=handler,
                      fileChunk="", chunkHEXCRC="0", lastChunk="false")
    assert answer.error == "[900] Authentication failed"


def test_chunk_over_the_maximum_is_refused_and_nothing_appended(srv, ticket, handler, config):
    config(MAX_CHUNK_SIZE=262144)
    answer = srv.send_chunk(ticket, handler, b"z" * 262145, last=False, binding="multipart")
    assert answer.error == "Limit exceeded: chunk size."
    assert answer["errorCode"] == "4130"
    assert staged(handler) == b""
    assert srv.send_chunk(ticket, handler, b"z" * 262144, last=False)["offset"] == "262144"


def test_file_over_the_size_limit_is_refused(srv, ticket, handler, config):
    config(MAX_FILE_SIZE=10)
    assert srv.send_chunk(ticket, handler, b"123456", last=False).ok
    answer = srv.send_chunk(ticket, handler, b"123456", last=True)
    assert answer.error == "Limit exceeded: file size."
    assert staged(handler) == b"123456"


def test_empty_chunks_are_allowed(srv, ticket, handler):
    assert srv.send_chunk(ticket, handler, b"data", last=False)["offset"] == "4"
    answer = srv.send_chunk(ticket, handler, b"", last=True)
    assert (answer["offset"], answer["filehexcrc"]) == ("4", crc(b"data"))


def test_chunk_offset_at_the_committed_size_appends(srv, ticket, handler):
    srv.send_chunk(ticket, handler, b"one", last=False, chunkOffset=0)
    assert srv.send_chunk(ticket, handler, b"two", last=False, chunkOffset=3)["offset"] == "6"
    assert staged(handler) == b"onetwo"


def test_resent_chunk_with_offset_is_not_appended_twice(srv, ticket, handler):
    srv.send_chunk(ticket, handler, b"one", last=False, chunkOffset=0)
    srv.send_chunk(ticket, handler, b"two", last=False, chunkOffset=3)
    answer = srv.send_chunk(ticket, handler, b"two", last=False, chunkOffset=3)
    assert (answer["success"], answer["offset"]) == ("true", "6")
    assert staged(handler) == b"onetwo"
    assert Chunk.objects.filter(handler=handler).count() == 2


@pytest.mark.parametrize("offset, data", [(0, b"two"), (5, b"two"), (3, b"TWO"), (2, b"xy")])
def test_offset_elsewhere_is_offset_mismatch(srv, ticket, handler, offset, data):
    srv.send_chunk(ticket, handler, b"one", last=False)
    srv.send_chunk(ticket, handler, b"two", last=False)
    answer = srv.send_chunk(ticket, handler, data, last=False, chunkOffset=offset)
    assert answer.error == "Offset mismatch."
    assert (answer["errorCode"], answer["offset"]) == ("4090", "6")
    assert staged(handler) == b"onetwo"


def test_without_chunk_offset_the_legacy_rule_appends_every_chunk(srv, ticket, handler):
    srv.send_chunk(ticket, handler, b"ab", last=False)
    srv.send_chunk(ticket, handler, b"ab", last=False)
    assert staged(handler) == b"abab"


@pytest.mark.parametrize("extra", [{}, {"chunkOffset": 3}])
def test_resend_of_the_final_chunk_replays_the_final_answer(srv, ticket, handler, extra):
    srv.send_chunk(ticket, handler, b"one", last=False)
    first = srv.send_chunk(ticket, handler, b"end", last=True)
    again = srv.send_chunk(ticket, handler, b"end", last=True, **extra)
    assert again.element.attrib == first.element.attrib
    assert staged(handler) == b"oneend"


@pytest.mark.parametrize("data, extra", [(b"new", {}), (b"end", {"chunkOffset": 6}),
                                         (b"en", {})])
def test_other_chunks_to_a_complete_handler_are_refused(srv, ticket, handler, data, extra):
    srv.send_chunk(ticket, handler, b"one", last=False)
    srv.send_chunk(ticket, handler, b"end", last=True)
    answer = srv.send_chunk(ticket, handler, data, last=False, **extra)
    assert answer.error == "Upload handler is already complete."
    assert staged(handler) == b"oneend"


def test_chunks_to_a_finalized_handler_are_not_found(srv, ticket, handler):
    srv.send_chunk(ticket, handler, b"end", last=True)
    srv.call("UploadDocumentWithHandler", authenticationTicket=ticket, path="/f.txt",
             uploadHandler=handler)
    answer = srv.send_chunk(ticket, handler, b"end", last=True)
    assert answer.error == "Upload handler not found or expired."


def test_ticket_and_handler_after_the_chunk_still_work(srv, ticket, handler):
    body = {"fileChunk": b"late", "chunkHEXCRC": crc(b"late"), "lastChunk": "true",
            "uploadHandler": handler, "authenticationTicket": ticket}
    answer = srv.call("UploadFileChunk", "multipart", **body)
    assert answer["offset"] == "4", answer
    assert staged(handler) == b"late"


def test_crash_between_write_and_commit_is_repaired_by_the_next_request(srv, ticket, handler):
    srv.send_chunk(ticket, handler, b"committed", last=False)
    # A process died after writing a chunk's bytes but before recording them.
    with open(get_staging().path(handler), "ab") as leftover:
        leftover.write(b"half-written garbage")
    status = srv.call("GetUploadHandlerStatus", authenticationTicket=ticket, uploadHandler=handler)
    assert status["offset"] == "9"
    answer = srv.send_chunk(ticket, handler, b" and resent", last=True, chunkOffset=9)
    assert answer["filehexcrc"] == crc(b"committed and resent")
    assert staged(handler) == b"committed and resent"


def test_lost_staged_bytes_are_a_system_error_not_silent_corruption(srv, ticket, handler, caplog):
    srv.send_chunk(ticket, handler, b"committed", last=False)
    get_staging().path(handler).write_bytes(b"short")
    answer = srv.send_chunk(ticket, handler, b"more", last=False)
    assert answer.error.startswith("SystemError: internal error (ref ")
    assert answer["errorCode"] == "5000"
    assert "Traceback" not in answer.error and "/" not in answer.error
    ref = answer.error.split("ref ")[1].rstrip(")")
    assert any(ref in record.getMessage() and record.exc_info for record in caplog.records)


def test_a_failed_fsync_records_nothing_and_cuts_the_bytes_off(srv, ticket, handler, monkeypatch):
    # The ledger row and the new size are written before the fsync (so the disk
    # writes meanwhile): a failing fsync must roll them back with the bytes.
    import errno

    from chunked_upload.staging import StagingError
    from chunked_upload.staging.local import LocalStagedFile

    srv.send_chunk(ticket, handler, b"committed", last=False)

    def failing_sync(self):
        raise StagingError("cannot sync staged file: Input/output error", errno.EIO)

    monkeypatch.setattr(LocalStagedFile, "sync", failing_sync)
    answer = srv.send_chunk(ticket, handler, b" lost", last=False)
    assert answer["errorCode"] == "5000"
    monkeypatch.undo()
    assert staged(handler) == b"committed"
    assert UploadHandler.objects.get(pk=handler).committed_size == 9
    assert Chunk.objects.filter(handler=handler).count() == 1
    answer = srv.send_chunk(ticket, handler, b" resent", last=True, chunkOffset=9)
    assert answer["filehexcrc"] == crc(b"committed resent")
