"""Fixtures: a fresh database server setup per session, a demo site per module."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from .database import DatabaseServer
from .site import DemoSite


@pytest.fixture(scope="session")
def database_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DatabaseServer]:
    """Template database (migrated, with the test account) for every site."""
    server = DatabaseServer(os.environ.get("DATABASE_URL"), tmp_path_factory.mktemp("sites"))
    try:
        server.prepare()
        yield server
    finally:
        if server.url:
            server.drop_all()


def make_site(database_server: DatabaseServer, data_dir: Path, name: str) -> DemoSite:
    data_dir.mkdir(parents=True, exist_ok=True)
    return DemoSite(data_dir, database_server.new_database(name, data_dir))


@pytest.fixture(scope="session")
def main_site(database_server: DatabaseServer,
              tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoSite]:
    """The demo site most tests share (starting one costs seconds), under gunicorn."""
    with make_site(database_server, tmp_path_factory.mktemp("main"), "main").running() as demo:
        yield demo


@pytest.fixture
def site(main_site: DemoSite) -> Iterator[DemoSite]:
    """The shared site, running (again, if an earlier test left it crashed)."""
    if main_site.process is None or main_site.process.poll() is not None:
        main_site.process = None
        main_site.restart()
    yield main_site
    main_site.faults.disarm_all()


@pytest.fixture
def ticket(site: DemoSite) -> str:
    return site.login()


@pytest.fixture
def client(site: DemoSite):
    return site.client


@pytest.fixture
def folder() -> str:
    """A folder of the test's own for its documents: the site outlives the test."""
    return f"/t-{uuid.uuid4().hex[:12]}"
