"""What goes wrong on the way: lost answers, damaged chunks, a server that dies, a ticket
that expires. The upload gets there, byte-identical, every chunk appended once."""

from __future__ import annotations

import threading
import time

import pytest

from chunked_upload.client import (
    HandlerNotFound,
    ResumeError,
    RetryPolicy,
    Session,
    TransportError,
    download,
    upload,
)
from tests.integrity.database import PASSWORD, USERNAME
from tests.integrity.site import DemoSite

from .helpers import CHUNK, MiB, assert_ledger_contiguous, make_file, sha256, stored_sha256
from .proxy import Proxy

FAST = RetryPolicy(initial_delay=0.05, max_delay=0.5, attempts=6)


@pytest.fixture
def proxy(site):
    proxy = Proxy(site.port)
    yield proxy
    proxy.close()


@pytest.fixture
def proxied(proxy):
    with Session(proxy.url, user=USERNAME, password=PASSWORD, retry=FAST) as session:
        yield session


@pytest.mark.parametrize("skip", [0, 2, 4], ids=["first", "middle", "last"])
def test_a_lost_chunk_answer_appends_nothing_twice(site, proxy, proxied, store, folder,
                                                   tmp_path, skip):
    source = tmp_path / "source.bin"
    digest = make_file(source, 4 * CHUNK + 99)  # five chunks: skip 4 is the last
    trap = proxy.lose_answer("UploadFileChunk", skip=skip)

    done = upload(proxied, source, f"{folder}/f.bin", chunk_size=CHUNK, state=store)

    assert trap.sprung
    assert stored_sha256(site, done.version_id) == digest
    assert_ledger_contiguous(site, done.handler, source.stat().st_size)


def test_a_lost_finalize_answer_makes_one_version(site, proxy, proxied, folder, tmp_path):
    source = tmp_path / "source.bin"
    digest = make_file(source, CHUNK + 1)
    trap = proxy.lose_answer("UploadDocumentWithHandler")

    done = upload(proxied, source, f"{folder}/f.bin", chunk_size=CHUNK, state=False)

    assert trap.sprung
    assert site.database.count("documentversion", "document_id = %s", (done.document_id,)) == 1
    assert stored_sha256(site, done.version_id) == digest


@pytest.mark.parametrize("skip", [1, 3], ids=["middle", "last"])
def test_a_chunk_damaged_on_the_way_is_sent_again(site, proxy, proxied, folder, tmp_path,
                                                  skip):
    source = tmp_path / "source.bin"
    digest = make_file(source, 3 * CHUNK + 100_000)
    trap = proxy.flip_byte("UploadFileChunk", skip=skip, at=60_000)

    done = upload(proxied, source, f"{folder}/f.bin", chunk_size=CHUNK, state=False)

    assert trap.sprung
    assert stored_sha256(site, done.version_id) == digest
    assert_ledger_contiguous(site, done.handler, source.stat().st_size)


def test_a_lost_download_chunk_is_fetched_again(site, proxy, proxied, session, folder,
                                               tmp_path):
    source = tmp_path / "source.bin"
    digest = make_file(source, 2 * CHUNK)
    upload(session, source, f"{folder}/f.bin", chunk_size=CHUNK, state=False)
    trap = proxy.lose_answer("DownloadFileChunk", skip=1)
    download(proxied, f"{folder}/f.bin", tmp_path / "back.bin", chunk_size=CHUNK)
    assert trap.sprung
    assert sha256(tmp_path / "back.bin") == digest


def test_the_server_killed_and_restarted_mid_upload(site, store, folder, tmp_path):
    source = tmp_path / "source.bin"
    size = 48 * CHUNK + 7
    digest = make_file(source, size)
    crashed = threading.Event()

    def crash_and_restart():
        site.crash()
        time.sleep(1)  # the client meanwhile finds nobody listening
        site.start()

    def progress(done, total):
        if done >= 10 * CHUNK and not crashed.is_set():
            crashed.set()
            threading.Thread(target=crash_and_restart).start()

    with Session(f"http://127.0.0.1:{site.port}/", user=USERNAME, password=PASSWORD,
                 retry=RetryPolicy(initial_delay=0.2, max_delay=2, attempts=40)) as session:
        done = upload(session, source, f"{folder}/f.bin", chunk_size=CHUNK, state=store,
                      progress=progress)

    assert crashed.is_set()
    assert stored_sha256(site, done.version_id) == digest
    assert_ledger_contiguous(site, done.handler, size)


def test_retries_give_up_with_a_one_line_reason(tmp_path):
    source = tmp_path / "f.bin"
    source.write_bytes(b"x")
    with pytest.raises(TransportError, match="giving up after 2 attempts"), Session(
            "http://127.0.0.1:9/", user="a", password="b",
            retry=RetryPolicy(attempts=2, initial_delay=0.01)) as session:
        upload(session, source, "/x/f.bin", state=False)


def test_an_expired_ticket_is_replaced_by_logging_in_again(site, session, store, folder,
                                                            tmp_path):
    source = tmp_path / "source.bin"
    digest = make_file(source, 3 * CHUNK)

    def log_out_once(done, total):
        if done == CHUNK:  # the server forgets the ticket under the upload
            site.client.call("LogOut", authenticationTicket=session.ticket)

    done = upload(session, source, f"{folder}/f.bin", chunk_size=CHUNK, state=store,
                  progress=log_out_once)
    assert stored_sha256(site, done.version_id) == digest


def test_resume_after_a_stop_goes_on_where_the_server_stands(site, session, store, folder,
                                                              tmp_path):
    source = tmp_path / "source.bin"
    digest = make_file(source, 6 * CHUNK + 5)

    class Stop(Exception):
        pass

    def stop(done, total):
        if done >= 3 * CHUNK:
            raise Stop

    with pytest.raises(Stop):
        upload(session, source, f"{folder}/f.bin", chunk_size=CHUNK, state=store,
               progress=stop)
    [state] = store.all()
    assert state.offset == 3 * CHUNK
    with Session(session.url, user=USERNAME, password=PASSWORD) as again:  # a new ticket
        done = upload(again, source, f"{folder}/f.bin", chunk_size=CHUNK, state=store,
                      resume=True)
    assert done.resumed_at == 3 * CHUNK
    assert stored_sha256(site, done.version_id) == digest
    assert_ledger_contiguous(site, done.handler, source.stat().st_size)


def test_resume_refuses_a_file_that_changed(session, store, folder, tmp_path):
    source = tmp_path / "source.bin"
    make_file(source, 4 * CHUNK)

    def stop(done, total):
        if done >= 2 * CHUNK:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        upload(session, source, f"{folder}/f.bin", chunk_size=CHUNK, state=store,
               progress=stop)
    with open(source, "r+b") as file:
        file.write(b"changed")
    with pytest.raises(ResumeError, match="no longer what the server holds"):
        upload(session, source, f"{folder}/f.bin", chunk_size=CHUNK, state=store, resume=True)


def test_a_handler_the_server_does_not_know_explains_handler_scope(site, session, store,
                                                                    folder, tmp_path):
    source = tmp_path / "source.bin"
    make_file(source, 2 * CHUNK)

    def stop(done, total):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        upload(session, source, f"{folder}/f.bin", chunk_size=CHUNK, state=store,
               progress=stop)
    [state] = store.all()
    session.call("DeleteUploadHandler", UploadHandler=state.handler)
    with pytest.raises(HandlerNotFound, match="HANDLER_SCOPE"):
        upload(session, source, f"{folder}/f.bin", chunk_size=CHUNK, state=store, resume=True)


@pytest.mark.slow
def test_the_server_killed_during_a_large_upload(site, store, folder, tmp_path):
    source = tmp_path / "source.bin"
    size = 64 * MiB + 3
    digest = make_file(source, size)
    crashes, restarts = [], []

    def progress(done, total):
        if len(crashes) < 2 and done >= (len(crashes) + 1) * 20 * MiB:
            # The site answers before all its workers are up: let the last restart end,
            # or this crash would pull the server from under it.
            for restart in restarts:
                restart.join()
            crashes.append(done)
            site.crash()
            restarts.append(threading.Thread(target=site.start))
            restarts[-1].start()

    with Session(f"http://127.0.0.1:{site.port}/", user=USERNAME, password=PASSWORD,
                 retry=RetryPolicy(initial_delay=0.2, max_delay=2, attempts=40)) as session:
        done = upload(session, source, f"{folder}/f.bin", chunk_size=4 * MiB, state=store,
                      progress=progress)
    for restart in restarts:
        restart.join()
    assert len(crashes) == 2
    assert stored_sha256(site, done.version_id) == digest


@pytest.fixture(scope="module")
def ticket_scope_site(client_database_server, tmp_path_factory):
    """A second site whose handlers belong to their ticket (HANDLER_SCOPE = "ticket")."""
    data_dir = tmp_path_factory.mktemp("ticket-scope")
    site = DemoSite(data_dir, client_database_server.new_database("ticket_scope", data_dir),
                    workers=1, threads=2)
    site.env["CHUNKED_UPLOAD_HANDLER_SCOPE"] = "ticket"
    with site.running():
        yield site


def test_resume_under_ticket_scope_says_handler_scope_is_why(ticket_scope_site, store, folder,
                                                             tmp_path):
    url = f"http://127.0.0.1:{ticket_scope_site.port}/"
    source = tmp_path / "source.bin"
    make_file(source, 3 * CHUNK)

    def stop(done, total):
        raise KeyboardInterrupt  # the client dies after its first chunk

    with Session(url, user=USERNAME, password=PASSWORD) as first, \
            pytest.raises(KeyboardInterrupt):
        upload(first, source, f"{folder}/f.bin", chunk_size=CHUNK, state=store, progress=stop)
    with Session(url, user=USERNAME, password=PASSWORD) as second, \
            pytest.raises(HandlerNotFound) as raised:
        upload(second, source, f"{folder}/f.bin", chunk_size=CHUNK, state=store, resume=True)
    assert "HANDLER_SCOPE" in str(raised.value) and '"user"' in str(raised.value)


def test_resume_after_dying_between_finalize_and_forgetting_gives_the_same_ids(
        site, session, store, folder, tmp_path):
    source = tmp_path / "source.bin"
    make_file(source, 2 * CHUNK)
    saved = {}

    def keep_state(done, total):  # what the state file held when the last chunk was in
        if done == total:
            saved.update({path: path.read_bytes() for path in store.directory.glob("*.json")})

    done = upload(session, source, f"{folder}/f.bin", chunk_size=CHUNK, state=store,
                  progress=keep_state)
    for path, content in saved.items():  # as if the client died before removing it
        path.write_bytes(content)
    with Session(session.url, user=USERNAME, password=PASSWORD) as again:
        replayed = upload(again, source, f"{folder}/f.bin", chunk_size=CHUNK, state=store,
                          resume=True)
    assert (replayed.document_id, replayed.version_id) == (done.document_id, done.version_id)
    assert site.database.count("documentversion", "document_id = %s", (done.document_id,)) == 1
    assert store.all() == []
