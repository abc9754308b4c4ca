"""docs/protocol.md says what the code does: its methods, parameters and errors.

The method sections are compared with the method table
(``chunked_upload.wire.methods.METHODS``) and the error table with the
exception classes (``chunked_upload.exceptions``), so a method, parameter or
error row added, renamed or changed in the code fails here until the
reference says so too.
"""

from __future__ import annotations

import inspect
import re

import pytest

from chunked_upload import exceptions
from chunked_upload.wire.methods import METHODS

from .markdown import REPO, Page

PAGE = Page.read(REPO / "docs" / "protocol.md")
LINES = [line for _, line in PAGE.prose]
OURS = "(ours)"


def _rows(after: int) -> list[list[str]]:
    """The cells of the first table at or after line index ``after``."""
    rows, started = [], False
    for line in LINES[after:]:
        if line.startswith("|"):
            started = True
            cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
            if not set("".join(cells)) <= set("-: "):
                rows.append(cells)
        elif started:
            break
    return rows[1:]  # without the header row


def _code(cell: str) -> str:
    match = re.search(r"`([^`]+)`", cell)
    assert match, f"no `code` in {cell!r}"
    return match.group(1)


def _sections() -> dict[str, int]:
    """Method name -> line index of its ``### `Name``` heading."""
    found = {}
    for index, line in enumerate(LINES):
        match = re.match(r"^### `(\w+)`", line)
        if match:
            found[match.group(1)] = index
    return found


SECTIONS = _sections()


def _params(method):
    return getattr(method, "all_params", None) or method.params


def test_every_method_has_a_section_and_every_section_a_method():
    assert sorted(SECTIONS) == sorted(METHODS)


@pytest.mark.parametrize("name", sorted(METHODS))
def test_the_parameter_table_matches_the_method_table(name):
    method = METHODS[name]
    documented = [(_code(row[0]), _code(row[1]), row[2] == "yes", OURS in row[3])
                  for row in _rows(SECTIONS[name])]
    actual = [(param.name, param.xsd_type, param.required, bool(getattr(param, "extension", False)))
              for param in _params(method)]
    assert documented == actual


@pytest.mark.parametrize("name", sorted(METHODS))
def test_extensions_are_marked_as_ours(name):
    heading = LINES[SECTIONS[name]]
    assert (OURS in heading) == bool(METHODS[name].extension), heading


@pytest.mark.parametrize("name", sorted(METHODS))
def test_the_answer_element_is_named(name):
    following = next(line for line in LINES[SECTIONS[name]:] if line.startswith("Answer "))
    assert following.startswith(f"Answer `{METHODS[name].root}`"), following


def _error_classes() -> list[type[exceptions.ProtocolError]]:
    found, todo = [], [exceptions.ProtocolError]
    while todo:
        for sub in todo.pop().__subclasses__():
            if sub.__module__ == exceptions.__name__:
                found.append(sub)
                todo.append(sub)
    return found


def _instance(cls):
    """An instance with each required argument named in capitals (``NAME``, ``WHAT``)."""
    required = [p.name for p in inspect.signature(cls).parameters.values()
                if p.default is p.empty and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    return cls(*[p.upper() for p in required])


def _error_table() -> dict[str, tuple[str, int]]:
    index = next(i for i, line in enumerate(LINES) if line == "## Errors")
    return {_code(row[0]): (_code(row[1]), int(row[2])) for row in _rows(index)}


def test_the_error_table_lists_every_error_class_with_its_text_and_code():
    actual = {}
    for cls in _error_classes():
        error = _instance(cls)
        actual[cls.__name__] = (error.text, error.code)
    assert _error_table() == actual
