"""The benchmarks' bound does the work its figures stand for (benchmarks/django_floor):
a multipart chunk with a checked ticket, a lease, each chunk's CRC-32 compared, the
SHA-256 resumed across chunks, the new state committed; and it refuses what the
contract refuses, appending nothing."""

import hashlib
import os
import zlib
from xml.etree import ElementTree as ET

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from benchmarks.django_floor import bound
from chunked_upload.engine import tickets
from chunked_upload.engine.checksums import Sha256State
from chunked_upload.staging.local import LocalStaging
from tests.factories import UserFactory

URL = "/srv.asmx/UploadFileChunk"


@pytest.fixture
def bound_site(settings, tmp_path, monkeypatch):
    settings.ROOT_URLCONF = "benchmarks.django_floor.bound"
    monkeypatch.setenv("FLOOR_DIR", str(tmp_path))
    bound._create_table.cache_clear()  # the table goes with each test's transaction
    yield tmp_path
    bound._create_table.cache_clear()


@pytest.fixture
def ticket(db):
    return str(tickets.issue_for(UserFactory()).key)


def send(client, ticket, chunk, *, crc=None, last=False, handler="upload-1"):
    answer = client.post(URL, {
        "authenticationTicket": ticket, "uploadHandler": handler,
        "chunkHEXCRC": f"{zlib.crc32(chunk) if crc is None else crc:X}",
        "lastChunk": "true" if last else "false",
        "fileChunk": SimpleUploadedFile("blob", chunk, "application/octet-stream"),
    })
    assert answer.status_code == 200
    return ET.fromstring(answer.content).attrib


def state(directory, handler="upload-1"):
    with bound.connection.cursor() as cursor:
        cursor.execute(f"SELECT size, length, crc, file_crc, sha, leased_until "
                       f"FROM {bound.TABLE} WHERE path = %s", [str(directory / handler)])
        return cursor.fetchone()


def test_the_bound_appends_and_commits_the_resumed_state(client, bound_site, ticket):
    first, second = os.urandom(70_000), os.urandom(1_000)

    assert send(client, ticket, first) == {"success": "true", "tryagain": "false",
                                           "offset": "70000"}
    assert send(client, ticket, second, last=True)["filehexcrc"] == (
        f"{zlib.crc32(first + second):X}")

    assert (bound_site / "upload-1").read_bytes() == first + second
    size, length, crc, file_crc, sha, leased_until = state(bound_site)
    assert (size, length, crc, file_crc) == (71_000, 1_000, zlib.crc32(second),
                                             zlib.crc32(first + second))
    assert leased_until is None  # the commit ended the lease
    assert Sha256State(bytes.fromhex(sha)).hexdigest() == hashlib.sha256(
        first + second).hexdigest()


def test_a_bad_ticket_appends_nothing(client, bound_site, ticket):
    send(client, ticket, b"kept")

    answer = send(client, "6a1f1c3e-0000-4000-8000-000000000000", b"refused")

    assert answer["success"] == "false"
    assert (bound_site / "upload-1").read_bytes() == b"kept"


def test_another_users_handler_is_refused(client, bound_site, ticket):
    send(client, ticket, b"kept")

    answer = send(client, str(tickets.issue_for(UserFactory()).key), b"refused")

    assert answer["success"] == "false"
    assert (bound_site / "upload-1").read_bytes() == b"kept"


def test_a_crc_mismatch_appends_nothing_and_ends_the_lease(client, bound_site, ticket):
    send(client, ticket, b"kept")

    assert send(client, ticket, b"damaged", crc=1)["success"] == "false"

    assert (bound_site / "upload-1").read_bytes() == b"kept"
    assert state(bound_site)[0] == 4 and state(bound_site)[5] is None
    assert send(client, ticket, b"!")["offset"] == "5"


def test_a_leased_handler_is_refused(client, bound_site, ticket):
    send(client, ticket, b"kept")
    with bound.connection.cursor() as cursor:  # another request holds it
        cursor.execute(f"UPDATE {bound.TABLE} SET leased_until = 1e12")

    assert send(client, ticket, b"refused")["success"] == "false"
    assert (bound_site / "upload-1").read_bytes() == b"kept"


def test_bytes_an_uncommitted_append_left_are_cut_off(client, bound_site, ticket):
    send(client, ticket, b"kept")
    with open(bound_site / "upload-1", "ab") as staged:  # a crash before the commit
        staged.write(b"uncommitted")

    assert send(client, ticket, b"!")["offset"] == "5"
    assert (bound_site / "upload-1").read_bytes() == b"kept!"


def test_a_chunk_whose_lease_was_taken_over_commits_nothing(client, bound_site, ticket,
                                                            monkeypatch):
    send(client, ticket, b"kept")
    append = bound.append_pieces

    def taken_over_meanwhile(*args, **kwargs):
        size = append(*args, **kwargs)
        with bound.connection.cursor() as cursor:  # another request leases the handler
            cursor.execute(f"UPDATE {bound.TABLE} SET generation = generation + 1")
        return size

    monkeypatch.setattr(bound, "append_pieces", taken_over_meanwhile)
    assert send(client, ticket, b"late")["success"] == "false"
    monkeypatch.setattr(bound, "append_pieces", append)

    assert state(bound_site)[0] == 4
    with bound.connection.cursor() as cursor:  # that other request's lease runs out
        cursor.execute(f"UPDATE {bound.TABLE} SET leased_until = NULL")
    assert send(client, ticket, b"!")["offset"] == "5"
    assert (bound_site / "upload-1").read_bytes() == b"kept!"


def test_a_handler_name_that_leaves_its_directory_is_refused(client, bound_site, ticket):
    answer = send(client, ticket, b"refused", handler="../escaped")

    assert answer["success"] == "false"
    assert not (bound_site.parent / "escaped").exists()


@pytest.fixture
def guarded_site(bound_site, monkeypatch):
    monkeypatch.setenv("BOUND_GUARANTEES", "1")
    return bound_site


def staged(directory, handler="upload-1"):
    return LocalStaging(directory).path(handler).read_bytes()


def ledger(directory, handler="upload-1"):
    with bound.connection.cursor() as cursor:
        cursor.execute(f"SELECT idx, off, length, crc FROM {bound.LEDGER} WHERE path = %s "
                       "ORDER BY idx", [str(directory / handler)])
        return cursor.fetchall()


def test_with_guarantees_each_chunk_is_staged_and_has_a_ledger_row(client, guarded_site,
                                                                   ticket):
    first, second = os.urandom(70_000), os.urandom(1_000)

    assert send(client, ticket, first)["offset"] == "70000"
    assert send(client, ticket, second, last=True)["filehexcrc"] == (
        f"{zlib.crc32(first + second):X}")

    assert staged(guarded_site) == first + second
    assert ledger(guarded_site) == [(0, 0, 70_000, zlib.crc32(first)),
                                    (1, 70_000, 1_000, zlib.crc32(second))]
    assert state(guarded_site)[0] == 71_000


def test_with_guarantees_a_crc_mismatch_stages_and_records_nothing(client, guarded_site,
                                                                   ticket):
    send(client, ticket, b"kept")

    assert send(client, ticket, b"damaged", crc=1)["success"] == "false"

    assert staged(guarded_site) == b"kept"
    assert len(ledger(guarded_site)) == 1
    assert send(client, ticket, b"!")["offset"] == "5"


def test_with_guarantees_a_writer_whose_lease_was_taken_over_is_fenced_off(
        client, guarded_site, ticket, monkeypatch):
    send(client, ticket, b"kept")
    lease = bound._lease

    def taken_over_before_the_bytes(path, key):
        size, file_crc, sha, generation = lease(path, key)
        newer = LocalStaging(guarded_site).open("upload-1", create=False, fence=generation + 1)
        newer.close()  # another request opened the staged bytes with the next generation
        return size, file_crc, sha, generation

    monkeypatch.setattr(bound, "_lease", taken_over_before_the_bytes)
    assert send(client, ticket, b"late")["success"] == "false"

    assert staged(guarded_site) == b"kept"
    assert len(ledger(guarded_site)) == 1
    assert state(guarded_site)[0] == 4
