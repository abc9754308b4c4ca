"""What every proxy test uses: a user, a payload and a document path that are not ASCII."""

from __future__ import annotations

import os

import pytest

from tests.factories import UserFactory

from .toolchains import FOLDER, NAME, PASSWORD, USERNAME


@pytest.fixture
def proxy_user(transactional_db):
    return UserFactory(username=USERNAME, password=PASSWORD)


@pytest.fixture
def payload(tmp_path):
    """Random bytes in a file, and where the proxy writes what it downloads."""
    data = os.urandom(3 * 256 * 1024 + 1234)
    source = tmp_path / "upload.bin"
    source.write_bytes(data)
    return data, source, tmp_path / "download.bin"


@pytest.fixture
def document_path() -> str:
    return f"/{FOLDER}/{NAME}"
