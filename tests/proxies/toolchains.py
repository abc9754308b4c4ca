"""The non-Python SOAP stacks the proxy tests drive, and what they share.

A missing stack follows the suite's one rule (:mod:`tests.requirements`): a
skip locally, a failure under ``CI=true``, both saying what to install.
"""

from __future__ import annotations

import shutil
import subprocess
from typing import NoReturn

from chunked_upload.models import Document
from chunked_upload.wire.methods import METHODS
from tests.requirements import missing as missing_requirement

#: Debian packages per stack (the CI image installs these).
PACKAGES = {"PHP": "php-cli php-soap", "Mono": "mono-devel", "node-soap": "nodejs npm"}
#: The operations of the vendor's service that we implement.
LEGACY = [name for name, method in METHODS.items() if not method.extension]
#: Not ASCII, with characters outside the BMP (a surrogate pair in UTF-16) and
#: every character a URL or XML must escape.
USERNAME = "zoë.rc"
PASSWORD = "p&w<\"ü'>1 €%u00😀+"
FOLDER, NAME = "Bücher für Ünïcode", "Grüße 😀 & <co>.txt"


def missing(stack: str, what: str) -> NoReturn:
    missing_requirement(f"{what} (for the {stack} proxy tests)",
                        f"apt-get install -y {PACKAGES[stack]}")


def require(stack: str, *commands: str) -> dict[str, str]:
    """The full path of each command; fails (CI) or skips (locally) if one is missing."""
    found = {command: shutil.which(command) for command in commands}
    for command, path in found.items():
        if path is None:
            missing(stack, f"`{command}`")
    return found  # type: ignore[return-value]


def require_php_extension(php: str, extension: str) -> None:
    loaded = subprocess.run([php, "-m"], capture_output=True, text=True, check=True).stdout
    if extension not in loaded.split():
        missing("PHP", f"PHP's {extension} extension")


def stored_document() -> Document:
    """The one document the workflow stored, checked to have the proxy's names."""
    document = Document.objects.get()
    assert document.name == NAME
    assert document.folder.name == FOLDER
    return document
