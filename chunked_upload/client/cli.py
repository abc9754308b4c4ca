"""The ``chunked-upload`` command: upload, download, status, resume.

The server and user come from options or the environment
(``CHUNKED_UPLOAD_URL``, ``CHUNKED_UPLOAD_USER``); the password from
``CHUNKED_UPLOAD_PASSWORD`` or a prompt, never from the command line (an
existing ticket may be given as ``CHUNKED_UPLOAD_TICKET`` instead). Exit
status: 0 done, 1 failed (one line on stderr says why), 2 bad usage,
130 interrupted. ``--json`` prints one JSON document on stdout.
"""

from __future__ import annotations

import argparse
import getpass
import json
import logging
import os
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .display import Display
from .download import download
from .errors import ClientError
from .protocol import DEFAULT_CHUNK_SIZE
from .session import Session
from .state import StateStore
from .upload import Finalizer, upload

PROG = "chunked-upload"
SIZE = re.compile(r"^(\d+)\s*([kmg]?)(?:i?b)?$", re.IGNORECASE)
UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}


class UsageError(ClientError):
    """The command line or the environment is missing something (exit status 2)."""


def size(text: str) -> int:
    """``8MiB``, ``512k``, ``1048576`` → bytes (units are powers of 1024)."""
    if (match := SIZE.match(text.strip())) is None:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (e.g. 8MiB, 512KiB)")
    return int(match[1]) * UNITS[match[2].lower()]


def parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--url", default=os.environ.get("CHUNKED_UPLOAD_URL"),
                        help="the service's URL, e.g. https://dms.example.com/ "
                             "(default: $CHUNKED_UPLOAD_URL)")
    common.add_argument("--user", default=os.environ.get("CHUNKED_UPLOAD_USER"),
                        help="user name (default: $CHUNKED_UPLOAD_USER); the password comes "
                             "from $CHUNKED_UPLOAD_PASSWORD or a prompt")
    common.add_argument("--json", action="store_true", help="print the result as JSON")
    common.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    common.add_argument("--state-dir", type=Path, default=None,
                        help="where interrupted uploads are remembered (default: "
                             "$CHUNKED_UPLOAD_STATE_DIR or ~/.local/state/chunked-upload)")
    common.add_argument("--chunk-size", type=size, default=DEFAULT_CHUNK_SIZE,
                        help="chunk size to ask the server for (default: 8MiB)")

    main = argparse.ArgumentParser(prog=PROG, description="Upload and download large files "
                                   "through a chunked_upload (srv.asmx) server.")
    commands = main.add_subparsers(dest="command", required=True, metavar="COMMAND")
    up = commands.add_parser("upload", parents=[common], help="upload files")
    up.add_argument("files", nargs="+", type=Path, metavar="FILE")
    up.add_argument("--to", required=True, metavar="PATH",
                    help="destination folder ending in / (e.g. /Finance/), or, for one file, "
                         "the document's full path")
    up.add_argument("--comment", help="version comment")
    up.add_argument("--description", help="document description")
    up.add_argument("--keywords", help="document keywords")
    up.add_argument("--new", action="store_true",
                    help="only create new documents: fail if one exists at the path")
    down = commands.add_parser("download", parents=[common], help="download a document")
    down.add_argument("document", metavar="PATH",
                      help="the document's path (/Folder/name) or its id (a number)")
    down.add_argument("destination", nargs="?", type=Path, metavar="DEST",
                      help="file or directory (default: the current directory)")
    down.add_argument("--version", type=int, help="version number (default: the latest)")
    commands.add_parser("status", parents=[common], help="list interrupted uploads")
    again = commands.add_parser("resume", parents=[common], help="finish interrupted uploads")
    again.add_argument("files", nargs="*", type=Path, metavar="FILE",
                       help="only these files (default: every interrupted upload)")
    return main


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; the exit status."""
    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.ERROR if args.quiet else logging.WARNING,
                        format=f"{PROG}: %(message)s", stream=sys.stderr)
    commands: dict[str, Callable[[argparse.Namespace], tuple[dict[str, Any], int]]] = {
        "upload": run_upload, "download": run_download, "status": run_status,
        "resume": run_resume}
    try:
        result, status = commands[args.command](args)
    except KeyboardInterrupt:
        reason, status = "interrupted", 130
    except UsageError as error:
        reason, status = str(error), 2
    except ClientError as error:
        reason, status = str(error), 1
    except OSError as error:
        reason, status = f"{error.filename or ''}: {error.strerror or error}".lstrip(": "), 1
    else:
        if args.json:
            print(json.dumps({"ok": status == 0, **result}, indent=1))
        return status
    # Said once the exception is gone, and with it what its traceback kept alive: a
    # Ctrl-C inside the making of an HTTP response leaves a half-made one, whose
    # finalizer complains on stderr. That must not come after the line saying why.
    return _fail(args, reason, status)


def _fail(args: argparse.Namespace, reason: str, status: int) -> int:
    reason = " ".join(reason.split())  # one line, whatever the message
    print(f"{PROG}: error: {reason}", file=sys.stderr)
    if getattr(args, "json", False):
        print(json.dumps({"ok": False, "error": reason}))
    return status


def session(args: argparse.Namespace) -> Session:
    """A session from the options and the environment (prompting for the password)."""
    if not args.url:
        raise UsageError("no server: give --url or set CHUNKED_UPLOAD_URL")
    ticket = os.environ.get("CHUNKED_UPLOAD_TICKET")
    if not args.user and ticket:
        return Session(args.url, ticket=ticket)
    if not args.user:
        raise UsageError("no user: give --user or set CHUNKED_UPLOAD_USER "
                         "(or CHUNKED_UPLOAD_TICKET)")
    password = os.environ.get("CHUNKED_UPLOAD_PASSWORD")
    if password is None:
        if not sys.stdin.isatty():
            raise UsageError("no password: set CHUNKED_UPLOAD_PASSWORD (there is no terminal "
                             "to ask on)")
        password = getpass.getpass(f"Password for {args.user}: ")
    srv = Session(args.url, user=args.user, password=password)
    try:
        srv.login()  # now: a wrong password fails before any file is read
    except BaseException:
        srv.close()
        raise
    return srv


def _progress(args: argparse.Namespace, name: str) -> Display:
    return Display(name, sys.stderr, enabled=not args.quiet)


def _destination(target: str, file: Path, several: bool) -> str:
    if target.endswith("/"):
        return target + file.name
    if several:
        raise UsageError("--to must be a folder ending in / for several files")
    return target


def _each(items: Sequence[Any], run: Callable[[Any], dict[str, Any]]
          ) -> tuple[dict[str, Any], int]:
    """Run every item; a failure is reported and the others still go."""
    done, failed = [], 0
    for item in items:
        try:
            done.append(run(item))
        except ClientError as error:
            if len(items) == 1 or isinstance(error, UsageError):
                raise
            failed += 1
            reason = " ".join(str(error).split())
            print(f"{PROG}: error: {item}: {reason}", file=sys.stderr)
            done.append({"source": str(item), "error": reason})
    return {"uploads": done}, 1 if failed else 0


def run_upload(args: argparse.Namespace) -> tuple[dict[str, Any], int]:
    finalizer = Finalizer(args.comment, args.description, args.keywords, args.new)
    store = StateStore(args.state_dir)
    several = len(args.files) > 1
    targets = [(file, _destination(args.to, file, several)) for file in args.files]
    with session(args) as srv:

        def one(item: tuple[Path, str]) -> dict[str, Any]:
            file, target = item
            with _progress(args, file.name) as display:
                result = upload(srv, file, target, chunk_size=args.chunk_size,
                                finalizer=finalizer, state=store, progress=display)
            _say(args, f"{file} -> {result.path} (document {result.document_id}, "
                       f"version {result.version_id})")
            return {"source": str(file), **result.as_dict()}

        return _each(targets, one)


def run_resume(args: argparse.Namespace) -> tuple[dict[str, Any], int]:
    store = StateStore(args.state_dir)
    with session(args) as srv:
        only = {str(file.resolve()) for file in args.files}
        pending = [state for state in store.all()
                   if state.server == srv.url and state.user == (srv.user or "")
                   and (not only or state.source in only)]
        if only and not pending:
            raise ClientError("no interrupted upload of " + ", ".join(map(str, args.files)))
        if not pending:
            _say(args, "nothing to resume")

        def one(state: Any) -> dict[str, Any]:
            source = Path(state.source)
            with _progress(args, source.name) as display:
                result = upload(srv, source, state.destination, chunk_size=state.chunk_size,
                                finalizer=Finalizer(**state.options), resume=True, state=store,
                                progress=display)
            _say(args, f"{source} -> {result.path} (document {result.document_id}, "
                       f"version {result.version_id}, resumed at {result.resumed_at} bytes)")
            return {"source": state.source, **result.as_dict()}

        return _each(pending, one)


def run_download(args: argparse.Namespace) -> tuple[dict[str, Any], int]:
    document: str | int = int(args.document) if args.document.isdigit() else args.document
    with session(args) as srv, _progress(args, str(args.document).rsplit("/")[-1]) as display:
        result = download(srv, document, args.destination, version=args.version,
                          chunk_size=args.chunk_size, progress=display)
    _say(args, f"{result.path} -> {result.destination} ({result.size} bytes)")
    return {"download": result.as_dict()}, 0


def run_status(args: argparse.Namespace) -> tuple[dict[str, Any], int]:
    pending = StateStore(args.state_dir).all()
    for state in pending:
        share = f"{state.offset * 100 // state.size}%" if state.size else "0%"
        _say(args, f"{state.source} -> {state.destination}: {share} ({state.offset} of "
                   f"{state.size} bytes) on {state.server} as {state.user or '(ticket)'}")
    if not pending:
        _say(args, "no interrupted uploads")
    return {"uploads": [vars(state) for state in pending]}, 0


def _say(args: argparse.Namespace, line: str) -> None:
    if not args.json:
        print(line)
