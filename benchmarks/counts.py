"""What one chunk costs the interpreter, counted rather than timed.

    .venv/bin/python -m benchmarks.counts [--chunk 256KiB] [--chunks 20] \\
        [--database-url postgres://…] [--json]

On a shared virtual machine the CPU time of a run swings by a fifth to a half
from one hour to the next (the host reclaims and refills the guest's page
cache), which buries a cut of a tenth of a millisecond per chunk. The number
of bytecode instructions the interpreter executes per chunk does not swing:
it is the same in every run of the same code. So this benchmark counts them,
by layer, for ours, the bound with and without the guarantees it may leave
out, and the floor behind Django (the sites of ``benchmarks.ingest --bound``
and ``--bound-guarantees``), each in a process of its own: the site's WSGI
application is called in the process (no server, no socket), with the same
multipart UploadFileChunk as the HTTP benchmarks send, a few chunks as a
warm-up and then ``--chunks`` counted ones.

What it leaves out is the rest of the CPU a chunk costs: C code (SQLite or
the PostgreSQL driver, the CRC and SHA-256 of the bytes, copies) and the
kernel's part (the writes, the syncs). ``benchmarks.profile`` samples all of
it, with the noise of timing. Use this one to decide whether a change to the
Python on the chunk path cut anything, and by how much, in which layer.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from types import FrameType
from xml.etree import ElementTree as ET

from .ingest import PASSWORD, USER, parse_size
from .servers import ROOT, prepare_site, site_env
from .srvclient import chunk_fields, multipart_chunk

BOUND = "benchmarks.django_floor.bound_settings"
# Each site's settings module and environment. "guarded" is the bound with the
# promises that cost work per chunk (``BOUND_GUARANTEES=1``: the fence and the ledger).
SITES = {
    "ours": ("project.settings", {}),
    "guarded": (BOUND, {"BOUND_GUARANTEES": "1"}),
    "bound": (BOUND, {"BOUND_GUARANTEES": "0"}),
    "floor": ("benchmarks.django_floor.settings", {}),
}
# (layer, pattern on the code's file name), the first that matches.
LAYERS = [
    ("app: wire (parsing, dispatch, answers)", r"/chunked_upload/wire/"),
    ("app: engine and models", r"/chunked_upload/(engine|models)/"),
    ("app: staging", r"/chunked_upload/staging/"),
    ("app: other", r"/chunked_upload/"),
    ("benchmark's own view (bound, floor)", r"/benchmarks/"),
    ("Django: database", r"/django/db/"),
    ("Django: requests, middleware, URLs, signals", r"/django/"),
    ("Django REST framework", r"/rest_framework/"),
    ("standard library, asgiref and others", r""),
]
WARM_UP = 5
NAME = "counts"  # the bound's and the floor's file


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chunk", type=parse_size, default=parse_size("256KiB"))
    parser.add_argument("--chunks", type=int, default=20, help="chunks counted per site")
    parser.add_argument("--database-url", help="PostgreSQL instead of SQLite")
    parser.add_argument("--json", action="store_true", help="print the counts as JSON")
    parser.add_argument("--site", choices=SITES, help=argparse.SUPPRESS)  # one child's part
    args = parser.parse_args()
    if args.site:
        json.dump(count_site(args.site, args.chunk, args.chunks), sys.stdout)
        return
    counts = {site: run_site(site, args) for site in SITES}
    if args.json:
        json.dump({"chunk_size": args.chunk, "chunks": args.chunks, "sites": counts},
                  sys.stdout, indent=2)
        print()
    else:
        print(table(counts, args.chunk))


def run_site(site: str, args: argparse.Namespace) -> dict[str, float]:
    """Count ``site`` in a fresh process on a fresh database; its counts per chunk."""
    with tempfile.TemporaryDirectory(prefix=f"counts-{site}-") as tmp:
        settings_module, extra = SITES[site]
        env = {**site_env(Path(tmp), args.database_url, FLOOR_DIR=tmp),
               "DJANGO_SETTINGS_MODULE": settings_module, **extra}
        prepare_site(env, USER, PASSWORD)
        child = subprocess.run(
            [sys.executable, "-m", "benchmarks.counts", "--site", site,
             "--chunk", str(args.chunk), "--chunks", str(args.chunks)],
            cwd=ROOT, env=env, check=True, stdout=subprocess.PIPE)
    return json.loads(child.stdout)


def count_site(site: str, chunk_size: int, chunks: int) -> dict[str, float]:
    """In the site's own process: warm up, then count ``chunks`` chunks."""
    import django

    django.setup()
    send = _sender(site, os.urandom(chunk_size))
    # Warmed up under the tracer too: from Python 3.12 on, code runs differently
    # the first time after tracing starts (its specialisations are undone).
    with OpcodeCounter():
        for _ in range(WARM_UP):
            send()
    counter = OpcodeCounter()
    with counter:
        for _ in range(chunks):
            send()
    return {layer: value / chunks for layer, value in counter.by_layer().items()}


class OpcodeCounter:
    """Counts the bytecode instructions run while active, per code object."""

    def __init__(self) -> None:
        self.counts: Counter = Counter()

    def __enter__(self) -> OpcodeCounter:
        sys.settrace(self._trace)
        return self

    def __exit__(self, *exc_info: object) -> None:
        sys.settrace(None)

    def _trace(self, frame: FrameType, event: str, arg: object) -> Callable[..., object]:
        frame.f_trace_opcodes = True
        frame.f_trace_lines = False
        if event == "opcode":
            self.counts[frame.f_code] += 1
        return self._trace

    def by_layer(self) -> dict[str, int]:
        layers: Counter = Counter({layer: 0 for layer, _pattern in LAYERS})
        for code, count in self.counts.items():
            layers[layer_of(code.co_filename)] += count
        return {**layers, "total": sum(self.counts.values())}


def layer_of(filename: str) -> str:
    name = filename.replace(os.sep, "/")
    return next(layer for layer, pattern in LAYERS if re.search(pattern, name))


def _sender(site: str, chunk: bytes) -> Callable[[], None]:
    """A function that sends the site one more chunk and checks the answer."""
    from django.contrib.auth import get_user_model
    from django.core.wsgi import get_wsgi_application

    app = get_wsgi_application()
    if site == "floor":
        def send_raw() -> None:
            _call(app, "POST", f"/{NAME}", body=chunk, content_type="application/octet-stream")
        return send_raw
    if site == "ours":
        ticket = _attr(_call(app, "GET", "/srv.asmx/AuthenticateUser",
                             query=f"UID={USER}&PWD={PASSWORD}"), "ticket")
        handler = _attr(_call(app, "GET", "/srv.asmx/CreateUploadHandler",
                              query=f"AuthenticationTicket={ticket}"), "UploadHandler")
    else:  # the bound has no AuthenticateUser: a ticket as the app issues one
        from chunked_upload.engine import tickets

        user = get_user_model().objects.get(username=USER)
        ticket, handler = str(tickets.issue_for(user).key), NAME
    content_type, head, tail = multipart_chunk(
        chunk_fields(ticket, handler, memoryview(chunk), last=False))
    body = head + chunk + tail

    def send_multipart() -> None:
        answer = _call(app, "POST", "/srv.asmx/UploadFileChunk", body=body,
                       content_type=content_type)
        if ET.fromstring(answer).get("tryagain") != "false":
            raise RuntimeError(f"{site} refused a chunk: {answer[:300]!r}")
    return send_multipart


def _call(app: Callable[..., Iterable[bytes]], method: str, path: str, *, query: str = "",
          body: bytes = b"", content_type: str = "") -> bytes:
    """One request through the WSGI application; the answer's body (status 200 only)."""
    environ = {
        "REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": query,
        "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "80", "HTTP_HOST": "127.0.0.1",
        "REMOTE_ADDR": "127.0.0.1", "SERVER_PROTOCOL": "HTTP/1.1", "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body), "wsgi.errors": sys.stderr,
        "CONTENT_TYPE": content_type, "CONTENT_LENGTH": str(len(body)),
    }
    statuses = []
    result = app(environ, lambda status, headers, exc_info=None: statuses.append(status))
    try:
        answer = b"".join(result)
    finally:
        getattr(result, "close", lambda: None)()
    if not statuses[0].startswith("200"):
        raise RuntimeError(f"{path}: {statuses[0]}: {answer[:300]!r}")
    return answer


def _attr(answer: bytes, name: str) -> str:
    value = ET.fromstring(answer).get(name)
    if not value:
        raise RuntimeError(f"no {name} in {answer[:300]!r}")
    return value


def table(counts: dict[str, dict[str, float]], chunk_size: int) -> str:
    ours, guarded = counts["ours"], counts["guarded"]
    rows = [f"Bytecode instructions per {chunk_size // 1024} KiB chunk (exact counts: the "
            "same in every run); guarded: the bound with BOUND_GUARANTEES=1", "",
            f"{'layer':46}" + "".join(f" {site:>8}" for site in SITES) + "  ours-guarded"]
    for layer in [*(layer for layer, _pattern in LAYERS), "total"]:
        rows.append(f"{layer:46}" + "".join(f" {counts[site][layer]:8.0f}" for site in SITES)
                    + f"  {ours[layer] - guarded[layer]:+12.0f}")
    return "\n".join(rows)


if __name__ == "__main__":
    main()
