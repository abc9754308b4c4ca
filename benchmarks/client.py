"""Client benchmark: the chunked-upload command and library next to the benchmark's client.

    .venv/bin/python -m benchmarks.client [--size 1GiB] [--chunk 8MiB] [--repeat 4] [--json]

One demo site under gunicorn (sync workers) on a fresh DATA_DIR, one file
of random bytes on disk. Per repetition (the first is an untimed warm-up),
back to back, in an order that alternates (and after an ``os.sync()``, so
that neither pays for the other's dirty pages): the benchmark's own lean
client (``srvclient.Srv``, the file memory-mapped, the ticket taken
outside the timing) uploads it and the command line (``python -m
chunked_upload.client upload``, quiet) does the same; then both read it
back (``download``). The command's time is given two ways: the whole
process (interpreter start, login, LogOut included) and the span the
library itself reports (CreateUploadHandler to the finalize answer, the
same span as the lean client's). The median of the paired ratios ``command / lean`` is the
figure (pairs cancel the machine's drift); the issue's target is at most
1.10 at 8 MiB chunks.

Memory: the library runs in a child process that records its RSS after
logging in (imports done) and its peak RSS (``VmHWM``) once the upload or
download of the whole file is over; the growth is the figure (target:
at most 2 chunk sizes + 16 MiB). Every upload and download is checked
(CRC-32 of the stored or downloaded file against the source's).
"""

from __future__ import annotations

import argparse
import json
import mmap
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from isal.isal_zlib import crc32

from .ingest import parse_size
from .servers import ROOT, Gunicorn, prepare_site, site_env
from .srvclient import MULTIPART, BenchmarkError, Srv

MiB, GiB = 1 << 20, 1 << 30
USER, PASSWORD = "bench", "bench-password"


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    data_dir = Path(tempfile.mkdtemp(prefix="client-bench-")).resolve()
    env = site_env(data_dir, args.database_url)
    server = None
    try:
        source = data_dir / "source.bin"
        print(f"writing {args.size / MiB:.0f} MiB of random data ...", file=sys.stderr)
        expected = _write_source(source, args.size)
        prepare_site(env, USER, PASSWORD)
        server = Gunicorn("project.wsgi:application", args.workers, env, data_dir / "site.log")
        bench = Bench(args, server.port, data_dir, source, expected)
        summary = bench.run()
    except BenchmarkError as error:
        print(f"FAILED: {error}", file=sys.stderr)
        return 1
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(data_dir, ignore_errors=True)
    print(json.dumps(summary, indent=2) if args.json else _table(summary))
    return 0


class Bench:
    """The measured runs against one server."""

    def __init__(self, args: argparse.Namespace, port: int, data_dir: Path, source: Path,
                 crc: int) -> None:
        self.args, self.port, self.data_dir, self.source, self.crc = (
            args, port, data_dir, source, crc)
        self.url = f"http://127.0.0.1:{port}/"
        self.env = {**os.environ, "CHUNKED_UPLOAD_URL": self.url, "CHUNKED_UPLOAD_USER": USER,
                    "CHUNKED_UPLOAD_PASSWORD": PASSWORD, "PYTHONPATH": str(ROOT),
                    "CHUNKED_UPLOAD_STATE_DIR": str(data_dir / "state")}

    def run(self) -> dict[str, object]:
        size = self.args.size
        self.srv = Srv(self.port)
        self.ticket = self.srv.log_in(USER, PASSWORD)
        times: dict[str, list[float]] = {key: [] for key in (
            "lean_up", "cli_up", "cli_up_lib", "lean_down", "cli_down", "cli_down_lib")}
        ratios: dict[str, list[float]] = {key: [] for key in (
            "upload_cli_process", "upload_library_span", "download_cli_process",
            "download_library_span")}
        with open(self.source, "rb") as file, mmap.mmap(file.fileno(), 0,
                                                          access=mmap.ACCESS_READ) as mapped:
            view = memoryview(mapped)
            for rep in range(self.args.repeat + 1):
                # Who goes first alternates: a run after a large write pays for its flush.
                lean_first = rep % 2 == 0
                got = self._pair(rep, view, lean_first, "up")
                got |= self._pair(rep, view, lean_first, "down")
                self._drop_stored()
                label = "warm-up" if rep == 0 else f"run {rep}/{self.args.repeat}"
                print(f"{label:>9}  upload: lean {_mbps(size, got['lean_up']):6.1f} MB/s, CLI "
                      f"{_mbps(size, got['cli_up']):6.1f} MB/s (library span "
                      f"{_mbps(size, got['cli_up_lib']):6.1f})  download: lean "
                      f"{_mbps(size, got['lean_down']):6.1f} MB/s, CLI "
                      f"{_mbps(size, got['cli_down']):6.1f} MB/s (library span "
                      f"{_mbps(size, got['cli_down_lib']):6.1f})", file=sys.stderr)
                if rep:
                    for key, value in got.items():
                        times[key].append(value)
                    for way, short in (("upload", "up"), ("download", "down")):
                        lean = got[f"lean_{short}"]
                        ratios[f"{way}_cli_process"].append(got[f"cli_{short}"] / lean)
                        ratios[f"{way}_library_span"].append(got[f"cli_{short}_lib"] / lean)
            view.release()
        self.srv.close()
        medians = {key: statistics.median(values) for key, values in times.items()}
        memory = {what: self._child(what) for what in ("upload", "download")}
        return {
            "size": size, "chunk": self.args.chunk, "repeat": self.args.repeat,
            "seconds": medians,
            "mbps": {key: _mbps(size, value) for key, value in medians.items()},
            # The median of the paired ratios: each pair ran back to back.
            "ratio": {key: statistics.median(values) for key, values in ratios.items()},
            "rss_growth_mib": memory,
            "rss_target_mib": (2 * self.args.chunk + 16 * MiB) / MiB,
        }

    def _pair(self, rep: int, view: memoryview, lean_first: bool, way: str
              ) -> dict[str, float]:
        """One lean and one CLI upload (or download) of the file, back to back; seconds."""
        chunk, got = self.args.chunk, {}
        lean_path, cli_folder = f"/bench/lean-{rep}.bin", f"/bench/cli-{rep}/"

        def lean() -> None:
            if way == "up":
                done = self.srv.upload(self.ticket, view, chunk, MULTIPART, lean_path)
                if done.file_crc != self.crc:
                    raise BenchmarkError("lean upload: filehexcrc differs from the source's")
                got["lean_up"] = done.seconds
            else:
                content, got["lean_down"] = self.srv.download(self.ticket, lean_path, chunk)
                if crc32(content) != self.crc:
                    raise BenchmarkError("lean download: the content differs")

        def cli() -> None:
            if way == "up":
                got["cli_up"], answer = self._cli("upload", str(self.source), "--to", cli_folder)
                got["cli_up_lib"] = answer["uploads"][0]["seconds"]
                return
            target = self.data_dir / f"back-{rep}.bin"
            got["cli_down"], answer = self._cli("download", cli_folder + self.source.name,
                                                str(target))
            got["cli_down_lib"] = answer["download"]["seconds"]
            if _crc_of(target) != self.crc or target.stat().st_size != self.args.size:
                raise BenchmarkError("CLI download: the file differs from the source")
            target.unlink()

        for step in ((lean, cli) if lean_first else (cli, lean)):
            # What an earlier step left dirty in the page cache is flushed now, not
            # by the server's fsyncs in the middle of the next timed transfer.
            os.sync()
            step()
        return got

    def _cli(self, *args: str) -> tuple[float, dict]:
        command = [sys.executable, "-m", "chunked_upload.client", *args, "--quiet", "--json",
                   "--chunk-size", str(self.args.chunk)]
        started = time.perf_counter()
        done = subprocess.run(command, env=self.env, capture_output=True, text=True,
                              cwd=self.data_dir)
        seconds = time.perf_counter() - started
        if done.returncode:
            raise BenchmarkError(f"{' '.join(args[:1])} failed: {done.stderr.strip()}")
        return seconds, json.loads(done.stdout)

    def _child(self, what: str) -> float:
        """RSS growth (MiB) of the library uploading or downloading the whole file."""
        done = subprocess.run(
            [sys.executable, "-m", "benchmarks.client", "--child", what, self.url,
             str(self.source), str(self.args.chunk)],
            env=self.env, capture_output=True, text=True, cwd=ROOT)
        if done.returncode:
            raise BenchmarkError(f"memory child ({what}) failed: {done.stderr.strip()}")
        figures = json.loads(done.stdout)
        growth = (figures["peak"] - figures["before"]) / MiB
        print(f"   memory  {what}: RSS {figures['before'] / MiB:.1f} MiB after login, peak "
              f"{figures['peak'] / MiB:.1f} MiB: growth {growth:.1f} MiB", file=sys.stderr)
        self._drop_stored()
        return growth

    def _drop_stored(self) -> None:
        # Stored documents are 1 GiB each: keep the disk for the next run.
        for path in (self.data_dir / "media").rglob("*"):
            if path.is_file():
                path.unlink()


def child(what: str, url: str, source: str, chunk: int) -> None:
    """Run in a process of its own: the library moves the file; RSS before and peak."""
    from chunked_upload.client import Session, download, upload

    with Session(url, user=USER, password=PASSWORD) as session:
        session.login()
        if what == "download":
            path = upload(session, source, "/bench/memory.bin", chunk_size=chunk,
                          state=False).path
            target = Path(source).with_name("memory-back.bin")
        _reset_peak()
        before = _status("VmRSS")
        if what == "upload":
            upload(session, source, "/bench/memory-up.bin", chunk_size=chunk, state=False)
        else:
            download(session, path, target, chunk_size=chunk)
            target.unlink()
        print(json.dumps({"before": before, "peak": _status("VmHWM")}))


def _reset_peak() -> None:
    # VmHWM back to the current RSS, so the peak is this transfer's alone.
    Path("/proc/self/clear_refs").write_text("5")


def _status(key: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024
    raise BenchmarkError(f"no {key} in /proc/self/status")


def _write_source(path: Path, size: int) -> int:
    crc = 0
    with open(path, "wb") as file:
        for offset in range(0, size, 8 * MiB):
            piece = os.urandom(min(8 * MiB, size - offset))
            crc = crc32(piece, crc)
            file.write(piece)
    return crc


def _crc_of(path: Path) -> int:
    crc, buffer = 0, bytearray(8 * MiB)
    with open(path, "rb", buffering=0) as file:
        while count := file.readinto(buffer):
            crc = crc32(memoryview(buffer)[:count], crc)
    return crc


def _mbps(size: int, seconds: float) -> float:
    return size / seconds / 1e6


def _table(summary: dict) -> str:
    mbps, ratio = summary["mbps"], summary["ratio"]
    size, chunk = summary["size"] / MiB, summary["chunk"] / MiB
    rss = summary["rss_growth_mib"]
    return "\n".join((
        f"{size:.0f} MiB file, {chunk:.0f} MiB chunks, median of {summary['repeat']} runs",
        f"upload   lean client {mbps['lean_up']:7.1f} MB/s | CLI process "
        f"{mbps['cli_up']:7.1f} MB/s (x{ratio['upload_cli_process']:.3f}) | library span "
        f"{mbps['cli_up_lib']:7.1f} MB/s (x{ratio['upload_library_span']:.3f})",
        f"download lean client {mbps['lean_down']:7.1f} MB/s | CLI process "
        f"{mbps['cli_down']:7.1f} MB/s (x{ratio['download_cli_process']:.3f}) | library span "
        f"{mbps['cli_down_lib']:7.1f} MB/s (x{ratio['download_library_span']:.3f})",
        f"client RSS growth: upload {rss['upload']:.1f} MiB, download {rss['download']:.1f} "
        f"MiB (target <= {summary['rss_target_mib']:.0f} MiB)",
    ))


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.client", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=parse_size, default=GiB, help="file size (1GiB)")
    parser.add_argument("--chunk", type=parse_size, default=8 * MiB, help="chunk size (8MiB)")
    parser.add_argument("--repeat", type=int, default=4,
                        help="measured repetitions (4: each client goes first as often)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn sync workers (2)")
    parser.add_argument("--database-url", help="PostgreSQL instead of SQLite in DATA_DIR")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    return parser.parse_args(argv)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        child(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]))
    else:
        sys.exit(main())
