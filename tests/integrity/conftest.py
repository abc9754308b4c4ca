"""Fixtures: a fresh database server setup per session, a demo site per module."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from .database import DatabaseServer
from .s3 import S3Place, s3_mode
from .site import DemoSite


@pytest.fixture(scope="session")
def database_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DatabaseServer]:
    """Template database (migrated, with the test account) for every site."""
    server = DatabaseServer(os.environ.get("DATABASE_URL"), tmp_path_factory.mktemp("sites"))
    with server.serving():
        yield server


def make_site(database_server: DatabaseServer, data_dir: Path, name: str, *,
              s3: S3Place | None = None) -> DemoSite:
    data_dir.mkdir(parents=True, exist_ok=True)
    return DemoSite(data_dir, database_server.new_database(name, data_dir), s3=s3)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if not s3_mode():
        return
    for item in items:
        if "small_disks" in item.fixturenames or item.module.__name__.endswith(".test_huge"):
            item.add_marker(pytest.mark.skip(
                reason="INTEGRITY_STAGING=s3: full local disks and the 4 GiB file concern "
                       "local staging; they run in the local pass"))


@pytest.fixture(scope="session")
def main_site(database_server: DatabaseServer, tmp_path_factory: pytest.TempPathFactory,
              request: pytest.FixtureRequest) -> Iterator[DemoSite]:
    """The demo site most tests share (starting one costs seconds), under gunicorn.

    With ``INTEGRITY_STAGING=s3`` its documents and staging are on the S3 test server.
    """
    s3 = S3Place(request.getfixturevalue("s3_server")) if s3_mode() else None
    site = make_site(database_server, tmp_path_factory.mktemp("main"), "main", s3=s3)
    with site.running() as demo:
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
