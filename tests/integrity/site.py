"""A demo site under test: its data directory, its database, its gunicorn server.

The server is the real thing: ``gunicorn project.wsgi`` with several worker
processes and threads, its own process group (so a test can SIGKILL all of
it, or one worker), restarted on the same port and the same data.
"""

from __future__ import annotations

import hashlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import gunicorn

from .client import SrvClient
from .database import PASSWORD, REPO, USERNAME, SiteDatabase, manage, site_env
from .faults import Faults
from .s3 import S3Place, StagedOnS3

GUNICORN = Path(sys.executable).with_name("gunicorn")
# gunicorn 27's control socket is one path per user: parallel servers would clash.
CONTROL_SOCKET_OFF = ("--no-control-socket",) if gunicorn.version_info >= (27,) else ()
VERSIONS = Path("media/chunked_upload/versions")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class DemoSite:
    """The demo site with its own data and database, served by gunicorn."""

    def __init__(self, data_dir: Path, database: SiteDatabase, *, workers: int = 4,
                 threads: int = 4, s3: S3Place | None = None) -> None:
        self.data_dir = data_dir
        self.database = database
        self.workers, self.threads = workers, threads
        self.port = free_port()
        self.faults = Faults(data_dir / "faults")
        self.env = site_env(data_dir, database.url)
        self.env["INTEGRITY_FAULTS_DIR"] = str(self.faults.directory)
        # Documents and staging in a bucket: nothing of an upload on this host's disk.
        self.s3 = s3
        if s3 is not None:
            self.env.update(s3.env())
        self.process: subprocess.Popen[bytes] | None = None
        self.pgid = 0
        self._ticket: str | None = None
        self.client = SrvClient("127.0.0.1", self.port)

    # The server process -----------------------------------------------------
    def start(self, timeout: float = 30) -> None:
        assert self.process is None, "already running"
        log = open(self.data_dir / "server.log", "ab")  # noqa: SIM115 (the child keeps it)
        self.process = subprocess.Popen(
            [str(GUNICORN), "project.wsgi:application", "--bind", f"127.0.0.1:{self.port}",
             "--worker-class", "gthread", "--workers", str(self.workers),
             "--threads", str(self.threads), "--timeout", "300", "--graceful-timeout", "5",
             "--preload",  # the site is imported once, workers fork: restarts take less
             *CONTROL_SOCKET_OFF,
             "--config", str(Path(__file__).with_name("gunicorn_conf.py"))],
            cwd=REPO, env=self.env, stdout=log, stderr=log, start_new_session=True,
        )
        log.close()
        self.pgid = self.process.pid
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited:\n{self.log_tail()}")
            if len(self.worker_pids()) == self.workers and self._answers():
                return
            time.sleep(0.1)
        raise RuntimeError(f"gunicorn did not come up:\n{self.log_tail()}")

    def _answers(self) -> bool:
        try:
            return self.client.call("isValidTicket").status == 200
        except OSError:
            return False

    @contextmanager
    def running(self) -> Iterator[DemoSite]:
        """Started for the block, stopped after it whatever happens."""
        self.start()
        try:
            yield self
        finally:
            self.stop()

    def stop(self) -> None:
        """A quick shutdown (SIGQUIT), SIGKILL if it does not go."""
        if self.process is None:
            return
        self.process.send_signal(signal.SIGQUIT)
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self.process = None

    def crash(self) -> None:
        """SIGKILL the whole server: master and every worker, at once."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        self.process = None
        for _ in range(100):  # the workers are not our children: wait for them
            if not self._group_alive():
                break
            time.sleep(0.05)

    def _group_alive(self) -> bool:
        try:
            os.killpg(self.pgid, 0)
        except ProcessLookupError:
            return False
        return True

    def restart(self) -> None:
        self.faults.disarm_all()
        if self.process is not None:
            self.stop()
        self.start()

    def worker_pids(self) -> list[int]:
        """The pids of the server's workers (children of the master)."""
        if self.process is None:
            return []
        pids = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    stat = (entry / "stat").read_text()
                except OSError:
                    continue
                if int(stat.rpartition(")")[2].split()[1]) == self.process.pid:
                    pids.append(int(entry.name))
        return pids

    def kill_worker(self, pid: int) -> None:
        """SIGKILL one worker; the master starts a new one."""
        assert pid in self.worker_pids(), pid
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            pids = self.worker_pids()
            if pid not in pids and len(pids) == self.workers:
                return
            time.sleep(0.05)
        raise RuntimeError("gunicorn did not replace the killed worker")

    def log_tail(self, lines: int = 40) -> str:
        path = self.data_dir / "server.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    # Looking inside ---------------------------------------------------------
    def login(self) -> str:
        """A ticket of the test account (one per site: logging in costs a password hash)."""
        if self._ticket is None:
            self._ticket = self.client.login(USERNAME, PASSWORD)
        return self._ticket

    def wait_for(self, condition, timeout: float = 30, what: str = "condition"):
        """Poll ``condition()`` until it returns something true; that value."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if value := condition():
                return value
            time.sleep(0.05)
        raise TimeoutError(f"timed out waiting for {what}")

    def manage(self, *args: str) -> str:
        """A management command of the site, against its data and database."""
        return manage(self.env, *args)

    def send_until_staged(self, request, data: bytes, handler: str) -> int:
        """Send ``data`` into a chunk request until the server stages it; bytes sent.

        How much the server reads before it writes is its own business (its
        read size), so send a piece at a time and watch the staged file grow;
        the last piece always stays unsent.
        """
        staged, start = self.staged_path(handler), self.staged_path(handler).stat().st_size
        sent, piece = 0, 1 << 16
        while sent < len(data) - piece and staged.stat().st_size == start:
            request.write(data[sent:sent + piece])
            sent += piece
            time.sleep(0.005)
        self.wait_for(lambda: staged.stat().st_size > start, what="the chunk being staged")
        return sent

    def staged_path(self, handler: str) -> Path | StagedOnS3:
        if self.s3 is not None:
            return self.s3.staged(self.database, handler)
        key = str(handler)
        return self.data_dir / "staging" / key[:2] / f"{key}.part"

    def staged_files(self) -> dict[str, int]:
        """Every staged file (by handler id) with its size."""
        if self.s3 is not None:
            return self.s3.staged_files(self.database)
        root = self.data_dir / "staging"
        return {path.name.removesuffix(".part"): path.stat().st_size
                for path in root.glob("*/*.part")} if root.is_dir() else {}

    def stored_files(self) -> dict[str, str]:
        """Every file in document storage (by storage name) with its SHA-256."""
        if self.s3 is not None:
            return self.s3.stored_files()
        media = self.data_dir / "media"
        root = self.data_dir / VERSIONS
        if not root.is_dir():
            return {}
        return {str(path.relative_to(media)): hashlib.sha256(path.read_bytes()).hexdigest()
                for path in root.rglob("*") if path.is_file()}

    def assert_consistent(self) -> None:
        """No orphan rows, no orphan files, every stored version intact."""
        db = self.database
        versions = dict(db.query(
            "SELECT storage_name, sha256 FROM chunked_upload_documentversion"))
        stored = self.stored_files()
        assert stored == versions, f"stored files differ from version rows: {stored=} {versions=}"
        assert db.count("document", "id NOT IN (SELECT document_id FROM "
                        "chunked_upload_documentversion)") == 0, "a document without versions"
        assert db.count("uploadhandler", "state = 'finalized' AND version_id IS NULL") == 0
        live = {db.handler_key(key): size for key, size in self.staged_files().items()}
        rows = dict(db.query("SELECT id, committed_size FROM chunked_upload_uploadhandler "
                             "WHERE state IN ('open', 'complete')"))
        rows = {db.handler_key(key): size for key, size in rows.items()}
        assert set(live) == set(rows), f"staged files differ from live handlers: {live=} {rows=}"
        for key, committed in rows.items():
            # Bytes past the committed size are a crash's leftovers, cut off
            # by the next request; bytes missing below it would be a loss.
            assert live[key] >= committed, f"handler {key} lost staged bytes"
        if self.s3 is not None:
            self.s3.assert_owned(db, set(rows))
