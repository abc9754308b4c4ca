"""Measure the operations side at scale, and print the figures.

1. The upload-handler admin changelist with ``--handlers`` rows (default
   100,000): how many queries each page makes, and how long it takes.
2. ``manage.py expire_upload_handlers`` on ``--expired`` expired handlers
   (default 1,000,000), run as a separate process: wall time and peak
   memory (the process's VmHWM), next to that of ``manage.py check`` in the
   same setup, which is what Django and the app cost before any row is read.

Usage (from the repository root)::

    .venv/bin/python benchmarks/expiry.py                       # SQLite in a temp dir
    .venv/bin/python benchmarks/expiry.py --expired 100000      # a quicker run
    DATABASE_URL=postgres://u:p@127.0.0.1:5432/scratch .venv/bin/python benchmarks/expiry.py

The database must be a scratch one: the script migrates it, refuses to run
if it already holds users or handlers, and leaves its rows behind.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BATCH = 10_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--handlers", type=int, default=100_000)
    parser.add_argument("--expired", type=int, default=1_000_000)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--data-dir", help="DATA_DIR of the demo site (default: a temp dir)")
    parser.add_argument("--show-queries", action="store_true",
                        help="print each changelist query with its time")
    args = parser.parse_args()

    os.environ["DATA_DIR"] = args.data_dir or tempfile.mkdtemp(prefix="chunked-bench-")
    os.environ["DJANGO_SETTINGS_MODULE"] = "project.settings"
    os.environ["DJANGO_DEBUG"] = "0"
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    print(f"database: {connection.vendor}, DATA_DIR={os.environ['DATA_DIR']}")
    from django.contrib.auth import get_user_model

    from chunked_upload.models import UploadHandler

    if get_user_model().objects.exists() or UploadHandler.objects.exists():
        sys.exit("refusing: the database already has users or handlers (use a scratch one)")
    owners = make_owners(1000)
    if args.handlers:
        measure_changelist(owners, args.handlers, args.show_queries)
    if args.expired:
        measure_expiry(owners, args.expired, args.batch_size)


def make_owners(count: int) -> list[int]:
    from django.contrib.auth import get_user_model

    User = get_user_model()  # noqa: N806
    User.objects.bulk_create(User(username=f"owner{i}") for i in range(count))
    return list(User.objects.values_list("pk", flat=True))


def make_handlers(owners: list[int], count: int, *, states, idle: timedelta) -> None:
    """``count`` handler rows in bulk, last active ``idle`` to ``idle`` + 1 day ago."""
    from django.db import connection
    from django.db.models import F
    from django.utils import timezone

    from chunked_upload.models import UploadHandler

    rng = random.Random(7)
    then = timezone.now() - idle
    made = 0
    while made < count:
        rows = []
        for _ in range(min(BATCH, count - made)):
            state = rng.choice(states)
            size = rng.randrange(0, 64 << 20)
            active = then - timedelta(seconds=rng.randrange(24 * 3600))
            rows.append(UploadHandler(
                id=uuid.uuid4(), owner_id=rng.choice(owners), state=state, chunk_size=1 << 20,
                committed_size=size, chunk_count=size >> 20, last_activity_at=active,
                finalized_at=active if state == UploadHandler.State.FINALIZED else None,
            ))
        UploadHandler.objects.bulk_create(rows)
        made += len(rows)
    # created_at is auto_now_add, so bulk_create stamped it now.
    UploadHandler.objects.update(created_at=F("last_activity_at") - timedelta(minutes=10))
    # Statistics, as a live table would have them (the planner needs them).
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def measure_changelist(owners: list[int], count: int, show_queries: bool) -> None:
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext, setup_test_environment

    from chunked_upload.models import UploadHandler

    State = UploadHandler.State  # noqa: N806
    started = time.perf_counter()
    states = [State.OPEN] * 14 + [State.COMPLETE] * 2 + [State.FINALIZED] * 3 + [State.EXPIRED]
    make_handlers(owners, count, states=states, idle=timedelta(hours=2))
    print(f"\n{count:,} upload handlers created in {time.perf_counter() - started:.1f} s")

    setup_test_environment()
    admin = get_user_model().objects.create_superuser("bench-admin", "", "x")
    client = Client()
    client.force_login(admin)
    url = "/admin/chunked_upload/uploadhandler/"
    some_id = UploadHandler.objects.values_list("pk", flat=True).first()
    pages = {
        "pending (default)": {},
        "all states": {"state": "all"},
        "by owner": {"owner__id__exact": owners[0]},
        "idle over 1 hour": {"idle": "gt1h"},
        "search username": {"q": "owner12"},
        "search GUID": {"q": str(some_id)},
        "page 10": {"p": "10"},
    }
    print(f"admin changelist {url} at {count:,} handlers (100 rows a page):")
    for label, params in pages.items():
        client.get(url, params)  # warm caches and the session
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            response = client.get(url, params)
            elapsed = time.perf_counter() - started
        assert response.status_code == 200, response.status_code
        in_db = sum(float(query["time"]) for query in queries.captured_queries)
        print(f"  {label:<18} {len(queries):>2} queries  {elapsed * 1000:7.1f} ms "
              f"({in_db * 1000:.1f} ms in the database)")
        for query in queries.captured_queries if show_queries else ():
            print(f"      {float(query['time']) * 1000:6.1f} ms  {query['sql'][:160]}")
    UploadHandler.objects.all().delete()


def measure_expiry(owners: list[int], count: int, batch_size: int) -> None:
    from chunked_upload.models import UploadHandler

    started = time.perf_counter()
    make_handlers(owners, count, states=[UploadHandler.State.OPEN], idle=timedelta(days=2))
    print(f"\n{count:,} expired upload handlers created in {time.perf_counter() - started:.1f} s")

    baseline = run_measured(["manage.py", "check"])
    print(f"manage.py check (baseline): peak RSS {baseline[1] / 1024:.1f} MiB")
    command = ["manage.py", "expire_upload_handlers", f"--batch-size={batch_size}"]
    elapsed, rss, output = run_measured(command)
    print(f"expire_upload_handlers --batch-size={batch_size}: {elapsed:.1f} s, "
          f"peak RSS {rss / 1024:.1f} MiB, {count / elapsed:,.0f} handlers/s")
    print("  " + output.strip().replace("\n", "\n  "))
    left = UploadHandler.objects.count()
    print(f"  handlers left: {left}")


# Reports the process's own peak RSS (VmHWM) when it exits. The kernel's
# ru_maxrss of a child starts from the parent's peak (it is carried over at
# fork and exec), so it would report this script's memory, not the command's.
PEAK_REPORTER = (
    "import atexit, os, runpy, sys\n"
    "def report():\n"
    "    with open('/proc/self/status') as status, open(os.environ['PEAK_FILE'], 'w') as out:\n"
    "        out.write(next(l for l in status if l.startswith('VmHWM')).split()[1])\n"
    "atexit.register(report)\n"
    "sys.argv = sys.argv[1:]\n"
    "runpy.run_path(sys.argv[0], run_name='__main__')\n"
)


def run_measured(command: list[str]) -> tuple[float, int, str]:
    """Run ``python command…``; return (wall seconds, peak RSS in KiB, stdout)."""
    with tempfile.NamedTemporaryFile("r") as peak:
        started = time.perf_counter()
        # stderr (the log, one line per expired handler) is discarded, not kept.
        result = subprocess.run(
            [sys.executable, "-c", PEAK_REPORTER, *command], cwd=ROOT, text=True,
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            env={**os.environ, "PEAK_FILE": peak.name}, check=False,
        )
        elapsed = time.perf_counter() - started
        if result.returncode:
            sys.exit(f"{' '.join(command)} failed with {result.returncode}")
        return elapsed, int(peak.read()), result.stdout


if __name__ == "__main__":
    main()
