"""Browser benchmark: the uploader in Chromium against the Python benchmark client.

    .venv/bin/python -m benchmarks.browser [--size 1GiB] [--small 64MiB] [--repeat 2] [--json]

The demo site runs under gunicorn (2 sync workers) on a fresh DATA_DIR. One
generated file is uploaded through the whole workflow (CreateUploadHandler,
chunks, UploadDocumentWithHandler) by:

- the Python benchmark client (``benchmarks/srvclient.py``, multipart), and
- Debian's Chromium (Playwright, ``/usr/bin/chromium``) running the app's
  uploader on the demo's ``/``: the file is picked with the file input, the
  page reads it with ``File.slice``, computes the CRC-32s and sends the chunks.

Each client at its default chunk size: the server's (1 MiB) for the Python
client, the uploader's own (4 MiB: Chromium pays a fixed cost per request)
for the browser; and, for a fair per-byte comparison, the Python client at
the uploader's chunk size too. Repetition 0 is an untimed warm-up; then the
runs alternate and each browser run is divided by the client runs just
before it; the median ratios are the figures (target at the defaults
≥ 0.7). While the browser uploads, the page's JS
heap is sampled through the DevTools protocol (``Runtime.getHeapUsage``);
its peak for a ``--small`` file and for the full ``--size`` file shows
whether memory grows with the file (target: it does not).

Each browser run must end "done": the uploader compares the server's
``filehexcrc`` with its own CRC of the whole file, so a byte lost or changed
fails the run. Client runs are checked against the source's CRC-32.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
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
CHUNK_SIZE = 1 * MiB  # the server's default (CHUNKED_UPLOAD["DEFAULT_CHUNK_SIZE"])
BROWSER_CHUNK = ("document.querySelector('[data-chunked-uploader]').uploader.chunkSize")
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking"]
STATIC = ROOT / "chunked_upload" / "static"


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    data_dir = Path(tempfile.mkdtemp(prefix="browser-bench-")).resolve()
    env = site_env(data_dir)
    server = None
    try:
        big, big_crc = _make_file(data_dir / "big.bin", args.size)
        small, _ = _make_file(data_dir / "small.bin", args.small)
        prepare_site(env, USER, PASSWORD)
        server = Gunicorn("project.wsgi:application", 2, env, data_dir / "site.log")
        summary = _measure(args, server.port, big, big_crc, small)
    except BenchmarkError as exc:
        print(f"FAILED: {exc}", file=sys.stderr)
        return 1
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(data_dir, ignore_errors=True)
    print(json.dumps(summary, indent=2) if args.json else _table(summary))
    return 0


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.browser", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=parse_size, default=GiB, help="file size (1GiB)")
    parser.add_argument("--small", type=parse_size, default=64 * MiB,
                        help="the smaller file of the memory comparison (64MiB)")
    parser.add_argument("--repeat", type=int, default=2, help="measured repetitions (2)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    return parser.parse_args(argv)


def _make_file(path: Path, size: int) -> tuple[Path, int]:
    crc = 0
    with path.open("wb") as out:
        left = size
        while left:
            piece = os.urandom(min(left, 64 * MiB))
            crc = crc32(piece, crc)
            out.write(piece)
            left -= len(piece)
    return path, crc


def _measure(args, port: int, big: Path, big_crc: int, small: Path) -> dict:
    from playwright.sync_api import sync_playwright

    data = big.read_bytes()
    srv = Srv(port)
    ticket = srv.log_in(USER, PASSWORD)
    ratios, equal_ratios, client_rates, equal_rates, browser_rates = [], [], [], [], []
    heaps = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = _logged_in_page(browser, port)
        browser_chunk = int(page.evaluate(BROWSER_CHUNK))
        for rep in range(args.repeat + 1):
            label = "warm-up" if rep == 0 else f"run {rep}/{args.repeat}"
            client = _client_rate(srv, ticket, data, big_crc, CHUNK_SIZE, f"client-{rep}")
            equal = _client_rate(srv, ticket, data, big_crc, browser_chunk, f"equal-{rep}")
            seconds, heap = _browser_upload(page, big, f"/bench/browser-{rep}")
            rate = args.size / seconds / 1e6
            print(f"{label:>9}  client {client:6.1f} MB/s ({CHUNK_SIZE / MiB:.0f} MiB), "
                  f"{equal:6.1f} MB/s ({browser_chunk / MiB:.0f} MiB)  browser {rate:6.1f} MB/s "
                  f"({browser_chunk / MiB:.0f} MiB)  ratio {rate / client:5.2f}, equal chunks "
                  f"{rate / equal:5.2f}  JS heap peak {heap / MiB:5.1f} MiB", file=sys.stderr)
            if rep:
                ratios.append(rate / client)
                equal_ratios.append(rate / equal)
                client_rates.append(client)
                equal_rates.append(equal)
                browser_rates.append(rate)
                heaps[args.size] = max(heaps.get(args.size, 0), heap)
        _, heaps[args.small] = _browser_upload(page, small, "/bench/small")
        browser.close()
    srv.close()
    return {
        "size": args.size, "chunk_size": CHUNK_SIZE, "browser_chunk_size": browser_chunk,
        "repeat": args.repeat,
        "client_mbps": statistics.median(client_rates),
        "client_equal_chunks_mbps": statistics.median(equal_rates),
        "browser_mbps": statistics.median(browser_rates),
        "ratio": statistics.median(ratios), "ratio_target": 0.7,
        "ratio_equal_chunks": statistics.median(equal_ratios),
        "js_heap_peak_bytes": {str(size): peak for size, peak in sorted(heaps.items())},
    }


def _client_rate(srv: Srv, ticket: str, data: bytes, crc: int, chunk_size: int,
                 name: str) -> float:
    """The Python client's rate (MB/s) for the whole workflow at ``chunk_size``."""
    upload = srv.upload(ticket, memoryview(data), chunk_size, MULTIPART, f"/bench/{name}.bin")
    if upload.file_crc != crc:
        raise BenchmarkError("the client's upload does not match the source")
    return len(data) / upload.seconds / 1e6


def _logged_in_page(browser, port: int):
    page = browser.new_page()
    # gunicorn serves no static files: the page's modules come from the app's folder.
    page.route("**/static/**", lambda route: route.fulfill(
        path=str(STATIC / route.request.url.split("/static/", 1)[1].split("?")[0])))
    page.goto(f"http://127.0.0.1:{port}/")
    page.fill("#id_username", USER)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_selector("[data-chunked-uploader].cu-ready")
    # Routing intercepts every request of the page (the chunks too) and makes
    # each several times slower: the modules are loaded, stop routing.
    page.unroute_all()
    return page


def _browser_upload(page, path: Path, folder: str) -> tuple[float, int]:
    """Upload ``path`` into ``folder``; (seconds from pick to document, peak JS heap)."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("HeapProfiler.collectGarbage")
    page.fill("#folder", folder)
    page.click(".cu-clear")
    started = time.perf_counter()
    page.set_input_files(".cu-picker", str(path))
    peak = 0
    while True:
        state = page.evaluate(
            "document.querySelector('.cu-item:last-child')?.dataset.state || 'none'")
        peak = max(peak, cdp.send("Runtime.getHeapUsage")["usedSize"])
        if state == "done":
            break
        if state == "error":
            raise BenchmarkError(page.inner_text(".cu-item:last-child .cu-status"))
        page.wait_for_timeout(100)
    seconds = time.perf_counter() - started
    cdp.detach()
    return seconds, peak


def _table(summary: dict) -> str:
    heaps = ", ".join(f"{int(size) / MiB:.0f} MiB file: {peak / MiB:.1f} MiB"
                      for size, peak in summary["js_heap_peak_bytes"].items())
    client, browser = summary["chunk_size"] / MiB, summary["browser_chunk_size"] / MiB
    return "\n".join([
        f"browser upload, {summary['size'] / MiB:.0f} MiB file, median of {summary['repeat']}:",
        f"  Python client  {summary['client_mbps']:7.1f} MB/s  "
        f"({client:.0f} MiB chunks, its default)",
        f"  Python client  {summary['client_equal_chunks_mbps']:7.1f} MB/s  "
        f"({browser:.0f} MiB chunks)",
        f"  Chromium       {summary['browser_mbps']:7.1f} MB/s  "
        f"({browser:.0f} MiB chunks, its default)",
        f"  ratio          {summary['ratio']:7.2f}  at the defaults "
        f"(target >= {summary['ratio_target']})",
        f"  ratio          {summary['ratio_equal_chunks']:7.2f}  at equal chunk sizes",
        f"  JS heap peak   {heaps}",
    ])


if __name__ == "__main__":
    sys.exit(main())
