"""Where a chunk's server CPU goes: perf and py-spy on the benchmark's worker.

    .venv/bin/pip install py-spy      # and perf (Debian: linux-perf)
    .venv/bin/python -m benchmarks.profile [--chunk 1MiB] [--size 256MiB] \\
        [--database-url postgres://…] [--raw stacks.txt] [--bound]

The demo site runs as in ``benchmarks.ingest`` but with one sync worker, so
that every chunk lands in the process being sampled; then the floor behind
Django (``benchmarks/django_floor``) is profiled the same way, and the last
column is what ours costs beyond it, bucket by bucket. With ``--bound`` the
bound (``benchmarks/django_floor/bound.py``: that floor plus the work every
implementation must do) takes its place, so the last column is only the work
ours does beyond what the contract requires. One file is uploaded as
multipart three times: an untimed warm-up, then once under ``perf record``
(on-CPU samples only, by shared object: the interpreter, the kernel's copies
and page faults, OpenSSL's SHA-256, ISA-L's CRC, libc's memcpy, the database
driver), then once under ``py-spy record --gil`` (Python stacks of the samples
that hold the GIL: what the interpreter's share was spent on). The
interpreter's share is divided among Python buckets in py-spy's proportions;
the worker's CPU time from ``/proc`` over the perf run turns shares into
milliseconds per chunk. Each py-spy sample goes to the bucket of its
innermost frame that names one, so a query made by the engine counts as
database, not engine.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from .ingest import PASSWORD, USER, parse_size
from .servers import Gunicorn, prepare_site, site_env
from .srvclient import MULTIPART, Connection, Srv, bound_upload, floor_upload

MiB = 1 << 20

# (bucket, pattern on "function (file:line)"), tried innermost frame first.
BUCKETS = [
    ("Python: body reading (gunicorn)", r"gunicorn/http/(body|unreader)"),
    ("Python: checksums (app)", r"crc32|sha256|hashlib|engine/checksums\.py"),
    ("Python: staging writes (app)", r"staging/"),
    ("Python: database (Django ORM + driver)", r"sqlite3|psycopg|django/db/"),
    ("Python: multipart / form parsing (app)", r"wire/bodies\.py|wire/params\.py"),
    ("Python: XML answer (app)", r"renderers\.py|saxutils|answers\.py"),
    ("Python: engine, other (app)", r"chunked_upload/engine/"),
    ("Python: wire, other (app)", r"chunked_upload/"),
    # The floor behind Django's own loop (its body reading and writes): without
    # this line it would count as DRF's, DRF's dispatch being the frame around it.
    ("Python: the floor's append loop (benchmark)", r"benchmarks/(django_)?floor"),
    ("Python: DRF", r"rest_framework/"),
    ("Python: Django (handler, middleware, response)", r"django/"),
    ("Python: gunicorn (request, response)", r"gunicorn/"),
]
_COMPILED = [(name, re.compile(pattern)) for name, pattern in BUCKETS]
OTHER = "Python: other"
# perf's shared objects, by name.
NATIVE = [
    ("kernel (socket and page-cache copies, page faults, fsync)", r"kernel"),
    ("SHA-256 (rehashes or OpenSSL)", r"rehashes|libcrypto"),
    ("CRC-32 (ISA-L)", r"isal"),
    ("libc (memcpy, malloc)", r"libc\.so"),
    ("database driver (native)", r"sqlite|psycopg|libpq"),
]
INTERPRETER = re.compile(r"libpython|^python")


def bucket(frames: list[str]) -> str:
    """The bucket of one stack (outermost frame first)."""
    for frame in reversed(frames):
        for name, pattern in _COMPILED:
            if pattern.search(frame):
                return name
    return OTHER


def breakdown(raw: str) -> Counter:
    """Samples per bucket from py-spy's raw (collapsed) output."""
    counts: Counter = Counter()
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if stack:
            counts[bucket(stack.split(";"))] += int(count)
    return counts


def native_shares(report: str) -> dict[str, float]:
    """Shares of on-CPU samples per shared object, from ``perf report --sort dso``."""
    shares: dict[str, float] = {}
    for line in report.splitlines():
        match = re.match(r"\s*([\d.]+)%\s+(\S+)", line)
        if match:
            shares[match.group(2)] = float(match.group(1)) / 100
    return shares


def table(native: dict[str, float], python: Counter, per_chunk: float) -> list[tuple[str, float]]:
    """(bucket, share of the worker's CPU), the interpreter divided as py-spy saw it."""
    rows: Counter = Counter()
    interpreter = 0.0
    for dso, share in native.items():
        if INTERPRETER.search(dso):
            interpreter += share
            continue
        name = next((name for name, pattern in NATIVE if re.search(pattern, dso)),
                    "other native code")
        rows[name] += share
    total = sum(python.values())
    for name, count in python.items():
        rows[name] += interpreter * count / total if total else 0
    if not total:
        rows["Python (no py-spy samples)"] += interpreter
    return rows.most_common()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.profile", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chunk", type=parse_size, default=MiB, help="chunk size (1MiB)")
    parser.add_argument("--size", type=parse_size, default=256 * MiB, help="upload (256MiB)")
    parser.add_argument("--database-url", help="PostgreSQL instead of SQLite")
    parser.add_argument("--raw", help="also keep py-spy's collapsed stacks of ours in this file")
    parser.add_argument("--bound", action="store_true",
                        help="compare with the bound instead of the floor behind Django")
    args = parser.parse_args(argv)
    data = memoryview(os.urandom(args.size))
    data_dir = Path(tempfile.mkdtemp(prefix="profile-bench-"))
    env = site_env(data_dir, args.database_url)
    chunks = -(-args.size // args.chunk)
    try:
        prepare_site(env, USER, PASSWORD)
        with _server("project.wsgi:application", env, data_dir / "ours.log") as server:
            srv = Srv(server.port)
            ticket = srv.log_in(USER, PASSWORD)
            stamp = time.strftime("%Y%m%d-%H%M%S")
            ours = _profile(server, data_dir, chunks, args.raw, lambda n: srv.upload(
                ticket, data, args.chunk, MULTIPART, f"/profile/{stamp}-{n}.bin").seconds)
            srv.close()
        (data_dir / "floor").mkdir()
        settings = "bound_settings" if args.bound else "settings"
        floor_env = {**env, "DJANGO_SETTINGS_MODULE": f"benchmarks.django_floor.{settings}",
                     "FLOOR_DIR": str(data_dir / "floor")}
        with _server("benchmarks.django_floor.wsgi:application", floor_env,
                     data_dir / "floor.log") as server:
            conn = Connection(server.port)
            upload = partial(bound_upload, ticket=ticket) if args.bound else floor_upload
            floor = _profile(server, data_dir, chunks, None, lambda n: upload(
                conn, f"upload-{n}", data, args.chunk))
            conn.close()
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
    reference = "bound" if args.bound else "floor behind Django"
    print(f"{args.size / MiB:.0f} MiB in {args.chunk // 1024} KiB chunks, "
          f"{'postgresql' if args.database_url else 'sqlite'}, one sync worker: ours "
          f"{args.size / ours.seconds / 1e6:.0f} MB/s, {ours.per_chunk:.2f} ms CPU per chunk; "
          f"the {reference} {args.size / floor.seconds / 1e6:.0f} MB/s, "
          f"{floor.per_chunk:.2f} ms; beyond it {ours.per_chunk - floor.per_chunk:.2f} ms")
    print(f"| {'where (worker CPU, ms per chunk)':<58} | ours | share | {reference:>19} "
          "| beyond it |")
    print(f"|{'-' * 60}|-----:|------:|--------------------:|----------:|")
    for name in sorted(set(ours.rows) | set(floor.rows),
                       key=lambda name: -ours.rows.get(name, 0.0)):
        mine, its = ours.rows.get(name, 0.0), floor.rows.get(name, 0.0)
        print(f"| {name:<58} | {mine:4.2f} | {mine / ours.per_chunk:5.1%} | {its:19.2f} "
              f"| {mine - its:+9.2f} |")
    return 0


@dataclass
class Profile:
    """One server's worker CPU per chunk, and how it divides (ms per chunk by bucket)."""

    seconds: float
    per_chunk: float
    rows: dict[str, float]


def _profile(server: Gunicorn, data_dir: Path, chunks: int, keep: str | None,
             upload: Callable[[int], float]) -> Profile:
    """Warm up, then one upload under perf, one under py-spy (``upload(n)``: seconds)."""
    pid = str(server.pids[0])
    upload(0)
    perf_data = data_dir / "perf.data"
    with _sampling(["perf", "record", "-e", "cpu-clock", "-F", "999", "-p", pid,
                    "-o", str(perf_data)]):
        probe = server.probe()
        seconds = upload(1)
        cost = probe.finish()
    report = subprocess.run(["perf", "report", "-i", str(perf_data), "--sort", "dso",
                             "--stdio", "-g", "none"], capture_output=True, text=True,
                            check=True).stdout
    raw = data_dir / "stacks.txt"
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    with _sampling([py_spy, "record", "--pid", pid, "--rate", "250", "--gil",
                    "--format", "raw", "--output", str(raw)]):
        upload(2)
    if keep:
        shutil.copy(raw, keep)
    per_chunk = cost.cpu_seconds * 1e3 / chunks
    shares = table(native_shares(report), breakdown(raw.read_text()), per_chunk)
    return Profile(seconds, per_chunk, {name: per_chunk * share for name, share in shares})


@contextmanager
def _server(app: str, env: dict[str, str], log: Path) -> Iterator[Gunicorn]:
    server = Gunicorn(app, 1, env, log)
    try:
        yield server
    finally:
        server.stop()


@contextmanager
def _sampling(command: list[str]) -> Iterator[None]:
    """A profiler attached for the block, stopped (SIGINT) and waited for after it."""
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1)  # attached
    try:
        yield
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(120)


if __name__ == "__main__":
    sys.exit(main())
