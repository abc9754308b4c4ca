"""The servers under test: gunicorn processes, and what their workers cost.

Memory: before a measured run each worker's high-water mark is reset
(``echo 5 > /proc/<pid>/clear_refs`` sets VmHWM to the current VmRSS, which is
read as the idle figure); after the run VmHWM is the peak. So "peak - idle"
is what serving that run added, whatever it held before. CPU: user plus
system time of the workers (``/proc/<pid>/stat``), before and after.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from .srvclient import BenchmarkError

ROOT = Path(__file__).resolve().parent.parent
_TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Gunicorn:
    """A gunicorn master with its sync workers, on loopback."""

    def __init__(self, app: str, workers: int, env: dict[str, str], log: Path) -> None:
        self.port = free_port()
        self.workers = workers
        self.log = log
        command = [
            sys.executable, "-m", "gunicorn", app, "--workers", str(workers),
            "--worker-class", "sync", "--bind", f"127.0.0.1:{self.port}",
            "--timeout", "300", "--error-logfile", str(log), "--log-level", "warning",
        ]
        self.process = subprocess.Popen(command, cwd=ROOT, env=env)
        self._wait_ready()
        self.pids = self.worker_pids()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BenchmarkError(f"gunicorn exited, see {self.log}")
            if len(self.worker_pids()) == self.workers:
                try:
                    socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                    return
                except OSError:
                    pass
            time.sleep(0.1)
        raise BenchmarkError(f"gunicorn did not start, see {self.log}")

    def worker_pids(self) -> list[int]:
        pid = self.process.pid
        try:
            children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        except FileNotFoundError:
            return []
        return sorted(int(child) for child in children)

    def probe(self) -> Probe:
        """Start measuring the workers: reset their high-water marks, read CPU time."""
        if self.worker_pids() != self.pids:
            raise BenchmarkError(f"a gunicorn worker was restarted, see {self.log}")
        return Probe(self.pids)

    def stop(self) -> None:
        stop(self.process)


def stop_all(servers, data_dir: Path, *, keep: bool) -> None:
    """Stop the servers of a run; remove its data directory unless asked to keep it."""
    for server in servers:
        server.stop()
    if not keep:
        shutil.rmtree(data_dir, ignore_errors=True)


def stop(process: subprocess.Popen) -> None:
    """SIGTERM, then SIGKILL if it has not exited within 30 s."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass
class WorkerCost:
    """What one run cost the server's workers."""

    idle_rss: int  # bytes, the worker whose RSS grew most
    peak_rss: int
    cpu_seconds: float  # all workers


class Probe:
    """Memory and CPU of a set of worker processes over one run."""

    def __init__(self, pids: list[int]) -> None:
        self.pids = pids
        for pid in pids:
            Path(f"/proc/{pid}/clear_refs").write_text("5")
        self.idle = {pid: _status(pid, "VmRSS") for pid in pids}
        self.cpu = _cpu_seconds(pids)

    def finish(self) -> WorkerCost:
        peaks = {pid: _status(pid, "VmHWM") for pid in self.pids}
        worst = max(self.pids, key=lambda pid: peaks[pid] - self.idle[pid])
        return WorkerCost(self.idle[worst], peaks[worst], _cpu_seconds(self.pids) - self.cpu)


def _status(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024
    raise BenchmarkError(f"no {key} for process {pid}")


def _cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        # Fields after the command name (which may hold spaces): utime, stime are 14, 15.
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        total += int(fields[11]) + int(fields[12])
    return total / _TICKS


#: Variables of the shell that would configure the demo site otherwise than the benchmark
#: says (its database, document storage and staging): never passed on.
_SITE_SETTINGS = ("DATABASE_URL", "STAGING_BACKEND")
_SITE_PREFIXES = ("DOCUMENTS_S3_", "STAGING_S3_", "CHUNKED_UPLOAD_")


def site_env(data_dir: Path, database_url: str | None = None,
             **extra: str) -> dict[str, str]:
    """The environment of a demo site under test: a fresh ``DATA_DIR``, ``DEBUG`` off,
    SQLite unless ``database_url``, and ``extra`` on top; nothing else from the shell's
    site settings."""
    env = {key: value for key, value in os.environ.items()
           if key not in _SITE_SETTINGS and not key.startswith(_SITE_PREFIXES)}
    env.update(DATA_DIR=str(data_dir), DJANGO_DEBUG="0", PYTHONDONTWRITEBYTECODE="1",
               DJANGO_SETTINGS_MODULE="project.settings", **extra)
    if database_url:
        env["DATABASE_URL"] = database_url
    return env


def prepare_site(env: dict[str, str], username: str, password: str) -> None:
    """Migrate a fresh demo site and create the benchmark's user."""
    manage = [sys.executable, str(ROOT / "manage.py")]
    # Their output goes to stderr: stdout is the report's (--json).
    subprocess.run([*manage, "migrate", "--verbosity", "0"], cwd=ROOT, env=env, check=True,
                   stdout=sys.stderr)
    code = (
        "from django.contrib.auth import get_user_model\n"
        f"user, _ = get_user_model().objects.get_or_create(username={username!r})\n"
        f"user.set_password({password!r}); user.save()\n"
    )
    subprocess.run([*manage, "shell", "--command", code], cwd=ROOT, env=env, check=True,
                   stdout=sys.stderr)
