"""What a test needs from outside the repository, and what happens when it is missing.

One rule for every such need (the vendor's reference files, a browser, root,
a server binary): locally the test is skipped with a message that says how to
get what is missing; under ``CI=true`` (``.ci/run`` sets it) the same message
fails the test. Nothing skips silently in CI.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NoReturn

import pytest

REPO = Path(__file__).resolve().parents[1]
#: Where the vendor's pages and WSDL are looked for: ``$VENDOR_REFERENCE_DIR``,
#: else ``../shared/reference`` beside the checkout.
VENDOR_REFERENCE_ENV = "VENDOR_REFERENCE_DIR"


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def missing(what: str, how: str) -> NoReturn:
    """Skip (locally) or fail (under CI=true): ``what`` is missing, ``how`` to get it."""
    message = f"{what} is missing; {how}"
    if in_ci():
        pytest.fail(f"{message} (CI=true: a missing requirement is a failure)", pytrace=False)
    pytest.skip(message)


def vendor_reference_dir() -> Path:
    configured = os.environ.get(VENDOR_REFERENCE_ENV)
    return Path(configured) if configured else REPO.parent / "shared" / "reference"


def vendor_file(relative: str) -> Path:
    """A file of the vendor's reference material, e.g. ``inforouter/srv.wsdl``."""
    path = vendor_reference_dir() / relative
    if not path.is_file():
        missing(f"the vendor's {relative} (looked for {path})",
                f"set {VENDOR_REFERENCE_ENV} to the directory holding the vendor's reference "
                f"material ({relative} inside it), or place it at ../shared/reference")
    return path


def require_root(what: str) -> None:
    if os.geteuid() != 0:
        missing(f"root ({what})", "run the tests as root, as .ci/run does")
