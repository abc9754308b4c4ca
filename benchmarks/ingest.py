"""Ingest benchmark: the demo site against the floor, under gunicorn, on loopback.

    .venv/bin/python -m benchmarks.ingest [--size 1GiB] [--workers 2] [--repeat 3] [--json]

Both servers run at once on a fresh DATA_DIR: the demo site (``project.wsgi``)
and the floor (``benchmarks/floor.py``: the request body appended to a file
and fsynced, nothing else). One generated file is uploaded through the whole
workflow (CreateUploadHandler, chunks, UploadDocumentWithHandler; the ticket
is taken once, outside the timing) for each case. Repetition 0 is an untimed
warm-up of every target (these VMs hand idle memory back to the host, so a
cold run is 2-3x slower); then, case by case, floor and ours alternate, and
each run of ours is divided by the floor run just before it, at the same
chunk size. The median of those ratios is the figure: the floor itself
drifts between invocations, paired ratios cancel that.

Every stored document is checked byte for byte (CRC-32 and SHA-256 of the
stored file against the source, and the last chunk's ``filehexcrc``); the
first case's document is also read back through DownloadFileChunk and
checked. Any difference stops the benchmark with exit status 1.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import sys
import tempfile
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from isal.isal_zlib import crc32

from chunked_upload.staging.local import LocalStaging

from . import report
from .servers import Gunicorn, WorkerCost, prepare_site, site_env, stop_all
from .srvclient import (
    BASE64,
    MULTIPART,
    SOAP,
    BenchmarkError,
    Connection,
    Srv,
    bound_upload,
    floor_upload,
)
from .tus import TusServer

KiB, MiB, GiB = 1 << 10, 1 << 20, 1 << 30
USER, PASSWORD = "bench", "bench-password"
BOUNDS = ("bound", "guarded")  # the bound, and the bound with the guarantees (bound.py)


@dataclass(frozen=True)
class Case:
    """One way of uploading: binding and chunk size, with the target ratio."""

    name: str
    encoding: str
    chunk_size: int
    target: float | None  # None: measured for memory, no ratio target


CASES = {
    case.name: case
    for case in (
        Case("multipart-8MiB", MULTIPART, 8 * MiB, 0.90),
        Case("multipart-1MiB", MULTIPART, 1 * MiB, 0.80),
        Case("multipart-256KiB", MULTIPART, 256 * KiB, 0.60),
        Case("base64-1MiB", BASE64, 1 * MiB, 0.50),
        Case("multipart-32MiB", MULTIPART, 32 * MiB, None),  # the largest chunk: memory
        # SOAP 1.2 as generated proxies send it: measured next to multipart, no target.
        Case("soap-1MiB", SOAP, 1 * MiB, None),
        Case("soap-32MiB", SOAP, 32 * MiB, None),
    )
}

# The targets and the largest chunk (for memory); SOAP on request (--cases),
# so that a default run stays within minutes.
DEFAULT_CASES = [name for name in CASES if not name.startswith("soap-")]
CLIENTS_CASES = ["multipart-1MiB", "multipart-8MiB"]  # the concurrency mode's


@dataclass
class Run:
    """One measured repetition of a case: ours and its paired floor run."""

    ours_mbps: float
    floor_mbps: float
    ratio: float
    finalize_ms: float
    cpu_s_per_gib: float
    floor_cpu_s_per_gib: float
    idle_rss_mib: float
    peak_rss_mib: float
    cache_floor_mbps: float | None = None  # --cache-floor: the floor without fsync
    django_floor_mbps: float | None = None  # --django-floor: the floor behind Django
    django_floor_ratio: float | None = None  # ... divided by the floor run of the pair
    django_floor_cpu_s_per_gib: float | None = None
    app_cpu_ms_per_chunk: float | None = None  # ours' worker CPU beyond it, per chunk
    bound_mbps: float | None = None  # --bound: the floor behind Django + mandatory work
    bound_ratio: float | None = None  # ours divided by it
    bound_django_ratio: float | None = None  # it divided by the floor behind Django
    bound_cpu_ms_per_chunk: float | None = None  # its worker CPU beyond that floor, per chunk
    guarded_mbps: float | None = None  # --bound-guarantees: the bound + fence and ledger
    guarded_ratio: float | None = None  # the same four figures
    guarded_django_ratio: float | None = None
    guarded_cpu_ms_per_chunk: float | None = None
    tus_mbps: float | None = None  # --tus: @tus/server, timed before the pair
    tus_ratio: float | None = None  # ours divided by it
    tus_cpu_s_per_gib: float | None = None


@dataclass
class Source:
    """The generated file and its checksums."""

    data: bytes
    crc: int = field(init=False)
    sha256: str = field(init=False)

    def __post_init__(self) -> None:
        self.crc = crc32(self.data)
        self.sha256 = hashlib.sha256(self.data).hexdigest()


def parse_size(text: str) -> int:
    """``1GiB``, ``256MiB``, ``64KiB`` (or G, M, K) or a number of bytes."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([GMK]?)(?:i?B)?\s*", text, re.IGNORECASE)
    if match is None:
        raise argparse.ArgumentTypeError(f"not a size: {text!r}")
    unit = {"g": GiB, "m": MiB, "k": KiB, "": 1}[match.group(2).lower()]
    return int(float(match.group(1)) * unit)


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    cases = [CASES[name] for name in args.cases.split(",")]
    if args.clients:
        from . import concurrency  # which builds on this module

        return concurrency.run(args, cases, USER, PASSWORD)
    print(f"generating {args.size / MiB:.0f} MiB of random data ...", file=sys.stderr)
    source = Source(os.urandom(args.size))
    data_dir = Path(args.data_dir or tempfile.mkdtemp(prefix="ingest-bench-")).resolve()
    env = site_env(data_dir, args.database_url)
    servers: list[Gunicorn] = []
    try:
        prepare_site(env, USER, PASSWORD)
        (data_dir / "floor").mkdir(exist_ok=True)
        ours = Gunicorn("project.wsgi:application", args.workers, env, data_dir / "ours.log")
        servers.append(ours)
        floor_env = {**env, "FLOOR_DIR": str(data_dir / "floor")}
        floor = Gunicorn("benchmarks.floor:application", args.workers, floor_env,
                         data_dir / "floor.log")
        servers.append(floor)
        # Reference servers, timed before each pair for information, each appending
        # to its own directory: the floor without fsync, the floor behind Django, the
        # bound (that floor plus only the work the contract makes mandatory) and the
        # guarded bound (the bound plus the fence and the ledger row).
        references: dict[str, tuple[Gunicorn, Path]] = {}
        for name, wanted, app, app_env in (
            ("cache", args.cache_floor, "benchmarks.floor:application",
             {"FLOOR_FSYNC": "0"}),
            ("django", args.django_floor, "benchmarks.django_floor.wsgi:application",
             {"DJANGO_SETTINGS_MODULE": "benchmarks.django_floor.settings"}),
            ("bound", args.bound, "benchmarks.django_floor.wsgi:application",
             {"DJANGO_SETTINGS_MODULE": "benchmarks.django_floor.bound_settings",
              "BOUND_GUARANTEES": "0"}),
            ("guarded", args.bound_guarantees, "benchmarks.django_floor.wsgi:application",
             {"DJANGO_SETTINGS_MODULE": "benchmarks.django_floor.bound_settings",
              "BOUND_GUARANTEES": "1"}),
        ):
            if wanted:
                directory = data_dir / f"{name}-floor"
                directory.mkdir(exist_ok=True)
                server = Gunicorn(app, args.workers,
                                  {**env, **app_env, "FLOOR_DIR": str(directory)},
                                  data_dir / f"{name}-floor.log")
                servers.append(server)
                references[name] = (server, directory)
        if args.tus:
            references["tus"] = tus = TusServer(data_dir / "tus", data_dir / "tus.log")
            servers.append(tus)
        runs, downloads = _measure(args, cases, source, ours, floor, references, data_dir)
    except BenchmarkError as exc:
        print(f"FAILED: {exc}", file=sys.stderr)
        return 1
    finally:
        stop_all(servers, data_dir, keep=args.keep or bool(args.data_dir))
    summary = report.summarize(args, cases, runs, downloads)
    print(json.dumps(summary, indent=2) if args.json else report.table(summary))
    return 0


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.ingest", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=parse_size, default=GiB,
                        help="bytes per upload, e.g. 1GiB, 256MiB (default 1GiB)")
    parser.add_argument("--workers", type=int, help="gunicorn sync workers (2; 4 with --clients)")
    parser.add_argument("--clients", help="N uploads at once, e.g. 1,8,32: the concurrency "
                        "mode (benchmarks/concurrency.py), --size split over the clients")
    parser.add_argument("--repeat", type=int, default=3, help="measured repetitions (3)")
    parser.add_argument("--cases", help=f"comma-separated, of: {', '.join(CASES)} (default: "
                        f"{','.join(DEFAULT_CASES)}; with --clients: {','.join(CLIENTS_CASES)})")
    parser.add_argument("--download-chunk", type=parse_size, default=8 * MiB,
                        help="DownloadFileChunk size (8MiB)")
    parser.add_argument("--database-url", help="PostgreSQL instead of SQLite in DATA_DIR")
    parser.add_argument("--data-dir", help="use this DATA_DIR (kept) instead of a fresh one")
    parser.add_argument("--keep", action="store_true", help="keep the fresh DATA_DIR")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--cache-floor", action="store_true",
                        help="also time the floor without fsync (page cache only), for reference")
    parser.add_argument("--django-floor", action="store_true",
                        help="also time the floor behind the demo site's Django and a DRF view "
                        "(benchmarks/django_floor), for reference")
    parser.add_argument("--bound", action="store_true",
                        help="also time the bound: the floor behind Django plus only the "
                        "work the contract makes mandatory (a multipart chunk parsed, the "
                        "ticket checked, a lease, CRC-32, resumable SHA-256, one durable commit, "
                        "an XML answer: benchmarks/django_floor/bound.py), the best any "
                        "implementation could do; implies --django-floor")
    parser.add_argument("--bound-guarantees", action="store_true",
                        help="also time the guarded bound: the bound keeping the promises of "
                        "ours that cost work on every chunk too, the fenced staging and a "
                        "ledger row (BOUND_GUARANTEES=1 in bound.py); implies --bound")
    parser.add_argument("--tus", action="store_true",
                        help="also time @tus/server with its file store (benchmarks/tus.py; "
                        "needs `npm ci --prefix benchmarks/tus`), a peer")
    args = parser.parse_args(argv)
    args.bound = args.bound or args.bound_guarantees
    args.django_floor = args.django_floor or args.bound
    if args.bound_guarantees and args.clients:
        parser.error("--bound-guarantees: one upload at a time only (not with --clients)")
    args.workers = args.workers or (4 if args.clients else 2)
    args.cases = args.cases or ",".join(CLIENTS_CASES if args.clients else DEFAULT_CASES)
    unknown = set(args.cases.split(",")) - set(CASES)
    if unknown or args.size < 1 or args.repeat < 1 or args.workers < 1:
        parser.error(f"bad arguments (unknown cases: {sorted(unknown)})")
    return args


def _measure(args, cases, source, ours, floor, references, data_dir):
    srv = Srv(ours.port)
    ticket = srv.log_in(USER, PASSWORD)
    floor_conn = Connection(floor.port)
    tus = references.pop("tus", None)
    # Each reference's client: the bounds' send ours' requests, with the ticket they check.
    others = {name: (server, Connection(server.port), directory,
                     partial(bound_upload, ticket=ticket) if name in BOUNDS else floor_upload)
              for name, (server, directory) in references.items()}
    view = memoryview(source.data)
    runs: dict[str, list[Run]] = {case.name: [] for case in cases}
    downloads: list[float] = []
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for rep in range(args.repeat + 1):
        label = "warm-up" if rep == 0 else f"run {rep}/{args.repeat}"
        for case in cases:
            name = f"{case.name}-{rep}"
            reference_seconds, reference_cost = {}, {}
            # Their order turns round from one repetition to the next: on a VM the
            # second of two runs back to back can be ~10% slower whichever it is.
            turn = list(others.items())
            for other, (server, conn, directory, upload) in turn[::-1] if rep % 2 else turn:
                probe = server.probe()
                reference_seconds[other] = upload(conn, name, view, case.chunk_size)
                reference_cost[other] = probe.finish()
                stored = directory / name
                if other == "guarded":  # kept as the app stages
                    stored = LocalStaging(directory).path(name)
                _check_floor(stored, args.size)
            if tus is not None:
                probe = tus.probe()
                reference_seconds["tus"] = tus.upload(view, case.chunk_size)
                tus_cost = probe.finish()
            probe = floor.probe()
            floor_seconds = floor_upload(floor_conn, name, view, case.chunk_size)
            floor_cost = probe.finish()
            _check_floor(data_dir / "floor" / name, args.size)
            probe = ours.probe()
            path = f"/bench/{stamp}/{name}.bin"
            upload = srv.upload(ticket, view, case.chunk_size, case.encoding, path)
            cost = probe.finish()
            stored = (data_dir / "media" / "chunked_upload" / "versions"
                      / upload.handler.hex[:2] / upload.handler.hex)
            _verify(f"{case.name} {label}", stored, upload.file_crc, source)
            if case is cases[0]:
                content, seconds = srv.download(ticket, path, args.download_chunk)
                if crc32(content) != source.crc or content != source.data:
                    raise BenchmarkError(f"{case.name} {label}: downloaded content differs")
                del content
                if rep:
                    downloads.append(args.size / seconds / 1e6)
            stored.unlink()
            run = _run(args.size, upload.seconds, floor_seconds, upload.finalize_seconds,
                       cost, floor_cost)
            if "cache" in reference_seconds:
                run.cache_floor_mbps = args.size / reference_seconds["cache"] / 1e6
            if "django" in reference_seconds:
                run.django_floor_mbps = args.size / reference_seconds["django"] / 1e6
                run.django_floor_ratio = floor_seconds / reference_seconds["django"]
                django_cpu = reference_cost["django"].cpu_seconds
                run.django_floor_cpu_s_per_gib = django_cpu * GiB / args.size
                chunks = -(-args.size // case.chunk_size)
                run.app_cpu_ms_per_chunk = (cost.cpu_seconds - django_cpu) * 1e3 / chunks
            for bound in BOUNDS:
                if bound in reference_seconds:
                    bound_seconds = reference_seconds[bound]
                    setattr(run, f"{bound}_mbps", args.size / bound_seconds / 1e6)
                    setattr(run, f"{bound}_ratio", bound_seconds / upload.seconds)
                    setattr(run, f"{bound}_django_ratio",
                            reference_seconds["django"] / bound_seconds)
                    setattr(run, f"{bound}_cpu_ms_per_chunk",
                            (reference_cost[bound].cpu_seconds - django_cpu) * 1e3 / chunks)
            if "tus" in reference_seconds:
                run.tus_mbps = args.size / reference_seconds["tus"] / 1e6
                run.tus_ratio = reference_seconds["tus"] / upload.seconds
                run.tus_cpu_s_per_gib = tus_cost.cpu_seconds * GiB / args.size
            print(f"{label:>9} {case.name:<17} ours {run.ours_mbps:7.1f} MB/s  floor "
                  f"{run.floor_mbps:7.1f} MB/s  ratio {run.ratio:5.2f}  finalize "
                  f"{run.finalize_ms:6.1f} ms  rss +{run.peak_rss_mib - run.idle_rss_mib:.1f} "
                  "MiB", file=sys.stderr)
            if rep:
                runs[case.name].append(run)
    srv.close()
    floor_conn.close()
    for _, conn, _, _ in others.values():
        conn.close()
    return runs, downloads


def _check_floor(path: Path, size: int) -> None:
    if path.stat().st_size != size:
        raise BenchmarkError(f"floor stored {path.stat().st_size} bytes of {size}")
    path.unlink()


def _verify(label: str, stored: Path, file_crc: int | None, source: Source) -> None:
    """The stored document against the source, byte for byte (by CRC-32 and SHA-256)."""
    crc, sha, buffer = 0, hashlib.sha256(), bytearray(8 * MiB)
    with open(stored, "rb", buffering=0) as content:
        while count := content.readinto(buffer):
            piece = memoryview(buffer)[:count]
            crc = crc32(piece, crc)
            sha.update(piece)
    if file_crc != source.crc:
        raise BenchmarkError(f"{label}: filehexcrc {file_crc:X} is not the source's "
                             f"{source.crc:X}")
    if (crc, sha.hexdigest()) != (source.crc, source.sha256):
        raise BenchmarkError(f"{label}: the stored document differs from the source")


def _run(size: int, seconds: float, floor_seconds: float, finalize_seconds: float,
         cost: WorkerCost, floor_cost: WorkerCost) -> Run:
    return Run(
        ours_mbps=size / seconds / 1e6,
        floor_mbps=size / floor_seconds / 1e6,
        ratio=floor_seconds / seconds,
        finalize_ms=finalize_seconds * 1e3,
        cpu_s_per_gib=cost.cpu_seconds * GiB / size,
        floor_cpu_s_per_gib=floor_cost.cpu_seconds * GiB / size,
        idle_rss_mib=cost.idle_rss / MiB,
        peak_rss_mib=cost.peak_rss / MiB,
    )


if __name__ == "__main__":
    sys.exit(main())
