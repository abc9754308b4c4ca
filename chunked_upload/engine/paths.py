"""Document paths: ``/Folder/Sub/name.ext`` or ``~D{id}``, names never file paths.

Every name, whichever finalizer or download method brings it, passes the same
rules here:

- it is normalized to NFC, so ``café`` typed precomposed (é) and decomposed
  (e + U+0301) is one name, not two look-alike documents;
- it holds no control, format or separator character (categories Cc, Cf, Cs,
  Zl, Zp, and unassigned code points): bidi overrides such as U+202E and
  zero-width characters would make a name look like another one;
- it and its casefolded key fit their columns (``MAX_NAME_LENGTH``, at most
  the ``name`` and ``name_key`` column width): ``ß`` casefolds to ``ss``, so a
  name of 128 ``ß`` has a key of 256 characters;
- the whole path stays within ``MAX_PATH_DEPTH`` levels and ``MAX_PATH_LENGTH``
  characters (as names match, casefolded), checked before it is even split.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from ..conf import get_config
from ..exceptions import InvalidParameter, LimitExceeded
from ..models import Folder, UploadHandler
from ..models.documents import name_key

_DOC_ID = re.compile(r"^~D(\d+)(\.[^/\\]*)?$", re.IGNORECASE)
# Control and format characters (bidi overrides, zero-width joiners, soft
# hyphens), surrogates, line and paragraph separators and unassigned code
# points are not names: they are invisible or reorder what is shown.
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Cn", "Zl", "Zp"})
# UploadHandler.destination holds "<family>:<path key>"; the family is at most this long.
_DESTINATION_PREFIX = len("path:")


@dataclass(frozen=True)
class DocumentPath:
    """A parsed path: either ``document_id`` or folder names plus a name.

    Names are NFC-normalized on construction, so every caller (and every
    finalizer) matches and stores the same form.
    """

    folders: tuple[str, ...] = ()
    name: str = ""
    document_id: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "folders", tuple(normalize(n) for n in self.folders))
        object.__setattr__(self, "name", normalize(self.name))

    @property
    def key(self) -> str:
        """The path as names match: case-insensitively."""
        return "/" + "/".join((*self.folders, self.name)).casefold()


def normalize(name: str) -> str:
    """The stored form of a name: NFC."""
    return unicodedata.normalize("NFC", name)


def max_name_length() -> int:
    """Longest name (and casefolded key): the setting, at most the columns' width."""
    columns = min(Folder._meta.get_field(f).max_length for f in ("name", "name_key"))
    return min(get_config()["MAX_NAME_LENGTH"], columns)


def max_path_length() -> int:
    """Longest path key: the setting, at most what a handler's destination column holds."""
    column = UploadHandler._meta.get_field("destination").max_length - _DESTINATION_PREFIX
    return min(get_config()["MAX_PATH_LENGTH"], column)


def is_valid_name(name: str) -> bool:
    """Is ``name`` (in any normalization form) a valid folder or document name?"""
    name = normalize(name)
    longest = max_name_length()
    return (
        0 < len(name) <= longest
        and len(name_key(name)) <= longest
        and name not in (".", "..")
        and "/" not in name
        and "\\" not in name
        and not any(unicodedata.category(c) in _REFUSED_CATEGORIES for c in name)
    )


def check_path_size(text: str, levels: int) -> None:
    """Refuse a path over the depth or length limits: before any folder work."""
    if levels > get_config()["MAX_PATH_DEPTH"]:
        raise LimitExceeded("path depth")
    # NFC and casefolding lengthen a character at most threefold: a raw text
    # far over the limit is refused before either is done.
    longest = max_path_length()
    if len(text) > 4 * longest or len(normalize(text).casefold()) > longest:
        raise LimitExceeded("path length")


def split_folder_path(text: str, param: str) -> tuple[str, ...]:
    """``/A/B`` (or ``/`` for the root) as folder names; else InvalidParameter."""
    stripped = text.removeprefix("/")
    if not stripped:
        return ()
    # Count before splitting: a path of a million levels is refused in O(n).
    check_path_size(text, stripped.count("/") + 1)
    names = tuple(normalize(n) for n in stripped.split("/"))
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


def check_document_path(path: DocumentPath, param: str = "path") -> None:
    """Every rule again, for a path built by code rather than parsed (finalize calls it)."""
    if path.document_id is not None:
        return
    check_path_size(path.key, len(path.folders) + 1)
    if not all(is_valid_name(n) for n in (*path.folders, path.name)):
        raise InvalidParameter(param)


def document_path(folders: tuple[str, ...], name: str, param: str) -> DocumentPath:
    """A document ``name`` in already parsed ``folders`` (UploadNewDocumentWidthHandler)."""
    if not is_valid_name(name):
        raise InvalidParameter(param)
    path = DocumentPath(folders=folders, name=name)
    check_path_size(path.key, len(folders) + 1)
    return path
