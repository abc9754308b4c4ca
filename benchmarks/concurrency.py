"""Concurrent uploads: N clients at once, ours against the floor (``--clients``).

    .venv/bin/python -m benchmarks.ingest --clients 1,8,32 --workers 4 \\
        --database-url postgres://… [--size 1GiB] [--cases multipart-1MiB,multipart-8MiB]

For each number of clients N and each case, a floor run and one of ours
alternate (repetition 0 is an untimed warm-up). In a run, N threads of this
process wait at a barrier, then each uploads ``size / N`` bytes (whole
chunks) through the whole workflow (CreateUploadHandler, chunks,
UploadDocumentWithHandler) on its own connection; the floor's clients append
the same chunks to a file each. The aggregate rate is all bytes over the wall
time from the barrier to the last finalize answer. Every chunk's round trip
is a latency sample (the queueing in gunicorn's backlog included); p50 and
p99 are over all chunks of a run. An error is any failed call or wrong answer;
every stored document is checked against the source by CRC-32 and SHA-256.
With ``--bound``, the bound's clients (``django_floor/bound.py``: the floor
behind Django plus the work every implementation must do) run between the
two, and its aggregate is divided by the same floor run.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path

from .servers import Gunicorn, prepare_site, site_env, stop_all
from .srvclient import BenchmarkError, Connection, Srv, bound_upload, floor_upload

MiB, GiB = 1 << 20, 1 << 30


@dataclass
class Round:
    """One run of N clients at once against one server."""

    mbps: float  # aggregate, 10^6 bytes per second
    p50_ms: float
    p99_ms: float
    errors: int
    cpu_s_per_gib: float
    rss_growth_mib: float


def run(args, cases, user: str, password: str) -> int:
    """The ``--clients`` mode of ``benchmarks.ingest``: prints a table (or JSON)."""
    from .ingest import Source  # ingest imports this module lazily

    counts = [int(n) for n in args.clients.split(",")]
    source = Source(os.urandom(args.size // min(counts)))
    data_dir = Path(args.data_dir or tempfile.mkdtemp(prefix="clients-bench-")).resolve()
    env = site_env(data_dir, args.database_url)
    servers: list[Gunicorn] = []
    results: list[dict] = []
    try:
        prepare_site(env, user, password)
        (data_dir / "floor").mkdir(exist_ok=True)
        ours = Gunicorn("project.wsgi:application", args.workers, env, data_dir / "ours.log")
        servers.append(ours)
        floor = Gunicorn("benchmarks.floor:application", args.workers,
                         {**env, "FLOOR_DIR": str(data_dir / "floor")}, data_dir / "floor.log")
        servers.append(floor)
        bound = None
        if args.bound:  # the floor behind Django plus the mandatory work (ingest.py --bound)
            (data_dir / "bound").mkdir(exist_ok=True)
            bound = Gunicorn("benchmarks.django_floor.wsgi:application", args.workers, {
                **env, "FLOOR_DIR": str(data_dir / "bound"),
                "DJANGO_SETTINGS_MODULE": "benchmarks.django_floor.bound_settings",
            }, data_dir / "bound.log")
            servers.append(bound)
        srv = Srv(ours.port)
        ticket = srv.log_in(user, password)
        srv.close()
        bench = _Bench(ours, floor, bound, ticket, source, data_dir,
                       time.strftime("%Y%m%d-%H%M%S"))
        for count in counts:
            for case in cases:
                results.append(bench.measure(count, case, args.size, args.repeat))
    except BenchmarkError as exc:
        print(f"FAILED: {exc}", file=sys.stderr)
        return 1
    finally:
        stop_all(servers, data_dir, keep=args.keep or bool(args.data_dir))
    report = {"command": " ".join(["python -m benchmarks.ingest", *sys.argv[1:]]),
              "workers": args.workers, "repeat": args.repeat, "size": args.size,
              "database": "postgresql" if args.database_url else "sqlite", "rows": results}
    if args.json:
        import json
        print(json.dumps(report, indent=2))
    else:
        print(table(report))
    return 1 if any(row["errors"] or row.get("bound_errors") for row in results) else 0


@dataclass
class _Bench:
    """The servers, the ticket and the source of one invocation."""

    ours: Gunicorn
    floor: Gunicorn
    bound: Gunicorn | None  # --bound
    ticket: str
    source: object  # ingest.Source
    data_dir: Path
    stamp: str

    def measure(self, count: int, case, size: int, repeat: int) -> dict:
        """Paired floor and ours rounds of ``count`` clients; the summary row."""
        from .ingest import Source, _verify

        data = self.source.data
        per_client = min(len(data), max(case.chunk_size,
                                        size // count // case.chunk_size * case.chunk_size))
        expected = self.source if per_client == len(data) else Source(data[:per_client])
        view = memoryview(data)[:per_client]
        versions = self.data_dir / "media" / "chunked_upload" / "versions"

        def check(label: str, upload) -> None:
            stored = versions / upload.handler.hex[:2] / upload.handler.hex
            _verify(label, stored, upload.file_crc, expected)
            stored.unlink()

        pairs: list[tuple[Round, Round]] = []
        bounds: list[Round] = []
        for rep in range(repeat + 1):
            label = f"{case.name} x{count} " + ("warm-up" if rep == 0 else f"run {rep}")
            name = f"{self.stamp}-{count}-{case.name}-{rep}"
            floor_round = _round(self.floor, count, per_client, partial(
                _floor_client, self.floor.port, floor_upload, name, view, case.chunk_size,
                self.data_dir / "floor"))
            if self.bound is not None:
                bound_round = _round(self.bound, count, per_client, partial(
                    _floor_client, self.bound.port, partial(bound_upload, ticket=self.ticket),
                    name, view, case.chunk_size, self.data_dir / "bound"))
                print(f"{label:<32} bound {bound_round.mbps:7.1f} MB/s p50 "
                      f"{bound_round.p50_ms:6.1f} p99 {bound_round.p99_ms:6.1f} ms  errors "
                      f"{bound_round.errors}", file=sys.stderr)
                if rep:
                    bounds.append(bound_round)
            ours_round = _round(self.ours, count, per_client, partial(
                _ours_client, self.ours.port, self.ticket, view, case,
                f"/bench/{self.stamp}/{count}/{case.name}/{rep}", partial(check, label)))
            print(f"{label:<32} ours {ours_round.mbps:7.1f} MB/s p50 {ours_round.p50_ms:6.1f} "
                  f"p99 {ours_round.p99_ms:6.1f} ms  floor {floor_round.mbps:7.1f} MB/s p50 "
                  f"{floor_round.p50_ms:6.1f} p99 {floor_round.p99_ms:6.1f} ms  errors "
                  f"{ours_round.errors}/{floor_round.errors}", file=sys.stderr)
            if rep:
                pairs.append((ours_round, floor_round))
        return _summary(count, case, per_client, pairs, bounds)


def _round(server: Gunicorn, count: int, per_client: int, client) -> Round:
    """``count`` clients at once, each ``client(index, latencies)``; what it cost."""
    barrier = threading.Barrier(count + 1)
    latencies: list[list[float]] = [[] for _ in range(count)]
    errors: list[BaseException] = []

    def target(index: int) -> None:
        barrier.wait()
        try:
            client(index, latencies[index])
        except Exception as exc:  # counted and reported: the figure says "errors"
            errors.append(exc)

    threads = [threading.Thread(target=target, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    probe = server.probe()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    cost = probe.finish()
    for exc in errors[:3]:
        print(f"  error: {exc!r}", file=sys.stderr)
    samples = sorted(sample for client_samples in latencies for sample in client_samples)
    total = count * per_client
    return Round(
        mbps=total / seconds / 1e6,
        p50_ms=_percentile(samples, 0.50) * 1e3, p99_ms=_percentile(samples, 0.99) * 1e3,
        errors=len(errors), cpu_s_per_gib=cost.cpu_seconds * GiB / total,
        rss_growth_mib=(cost.peak_rss - cost.idle_rss) / MiB,
    )


def _percentile(samples: list[float], fraction: float) -> float:
    if not samples:
        return float("nan")
    return samples[min(len(samples) - 1, int(fraction * len(samples)))]


def _floor_client(port: int, upload: Callable[..., float], run: str, view: memoryview,
                  chunk_size: int, directory: Path, index: int, latencies: list[float]) -> None:
    """One client of the floor (``upload`` is ``floor_upload``) or of the bound."""
    name = f"{run}-{index}"
    conn = Connection(port)
    try:
        upload(conn, name, view, chunk_size, latencies)
    finally:
        conn.close()
    stored = directory / name
    if stored.stat().st_size != len(view):
        raise BenchmarkError(f"floor stored {stored.stat().st_size} bytes of {len(view)}")
    stored.unlink()


def _ours_client(port: int, ticket: str, view: memoryview, case, folder: str, check,
                 index: int, latencies: list[float]) -> None:
    srv = Srv(port)
    try:
        check(srv.upload(ticket, view, case.chunk_size, case.encoding, f"{folder}/{index}.bin",
                         latencies=latencies))
    finally:
        srv.close()


def _summary(count: int, case, per_client: int, pairs: list[tuple[Round, Round]],
             bounds: list[Round]) -> dict:
    median = statistics.median
    bound = {} if not bounds else {
        "bound_mbps": median(b.mbps for b in bounds),
        "bound_ratio": median(b.mbps / f.mbps for b, (_, f) in zip(bounds, pairs, strict=True)),
        "bound_p50_ms": median(b.p50_ms for b in bounds),
        "bound_p99_ms": median(b.p99_ms for b in bounds),
        "bound_cpu_s_per_gib": median(b.cpu_s_per_gib for b in bounds),
        "bound_errors": sum(b.errors for b in bounds),
    }
    return {
        "clients": count, "case": case.name, "bytes_per_client": per_client,
        "ours_mbps": median(o.mbps for o, _ in pairs),
        "floor_mbps": median(f.mbps for _, f in pairs),
        "ratio": median(o.mbps / f.mbps for o, f in pairs),
        "ours_p50_ms": median(o.p50_ms for o, _ in pairs),
        "ours_p99_ms": median(o.p99_ms for o, _ in pairs),
        "floor_p50_ms": median(f.p50_ms for _, f in pairs),
        "floor_p99_ms": median(f.p99_ms for _, f in pairs),
        "errors": sum(o.errors + f.errors for o, f in pairs),
        "cpu_s_per_gib": median(o.cpu_s_per_gib for o, _ in pairs),
        "floor_cpu_s_per_gib": median(f.cpu_s_per_gib for _, f in pairs),
        "rss_growth_mib": max(o.rss_growth_mib for o, _ in pairs),
        **bound,
        "runs": [{"ours": asdict(o), "floor": asdict(f)} for o, f in pairs],
    }


def table(report: dict) -> str:
    """The report as a table for the terminal."""
    lines = [
        f"{report['size'] / MiB:.0f} MiB per run split over the clients, {report['workers']} "
        f"sync workers, {report['database']}, medians of {report['repeat']}; MB = 10^6 bytes",
        f"{'clients':>7} {'case':<17} {'ours MB/s':>9} {'floor MB/s':>10} {'ratio':>6} "
        f"{'ours p50/p99 ms':>16} {'p99/p50':>7} {'floor p50/p99 ms':>17} {'CPU s/GiB':>9} "
        f"{'floor CPU':>9} {'RSS +MiB':>8} {'errors':>6}",
    ]
    for row in report["rows"]:
        lines.append(
            f"{row['clients']:>7} {row['case']:<17} {row['ours_mbps']:>9.0f} "
            f"{row['floor_mbps']:>10.0f} {row['ratio']:>6.2f} "
            f"{row['ours_p50_ms']:>7.1f} / {row['ours_p99_ms']:>6.1f} "
            f"{row['ours_p99_ms'] / row['ours_p50_ms']:>7.2f} "
            f"{row['floor_p50_ms']:>8.1f} / {row['floor_p99_ms']:>6.1f} "
            f"{row['cpu_s_per_gib']:>9.2f} {row['floor_cpu_s_per_gib']:>9.2f} "
            f"{row['rss_growth_mib']:>8.1f} {row['errors']:>6}"
            + ("" if "bound_mbps" not in row else
               f"  [bound: {row['bound_mbps']:.0f} MB/s, / floor {row['bound_ratio']:.2f}, "
               f"p50/p99 {row['bound_p50_ms']:.1f} / {row['bound_p99_ms']:.1f} ms, CPU "
               f"{row['bound_cpu_s_per_gib']:.2f} s/GiB, errors {row['bound_errors']}]"))
    return "\n".join(lines)
