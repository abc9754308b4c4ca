"""Document paths: ``/Folder/Sub/name.ext`` or ``~D{id}``, names never file paths."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from ..exceptions import InvalidParameter

MAX_NAME = 255
_DOC_ID = re.compile(r"^~D(\d+)(\.[^/\\]*)?$", re.IGNORECASE)
# Control characters, surrogates and unassigned code points are not names.
_REFUSED_CATEGORIES = {"Cc", "Cs", "Cn"}


@dataclass(frozen=True)
class DocumentPath:
    """A parsed path: either ``document_id`` or folder names plus a name."""

    folders: tuple[str, ...] = ()
    name: str = ""
    document_id: int | None = None

    @property
    def key(self) -> str:
        """The path as names match: case-insensitively."""
        return "/" + "/".join((*self.folders, self.name)).casefold()


def is_valid_name(name: str) -> bool:
    return (
        0 < len(name) <= MAX_NAME
        and name not in (".", "..")
        and "/" not in name
        and "\\" not in name
        and not any(unicodedata.category(c) in _REFUSED_CATEGORIES for c in name)
    )


def split_folder_path(text: str, param: str) -> tuple[str, ...]:
    """``/A/B`` (or ``/`` for the root) as folder names; else InvalidParameter."""
    stripped = text.removeprefix("/")
    if not stripped:
        return ()
    names = tuple(stripped.split("/"))
    if not all(is_valid_name(n) for n in names):
        raise InvalidParameter(param)
    return names


def parse_document_path(text: str, param: str = "path", *, allow_id: bool = False) -> DocumentPath:
    """Parse a document path; ``~D{id}`` only where ``allow_id``."""
    if allow_id and (match := _DOC_ID.match(text)):
        return DocumentPath(document_id=int(match.group(1)))
    names = split_folder_path(text, param)
    if not names:
        raise InvalidParameter(param)
    return DocumentPath(folders=names[:-1], name=names[-1])
