"""S3 staging benchmark: the demo site staging on S3 against local staging and the floors.

    .venv/bin/python -m benchmarks.s3staging [--size 1GiB] [--chunks 1MiB,8MiB,32MiB]
        [--repeat 1] [--workers 2] [--big 4GiB] [--json]

Starts a SeaweedFS ``weed mini`` (tests/s3server.py) and, each on a fresh
DATA_DIR with its own SQLite database, gunicorn servers of the demo site:

- ``s3``: documents in a bucket, staged on S3 in the same bucket (the
  default then): chunks become multipart parts, finalize completes in place;
- ``local``: documents and staging on local disk (finalize hard-links);
- ``local->s3`` (8 MiB chunks only): documents on S3 but staged locally, so
  finalize uploads the file inside the request: the cost S3 staging removes;

and the floors: ``disk floor`` (benchmarks/floor.py: each body appended to a
file and fsynced) and ``s3 floor`` (this client uploading the same bytes as
8 MiB multipart parts straight to the store with boto3, no Django).

Per case: MB/s of the whole workflow (CreateUploadHandler to the finalize
answer), CPU seconds per GiB of the app's workers and, for S3, of the
store's process, the finalize time, and the worst worker's RSS when idle
and its growth during the run. A first untimed round of 64 MiB uploads
warms every path up. ``--big`` uploads one larger file to ``s3``
at 32 MiB chunks for its finalize time. Every document is read back and
compared (CRC-32 and SHA-256) with the source. Not a test: figures only.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from isal.isal_zlib import crc32

from tests import s3server

from .ingest import Source, parse_size
from .servers import Gunicorn, _cpu_seconds, prepare_site, site_env
from .srvclient import MULTIPART, BenchmarkError, Connection, Srv, floor_upload

MiB, GiB = 1 << 20, 1 << 30
USER, PASSWORD = "bench", "bench-password"
BUCKET = "bench-documents"


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    chunks = [parse_size(text) for text in args.chunks.split(",")]
    print(f"generating {args.size / MiB:.0f} MiB of random data ...", file=sys.stderr)
    source = Source(os.urandom(args.size))
    root = Path(tempfile.mkdtemp(prefix="s3staging-bench-"))
    weed, server, weed_dir = s3server.start()
    server.create_bucket(BUCKET)
    servers: dict[str, Gunicorn] = {}
    try:
        s3_env = {"DOCUMENTS_S3_BUCKET": BUCKET, "DOCUMENTS_S3_ENDPOINT_URL": server.endpoint_url,
                  "DOCUMENTS_S3_ACCESS_KEY": server.access_key,
                  "DOCUMENTS_S3_SECRET_KEY": server.secret_key}
        configs = {"s3": s3_env, "local": {},
                   "local->s3": {**s3_env,
                                 "STAGING_BACKEND": "chunked_upload.staging.local.LocalStaging"}}
        for name, extra in configs.items():
            env = _env(root / name.replace("->", "-to-"), extra)
            prepare_site(env, USER, PASSWORD)
            servers[name] = Gunicorn("project.wsgi:application", args.workers, env,
                                     root / f"{name.replace('->', '-to-')}.log")
        (root / "floor").mkdir()
        servers["disk floor"] = Gunicorn("benchmarks.floor:application", args.workers,
                                         _env(root, {"FLOOR_DIR": str(root / "floor")}),
                                         root / "floor.log")
        rows = _measure(args, chunks, source, servers, server, weed.pid, root)
        if args.big:
            rows.append(_big(args, servers["s3"], server, weed.pid))
    except BenchmarkError as exc:
        print(f"FAILED: {exc}", file=sys.stderr)
        return 1
    finally:
        for gunicorn in servers.values():
            gunicorn.stop()
        s3server.stop(weed, weed_dir)
        shutil.rmtree(root, ignore_errors=True)
    print(json.dumps(rows, indent=2) if args.json else _table(args, rows))
    return 0


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.s3staging", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=parse_size, default=GiB, help="bytes per upload (1GiB)")
    parser.add_argument("--chunks", default="1MiB,8MiB,32MiB", help="chunk sizes (1MiB,8MiB,32MiB)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn sync workers (2)")
    parser.add_argument("--repeat", type=int, default=1, help="measured repetitions (1)")
    parser.add_argument("--big", type=parse_size, help="also one upload of this size to s3")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    return parser.parse_args(argv)


def _env(data_dir: Path, extra: dict[str, str]) -> dict[str, str]:
    data_dir.mkdir(parents=True, exist_ok=True)
    return site_env(data_dir, **extra)


def _measure(args, chunks, source, servers, server, weed_pid, root) -> list[dict]:
    view = memoryview(source.data)
    clients = {name: Srv(g.port) for name, g in servers.items() if "floor" not in name}
    tickets = {name: srv.log_in(USER, PASSWORD) for name, srv in clients.items()}
    floor = Connection(servers["disk floor"].port)
    s3 = server.client()
    results: dict[tuple[str, int], list[dict]] = {}
    whole = view
    for rep in range(args.repeat + 1):  # repetition 0 warms every path up, untimed
        view = whole if rep else whole[:64 * MiB]
        for chunk in chunks:
            plan = ["disk floor", "s3 floor", "local", "s3"]
            if chunk == 8 * MiB:
                plan.append("local->s3")
            for name in plan:
                label = f"{name.replace(' ', '-').replace('>', '')}-{chunk // MiB}MiB-{rep}"
                if name == "disk floor":
                    probe = servers[name].probe()
                    seconds, finalize = floor_upload(floor, label, view, chunk), 0.0
                    cost = probe.finish()
                    (root / "floor" / label).unlink()
                    row = _row(name, chunk, len(view), seconds, finalize, cost)
                elif name == "s3 floor":
                    started, weed_cpu = time.perf_counter(), _cpu_seconds([weed_pid])
                    _s3_floor(s3, view, label)
                    row = _row(name, chunk, len(view), time.perf_counter() - started, 0.0, None)
                    row["store_cpu_s_per_gib"] = _per_gib(
                        _cpu_seconds([weed_pid]) - weed_cpu, len(view))
                else:
                    row = _ours(name, servers[name], clients[name], tickets[name], view, chunk,
                                label, Source(bytes(view)) if not rep else source, s3,
                                weed_pid, root)
                print(f"{'warm-up' if not rep else f'run {rep}':>8} {name:<10} "
                      f"{chunk // MiB:>2} MiB: {row['mbps']:7.1f} MB/s  finalize "
                      f"{row['finalize_ms']:8.1f} ms", file=sys.stderr)
                if rep:
                    results.setdefault((name, chunk), []).append(row)
    for srv in clients.values():
        srv.close()
    floor.close()
    return [{key: (statistics.median(r[key] for r in rows) if isinstance(rows[0][key], float)
                   else rows[0][key]) for key in rows[0]} for rows in results.values()]


def _ours(name, gunicorn, srv, ticket, view, chunk, label, source, s3, weed_pid, root) -> dict:
    probe, weed_cpu = gunicorn.probe(), _cpu_seconds([weed_pid])
    upload = srv.upload(ticket, view, chunk, MULTIPART, f"/bench/{label}.bin")
    cost = probe.finish()
    store_cpu = _cpu_seconds([weed_pid]) - weed_cpu
    key = f"chunked_upload/versions/{upload.handler.hex[:2]}/{upload.handler.hex}"
    if name == "local":
        path = root / "local" / "media" / key
        _verify(label, path.open("rb").read, upload.file_crc, source)
        path.unlink()
    else:
        _verify(label, s3.get_object(Bucket=BUCKET, Key=key)["Body"].read, upload.file_crc,
                source)
        s3.delete_object(Bucket=BUCKET, Key=key)
    row = _row(name, chunk, len(view), upload.seconds, upload.finalize_seconds, cost)
    row["store_cpu_s_per_gib"] = _per_gib(store_cpu, len(view)) if name != "local" else 0.0
    return row


def _s3_floor(s3, view: memoryview, key: str) -> None:
    """The store's own speed: 8 MiB parts with their CRC-32, from this process."""
    import base64

    upload = s3.create_multipart_upload(Bucket=BUCKET, Key=key, ChecksumAlgorithm="CRC32")
    parts = []
    for number, offset in enumerate(range(0, len(view), 8 * MiB), start=1):
        body = view[offset:offset + 8 * MiB].tobytes()
        crc = base64.b64encode(crc32(body).to_bytes(4, "big")).decode()
        answer = s3.upload_part(Bucket=BUCKET, Key=key, UploadId=upload["UploadId"],
                                PartNumber=number, Body=body, ChecksumAlgorithm="CRC32",
                                ChecksumCRC32=crc)
        parts.append({"PartNumber": number, "ETag": answer["ETag"], "ChecksumCRC32": crc})
    s3.complete_multipart_upload(Bucket=BUCKET, Key=key, UploadId=upload["UploadId"],
                                 MultipartUpload={"Parts": parts})
    s3.delete_object(Bucket=BUCKET, Key=key)


def _big(args, gunicorn, server, weed_pid) -> dict:
    """One large upload to S3 staging, for its finalize time."""
    print(f"generating {args.big / MiB:.0f} MiB for the large upload ...", file=sys.stderr)
    source = Source(os.urandom(args.big))
    srv = Srv(gunicorn.port)
    ticket = srv.log_in(USER, PASSWORD)
    probe = gunicorn.probe()
    upload = srv.upload(ticket, memoryview(source.data), 32 * MiB, MULTIPART, "/bench/big.bin")
    cost = probe.finish()
    srv.close()
    s3 = server.client()
    key = f"chunked_upload/versions/{upload.handler.hex[:2]}/{upload.handler.hex}"
    _verify("big", s3.get_object(Bucket=BUCKET, Key=key)["Body"].read, upload.file_crc, source)
    s3.delete_object(Bucket=BUCKET, Key=key)
    return _row("s3 (big)", 32 * MiB, args.big, upload.seconds, upload.finalize_seconds, cost)


def _verify(label: str, read, file_crc: int | None, source: Source) -> None:
    crc, sha = 0, hashlib.sha256()
    while piece := read(8 * MiB):
        crc = crc32(piece, crc)
        sha.update(piece)
    if file_crc != source.crc or (crc, sha.hexdigest()) != (source.crc, source.sha256):
        raise BenchmarkError(f"{label}: the stored document differs from the source")


def _per_gib(seconds: float, size: int) -> float:
    return seconds * GiB / size


def _row(name: str, chunk: int, size: int, seconds: float, finalize: float, cost) -> dict:
    return {"config": name, "chunk_mib": chunk // MiB, "size_mib": size // MiB,
            "mbps": size / seconds / 1e6, "finalize_ms": finalize * 1e3,
            "cpu_s_per_gib": _per_gib(cost.cpu_seconds, size) if cost else 0.0,
            "store_cpu_s_per_gib": 0.0,
            "idle_rss_mib": cost.idle_rss / MiB if cost else 0.0,
            "rss_growth_mib": (cost.peak_rss - cost.idle_rss) / MiB if cost else 0.0}


def _table(args, rows: list[dict]) -> str:
    head = (f"{'config':<11}{'chunk':>6}{'size':>7}{'MB/s':>8}{'app CPU':>9}{'store CPU':>10}"
            f"{'finalize':>11}{'RSS idle':>10}{'RSS +':>8}")
    lines = [" ".join([Path(sys.executable).name, "-m benchmarks.s3staging", *sys.argv[1:]]),
             f"{os.cpu_count()} CPUs, {args.workers} workers, median of {args.repeat}; "
             "CPU in s/GiB, finalize in ms, RSS in MiB (worst worker)", head]
    for row in rows:
        lines.append(
            f"{row['config']:<11}{row['chunk_mib']:>4}Mi{row['size_mib']:>6}M"
            f"{row['mbps']:>8.1f}{row['cpu_s_per_gib']:>9.2f}{row['store_cpu_s_per_gib']:>10.2f}"
            f"{row['finalize_ms']:>11.1f}{row['idle_rss_mib']:>10.1f}{row['rss_growth_mib']:>8.1f}")
    return "\n".join(lines)


__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(main())
