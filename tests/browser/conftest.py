"""A real browser for the tests in this folder: Debian's Chromium driven by Playwright.

No browser is downloaded: Playwright drives ``/usr/bin/chromium``
(``apt-get install chromium``, which ``.ci/run`` does). Without it (or without
Playwright) the tests skip, except under ``CI=true`` where that is a failure.
Screenshots go to ``tests/artifacts/`` (gitignored) under stable names.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from django.db import connections

from tests.browser.pages import log_in
from tests.factories import UserFactory
from tests.requirements import missing

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking"]


@pytest.fixture
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing("playwright", "pip install -r requirements/test.txt")
    if not CHROMIUM.exists():
        missing(str(CHROMIUM), "apt-get install chromium (no browser is downloaded)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()
        # Inside sync_playwright() the code runs in another contextvars context,
        # so the test's ORM calls opened database connections of their own.
        connections.close_all()


@pytest.fixture
def async_unsafe_allowed(monkeypatch):
    # Playwright's sync API runs an event loop in this thread; the ORM calls
    # the test makes around it are still plain synchronous ones.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture
def demo_site(settings, live_server, async_unsafe_allowed):
    """The demo site's pages on the live server; handlers usable by any ticket of their user."""
    settings.INSTALLED_APPS = [*settings.INSTALLED_APPS, "project.demo"]
    settings.ROOT_URLCONF = "project.urls"
    settings.CHUNKED_UPLOAD = {**settings.CHUNKED_UPLOAD, "HANDLER_SCOPE": "user"}
    return live_server


@pytest.fixture
def demo_user(demo_site):
    return UserFactory(username="uploader", is_staff=True, is_superuser=True)


@pytest.fixture
def page(browser, demo_user, demo_site):
    """A logged-in demo home page, with the uploader ready."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors = []
    page.on("pageerror", lambda exc: errors.append(exc))
    log_in(page, demo_site.url)
    yield page
    assert not errors, errors
