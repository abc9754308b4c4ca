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


def _declared(item: pytest.Item) -> bool:
    """A skip declared on the test itself (``skip``/``skipif`` marks): a pass that does
    not apply (PostgreSQL only, over 4 GiB), never a missing requirement."""
    return any(item.iter_markers("skip")) or any(item.iter_markers("skipif"))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """Under CI=true a skip from inside a test or fixture is a failure.

    Missing requirements go through :func:`missing`, which already fails under
    CI; this catches any other ``pytest.skip()``/``importorskip()`` so that
    nothing skips silently in CI.
    """
    outcome = yield
    report = outcome.get_result()
    if report.skipped and in_ci() and not hasattr(report, "wasxfail") and not _declared(item):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = (f"{reason}\n(CI=true: a test may not skip itself; use a skipif mark "
                           f"for a pass it does not apply to, or tests.requirements.missing() "
                           f"for what it needs)")
