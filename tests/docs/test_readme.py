"""The README stays short, opens with the two commands, and its settings table is complete."""

from __future__ import annotations

import re

import pytest

from chunked_upload.conf import CONFIG_DEFAULTS
from project.demo.management.commands.rundemo import site_url

from .markdown import REPO, Page

README = REPO / "README.md"
PAGE = Page.read(README)


def test_the_readme_fits_a_newcomer():
    assert len(README.read_text().splitlines()) <= 250


def test_the_readme_opens_with_the_demo_then_an_upload_then_the_tests():
    first = [block.text.strip() for block in PAGE.blocks[:4]]
    assert first[0].endswith("manage.py rundemo"), first[0]
    assert "chunked-upload upload " in first[1]  # the client command, as a newcomer runs it
    assert first[3] == "bash .ci/run"


def test_the_settings_table_lists_every_setting():
    lines = [line for _, line in PAGE.prose]
    start = lines.index("## Settings")
    keys = []
    for line in lines[start:]:
        match = re.match(r"^\| `([A-Z_]+)` \|", line)
        if match:
            keys.append(match.group(1))
        elif keys and not line.startswith("|"):
            break
    assert sorted(keys) == sorted(CONFIG_DEFAULTS)


@pytest.mark.parametrize("addrport, url", [
    ("127.0.0.1:8000", "http://127.0.0.1:8000"),
    ("8002", "http://127.0.0.1:8002"),
    ("0.0.0.0:8000", "http://127.0.0.1:8000"),
    ("0:9000", "http://127.0.0.1:9000"),
    ("localhost:8001", "http://localhost:8001"),
    ("[::1]:8003", "http://[::1]:8003"),
])
def test_rundemo_prints_an_address_a_browser_can_open(addrport, url):
    assert site_url(addrport) == url
