"""The non-Python SOAP stacks the proxy tests drive, and what they share.

A missing stack is a skip that says how to install it; under ``CI=true`` it is a
failure saying the same, so CI never passes without having run them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import NoReturn

import pytest

VENDOR_WSDL = Path(__file__).resolve().parents[3] / "shared/reference/inforouter/srv.wsdl"
#: Debian packages per stack (the CI image installs these).
PACKAGES = {"PHP": "php-cli php-soap", "Mono": "mono-devel"}
#: Not ASCII, with characters outside the BMP (a surrogate pair in UTF-16) and
#: every character a URL or XML must escape.
USERNAME = "zoë.rc"
PASSWORD = "p&w<\"ü'>1 €%u00😀+"
FOLDER, NAME = "Bücher für Ünïcode", "Grüße 😀 & <co>.txt"


def missing(stack: str, what: str) -> NoReturn:
    message = f"the {stack} proxy tests need {what}: apt-get install -y {PACKAGES[stack]}"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


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


def vendor_wsdl() -> Path:
    if not VENDOR_WSDL.exists():
        message = f"the vendor's WSDL is not at {VENDOR_WSDL} (a checkout of ../shared)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return VENDOR_WSDL
