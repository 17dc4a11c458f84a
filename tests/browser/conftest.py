"""A real browser for the page tests: Debian's chromium driven by Playwright, never a downloaded one."""

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.db import connections

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture
def page(live_server) -> Iterator:
    """A fresh browser page in a fresh Playwright, started after the live server and the database."""
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"Debian's chromium was not found at {CHROMIUM}. Install it with `apt-get install -y chromium` "
            "(.ci/run does), or point CHROMIUM_PATH at it. The browser tests never download a browser.",
            pytrace=False,
        )
    from playwright.sync_api import expect, sync_playwright

    # Waits end as soon as the page is as expected; the limits are for a 2-core machine running two test
    # workers, where Redoc once took more than the default 5 s to answer a search in its worker.
    expect.set_options(timeout=15_000)

    # Playwright's sync API runs an event loop in this thread; Django would then refuse the tests' own
    # database calls as "async". They are plain synchronous test code, so allow them while it runs.
    with pytest.MonkeyPatch.context() as patch, sync_playwright() as playwright:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        context.set_default_timeout(15_000)
        yield context.new_page()
        browser.close()
        # The test's own queries ran on connections opened inside that loop's context; close them here
        # so that the test database can be dropped at the end of the run.
        connections.close_all()
