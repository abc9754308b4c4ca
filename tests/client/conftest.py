"""Fixtures: one demo site under gunicorn for the client's tests, sessions, files.

The site runs with ``HANDLER_SCOPE = "user"`` (through the demo's
``CHUNKED_UPLOAD_HANDLER_SCOPE``), the scope in which a client that logs
in again can resume its upload.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from chunked_upload.client import Session, StateStore
from tests.integrity.database import PASSWORD, USERNAME, DatabaseServer
from tests.integrity.site import DemoSite

from .helpers import Cli


@pytest.fixture(scope="session")
def client_database_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DatabaseServer]:
    # Not the integrity tests' names: both sets may run in one session.
    server = DatabaseServer(os.environ.get("DATABASE_URL"), tmp_path_factory.mktemp("client"),
                            name="client")
    with server.serving():
        yield server


@pytest.fixture(scope="session")
def client_site(client_database_server: DatabaseServer,
                tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoSite]:
    data_dir = tmp_path_factory.mktemp("client-site")
    site = DemoSite(data_dir, client_database_server.new_database("client", data_dir),
                    workers=2, threads=4)
    site.env["CHUNKED_UPLOAD_HANDLER_SCOPE"] = "user"
    with site.running():
        yield site


@pytest.fixture
def site(client_site: DemoSite) -> DemoSite:
    """The shared site, running (again, if an earlier test left it crashed)."""
    if client_site.process is None or client_site.process.poll() is not None:
        client_site.process = None
        client_site.restart()
    return client_site


@pytest.fixture
def url(site: DemoSite) -> str:
    return f"http://127.0.0.1:{site.port}/"


@pytest.fixture
def session(url: str) -> Iterator[Session]:
    with Session(url, user=USERNAME, password=PASSWORD) as session:
        yield session


@pytest.fixture
def store(tmp_path: Path) -> StateStore:
    return StateStore(tmp_path / "state")


@pytest.fixture
def folder() -> str:
    """A folder of the test's own: the site outlives the test."""
    return f"/c-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def cli(url: str, tmp_path: Path) -> Cli:
    return Cli(url, USERNAME, PASSWORD, tmp_path / "state", tmp_path)
