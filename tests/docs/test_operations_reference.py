"""docs/operations.md documents every system check id the app can report."""

from __future__ import annotations

import re

from .markdown import REPO

CHECK_ID = re.compile(r"chunked_upload\.[EW]\d{3}")


def test_every_system_check_id_is_documented():
    # Checks live beside what they check (checks.py, staging/checks.py, …): read every module.
    in_code = {found for module in (REPO / "chunked_upload").rglob("*.py")
               for found in CHECK_ID.findall(module.read_text())}
    in_docs = set(CHECK_ID.findall((REPO / "docs" / "operations.md").read_text()))
    assert in_code, "no check ids found in chunked_upload/"
    assert in_code - in_docs == set(), "document these in docs/operations.md, System checks"


def test_every_signal_is_documented():
    from django.dispatch import Signal

    from chunked_upload import signals

    names = {name for name, value in vars(signals).items() if isinstance(value, Signal)}
    documented = set(re.findall(r"^\| `(\w+)` \|", (REPO / "docs" / "operations.md").read_text(),
                                re.M))
    assert names and names - documented == set()
