"""Databases for the demo sites: made fresh per session, inspected directly.

On PostgreSQL (``DATABASE_URL`` set) one template database is migrated once
and each site gets a copy (``CREATE DATABASE … TEMPLATE``); on SQLite the
migrated file is copied. All are dropped at the end of the session.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

REPO = Path(__file__).resolve().parents[2]
USERNAME, PASSWORD = "integrity", "integrity-pass"


def site_env(data_dir: Path, database_url: str | None) -> dict[str, str]:
    """The environment of a demo-site process (server or management command)."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE")}
    env.update(DJANGO_SETTINGS_MODULE="project.settings", DATA_DIR=str(data_dir),
               DJANGO_DEBUG="0")
    if database_url:
        env["DATABASE_URL"] = database_url
    return env


def manage(env: dict[str, str], *args: str, timeout: float = 120) -> str:
    """Run ``manage.py`` of the demo site; its output, or an error with its stderr."""
    done = subprocess.run([sys.executable, "manage.py", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=timeout)
    if done.returncode:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


class SiteDatabase:
    """One site's database, with a direct connection for looking inside."""

    def __init__(self, server: DatabaseServer, name: str, sqlite_path: Path | None) -> None:
        self.server = server
        self.name = name
        self.sqlite_path = sqlite_path

    @property
    def url(self) -> str | None:
        """The ``DATABASE_URL`` of the site (None: SQLite in its data directory)."""
        return None if self.sqlite_path else self.server.url_for(self.name)

    @property
    def is_postgres(self) -> bool:
        return self.sqlite_path is None

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Rows of ``sql`` (placeholders ``%s``), read in a transaction of its own."""
        if self.sqlite_path:
            with sqlite3.connect(self.sqlite_path, timeout=30) as connection:
                return connection.execute(sql.replace("%s", "?"), params).fetchall()
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as connection:
            return connection.execute(sql, params).fetchall()

    def handler_key(self, handler_id: str | uuid.UUID) -> str:
        """A handler id as the database stores it (SQLite: 32 hex digits)."""
        value = uuid.UUID(str(handler_id))
        return value.hex if self.sqlite_path else str(value)

    def handler(self, handler_id: str) -> dict[str, Any] | None:
        """The handler's row as a dict, None if there is none."""
        columns = ("state", "committed_size", "chunk_count", "crc32", "lease_expires_at")
        rows = self.query(f"SELECT {', '.join(columns)} FROM chunked_upload_uploadhandler "
                          "WHERE id = %s", (self.handler_key(handler_id),))
        return dict(zip(columns, rows[0], strict=True)) if rows else None

    def count(self, table: str, where: str = "1=1", params: tuple[Any, ...] = ()) -> int:
        return self.query(f"SELECT COUNT(*) FROM chunked_upload_{table} WHERE {where}",
                          params)[0][0]

    def block(self) -> None:
        """Make the database unreachable: refuse new connections, cut the open ones."""
        self.server.admin(f'ALTER DATABASE "{self.name}" WITH ALLOW_CONNECTIONS false')
        self.server.admin("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                          "WHERE datname = %s AND pid <> pg_backend_pid()", (self.name,))

    def unblock(self) -> None:
        self.server.admin(f'ALTER DATABASE "{self.name}" WITH ALLOW_CONNECTIONS true')


class DatabaseServer:
    """Where site databases are made: the PostgreSQL of ``url``, or SQLite files."""

    def __init__(self, url: str | None, workdir: Path, name: str = "integrity") -> None:
        self.url = url
        self.workdir = workdir
        # The name keeps apart the databases of fixtures that share one session.
        self.prefix = f"chunked_{name}_{os.getpid()}"
        self.template = f"{self.prefix}_template"
        self.template_dir = workdir / "template"
        self.created: list[str] = []

    def url_for(self, name: str) -> str:
        parts = urlsplit(self.url)
        return urlunsplit(parts._replace(path=f"/{name}"))

    def admin(self, sql: str, params: tuple[Any, ...] = ()) -> None:
        """Run ``sql`` on the server's own database (never on a site's)."""
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as connection:
            connection.execute(sql, params)

    @contextmanager
    def serving(self) -> Iterator[DatabaseServer]:
        """Prepared for the duration of the block; every database dropped after it."""
        try:
            self.prepare()
            yield self
        finally:
            if self.url:
                self.drop_all()

    def prepare(self) -> None:
        """Create and migrate the template, with the test account in it."""
        url = None
        if self.url:
            self._create(self.template)
            url = self.url_for(self.template)
        # One process for both: each start of Django costs seconds on a busy CI box.
        manage(site_env(self.template_dir, url), "shell", "-c", "\n".join((
            "from django.core.management import call_command",
            "from django.contrib.auth import get_user_model",
            "call_command('migrate', interactive=False, verbosity=0)",
            f"get_user_model().objects.create_user({USERNAME!r}, password={PASSWORD!r})",
        )))

    def new_database(self, name: str, data_dir: Path) -> SiteDatabase:
        """A copy of the template for one site."""
        if not self.url:
            path = data_dir / "db.sqlite3"
            source = sqlite3.connect(self.template_dir / "db.sqlite3")
            with sqlite3.connect(path) as target:
                source.backup(target)
            source.close()
            return SiteDatabase(self, name, path)
        name = f"{self.prefix}_{name}"
        self._create(name, template=self.template)
        return SiteDatabase(self, name, None)

    def _create(self, name: str, template: str | None = None) -> None:
        self.admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.admin(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
        self.created.append(name)

    def drop_all(self) -> None:
        for name in reversed(self.created):
            self.admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.created.clear()
